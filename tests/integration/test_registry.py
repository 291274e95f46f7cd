"""A host CMS model mirrored through newsrec.registry on save and delete."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from newsrec.models import Article, ArticleStatus
from tests.testapp.models import Brief, Desk, Story

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _no_embedding_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("newsrec.services.embed_enqueue", lambda **kw: None)


def test_saving_a_story_mirrors_it_and_updates_follow() -> None:
    desk = Desk.objects.create(name="Politics")
    story = Story.objects.create(
        headline="Budget passes", standfirst="A late-night vote.", desk=desk, live=True,
        first_published=datetime(2026, 11, 1, 8, tzinfo=UTC),
    )  # fmt: skip
    article = Article.objects.get(external_id=f"testapp.story:{story.pk}")
    assert (article.title, article.section, article.status) == (
        "Budget passes", "Politics", ArticleStatus.PUBLISHED,
    )  # fmt: skip
    story.live = False
    story.save()
    assert Article.objects.get(pk=article.pk).status == ArticleStatus.DRAFT
    story.delete()
    assert not Article.objects.filter(pk=article.pk).exists()


def test_field_map_registration() -> None:
    brief = Brief.objects.create(heading="Road closed", summary="Until Friday.")
    article = Article.objects.get(external_id=f"testapp.brief:{brief.pk}")
    assert (article.title, article.lead) == ("Road closed", "Until Friday.")


def test_invalid_cms_row_is_logged_and_the_cms_save_still_succeeds(
    caplog: pytest.LogCaptureFixture,
) -> None:
    desk = Desk.objects.create(name="Local")
    story = Story.objects.create(headline="   ", desk=desk)
    assert Story.objects.filter(pk=story.pk).exists()
    assert not Article.objects.filter(external_id=f"testapp.story:{story.pk}").exists()
    assert "did not mirror" in caplog.text


def test_rolled_back_cms_transaction_mirrors_nothing() -> None:
    from django.db import transaction

    desk = Desk.objects.create(name="Local")

    def publish_then_fail() -> None:
        with transaction.atomic():
            Story.objects.create(headline="Never published", desk=desk)
            raise RuntimeError("rollback")

    with pytest.raises(RuntimeError):
        publish_then_fail()
    assert not Article.objects.filter(title="Never published").exists()
