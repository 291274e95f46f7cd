"""Materialised feeds: built by the engine under the live rules, swapped atomically, served fast."""

from __future__ import annotations

from typing import Any, cast

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from editorial.models import Rule, RuleSet, RulesState
from newsrec import feeds
from newsrec.engine.rules import Rules
from newsrec.engine.types import FeedResult
from newsrec.models import Feed, Reader
from tests.conftest import wait_for
from tests.factories import ReaderFactory, make_catalogue, make_reader_who_finished

SECTIONS = ["Sport", "Politics", "Culture", "Science"]


@pytest.fixture
def catalogue() -> list[Any]:
    feeds.pool_cache_clear()
    return list(make_catalogue(SECTIONS, 40))


@pytest.mark.django_db
def test_rebuild_stores_a_full_feed_with_reasons_and_excludes_what_was_read(
    catalogue: list[Any],
) -> None:
    reader = make_reader_who_finished(catalogue[:3])
    from newsrec.profiles import profile_rebuild

    profile_rebuild(reader_id=reader.pk)
    stats = feeds.feeds_rebuild(reader_ids=[reader.pk], include_default=True)
    assert stats.written == 2
    # where the time went, for bench/rebuild.py and the task log
    assert set(stats.stages) == {
        "load", "prepare", "similarities", "score", "diversity", "explain", "store"
    }  # fmt: skip
    assert all(seconds >= 0 for seconds in stats.stages.values())
    assert sum(stats.stages.values()) <= stats.seconds
    feed = Feed.objects.get(reader=reader)
    ids = [item["article_id"] for item in feed.items]
    assert len(ids) >= 20
    assert len(set(ids)) == len(ids)
    assert not {a.pk for a in catalogue[:3]} & set(ids)
    assert all(item["reason"] and item["source"] for item in feed.items)
    breakdown = feeds.breakdown_of(feed.items[0])
    assert {"relevance", "freshness", "rules", "score"} <= set(breakdown)
    assert breakdown["score"] == pytest.approx(feed.items[0]["score"], rel=1e-3)
    assert any(item["reason"].startswith("Because you read") for item in feed.items)
    assert Feed.objects.filter(key=feeds.DEFAULT_FEED_KEY).exists()


@pytest.mark.django_db
def test_older_rebuild_never_overwrites_a_newer_feed(catalogue: list[Any]) -> None:
    reader = cast(Reader, ReaderFactory.create())
    feeds.feeds_rebuild(reader_ids=[reader.pk], rules=Rules(version=5))
    state = feeds.reader_states(reader_ids=[reader.pk])[0]
    stale = FeedResult(reader_id=reader.pk, items=(), conflicts=(), rules_version=4, built_at=9e9)
    assert feeds.feeds_store(results=[(state, stale)], pool=feeds.pool_cached()) == 0
    feed = Feed.objects.get(reader=reader)
    assert feed.rules_version == 5
    assert feed.items


@pytest.mark.django_db
def test_feed_api_serves_the_readers_own_feed_with_etag(catalogue: list[Any]) -> None:
    client = APIClient()
    client.get("/")  # no feed yet: the home page still renders
    response = client.get("/api/v1/feeds/me/")  # and the API serves the newest articles
    assert {item["source"] for item in response.json()["items"]} == {"latest"}
    feeds.feeds_rebuild(reader_ids=[], include_default=True)
    response = client.get("/api/v1/feeds/me/?limit=5&device=mobile&hour=8")
    assert response.status_code == 200
    body = response.json()
    assert body["personalised"] is False
    assert [item["slot"] for item in body["items"]] == [1, 2, 3, 4, 5]
    again = client.get(
        "/api/v1/feeds/me/?limit=5&device=mobile&hour=8", HTTP_IF_NONE_MATCH=response["ETag"]
    )
    assert again.status_code == 304
    assert client.get("/api/v1/feeds/me/?hour=25").status_code == 400
    assert client.get("/api/v1/feeds/me/?device=fridge").json()["errors"]["device"]


@pytest.mark.django_db
def test_staff_only_endpoints(catalogue: list[Any]) -> None:
    reader = cast(Reader, ReaderFactory.create())
    assert APIClient().get(f"/api/v1/feeds/{reader.public_id}/").status_code in (401, 403)
    assert APIClient().get("/api/v1/feeds/progress/").status_code in (401, 403)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_rule_change_reaches_every_feed_through_the_worker(
    catalogue: list[Any], celery_worker: object
) -> None:
    readers = [make_reader_who_finished([catalogue[i]]) for i in range(6)]
    for reader in readers:
        reader.last_seen = timezone.now()
        reader.save(update_fields=["last_seen"])
    rule_set = RuleSet.objects.create(name="Default", is_live=True)
    version_before = RulesState.current()
    Rule.objects.create(
        rule_set=rule_set, kind="block", target_field="section", target_value="Sport"
    )
    version = RulesState.current()
    assert version > version_before

    def all_rebuilt() -> bool:
        rows = Feed.objects.filter(reader__in=readers, rules_version__gte=version)
        return rows.count() == len(readers)

    assert wait_for(all_rebuilt, timeout=90)
    for feed in Feed.objects.filter(reader__in=readers):
        assert feed.items
        assert all(item["section"] != "Sport" for item in feed.items)
    progress = feeds.fanout_progress()
    assert progress is not None
    assert progress["total"] >= len(readers)


@pytest.mark.django_db
def test_a_retracted_article_leaves_stored_feeds_at_once(
    catalogue: list[Any], monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    from newsrec import services
    from newsrec.models import Article

    monkeypatch.setattr("newsrec.tasks.feeds_refresh_soon", lambda *a, **k: None)
    feeds.feeds_rebuild(reader_ids=[], include_default=True)
    view = feeds.feed_read(reader=None)
    first = Article.objects.get(pk=view.items[0]["article_id"])
    with django_capture_on_commit_callbacks(execute=True):
        services.article_upsert_many(
            rows=[{"external_id": first.external_id, "title": first.title, "status": "retracted"}]
        )
    after = feeds.feed_read(reader=None)
    assert after is not None
    assert first.pk not in [item["article_id"] for item in after.items]
    assert len(after.items) == len(view.items) - 1


@pytest.mark.django_db
def test_covisitation_feeds_readers_of_this_also_read(catalogue: list[Any]) -> None:
    a, b, c = catalogue[0], catalogue[10], catalogue[21]
    for n in range(3):  # three readers read both a and b; one also read c
        make_reader_who_finished([a, b] + ([c] if n == 0 else []))
    covisits = feeds.covisits_compute()
    assert covisits[a.pk] == [(b.pk, 3.0)]  # c was read with a by one reader only: below 2
    assert feeds.covisits_refresh() == 2
    feeds.pool_cache_clear()
    newcomer = make_reader_who_finished([a])
    from newsrec.profiles import profile_rebuild

    profile_rebuild(reader_id=newcomer.pk)
    feeds.feeds_rebuild(reader_ids=[newcomer.pk])
    assert b.pk in [i["article_id"] for i in Feed.objects.get(reader=newcomer).items]
    import time

    from newsrec.engine.sources import CovisitSource, Query
    from newsrec.engine.types import Context

    pool = feeds.pool_cached()
    state = feeds.reader_states(reader_ids=[newcomer.pk])[0]
    found = CovisitSource().candidates(Query.for_reader(pool, state, Context(now=time.time())))
    assert pool.ids[found.rows].tolist() == [b.pk]


# These two add no catalogue: each test's rolled-back articles stay in the HNSW index, and
# piles of identical vectors there degrade later nearest-neighbour searches.


@pytest.mark.django_db
def test_reader_states_carry_the_stored_interest_vector_exactly() -> None:
    import numpy as np

    from newsrec.models import ReaderProfile

    reader = cast(Reader, ReaderFactory.create())
    stored = np.random.default_rng(5).normal(size=384).astype(np.float32)
    ReaderProfile.objects.create(
        reader=reader, interest_vector=stored, section_affinity={"Sport": 0.5}
    )
    [state] = feeds.reader_states(reader_ids=[reader.pk])
    vector = np.asarray(state.interests[0].vector)
    assert vector.dtype == np.float32
    assert np.array_equal(vector, stored)  # the binary read is exact
    assert state.section_affinity == {"Sport": 0.5}
    assert feeds.reader_states(reader_ids=[]) == []


@pytest.mark.django_db
def test_stored_items_read_back_as_json_whatever_the_breakdown() -> None:
    import json

    import numpy as np

    from newsrec.engine.types import FeedItem, ItemColumns
    from tests.factories import make_article

    vector = np.random.default_rng(6).normal(size=384)
    make_article(title='A "quoted" title', embedding=vector, embedding_status="ready")
    pool = feeds.pool_load()
    first = int(pool.ids[0])
    items = (
        FeedItem(
            article_id=first, score=0.5, source="s", reason='Quote " and \\ backslash',
            breakdown={"relevance": 0.25, "score": 0.5}, section="Sport", seed_id=7,
        ),
    )  # fmt: skip
    text = feeds.codec.items_json(items, pool)
    # the ranker's columns are written exactly as the items they stand for
    [item] = items
    columns = ItemColumns(
        keys=("relevance", "score"), article_ids=[first], scores=[0.5], sources=["s"],
        reasons=[item.reason], sections=["Sport"], seed_ids=[7], breakdowns=[[0.25, 0.5]],
    )  # fmt: skip
    assert feeds.codec.items_json(columns, pool) == text
    written = json.loads(text)
    assert written == [
        {
            "article_id": first,
            "title": 'A "quoted" title',
            "section": "Sport",
            "published_at": float(pool.published_at[0]),
            "score": 0.5,
            "source": "s",
            "reason": 'Quote " and \\ backslash',
            "seed_id": 7,
            "breakdown": [0.25, 0.5],
        }
    ]
    reader = cast(Reader, ReaderFactory.create())
    result = FeedResult(
        reader_id=reader.pk, items=items, conflicts=(), rules_version=1, built_at=1e9
    )
    [state] = feeds.reader_states(reader_ids=[reader.pk])
    assert feeds.feeds_store(results=[(state, result)], pool=pool) == 1
    feed = Feed.objects.get(reader=reader)
    assert feed.items == written  # the json column reads back as a list of dicts
    assert Feed.objects.filter(reader=reader, items=written).exists()
    assert not Feed.objects.filter(reader=reader, items=[]).exists()


@pytest.mark.django_db
def test_every_write_to_the_catalogue_changes_its_signature_and_renews_the_pool() -> None:
    import numpy as np
    from django.db import connection

    from newsrec import services
    from newsrec.models import Article
    from tests.factories import make_article

    seen = [feeds.catalogue_signature()]

    def changed() -> bool:
        seen.append(feeds.catalogue_signature())
        return seen[-1] != seen[-2]

    article = make_article(embedding_status="ready", embedding=np.ones(384))
    assert changed()  # insert
    pool = feeds.pool_cached()
    assert feeds.pool_cached() is pool  # unchanged catalogue: the same pool
    Article.objects.filter(pk=article.pk).update(title="Renamed")
    assert changed()  # update, even one that bypasses the ORM's save()
    renewed = feeds.pool_cached()
    assert renewed is not pool
    assert renewed.titles[renewed.index[article.pk]] == "Renamed"
    ReaderFactory.create()
    assert not changed()  # other tables leave it alone
    report = services.article_upsert_many(rows=[{"external_id": "x-1", "title": "New"}])
    assert report.created == 1
    assert changed()  # the import path
    Article.objects.filter(pk=article.pk).delete()
    assert changed()  # delete
    assert article.pk not in feeds.pool_cached().index
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # TRUNCATE waits for no deferred check
        cursor.execute("TRUNCATE newsrec_article CASCADE")
    assert changed()  # and raw SQL
