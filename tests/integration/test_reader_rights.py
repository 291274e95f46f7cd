"""Readers' rights wherever they are known: opt-out drops the personal feed; readers named by a
host's id have export and erasure through the API (manage-readers) and the admin."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from django.contrib.auth.models import Permission, User
from django.utils import timezone
from rest_framework.test import APIClient

from newsrec import feeds, profiles
from newsrec.api.authentication import api_key_create
from newsrec.engine.rules import Rules
from newsrec.models import Article, Event, Feed, Reader, ReaderProfile
from tests.factories import ArticleFactory

pytestmark = pytest.mark.django_db
EVENTS = "/api/v1/events/"


@pytest.fixture(autouse=True)
def _no_profile_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(profiles, "profile_schedule", lambda **kw: False)


@pytest.fixture
def article() -> Article:
    vector = np.zeros(384)
    vector[0] = 1.0
    feeds.pool_cache_clear()
    return ArticleFactory.create(
        title="Derby day", section="Sport", embedding=vector, embedding_status="ready"
    )


def click(n: int, article: Article) -> dict[str, Any]:
    return {
        "event_id": f"c{n}",
        "kind": "finish",
        "article_id": article.pk,
        "occurred_at": timezone.now().isoformat(),
    }


def key_client(*scopes: str) -> APIClient:
    _key, raw = api_key_create(name="host", scopes=list(scopes))
    return APIClient(HTTP_AUTHORIZATION=f"Api-Key {raw}")


def host_reader(article: Article, host_id: str = "host-42") -> Reader:
    sent = key_client("write-events").post(
        EVENTS, {"reader_id": host_id, "events": [click(1, article)]}, format="json"
    )
    assert sent.status_code == 200, sent.content
    reader = Reader.objects.get(client_id=f"api:{host_id}")
    profiles.profile_rebuild(reader_id=reader.pk)
    feeds.feeds_rebuild(reader_ids=[reader.pk], rules=Rules(version=1))
    assert Feed.objects.filter(reader=reader).exists()
    return reader


def test_opting_out_deletes_the_stored_personal_feed(article: Article) -> None:
    client = APIClient()
    client.post(EVENTS, [click(1, article)], format="json")
    reader = Reader.objects.get()
    feeds.feeds_rebuild(reader_ids=[reader.pk], rules=Rules(version=1))
    assert Feed.objects.filter(reader=reader).exists()

    response = client.post("/api/v1/me/personalisation/", {"enabled": False}, format="json")

    assert response.status_code == 200
    assert not Feed.objects.filter(reader=reader).exists()
    # A rebuild already under way (or a profile update) stores no personal feed for them again.
    feeds.feeds_rebuild(reader_ids=[reader.pk], rules=Rules(version=2))
    assert not Feed.objects.filter(reader=reader).exists()


@pytest.mark.parametrize("by", ["host id", "public id"])
def test_a_manage_readers_key_exports_and_erases_a_host_reader(article: Article, by: str) -> None:
    reader = host_reader(article, host_id="crm/42 é")
    ref = "crm/42 é" if by == "host id" else str(reader.public_id)
    api = key_client("manage-readers")

    export = api.get(f"/api/v1/readers/{ref}/export/")
    assert export.status_code == 200, export.content
    assert export.json()["reader"]["id"] == str(reader.public_id)
    assert [e["event_id"] for e in export.json()["events"]] == ["c1"]
    assert "no-store" in export["Cache-Control"]

    assert api.delete(f"/api/v1/readers/{ref}/").status_code == 204
    assert not Reader.objects.filter(pk=reader.pk).exists()
    assert not Event.objects.exists()
    assert not ReaderProfile.objects.exists()
    assert not Feed.objects.filter(key=feeds.feed_key(reader.pk)).exists()
    assert api.delete(f"/api/v1/readers/{ref}/").status_code == 404
    assert api.get(f"/api/v1/readers/{ref}/export/").status_code == 404


def test_reader_data_needs_the_manage_readers_scope(article: Article) -> None:
    reader = host_reader(article)
    for client in (
        key_client("write-events", "read-feeds", "manage-articles", "manage-rules"),
        APIClient(),
    ):
        assert client.get("/api/v1/readers/host-42/export/").status_code in (401, 403)
        assert client.delete("/api/v1/readers/host-42/").status_code in (401, 403)
    # A cookie reader's token is not a host id: it cannot be guessed into an export.
    token = Reader.objects.create(client_id="cookie:abc")
    api = key_client("manage-readers")
    assert api.get("/api/v1/readers/abc/export/").status_code == 404
    assert api.get("/api/v1/readers/cookie:abc/export/").status_code == 404
    assert Reader.objects.filter(pk__in=[reader.pk, token.pk]).count() == 2


def test_staff_with_reader_data_export_and_erase_in_the_admin(article: Article) -> None:
    reader = host_reader(article)
    other = host_reader(article, host_id="host-43")
    staff = User.objects.create_user("ed", password="pw-123456", is_staff=True)
    client = APIClient()
    client.force_login(staff)
    changelist = "/admin/newsrec/reader/"
    selected = {"_selected_action": [reader.pk]}
    assert client.post(changelist, {"action": "reader_data_export", **selected}).status_code == 403

    staff.user_permissions.add(Permission.objects.get(codename="view_reader_data"))
    page = client.get(changelist, {"q": "host-42"})
    assert str(reader.public_id) in page.content.decode()
    assert str(other.public_id) not in page.content.decode()

    export = client.post(changelist, {"action": "reader_data_export", **selected})
    assert export.status_code == 200
    assert "attachment" in export["Content-Disposition"]
    assert "no-store" in export["Cache-Control"]
    body = json.loads(export.content)
    assert [r["reader"]["id"] for r in body["readers"]] == [str(reader.public_id)]
    assert [e["event_id"] for e in body["readers"][0]["events"]] == ["c1"]

    confirm = client.post(changelist, {"action": "reader_data_erase", **selected})
    assert confirm.status_code == 200
    assert "cannot be undone" in confirm.content.decode()
    assert Reader.objects.filter(pk=reader.pk).exists(), "nothing is erased before confirming"
    done = client.post(changelist, {"action": "reader_data_erase", "post": "yes", **selected})
    assert done.status_code == 302
    assert not Reader.objects.filter(pk=reader.pk).exists()
    assert not Feed.objects.filter(key=feeds.feed_key(reader.pk)).exists()
    assert Reader.objects.filter(pk=other.pk).exists()
