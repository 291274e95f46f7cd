"""POST /api/v1/events/: per-event results, bad input, identity, idempotency under concurrency."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from datetime import timezone as dt_timezone
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.test import APIClient

from newsrec.api.authentication import api_key_create
from newsrec.models import Article, Event, Reader
from tests.factories import ArticleFactory

URL = "/api/v1/events/"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_profile_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    # Ingestion is tested here; profile scheduling has its own tests in test_profiles.py.
    monkeypatch.setattr("newsrec.profiles.profile_schedule", lambda **kw: False)


@pytest.fixture
def article() -> Article:
    return ArticleFactory.create(external_id="cms-1")


def event(n: int | str, article: Article, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": f"ev-{n}",
        "kind": "click",
        "article_id": article.pk,
        "occurred_at": timezone.now().isoformat(),
        **extra,
    }


def post_raw(client: APIClient, body: str, **headers: Any) -> Any:
    return client.generic("POST", URL, body.encode("utf-8", "surrogatepass"),  # type: ignore[arg-type]
                          content_type="application/json", **headers)  # fmt: skip


def test_mixed_batch_stores_valid_events_and_answers_each(article: Article) -> None:
    client = APIClient()
    batch = [
        event(1, article, kind="impression", feed_slot=2, surface="home", recommendation_id="r1"),
        event(2, article, kind="read", dwell_seconds=42.5, read_depth=0.7, local_hour=8, weekday=0),
        event(1, article),  # same id again within the batch
        event(3, article, kind="teleport"),
        event(4, article, article_id=999_999),
        event(5, article, article_id=None, article_external_id="cms-1", kind="share"),
    ]
    response = client.post(URL, {"events": batch}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["accepted"], body["duplicate"], body["rejected"]) == (3, 1, 2)
    statuses = [(r["event_id"], r["status"]) for r in body["results"]]
    assert statuses == [
        ("ev-1", "accepted"), ("ev-2", "accepted"), ("ev-1", "duplicate"),
        ("ev-3", "rejected"), ("ev-4", "rejected"), ("ev-5", "accepted"),
    ]  # fmt: skip
    assert "kind" in body["results"][3]["reasons"]
    assert body["results"][4]["reasons"] == {"article_id": "unknown article"}
    assert "newsrec_rid" in response.cookies
    stored = Event.objects.get(event_id="ev-2")
    assert (stored.dwell_seconds, stored.read_depth, stored.local_hour) == (42.5, 0.7, 8)
    assert Event.objects.count() == 3

    again = client.post(URL, [event(1, article), event(6, article)], format="json").json()
    assert [r["status"] for r in again["results"]] == ["duplicate", "accepted"]
    assert Reader.objects.count() == 1, "the cookie keeps the same anonymous reader"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"kind": 3}, "kind"),
        ({"event_id": 12}, "event_id"),
        ({"event_id": ""}, "event_id"),
        ({"article_id": "12"}, "article_id"),
        ({"article_id": True}, "article_id"),
        ({"dwell_seconds": -1}, "dwell_seconds"),
        ({"dwell_seconds": "long"}, "dwell_seconds"),
        ({"kind": "dwell"}, "dwell_seconds"),
        ({"read_depth": 1.5}, "read_depth"),
        ({"local_hour": 24}, "local_hour"),
        ({"weekday": 7}, "weekday"),
        ({"device": "fridge"}, "device"),
        ({"referrer": "carrier-pigeon"}, "referrer"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"occurred_at": None}, "occurred_at"),
        ({"session_id": "a\u0000b"}, "session_id"),
        ({"surface": "x" * 33}, "surface"),
        ({"colour": "red"}, "event"),
    ],
)
def test_bad_fields_are_rejected_with_a_reason(
    article: Article, extra: dict[str, Any], field: str
) -> None:
    response = APIClient().post(URL, [event(0, article), event(1, article, **extra)], format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["results"][0]["status"] == "accepted"
    assert body["results"][1]["status"] == "rejected"
    assert field in body["results"][1]["reasons"]


@pytest.mark.parametrize(
    ("offset", "ok"),
    [
        (timedelta(minutes=4), True),
        (timedelta(minutes=6), False),
        (timedelta(days=-6, hours=-23), True),
        (timedelta(days=-7, minutes=-1), False),
    ],
)
def test_time_window_for_late_and_future_events(
    article: Article, offset: timedelta, ok: bool
) -> None:
    when = (timezone.now() + offset).isoformat()
    body = APIClient().post(URL, [event(1, article, occurred_at=when)], format="json").json()
    assert body["accepted"] == int(ok)


@pytest.mark.parametrize(
    ("hours", "minutes", "ok"),
    [(14, 0, True), (-12, 0, True), (16, 0, False), (23, 59, False), (-16, -30, False)],
)
def test_offsets_postgresql_cannot_store_reject_only_their_event(
    article: Article, hours: int, minutes: int, ok: bool
) -> None:
    # Python reads offsets up to ±23:59; PostgreSQL refuses those beyond ±15:59.
    zone = dt_timezone(timedelta(hours=hours, minutes=minutes))
    when = timezone.now().astimezone(zone).isoformat()
    response = APIClient().post(
        URL, [event(1, article), event(2, article, occurred_at=when)], format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["results"][1]["status"] == ("accepted" if ok else "rejected")
    if not ok:
        assert "offset" in body["results"][1]["reasons"]["occurred_at"]
    assert Event.objects.count() == 1 + ok


def test_non_finite_dwell_never_500s(article: Article) -> None:
    client = APIClient()
    good = json.dumps(event(1, article))
    huge = post_raw(
        client, f'[{good}, {json.dumps(event(2, article))[:-1]}, "dwell_seconds": 1e400}}]'
    )
    assert huge.status_code == 200
    assert huge.json()["results"][1]["reasons"]["dwell_seconds"] == "must be a finite number"
    for constant in ("NaN", "Infinity", "-Infinity"):
        raw = f'[{json.dumps(event(3, article))[:-1]}, "dwell_seconds": {constant}}}]'
        response = post_raw(client, raw)
        assert response.status_code == 400
        assert response.json()["code"] == "parse_error"


def test_lone_surrogates_are_rejected_not_crashing(article: Article) -> None:
    client = APIClient()
    raw = json.dumps([event(1, article), event(2, article, session_id="x\ud800y")])
    response = post_raw(client, raw)  # json.dumps escapes the surrogate as \\ud800
    assert response.status_code == 200
    body = response.json()
    assert body["results"][1]["reasons"]["session_id"].endswith("(lone surrogate)")
    weird_key = raw.replace('"session_id"', '"\\udc00key"')
    assert post_raw(client, weird_key).status_code == 200


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("{not json", 400),
        ('"just a string"', 400),
        ("[]", 400),
        ('{"events": 5}', 400),
        ('{"evnts": []}', 400),
        ("[1, 2]", 400),  # answered per event: both rejected
    ],
)
def test_malformed_bodies_get_a_json_400(body: str, status: int) -> None:
    response = post_raw(APIClient(), body)
    assert response.status_code == status
    answer = response.json()
    assert "code" in answer or answer["rejected"] == 2


def test_oversized_batch_and_body_are_refused(article: Article) -> None:
    client = APIClient()
    batch = [event(i, article) for i in range(101)]
    response = client.post(URL, batch, format="json")
    assert response.status_code == 400
    assert "At most 100" in response.json()["errors"]["events"][0]
    big = json.dumps([event(1, article, surface="x" * 300_000)])
    assert post_raw(client, big).status_code == 413
    one_big = client.post(URL, [event(1, article, recommendation_id="y" * 5000)], format="json")
    assert one_big.status_code == 400
    assert "larger than" in one_big.json()["results"][0]["reasons"]["event"]
    assert Event.objects.count() == 0


def test_device_comes_from_the_user_agent_unless_sent(article: Article) -> None:
    client = APIClient(
        HTTP_USER_AGENT="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"
    )
    client.post(URL, [event(1, article), event(2, article, device="tablet")], format="json")
    assert dict(Event.objects.values_list("event_id", "device")) == {
        "ev-1": "mobile",
        "ev-2": "tablet",
    }


def test_logged_in_user_gets_their_own_reader(article: Article) -> None:
    user = User.objects.create_user("ann", password="pw-123456")
    client = APIClient()
    client.force_login(user)
    response = client.post(URL, [event(1, article)], format="json")
    assert response.status_code == 200
    assert "newsrec_rid" not in response.cookies
    assert Event.objects.get().reader == Reader.objects.get(user=user)


def test_claiming_another_readers_identity_is_refused(article: Article) -> None:
    victim = Reader.objects.create(client_id="api:victim")
    client = APIClient()
    response = client.post(
        URL, {"reader_id": "victim", "events": [event(1, article)]}, format="json"
    )
    assert response.status_code == 403
    mine = client.post(URL, [event(2, article)], format="json")
    me = Reader.objects.exclude(pk=victim.pk).get()
    body = client.post(
        URL,
        [
            event(3, article, reader_id=str(victim.public_id)),
            event(4, article, reader_id=str(me.public_id)),
        ],
        format="json",
    ).json()
    assert mine.status_code == 200
    assert [r["status"] for r in body["results"]] == ["rejected", "accepted"]
    assert "reader_id" in body["results"][0]["reasons"]
    forged = APIClient()
    forged.cookies["newsrec_rid"] = victim.client_id or ""
    forged.post(URL, [event(5, article)], format="json")
    assert not Event.objects.filter(reader=victim).exists()


def test_api_keys_need_the_write_events_scope_and_name_the_reader(article: Article) -> None:
    _, wrong = api_key_create(name="feeds", scopes=["read-feeds"])
    _, right = api_key_create(name="app", scopes=["write-events"])
    denied = APIClient(HTTP_AUTHORIZATION=f"Api-Key {wrong}")
    assert (
        denied.post(
            URL, {"reader_id": "u1", "events": [event(1, article)]}, format="json"
        ).status_code
        == 403
    )
    server = APIClient(HTTP_AUTHORIZATION=f"Api-Key {right}")
    assert server.post(URL, [event(1, article)], format="json").status_code == 400
    ok = server.post(URL, {"reader_id": "u1", "events": [event(1, article)]}, format="json")
    assert ok.status_code == 200
    assert ok.json()["accepted"] == 1
    assert Event.objects.get().reader.client_id == "api:u1"
    bad_id = server.post(
        URL, {"reader_id": "a\u0000", "events": [event(2, article)]}, format="json"
    )
    assert bad_id.status_code == 400


def test_cross_site_posts_are_refused(article: Article) -> None:
    response = APIClient().post(
        URL, [event(1, article)], format="json", HTTP_ORIGIN="https://evil.example"
    )
    assert response.status_code == 403
    same = APIClient().post(
        URL, [event(1, article)], format="json", HTTP_ORIGIN="http://testserver"
    )
    assert same.status_code == 200


@pytest.mark.django_db(transaction=True)
def test_same_events_posted_concurrently_are_stored_once() -> None:
    article = ArticleFactory.create()
    _, raw = api_key_create(name="app", scopes=["write-events"])
    batches = [
        [event(i, article, kind="impression") for i in range(start, start + 60)]
        for start in (0, 20, 40, 0, 20, 40, 10, 30)
    ]
    statuses: list[int] = []
    results: list[dict[str, Any]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(batches))

    def send(batch: list[dict[str, Any]]) -> None:
        from django.db import connection

        client = APIClient(HTTP_AUTHORIZATION=f"Api-Key {raw}")
        barrier.wait()
        try:
            response = client.post(URL, {"reader_id": "shared", "events": batch}, format="json")
            with lock:
                statuses.append(response.status_code)
                results.extend(response.json()["results"])
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(b,)) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    unique = {e["event_id"] for b in batches for e in b}
    assert statuses == [200] * len(batches)
    assert Event.objects.count() == len(unique) == 100
    assert sum(r["status"] == "accepted" for r in results) == len(unique)
    assert Reader.objects.count() == 1


def test_full_batches_dedupe_within_and_across_batches_and_name_bad_events(
    article: Article,
) -> None:
    # The bench's traffic (#18.5): batches of 100 named by an API key, ids resent in the batch
    # and in a later one; a bad event is answered at its index and the rest is stored.
    _, raw = api_key_create(name="app", scopes=["write-events"])
    server = APIClient(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    first = [event(i, article, kind="impression", feed_slot=i % 20) for i in range(90)]
    first += [event(i, article) for i in range(5)]  # resent within the batch
    first += [event(200 + i, article, kind="read", dwell_seconds=3.5) for i in range(4)]
    first.append(event(300, article, weekday=9))
    body = server.post(URL, {"reader_id": "u1", "events": first}, format="json").json()
    assert (body["accepted"], body["duplicate"], body["rejected"]) == (94, 5, 1)
    assert body["results"][99] == {
        "index": 99,
        "event_id": "ev-300",
        "status": "rejected",
        "reasons": {"weekday": "must be between 0 and 6"},
    }
    second = [event(i, article) for i in range(80, 100)] + [event(300, article)]
    again = server.post(URL, {"reader_id": "u1", "events": second}, format="json").json()
    assert (again["accepted"], again["duplicate"], again["rejected"]) == (11, 10, 0)
    assert Event.objects.count() == 90 + 4 + 11
    assert Event.objects.filter(kind="read", dwell_seconds=3.5).count() == 4


def test_a_batch_with_nothing_storable_is_a_400_that_stores_nothing(article: Article) -> None:
    _, raw = api_key_create(name="app", scopes=["write-events"])
    server = APIClient(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    batch = [event(1, article, kind="teleport"), event(2, article, article_id=999_999)]
    response = server.post(URL, {"reader_id": "u1", "events": batch}, format="json")
    assert response.status_code == 400
    assert [r["status"] for r in response.json()["results"]] == ["rejected", "rejected"]
    assert not Event.objects.exists()
