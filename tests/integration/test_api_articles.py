"""Article list: filters by section, tag and time, cursor pagination, forged cursors, detail."""

from __future__ import annotations

import base64
from datetime import timedelta
from urllib.parse import quote, urlencode

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tests.factories import make_article

pytestmark = pytest.mark.django_db

URL = "/api/v1/articles/"


def _ids(response: object) -> list[int]:
    return [a["id"] for a in response.json()["results"]]  # type: ignore[attr-defined]


def test_filters_by_section_tag_and_publication_window() -> None:
    now = timezone.now()
    old = make_article(section="Local", tags=["transport"], published_at=now - timedelta(days=3))
    mid = make_article(section="Local", tags=["weather"], published_at=now - timedelta(days=2))
    new = make_article(section="Sport", tags=["transport"], published_at=now - timedelta(hours=1))
    make_article(section="Local", tags=["transport"], status="draft")
    client = APIClient()
    assert _ids(client.get(URL)) == [new.pk, mid.pk, old.pk]
    assert _ids(client.get(URL, {"section": "Local"})) == [mid.pk, old.pk]
    assert _ids(client.get(URL, {"tag": "transport"})) == [new.pk, old.pk]
    window = {
        "published_after": (now - timedelta(days=2, hours=1)).isoformat(),
        "published_before": (now - timedelta(hours=2)).isoformat(),
    }
    assert _ids(client.get(URL, window)) == [mid.pk]
    assert _ids(client.get(URL, {"section": "Local", "tag": "transport"})) == [old.pk]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"published_after": "yesterday"}, "published_after"),
        ({"published_before": "2026-13-40"}, "published_before"),
        (
            {"published_after": "2026-01-02T00:00:00Z", "published_before": "2026-01-01T00:00:00Z"},
            "published_before",
        ),
        ({"section": "x" * 101}, "section"),
        ({"tag": "nul\x00byte"}, "tag"),
    ],
)
def test_bad_filters_are_field_errors(params: dict[str, str], field: str) -> None:
    response = APIClient().get(f"{URL}?{urlencode(params)}")
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_cursor_pages_through_everything_once_while_new_articles_arrive() -> None:
    now = timezone.now()
    articles = [make_article(published_at=now - timedelta(minutes=i + 1)) for i in range(7)]
    client = APIClient()
    page = client.get(URL, {"page_size": 3}).json()
    seen = [a["id"] for a in page["results"]]
    make_article(published_at=now)  # newer than the first page: must not shift later pages
    while page["next"]:
        page = client.get(page["next"]).json()
        seen += [a["id"] for a in page["results"]]
    assert seen == [a.pk for a in articles]


@pytest.mark.parametrize(
    "cursor",
    [
        "not-base64!",
        base64.b64encode(b"p=not-a-date").decode(),
        base64.b64encode(b"p=2026-13-40").decode(),
        base64.b64encode(b"o=-5&p=2026-01-01").decode(),
        base64.b64encode(b"p=\x00").decode(),
    ],
)
def test_forged_cursors_are_404_not_500(cursor: str) -> None:
    make_article()
    response = APIClient().get(f"{URL}?cursor={quote(cursor)}")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_article_detail_hides_unpublished_articles() -> None:
    live = make_article(title="Live")
    draft = make_article(status="draft")
    client = APIClient()
    assert client.get(f"{URL}{live.pk}/").json()["title"] == "Live"
    assert client.get(f"{URL}{draft.pk}/").status_code == 404
    assert client.get(f"{URL}{2**70}/").status_code == 404


@pytest.mark.parametrize("published_at", ["5201-11-19T15:22:13-22:51", "0001-01-01T00:30:00+01:00"])
def test_dates_postgresql_cannot_store_are_rejected_rows_not_500s(
    published_at: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found by the schema fuzzer: Python parses these, PostgreSQL refuses or cannot read them back.
    from newsrec.api.authentication import api_key_create

    monkeypatch.setattr("newsrec.services.embed_enqueue", lambda **kw: None)
    _key, raw = api_key_create(name="cms", scopes=["manage-articles"])
    writer = APIClient(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    rows = [{"external_id": "t1", "title": "t", "published_at": published_at}]
    response = writer.post(URL, rows, format="json")
    assert response.status_code == 400
    assert "published_at" in response.json()["rejected"][0]["reasons"]
