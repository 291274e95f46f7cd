"""Feed API: rails, conditional requests, scopes for other readers' feeds, real-engine rails."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from django.utils.http import http_date
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from newsrec import feeds, readers
from newsrec.api.authentication import api_key_create
from newsrec.models import Article, Event, EventKind, Feed, Reader
from tests.factories import ReaderFactory, make_article

pytestmark = pytest.mark.django_db

RAILS = "/api/v1/feeds/me/rails/"


def _item(article: Article, *, source: str, seed: Article | None = None) -> dict[str, Any]:
    return {
        "article_id": article.pk,
        "title": article.title,
        "section": article.section,
        "published_at": 0.0,
        "score": 0.5,
        "source": source,
        "reason": f"Because you read {seed.title}" if seed else "Trending now",
        "seed_id": seed.pk if seed else None,
        "breakdown": {},
    }


def _token_client(username: str) -> tuple[APIClient, Reader]:
    user = User.objects.create_user(username, password="pw-long-enough-1")
    reader = readers.reader_for_user(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client, reader


def _store(reader: Reader | None, items: list[dict[str, Any]], **extra: Any) -> Feed:
    return Feed.objects.create(
        key=feeds.feed_key(reader.pk if reader else None), reader=reader, items=items,
        built_at=timezone.now() - timedelta(minutes=5), rules_version=3, **extra,
    )  # fmt: skip


def test_rails_group_because_you_read_items_by_seed_in_feed_order() -> None:
    client, reader = _token_client("ada")
    seed_a, seed_b, gone = (make_article(title=t) for t in ("Tram vote", "Storm", "Retracted"))
    gone.status = "retracted"
    gone.save()
    near = [make_article(title=f"Near {i}") for i in range(6)]
    items = [
        _item(near[0], source="because_you_read", seed=seed_a),
        _item(near[1], source="trending"),
        _item(near[2], source="because_you_read", seed=seed_b),
        _item(near[3], source="because_you_read", seed=seed_a),
        _item(near[4], source="because_you_read", seed=gone),  # no live seed: no rail
        _item(near[5], source="because_you_read", seed=seed_b),
    ]
    _store(reader, items)
    response = client.get(RAILS)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["personalised"] is True
    rails = [
        (r["seed_id"], r["seed_title"], [i["article_id"] for i in r["items"]])
        for r in body["rails"]
    ]
    assert rails == [
        (seed_a.pk, "Tram vote", [near[0].pk, near[3].pk]),
        (seed_b.pk, "Storm", [near[2].pk, near[5].pk]),
    ]
    assert body["rails"][0]["title"] == "Because you read Tram vote"
    limited = client.get(f"{RAILS}?rails=1&per_rail=1").json()["rails"]
    assert [[i["article_id"] for i in r["items"]] for r in limited] == [[near[0].pk]]


@pytest.mark.parametrize(
    "query",
    ["rails=0", "rails=11", "per_rail=x", "per_rail=21", "hour=24",
     "rails=²", "per_rail=¹", "hour=¹", "hour=\u0663", f"rails={10**30}"],
)  # fmt: skip
def test_rails_reject_bad_parameters(query: str) -> None:
    client, reader = _token_client("ada")
    _store(reader, [])
    response = client.get(f"{RAILS}?{query}")
    assert response.status_code == 400
    assert set(response.json()["errors"]) <= {"rails", "per_rail", "hour"}


def test_new_visitor_gets_no_rails_before_and_after_the_first_build() -> None:
    client = APIClient()
    latest = make_article()
    body = client.get("/api/v1/feeds/me/").json()  # nothing built yet: the newest stand in
    assert [(i["article_id"], i["source"]) for i in body["items"]] == [(latest.pk, "latest")]
    assert client.get(RAILS).json()["rails"] == []
    _store(None, [_item(latest, source="trending")])
    body = client.get(RAILS).json()
    assert body == {**body, "personalised": False, "rails": []}


def test_if_modified_since_answers_304_until_the_feed_changes() -> None:
    client, reader = _token_client("ada")
    feed = _store(reader, [_item(make_article(), source="trending")])
    first = client.get("/api/v1/feeds/me/")
    assert first.status_code == 200
    assert first["Last-Modified"] == http_date(int(feed.built_at.timestamp()))
    assert "Authorization" in first["Vary"]
    assert "Cookie" in first["Vary"]
    current = client.get("/api/v1/feeds/me/", HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])
    assert current.status_code == 304
    assert current["ETag"] == first["ETag"]
    assert not current.content
    older = http_date(int(feed.built_at.timestamp()) - 60)
    assert client.get("/api/v1/feeds/me/", HTTP_IF_MODIFIED_SINCE=older).status_code == 200
    garbage = client.get("/api/v1/feeds/me/", HTTP_IF_MODIFIED_SINCE="yesterday-ish")
    assert garbage.status_code == 200
    # If-None-Match wins over If-Modified-Since (RFC 9110): a stale tag means a full answer.
    both = client.get(
        "/api/v1/feeds/me/",
        HTTP_IF_NONE_MATCH='"stale"',
        HTTP_IF_MODIFIED_SINCE=first["Last-Modified"],
    )
    assert both.status_code == 200
    listed = client.get("/api/v1/feeds/me/", HTTP_IF_NONE_MATCH=f'"x", W/{first["ETag"]}')
    assert listed.status_code == 304
    Feed.objects.filter(pk=feed.pk).update(version=2, built_at=timezone.now())
    assert client.get("/api/v1/feeds/me/", HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 200
    rails = client.get(RAILS)
    assert client.get(RAILS, HTTP_IF_NONE_MATCH=rails["ETag"]).status_code == 304
    assert rails["ETag"] != first["ETag"]


def test_token_reader_gets_their_own_feed_not_the_default() -> None:
    client, reader = _token_client("ada")
    mine = make_article(title="Mine")
    _store(None, [_item(make_article(title="Everyone's"), source="trending")])
    _store(reader, [_item(mine, source="because_you_read", seed=make_article())])
    body = client.get("/api/v1/feeds/me/").json()
    assert body["personalised"] is True
    assert [i["article_id"] for i in body["items"]] == [mine.pk]


def test_other_readers_feeds_need_staff_or_the_read_feeds_scope() -> None:
    reader = cast(Reader, ReaderFactory.create())
    _store(reader, [_item(make_article(), source="trending")])
    url = f"/api/v1/feeds/{reader.public_id}/"
    _key, without = api_key_create(name="events only", scopes=["write-events"])
    _key, with_scope = api_key_create(name="renderer", scopes=["read-feeds"])
    token_client, _ = _token_client("ada")
    anonymous = APIClient()
    assert anonymous.get(url).status_code in (401, 403)
    assert token_client.get(url).status_code == 403
    assert APIClient(HTTP_AUTHORIZATION=f"Api-Key {without}").get(url).status_code == 403
    assert APIClient(HTTP_AUTHORIZATION=f"Api-Key {with_scope}").get(url).status_code == 200
    progress = APIClient(HTTP_AUTHORIZATION=f"Api-Key {with_scope}").get("/api/v1/feeds/progress/")
    assert progress.status_code == 200
    staff = APIClient()
    staff.force_authenticate(User.objects.create_user("ed", is_staff=True))
    assert staff.get(url).status_code == 200
    assert staff.get(f"/api/v1/feeds/{'0' * 8}-0000-0000-0000-{'0' * 12}/").status_code == 404


def test_api_keys_have_no_feed_of_their_own() -> None:
    _key, raw = api_key_create(name="renderer", scopes=["read-feeds"])
    response = APIClient(HTTP_AUTHORIZATION=f"Api-Key {raw}").get("/api/v1/feeds/me/")
    assert response.status_code == 403
    assert "no reader of its own" in response.json()["message"]


def _vector(seed: int) -> np.ndarray:
    base = np.random.default_rng(1000 + seed % 4).normal(size=384)
    v = (base + 0.8 * np.random.default_rng(seed).normal(size=384)).astype(np.float32)
    return v / np.linalg.norm(v)


def test_rails_from_a_real_rebuild_name_what_the_reader_read() -> None:
    feeds.pool_cache_clear()
    now = timezone.now()
    catalogue = [
        make_article(
            title=f"Story {i}",
            section=["Sport", "Politics", "Culture", "Science"][i % 4],
            embedding=_vector(i),
            embedding_status="ready",
            published_at=now - timedelta(hours=i + 1),
        )
        for i in range(40)
    ]
    client, reader = _token_client("ada")
    for n, article in enumerate(catalogue[:2]):
        Event.objects.create(
            reader=reader, event_id=f"e{n}", kind=EventKind.FINISH, article=article,
            occurred_at=now - timedelta(minutes=n), dwell_seconds=120, read_depth=1.0,
        )  # fmt: skip
    from newsrec.profiles import profile_rebuild

    profile_rebuild(reader_id=reader.pk)
    feeds.feeds_rebuild(reader_ids=[reader.pk])
    rails = client.get(RAILS).json()["rails"]
    assert rails
    read = {a.pk: a.title for a in catalogue[:2]}
    for rail in rails:
        assert read[rail["seed_id"]] == rail["seed_title"]
        assert rail["items"]
        assert not {i["article_id"] for i in rail["items"]} & set(read)


@pytest.mark.parametrize("query", ["limit=²", "limit=\u0661\u0660", "hour=¹", f"limit={10**30}"])
def test_the_feed_refuses_numbers_that_are_not_ascii_digits(query: str) -> None:
    client, reader = _token_client("grace")
    _store(reader, [])
    response = client.get(f"/api/v1/feeds/me/?{query}")
    assert response.status_code == 400
    assert set(response.json()["errors"]) <= {"limit", "hour"}
