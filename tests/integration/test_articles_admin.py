"""The article admin writes through the catalogue service, as the API and the CMS do (#13.5)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from newsrec import feeds, services
from newsrec.models import Article, ArticleStatus, EmbeddingStatus
from tests.factories import make_article, topic_vector

pytestmark = pytest.mark.django_db


def form(article: Article, **changes: Any) -> dict[str, Any]:
    published = timezone.localtime(article.published_at)
    data = {
        "external_id": article.external_id, "url": article.url, "title": article.title,
        "lead": article.lead, "body": article.body, "section": article.section,
        "tags": ",".join(article.tags), "authors": ",".join(article.authors),
        "language": article.language, "status": article.status,
        "published_at_0": published.strftime("%Y-%m-%d"),
        "published_at_1": published.strftime("%H:%M:%S"),
        "updated_at_0": "", "updated_at_1": "", "embargo_until_0": "", "embargo_until_1": "",
    }  # fmt: skip
    return {**data, **changes}


@pytest.fixture
def article() -> Article:
    return make_article(
        title="Harbour tram opens", section="Local", embedding=topic_vector(1, topics=3),
        embedding_status="ready", published_at=timezone.now(),
    )  # fmt: skip


def test_a_new_title_is_hashed_and_queued_for_embedding(
    admin_client: Client, article: Article
) -> None:
    before = article.content_hash
    url = f"/admin/newsrec/article/{article.pk}/change/"
    response = admin_client.post(url, form(article, title="Harbour tram opens to crowds"))
    assert response.status_code == 302, response.content.decode()[:2000]
    article.refresh_from_db()
    assert article.title == "Harbour tram opens to crowds"
    assert article.content_hash != before
    assert article.embedding_status == EmbeddingStatus.PENDING


def test_a_retraction_in_the_admin_leaves_stored_feeds_at_once(
    admin_client: Client,
    article: Article,
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Not the refresh the commit queues: a worker of another test would run it and commit a
    # default feed outside this test's transaction.
    monkeypatch.setattr(services, "_feeds_refresh_soon", lambda: None)
    url = f"/admin/newsrec/article/{article.pk}/change/"
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, form(article, status=ArticleStatus.RETRACTED))
    assert response.status_code == 302
    feeds.withdrawn.withdrawn_local_clear()
    assert article.pk in feeds.withdrawn_ids()


def test_the_admin_form_checks_what_the_api_checks(admin_client: Client, article: Article) -> None:
    url = f"/admin/newsrec/article/{article.pk}/change/"
    too_many = ",".join(f"tag{i}" for i in range(51))  # the ingest limit is 50, as in the API
    response = admin_client.post(url, form(article, tags=too_many))
    assert response.status_code == 200
    assert "has 51 entries; the limit is 50" in response.content.decode()
    article.refresh_from_db()
    assert article.title == "Harbour tram opens"
