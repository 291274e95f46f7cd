"""Materialised feeds: load plain objects, run the engine, persist each feed atomically.

Writes (``feeds_rebuild``) and reads (``feed_read``) of per-reader feeds. A feed row is replaced
by one ``INSERT ... ON CONFLICT DO UPDATE`` whose ``WHERE`` refuses to overwrite a feed built
under newer rules or later: a rebuild that started before a rule change cannot undo it, and a
reader always sees a complete feed (the old one until the new one is committed).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from newsrec.conf import newsrec_settings
from newsrec.engine.context import context_rerank
from newsrec.engine.pool import ArticleMeta, Pool
from newsrec.engine.ranker import Ranker
from newsrec.engine.rules import Rules
from newsrec.engine.types import Context, FeedItem, FeedResult, Interest, ReaderState, Seed
from newsrec.models import Article, Event, EventKind, Feed, Reader, ReaderProfile

DEFAULT_FEED_KEY = "default"  # the non-personalised feed: new visitors and opted-out readers


def feed_key(reader_id: int | None) -> str:
    return DEFAULT_FEED_KEY if reader_id is None else f"reader:{reader_id}"


# --- The live pool -----------------------------------------------------------------------------

_pool_cache: dict[str, tuple[float, Pool]] = {}


def pool_load(*, now: float | None = None) -> Pool:
    """The live pool: newest embedded live articles within FEED_POOL_DAYS, with popularity."""
    moment = timezone.now() if now is None else datetime.fromtimestamp(now, tz=UTC)
    qs = Article.objects.live_at(moment).embedded()
    if newsrec_settings.FEED_POOL_DAYS:
        qs = qs.filter(published_at__gte=moment - timedelta(days=newsrec_settings.FEED_POOL_DAYS))
    rows = list(
        qs.order_by("-published_at", "-id").values_list(
            "id", "title", "embedding", "published_at", "section", "authors", "tags"
        )[: int(newsrec_settings.FEED_POOL_MAX)]
    )
    since = moment - timedelta(days=7)
    stats = {
        row["article_id"]: row
        for row in Event.objects.filter(occurred_at__gte=since, article_id__in=[r[0] for r in rows])
        .values("article_id")
        .annotate(
            clicks=Count("id", filter=Q(kind=EventKind.CLICK)),
            impressions=Count("id", filter=Q(kind=EventKind.IMPRESSION)),
        )
    }
    now_ts = moment.timestamp()
    metas = []
    for article_id, title, embedding, published_at, section, authors, tags in rows:
        s = stats.get(article_id, {})
        clicks = float(s.get("clicks", 0))
        published = published_at.timestamp() if published_at else now_ts
        age_hours = max(now_ts - published, 0.0) / 3600.0
        metas.append(
            ArticleMeta(
                article_id=article_id,
                title=title,
                embedding=np.asarray(embedding, dtype=np.float32),
                published_at=published,
                section=section,
                authors=tuple(authors),
                tags=tuple(tags),
                clicks=clicks,
                impressions=float(s.get("impressions", 0)),
                # Hacker-News-style gravity: clicks decay with age so that trending means "now".
                trending=clicks / (age_hours + 2.0) ** 1.5,
            )
        )
    return Pool.from_articles(metas, dimensions=int(newsrec_settings.EMBEDDING_DIMENSIONS))


def pool_cached(*, max_age_seconds: float = 60.0) -> Pool:
    """The pool, reused for up to a minute within one worker process (fan-outs share it)."""
    built, pool = _pool_cache.get("live", (0.0, None))  # type: ignore[arg-type]
    if pool is None or time.monotonic() - built > max_age_seconds:
        pool = pool_load()
        _pool_cache["live"] = (time.monotonic(), pool)
    return pool


def pool_cache_clear() -> None:
    _pool_cache.clear()


# --- Readers -----------------------------------------------------------------------------------


def _habits(raw: dict[str, Any]) -> dict[tuple[str, str], dict[str, float]]:
    return {
        (device, daypart): {k: float(v) for k, v in sections.items()}
        for device, by_part in (raw or {}).items()
        for daypart, sections in (by_part or {}).items()
    }


def reader_states(*, reader_ids: Sequence[int], history_days: int = 30) -> list[ReaderState]:
    """Engine view of readers: profile vectors and affinities plus recent reading history."""
    readers = {r.pk: r for r in Reader.objects.filter(pk__in=reader_ids)}
    profiles = {p.reader_id: p for p in ReaderProfile.objects.filter(reader_id__in=reader_ids)}
    since = timezone.now() - timedelta(days=history_days)
    history: dict[int, dict[str, Any]] = {
        rid: {"read": set(), "hidden": set(), "shown": {}, "clicked": set(), "seeds": {}}
        for rid in readers
    }
    events = Event.objects.filter(reader_id__in=list(readers), occurred_at__gte=since).values_list(
        "reader_id", "article_id", "kind", "dwell_seconds", "read_depth", "profiling_allowed"
    )
    for reader_id, article_id, kind, dwell, depth, allowed in events.iterator(chunk_size=5000):
        h = history[reader_id]
        if kind in (EventKind.CLICK, EventKind.READ, EventKind.FINISH, EventKind.DWELL):
            h["read"].add(article_id)
            h["clicked"].add(article_id)
            if allowed and (kind == EventKind.FINISH or (dwell or 0) >= 30 or (depth or 0) >= 0.6):
                h["seeds"][article_id] = h["seeds"].get(article_id, 0.0) + 1.0
        elif kind == EventKind.HIDE:
            h["hidden"].add(article_id)
        elif kind == EventKind.IMPRESSION:
            h["shown"][article_id] = h["shown"].get(article_id, 0) + 1
    states = []
    for reader_id in reader_ids:
        reader = readers.get(reader_id)
        if reader is None:
            continue
        h = history[reader_id]
        profile = profiles.get(reader_id)
        personal = reader.personalisation_enabled and profile is not None
        interests: tuple[Interest, ...] = ()
        if personal and profile is not None and profile.interest_vector is not None:
            interests = (Interest(vector=np.asarray(profile.interest_vector, dtype=np.float32)),)
        seeds = sorted(h["seeds"].items(), key=lambda kv: -kv[1])[:20] if personal else []
        states.append(
            ReaderState(
                reader_id=reader_id,
                interests=interests,
                seeds=tuple(Seed(article_id=a, weight=w) for a, w in seeds),
                read_ids=frozenset(h["read"]),
                hidden_ids=frozenset(h["hidden"]),
                unclicked_impressions={
                    a: n for a, n in h["shown"].items() if a not in h["clicked"]
                },
                section_affinity=dict(profile.section_affinity) if personal and profile else {},
                tag_affinity=dict(profile.tag_affinity) if personal and profile else {},
                author_affinity=dict(profile.author_affinity) if personal and profile else {},
                context_habits=_habits(profile.context_habits) if personal and profile else {},
                personalisation_enabled=reader.personalisation_enabled,
            )
        )
    return states


# --- Building and storing ----------------------------------------------------------------------


def _item_json(item: FeedItem, pool: Pool) -> dict[str, Any]:
    row = pool.index[item.article_id]
    return {
        "article_id": item.article_id,
        "title": pool.titles[row],
        "section": item.section,
        "published_at": float(pool.published_at[row]),
        "score": round(float(item.score), 6),
        "source": item.source,
        "reason": item.reason,
        "seed_id": item.seed_id,
        "breakdown": {k: round(float(v), 5) for k, v in item.breakdown.items()},
    }


_UPSERT = """
INSERT INTO newsrec_feed
    (key, reader_id, items, conflicts, context_habits, rules_version, built_at, version)
VALUES {values}
ON CONFLICT (key) DO UPDATE SET
    items = EXCLUDED.items, conflicts = EXCLUDED.conflicts,
    context_habits = EXCLUDED.context_habits,
    rules_version = EXCLUDED.rules_version, built_at = EXCLUDED.built_at,
    version = newsrec_feed.version + 1
WHERE newsrec_feed.rules_version <= EXCLUDED.rules_version
  AND newsrec_feed.built_at <= EXCLUDED.built_at
"""


def feeds_store(*, results: Sequence[tuple[ReaderState | None, FeedResult]], pool: Pool) -> int:
    """Swap in complete new feeds; each row changes in one statement. Returns rows written."""
    if not results:
        return 0
    params: list[Any] = []
    for state, result in results:
        reader_id = None if state is None else int(state.reader_id)
        habits: dict[str, dict[str, dict[str, float]]] = {}
        for (device, daypart), sections in (state.context_habits if state else {}).items():
            habits.setdefault(device, {})[daypart] = dict(sections)
        params += [
            feed_key(reader_id),
            reader_id,
            json.dumps([_item_json(i, pool) for i in result.items]),
            json.dumps([{"kind": str(c.kind), "message": c.message} for c in result.conflicts]),
            json.dumps(habits),
            result.rules_version,
            datetime.fromtimestamp(result.built_at, tz=UTC),
        ]
    values = ",".join(["(%s, %s, %s::jsonb, %s::jsonb, %s::jsonb, %s, %s, 1)"] * len(results))
    with transaction.atomic(), connection.cursor() as cursor:
        # Two rebuilds of one reader never interleave: they queue on these locks (in id order).
        keys = sorted(int(s.reader_id) for s, _ in results if s is not None)
        if keys:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(7331, r::int) FROM unnest(%s::bigint[]) r", [keys]
            )
        cursor.execute(_UPSERT.format(values=values), params)
        return cursor.rowcount


@dataclass(frozen=True)
class RebuildStats:
    readers: int
    written: int
    seconds: float


def feeds_rebuild(
    *, reader_ids: Sequence[int], rules: Rules | None = None, include_default: bool = False
) -> RebuildStats:
    """Rebuild the feeds of ``reader_ids`` (and the non-personalised one) under the live rules."""
    from editorial.compiler import live_rules

    start = time.perf_counter()
    rules = live_rules() if rules is None else rules
    pool = pool_cached()
    context = Context(now=time.time())
    states = reader_states(reader_ids=reader_ids)
    ranker = Ranker()
    n = int(newsrec_settings.FEED_LENGTH)
    ranked = ranker.rank_many(pool, states, context, rules, n)
    results: list[tuple[ReaderState | None, FeedResult]] = list(zip(states, ranked, strict=True))
    if include_default:
        anonymous = ReaderState(reader_id="default")
        results.append((None, ranker.rank(pool, anonymous, context, rules, n)))
    written = feeds_store(results=results, pool=pool)
    return RebuildStats(len(results), written, time.perf_counter() - start)


def readers_to_refresh(*, active_days: int | None = None) -> Iterable[int]:
    """Readers whose feeds are kept: personalised and seen within FEED_ACTIVE_DAYS."""
    days = active_days or int(newsrec_settings.FEED_ACTIVE_DAYS)
    since = timezone.now() - timedelta(days=days)
    return (
        Reader.objects.filter(
            Q(last_seen__gte=since) | Q(last_seen__isnull=True, created__gte=since)
        )
        .filter(personalisation_enabled=True)
        .order_by("pk")
        .values_list("pk", flat=True)
        .iterator(chunk_size=10_000)
    )


# --- Reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedView:
    """A feed as served: items after the context re-rank, with its build metadata."""

    key: str
    items: list[dict[str, Any]]
    rules_version: int
    built_at: Any
    version: int
    personalised: bool


def feed_read(
    *, reader: Reader | None, device: str = "", local_hour: int | None = None, limit: int = 50
) -> FeedView | None:
    """One indexed query for the reader's feed (or the default one) plus the context re-rank."""
    personal = reader is not None and reader.personalisation_enabled
    keys = [feed_key(reader.pk), DEFAULT_FEED_KEY] if personal and reader else [DEFAULT_FEED_KEY]
    rows = {f.key: f for f in Feed.objects.filter(key__in=keys)}
    feed = next((rows[k] for k in keys if k in rows), None)
    if feed is None:
        return None
    items = _without_withdrawn(list(feed.items))
    if feed.key != DEFAULT_FEED_KEY and feed.context_habits and reader is not None:
        items = _context_order(items, reader.pk, feed.context_habits, device, local_hour)
    return FeedView(
        key=feed.key,
        items=items[:limit],
        rules_version=feed.rules_version,
        built_at=feed.built_at,
        version=feed.version,
        personalised=feed.key != DEFAULT_FEED_KEY,
    )


WITHDRAWN_KEY = "newsrec:withdrawn:{}"
WITHDRAWN_SECONDS = 6 * 3600  # longer than any fan-out takes to rebuild every feed


def articles_withdraw(*, article_ids: Sequence[int]) -> None:
    """Hide retracted/unpublished/deleted articles from stored feeds at once, until rebuilt."""
    from django.core.cache import cache

    cache.set_many({WITHDRAWN_KEY.format(i): 1 for i in article_ids}, timeout=WITHDRAWN_SECONDS)


def _without_withdrawn(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from django.core.cache import cache

    if not items:
        return items
    gone = cache.get_many([WITHDRAWN_KEY.format(i["article_id"]) for i in items])
    if not gone:
        return items
    return [i for i in items if WITHDRAWN_KEY.format(i["article_id"]) not in gone]


def _context_order(
    items: list[dict[str, Any]],
    reader_id: int,
    habits: dict[str, Any],
    device: str,
    hour: int | None,
) -> list[dict[str, Any]]:
    state = ReaderState(reader_id=reader_id, context_habits=_habits(habits))
    context = Context(now=time.time(), device=device, local_hour=hour)
    as_items = [
        FeedItem(
            article_id=i["article_id"], score=i["score"], source=i["source"], reason=i["reason"],
            breakdown={}, section=i["section"],
        )
        for i in items
    ]  # fmt: skip
    by_id = {i["article_id"]: i for i in items}
    return [by_id[item.article_id] for item in context_rerank(as_items, state, context)]


# --- Fan-out progress (visible to staff) -------------------------------------------------------

PROGRESS_KEY = "newsrec:feeds:fanout"


def fanout_start(*, enqueue: Any) -> str:
    """Split every kept feed into chunks and enqueue them; returns the run id."""
    import uuid

    from django.core.cache import cache

    run_id = uuid.uuid4().hex[:12]
    size = int(newsrec_settings.FEED_CHUNK_SIZE)
    chunk: list[int] = []
    total = 0
    chunks: list[list[int]] = []
    for reader_id in readers_to_refresh():
        chunk.append(reader_id)
        if len(chunk) == size:
            chunks.append(chunk)
            chunk = []
    if chunk or not chunks:
        chunks.append(chunk)
    total = sum(len(c) for c in chunks)
    cache.set(
        PROGRESS_KEY,
        {"run_id": run_id, "total": total, "started": time.time()},
        timeout=7 * 86400,
    )
    cache.set(f"{PROGRESS_KEY}:{run_id}:done", 0, timeout=7 * 86400)
    for i, ids in enumerate(chunks):
        enqueue(ids, run_id, i == 0)
    return run_id


def fanout_progress_add(*, run_id: str, done: int) -> None:
    from django.core.cache import cache

    with contextlib.suppress(ValueError):  # progress of an expired run
        cache.incr(f"{PROGRESS_KEY}:{run_id}:done", done)


def fanout_progress() -> dict[str, Any] | None:
    """Latest fan-out: readers done / total, elapsed seconds and ETA."""
    from django.core.cache import cache

    run = cache.get(PROGRESS_KEY)
    if not run:
        return None
    done = int(cache.get(f"{PROGRESS_KEY}:{run['run_id']}:done") or 0)
    elapsed = time.time() - run["started"]
    rate = done / elapsed if elapsed > 0 else 0.0
    remaining = max(run["total"] - done, 0)
    return {
        **run,
        "done": min(done, run["total"]),
        "elapsed_seconds": round(elapsed, 1),
        "eta_seconds": round(remaining / rate, 1) if rate > 0 and remaining else 0.0,
    }
