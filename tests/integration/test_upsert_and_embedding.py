"""Article upserts end to end: validation, idempotency, embedding by the real Celery worker."""

from __future__ import annotations

import pytest

from newsrec import services
from newsrec.models import Article, EmbeddingStatus
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

ROWS = [
    {"external_id": "t-1", "title": "Lifeboat crew rescues two kayakers off the point",
     "lead": "Both were taken to hospital as a precaution.", "section": "Local"},
    {"external_id": "t-2", "title": "United sign a new goalkeeper before the derby",
     "lead": "The keeper arrives on a two-year deal.", "section": "Sport"},
    {"external_id": "t-3", "title": "Coastguard warns kayakers about strong currents at the point",
     "lead": "Two paddlers needed rescue this week.", "section": "Local"},
]  # fmt: skip


def test_upsert_is_idempotent_and_reports_each_outcome(celery_worker: object) -> None:
    first = services.article_upsert_many(rows=[*ROWS, {"title": "missing id"}])
    assert (first.created, first.updated, first.unchanged, len(first.rejected)) == (3, 0, 0, 1)
    again = services.article_upsert_many(rows=ROWS)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    changed = services.article_upsert_many(rows=[{**ROWS[0], "body": "New details."}])
    assert changed.updated == 1
    assert Article.objects.count() == 3


def test_worker_embeds_on_commit_and_only_changed_text_is_reembedded(celery_worker: object) -> None:
    services.article_upsert_many(rows=ROWS)
    assert wait_for(
        lambda: Article.objects.filter(embedding_status=EmbeddingStatus.READY).count() == 3
    )
    first = Article.objects.get(external_id="t-1")
    services.article_upsert_many(rows=[{**ROWS[0], "body": "Body only: no re-embedding."}])
    assert Article.objects.get(external_id="t-1").embedding_status == EmbeddingStatus.READY
    services.article_upsert_many(
        rows=[{**ROWS[0], "title": "Lifeboat crew rescues three kayakers"}]
    )
    assert Article.objects.get(external_id="t-1").embedding_status == EmbeddingStatus.PENDING
    assert wait_for(
        lambda: Article.objects.get(external_id="t-1").embedding_status == EmbeddingStatus.READY
    )
    updated = Article.objects.get(external_id="t-1")
    assert updated.embedding_text_hash != first.embedding_text_hash
    # The two kayak stories are nearest neighbours of each other, not of the football one.
    from newsrec.selectors import article_related

    assert [a.external_id for a in article_related(article=updated, limit=2)] == ["t-3", "t-2"]
