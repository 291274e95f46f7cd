"""Reader privacy: export, erasure across every related model, opt-out, retention, login merge."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.db.models import ForeignKey, OneToOneField
from django.utils import timezone
from rest_framework.test import APIClient

from newsrec import feeds, profiles, readers
from newsrec.models import Article, Event, Feed, Reader, ReaderProfile
from newsrec.retention.services import reader_risks_refresh
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
    return ArticleFactory.create(
        title="Derby day", section="Sport", tags=["football"], authors=["Ann"], embedding=vector
    )


def click(n: int, article: Article, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": f"c{n}",
        "kind": "click",
        "article_id": article.pk,
        "occurred_at": timezone.now().isoformat(),
        **extra,
    }


def reader_of(client: APIClient, article: Article, n: int = 1) -> Reader:
    client.post(EVENTS, [click(i, article) for i in range(n)], format="json")
    return Reader.objects.order_by("-pk").first()  # type: ignore[return-value]


def test_export_has_events_profile_and_interests_in_words(article: Article) -> None:
    client = APIClient()
    assert client.get("/api/v1/me/export/").status_code == 404
    reader = reader_of(client, article, n=2)
    profiles.profile_rebuild(reader_id=reader.pk)
    body = client.get("/api/v1/me/export/").json()
    assert body["reader"]["id"] == str(reader.public_id)
    assert [e["event_id"] for e in body["events"]] == ["c0", "c1"]
    assert body["events"][0]["article_title"] == "Derby day"
    assert body["profile"]["section_affinity"] == {"Sport": 1.0}
    assert len(body["profile"]["interest_vector"]) == 384
    assert body["interests"]["sections"] == ["Sport"]
    assert body["interests"]["tags"] == ["football"]
    assert body["interests"]["authors"] == ["Ann"]
    assert body["interests"]["nearest_articles"] == ["Derby day"]


def test_export_is_never_cached(article: Article) -> None:
    client = APIClient()
    none_yet = client.get("/api/v1/me/export/")
    assert none_yet.status_code == 404
    assert none_yet["Cache-Control"] == "private, no-store"
    reader_of(client, article)
    export = client.get("/api/v1/me/export/")
    assert export.status_code == 200
    assert export["Cache-Control"] == "private, no-store"


def _models_referring_to_reader() -> list[tuple[Any, str]]:
    found = []
    for model in apps.get_models():
        for field in model._meta.get_fields():
            if isinstance(field, (ForeignKey, OneToOneField)) and field.related_model is Reader:
                found.append((model, field.name))
    return found


def test_erasure_leaves_no_row_referring_to_the_reader(article: Article) -> None:
    referring = _models_referring_to_reader()
    assert {(m.__name__, f) for m, f in referring} >= {
        ("Event", "reader"),
        ("ReaderProfile", "reader"),
    }
    client, other = APIClient(), APIClient()
    reader = reader_of(client, article, n=3)
    survivor = reader_of(other, article, n=1)
    profiles.profile_rebuild(reader_id=reader.pk)
    profiles.profile_rebuild(reader_id=survivor.pk)
    feeds.feeds_rebuild(reader_ids=[reader.pk, survivor.pk])
    reader_risks_refresh()  # churn risk (newsrec.retention)
    for model, name in referring:  # a new model needs rows here too, or erasure is untested
        assert model.objects.filter(**{name: reader}).exists(), model.__name__

    response = client.delete("/api/v1/me/")
    assert response.status_code == 204
    assert response.cookies["newsrec_rid"].value == ""
    assert not Reader.objects.filter(pk=reader.pk).exists()
    for model, name in referring:
        assert not model.objects.filter(**{f"{name}_id": reader.pk}).exists(), model.__name__
    assert Event.objects.filter(reader=survivor).count() == 1
    assert ReaderProfile.objects.filter(reader=survivor).exists()
    assert Feed.objects.filter(reader=survivor).exists()
    assert client.delete("/api/v1/me/").status_code == 204  # nothing left: still fine


def test_logged_in_erasure_keeps_the_account(article: Article) -> None:
    user = User.objects.create_user("bo", password="pw-123456")
    client = APIClient()
    client.force_login(user)
    client.post(EVENTS, [click(1, article)], format="json")
    client.delete("/api/v1/me/")
    assert User.objects.filter(pk=user.pk).exists()
    assert not Reader.objects.exists()
    assert not Event.objects.exists()


def test_opting_out_clears_the_profile_and_stops_profiling(article: Article) -> None:
    client = APIClient()
    reader = reader_of(client, article, n=1)
    profiles.profile_rebuild(reader_id=reader.pk)
    bad = client.post("/api/v1/me/personalisation/", {"enabled": "no"}, format="json")
    assert bad.status_code == 400
    response = client.post("/api/v1/me/personalisation/", {"enabled": False}, format="json")
    assert response.json() == {"enabled": False}
    assert not ReaderProfile.objects.exists()
    client.post(EVENTS, [click(7, article)], format="json")
    assert Event.objects.filter(reader=reader).count() == 2, "events are still stored"
    assert profiles.profile_rebuild(reader_id=reader.pk) is None
    assert not ReaderProfile.objects.exists()

    client.post("/api/v1/me/personalisation/", {"enabled": True}, format="json")
    profile = profiles.profile_rebuild(reader_id=reader.pk)
    assert profile is not None
    assert profile.events_counted == 1, "events sent while opted out are never profiled"


def test_retention_deletes_old_events_only(article: Article, settings: Any) -> None:
    settings.NEWSREC = {"EVENT_RETENTION_DAYS": 30}
    reader = Reader.objects.create(client_id="api:r")
    now = timezone.now()
    for n, age in enumerate([1, 29, 31, 400]):
        Event.objects.create(
            reader=reader, event_id=f"e{n}", kind="click", article=article,
            occurred_at=now - timedelta(days=age),
        )  # fmt: skip
    assert readers.events_purge_expired(batch_size=1) == 2
    assert sorted(Event.objects.values_list("event_id", flat=True)) == ["e0", "e1"]


def test_login_merges_the_anonymous_history_without_duplicates(article: Article) -> None:
    user = User.objects.create_user("cy", password="pw-123456", is_staff=True)
    # An earlier device: the account already has a reader with one event in common.
    account = Reader.objects.create(user=user)
    Event.objects.create(
        reader=account, event_id="c0", kind="click", article=article, occurred_at=timezone.now()
    )
    client = APIClient()
    anonymous = reader_of(client, article, n=3)
    assert anonymous.user is None
    login = client.post("/admin/login/", {"username": "cy", "password": "pw-123456"})
    assert login.status_code == 302
    assert not Reader.objects.filter(pk=anonymous.pk).exists()
    assert sorted(Event.objects.filter(reader=account).values_list("event_id", flat=True)) == [
        "c0", "c1", "c2",
    ]  # fmt: skip
    assert Event.objects.count() == 3


def test_first_login_adopts_the_anonymous_reader(article: Article) -> None:
    User.objects.create_user("di", password="pw-123456", is_staff=True)
    client = APIClient()
    anonymous = reader_of(client, article, n=2)
    client.post("/admin/login/", {"username": "di", "password": "pw-123456"})
    adopted = Reader.objects.get(pk=anonymous.pk)
    assert adopted.user is not None
    assert adopted.client_id is None
    response = client.post(EVENTS, [click(5, article)], format="json")
    assert response.status_code == 200
    assert Event.objects.filter(reader=adopted).count() == 3


def test_admin_shows_readers_read_only_and_only_with_the_permission(article: Article) -> None:
    from django.contrib.auth.models import Permission

    reader = reader_of(APIClient(), article, n=1)
    profiles.profile_rebuild(reader_id=reader.pk)
    staff = User.objects.create_user("ed", password="pw-123456", is_staff=True)
    client = APIClient()
    client.force_login(staff)
    url = f"/admin/newsrec/reader/{reader.pk}/change/"
    assert client.get(url).status_code == 403
    assert client.get("/admin/newsrec/readerprofile/").status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_reader_data"))
    page = client.get(url)
    assert page.status_code == 200
    assert "Sections: Sport" in page.content.decode()
    assert "Derby day" in page.content.decode()
    assert client.get("/admin/newsrec/reader/add/").status_code == 403
    assert client.get("/admin/newsrec/readerprofile/").status_code == 200
