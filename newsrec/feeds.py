"""Materialised feeds: load plain objects, run the engine, persist each feed atomically.

Writes (``feeds_rebuild``) and reads (``feed_read``) of per-reader feeds. A feed row is replaced
by one ``INSERT ... ON CONFLICT DO UPDATE`` whose ``WHERE`` refuses to overwrite a feed built
under newer rules or later: a rebuild that started before a rule change cannot undo it, and a
reader always sees a complete feed (the old one until the new one is committed).
"""

from __future__ import annotations

import contextlib
import gc
import json
import time
import weakref
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from json.encoder import encode_basestring_ascii as _string
from typing import Any

import numpy as np
import psycopg
from django.db import connection, transaction
from django.db.models import Case, Count, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from newsrec.conf import newsrec_settings
from newsrec.engine.context import context_rerank
from newsrec.engine.diversity import caps_keep
from newsrec.engine.pool import ArticleMeta, Pool
from newsrec.engine.ranker import BREAKDOWN_KEYS, PIN_SOURCE, Ranker
from newsrec.engine.rules import Cap, Diversity, Filters, Rules, diversity_with_defaults
from newsrec.engine.scoring import trending_score
from newsrec.engine.sources import FreshSource
from newsrec.engine.types import (
    Context,
    FeedItem,
    FeedResult,
    Interest,
    ItemColumns,
    ItemRow,
    ReaderState,
    Seed,
    reading_style,
)
from newsrec.learning.serving import readers_on_hand_weights, serving_model
from newsrec.models import Article, Event, EventKind, Feed, Reader, ReaderProfile
from newsrec.providers import Arm, ReadRules, experiments_provider, rules_provider

DEFAULT_FEED_KEY = "default"  # the non-personalised feed: new visitors and opted-out readers


def feed_key(reader_id: int | None) -> str:
    return DEFAULT_FEED_KEY if reader_id is None else f"reader:{reader_id}"


# --- The live pool -----------------------------------------------------------------------------

_pool_cache: dict[str, tuple[float, int | None, Pool | None]] = {}


LONG_WINDOW_DAYS = 30  # the long-window clicks of the pool (7 days for the rest)


def pool_load(*, now: float | None = None) -> Pool:
    """The live pool: newest embedded live articles within FEED_POOL_DAYS, with popularity.

    An article without a publication time (MIND/NeMig imports, CMSes that send none) is dated
    by when newsrec first saw it: it ages, leaves the pool window and loses "New in ..." like
    any other, instead of being missing from every feed or new for ever.
    """
    moment = timezone.now() if now is None else datetime.fromtimestamp(now, tz=UTC)
    qs = (
        Article.objects.live_at(moment)
        .embedded()
        .annotate(dated=Coalesce("published_at", "created"))
    )
    if newsrec_settings.FEED_POOL_DAYS:
        qs = qs.filter(dated__gte=moment - timedelta(days=newsrec_settings.FEED_POOL_DAYS))
    rows = list(
        qs.order_by("-dated", "-id").values_list(
            "id", "title", "dated", "section", "authors", "tags"
        )[: int(newsrec_settings.FEED_POOL_MAX)]
    )
    vectors = _vectors_load([r[0] for r in rows])
    since = moment - timedelta(days=7)
    stats = {
        row["article_id"]: row
        for row in Event.objects.filter(
            occurred_at__gte=moment - timedelta(days=LONG_WINDOW_DAYS),
            occurred_at__lte=moment if now is not None else moment + timedelta(days=1),
            article_id__in=[r[0] for r in rows],
        )
        .values("article_id")
        .annotate(
            clicks=Count("id", filter=Q(kind=EventKind.CLICK, occurred_at__gte=since)),
            impressions=Count("id", filter=Q(kind=EventKind.IMPRESSION, occurred_at__gte=since)),
            clicks_long=Count("id", filter=Q(kind=EventKind.CLICK)),
        )
    }
    now_ts = moment.timestamp()
    metas = []
    for (article_id, title, dated, section, authors, tags), embedding in zip(
        rows, vectors, strict=True
    ):
        s: Mapping[str, Any] = stats.get(article_id, {})
        clicks = float(s.get("clicks", 0))
        published = dated.timestamp()
        metas.append(
            ArticleMeta(
                article_id=article_id,
                title=title,
                embedding=embedding,
                published_at=published,
                section=section,
                authors=tuple(authors),
                tags=tuple(tags),
                clicks=clicks,
                impressions=float(s.get("impressions", 0)),
                clicks_long=float(s.get("clicks_long", 0)),
                trending=trending_score(clicks, max(now_ts - published, 0.0) / 3600.0),
            )
        )
    # the live pool shares the periodic co-visitation; a pool of the past computes its own
    covisits = covisits_cached() if now is None else covisits_compute(now=moment)
    return Pool.from_articles(
        metas, covisits=covisits, dimensions=int(newsrec_settings.EMBEDDING_DIMENSIONS)
    )


def site_diversity(caps: tuple[Cap, ...] = (), mmr_lambda: float | None = None) -> Diversity:
    """The editors' diversity settings (None: not set) with NEWSREC["DEFAULT_DIVERSITY"]."""
    defaults = newsrec_settings.DEFAULT_DIVERSITY or {}
    cap = defaults.get("SECTION_CAP")
    return diversity_with_defaults(
        caps,
        mmr_lambda,
        default_mmr_lambda=defaults.get("MMR_LAMBDA"),
        default_section_cap=None if cap is None else (int(cap), int(defaults["SECTION_CAP_TOP"])),
    )


# --- Co-visitation ("readers of this also read") -----------------------------------------------

COVISITS_KEY = "newsrec:covisits"
_COVISITS_SQL = """
WITH engaged AS (
    SELECT DISTINCT reader_id, article_id FROM newsrec_event
    WHERE occurred_at >= %s AND occurred_at <= %s AND profiling_allowed AND kind = ANY(%s)
), pairs AS (
    SELECT a.article_id AS article, b.article_id AS other, count(*) AS readers
    FROM engaged a JOIN engaged b ON a.reader_id = b.reader_id AND a.article_id <> b.article_id
    GROUP BY 1, 2 HAVING count(*) >= %s
), ranked AS (
    SELECT article, other, readers,
           row_number() OVER (PARTITION BY article ORDER BY readers DESC, other) AS position
    FROM pairs
)
SELECT article, other, readers FROM ranked WHERE position <= %s ORDER BY article, position
"""


def covisits_compute(
    *, days: int = 14, min_readers: int = 2, per_article: int = 20, now: datetime | None = None
) -> dict[int, list[tuple[int, float]]]:
    """For each article, the articles most often read by the same readers (last ``days``
    before ``now``, default the present)."""
    engaged = (EventKind.CLICK, EventKind.READ, EventKind.DWELL, EventKind.FINISH, EventKind.SHARE)
    until = timezone.now() + timedelta(days=1) if now is None else now
    since = (timezone.now() if now is None else now) - timedelta(days=days)
    out: dict[int, list[tuple[int, float]]] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            _COVISITS_SQL, [since, until, [str(k) for k in engaged], min_readers, per_article]
        )
        for article, other, readers in cursor.fetchall():
            out.setdefault(article, []).append((other, float(readers)))
    return out


def covisits_from_engaged(
    engaged: Iterable[tuple[int | str, int]], *, min_readers: int = 2, per_article: int = 20
) -> dict[int, list[tuple[int, float]]]:
    """:func:`covisits_compute` over (reader, article) pairs in memory (replays, tests): for
    each article, the ``per_article`` articles most often read by the same readers (at least
    ``min_readers``), most readers first, ties by article id."""
    by_reader: dict[int | str, set[int]] = {}
    for reader, article in engaged:
        by_reader.setdefault(reader, set()).add(article)
    pairs: dict[int, dict[int, int]] = {}
    for articles in by_reader.values():
        for a in articles:
            row = pairs.setdefault(a, {})
            for b in articles:
                if a != b:
                    row[b] = row.get(b, 0) + 1
    out: dict[int, list[tuple[int, float]]] = {}
    for article in sorted(pairs):
        ranked = sorted(
            ((b, n) for b, n in pairs[article].items() if n >= min_readers),
            key=lambda kv: (-kv[1], kv[0]),
        )[:per_article]
        if ranked:
            out[article] = [(b, float(n)) for b, n in ranked]
    return out


def covisits_refresh() -> int:
    """Recompute co-visitation (a periodic task) and share it with every worker through the cache;
    pools loaded afterwards use it. Returns the number of articles with neighbours."""
    from django.core.cache import cache

    covisits = covisits_compute()
    cache.set(COVISITS_KEY, covisits, timeout=2 * 86400)
    return len(covisits)


def covisits_cached() -> dict[int, list[tuple[int, float]]]:
    from django.core.cache import cache

    return cache.get(COVISITS_KEY) or {}


def _vectors_load(article_ids: list[int]) -> np.ndarray:
    """The articles' vectors as one float32 matrix, in pgvector's binary format.

    Parsing the text format (by pgvector's loader or numpy) took seconds for a 10,000-article
    pool; the binary one is a byte copy: int16 dimensions, int16 unused, big-endian float4s.
    """
    dimensions = int(newsrec_settings.EMBEDDING_DIMENSIONS)
    if not article_ids:
        return np.zeros((0, dimensions), dtype=np.float32)
    connection.ensure_connection()
    # Django's cursors bind client-side, which rules out binary results: a plain psycopg one
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(
            f"SELECT id, embedding FROM {Article._meta.db_table} WHERE id = ANY(%s)",
            [article_ids],
            binary=True,
        )
        found = dict(cursor.fetchall())
    data = b"".join(bytes(found[i])[4:] for i in article_ids)
    return np.frombuffer(data, dtype=">f4").astype(np.float32).reshape(len(article_ids), -1)


def catalogue_signature() -> int:
    """Fingerprint of the catalogue: a counter that every statement writing the article table
    advances (migration 0006's trigger); one read of a sequence, whatever the archive's size."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT last_value + is_called::int FROM newsrec_catalogue_changes")
        return int(cursor.fetchone()[0])


def pool_cached(*, max_age_seconds: float = 60.0) -> Pool:
    """The pool, reused within one process while the catalogue is unchanged (up to a minute,
    so that embargoes ending and articles ageing out are picked up); fan-outs share it."""
    signature = catalogue_signature()
    built, cached_signature, pool = _pool_cache.get("live", (0.0, None, None))
    stale = time.monotonic() - built > max_age_seconds or cached_signature != signature
    if pool is None or stale:
        pool = pool_load()
        _pool_cache["live"] = (time.monotonic(), signature, pool)
    return pool


def pool_cache_clear() -> None:
    _pool_cache.clear()


# --- Readers -----------------------------------------------------------------------------------


STYLE_KEY = "_style"  # a feed's context_habits also carry the reader's style under this key


def _habits(raw: dict[str, Any]) -> dict[tuple[str, str], dict[str, float]]:
    return {
        (device, daypart): {k: float(v) for k, v in sections.items()}
        for device, by_part in (raw or {}).items()
        if device != STYLE_KEY
        for daypart, sections in (by_part or {}).items()
    }


_READER_STATES = """
SELECT r.id, r.personalisation_enabled, p.reader_id IS NOT NULL, p.interest_vector,
       p.section_affinity, p.tag_affinity, p.author_affinity, p.context_habits,
       p.sessions, p.avg_session_depth, e.articles, e.kinds, e.dwell, e.depth, e.allowed, e.hours
FROM {reader} r
LEFT JOIN {profile} p ON p.reader_id = r.id
LEFT JOIN LATERAL (
    SELECT array_agg(article_id ORDER BY id) AS articles, array_agg(kind ORDER BY id) AS kinds,
           array_agg(dwell_seconds ORDER BY id) AS dwell,
           array_agg(read_depth ORDER BY id) AS depth,
           array_agg(profiling_allowed ORDER BY id) AS allowed,
           array_agg(floor(extract(epoch FROM occurred_at) / 3600)::bigint ORDER BY id) AS hours
    FROM {event} WHERE reader_id = r.id AND occurred_at >= %s AND occurred_at <= %s
) e ON true
WHERE r.id = ANY(%s)
"""
_READ_KINDS = frozenset({EventKind.CLICK, EventKind.READ, EventKind.FINISH, EventKind.DWELL})
_PROGRESS_KINDS = frozenset({EventKind.READ, EventKind.FINISH, EventKind.DWELL})
CLICK_SEED_WEIGHT = 0.5  # a click as a "because you read" seed, for sites that send only clicks
# (article id, kind, dwell seconds, read depth, profiling allowed[, hour since the epoch]):
# one event, oldest first
HistoryEvent = (
    tuple[int, str, float | None, float | None, bool]
    | tuple[int, str, float | None, float | None, bool, int]
)


def reader_state_build(
    reader_id: int | str,
    events: Iterable[HistoryEvent],
    *,
    personalisation_enabled: bool = True,
    interest: np.ndarray | Sequence[float] | None = None,
    section_affinity: Mapping[str, float] | None = None,
    tag_affinity: Mapping[str, float] | None = None,
    author_affinity: Mapping[str, float] | None = None,
    context_habits: Mapping[tuple[str, str], Mapping[str, float]] | None = None,
    profiled: bool = True,
    fatigue_before_hour: int | None = None,
    style: str = "",
) -> ReaderState:
    """The engine's view of one reader from the stored profile and recent events (pure).

    Read articles are those clicked, read or finished; well-read ones (finished, 30 s of dwell
    or 60% depth) become "because you read" seeds. A site that sends only clicks (no read
    progress from this reader at all) still gets seeds: each click, at half a seed's weight.

    Fatigue acts over hours, not reloads: with events' hours, an article's unclicked
    impressions count the distinct hours it was shown in before ``fatigue_before_hour`` (the
    current hour): reloading a page, which only adds impressions, never reorders the feed.
    """
    read: set[int] = set()
    hidden: set[int] = set()
    shown: dict[int, int] = {}
    shown_hours: dict[int, set[int]] = {}
    seeds: dict[int, float] = {}
    clicked: dict[int, float] = {}
    progress = False
    for article_id, kind, dwell, depth, ok, *when in events:
        if kind in _READ_KINDS:
            read.add(article_id)
            progress = progress or kind in _PROGRESS_KINDS or bool(dwell) or bool(depth)
            if not ok:
                continue
            if kind == EventKind.FINISH or (dwell or 0) >= 30 or (depth or 0) >= 0.6:
                seeds[article_id] = seeds.get(article_id, 0.0) + 1.0
            elif kind == EventKind.CLICK:
                clicked[article_id] = clicked.get(article_id, 0.0) + CLICK_SEED_WEIGHT
        elif kind == EventKind.HIDE:
            hidden.add(article_id)
        elif kind == EventKind.IMPRESSION:
            if not when:
                shown[article_id] = shown.get(article_id, 0) + 1
            elif fatigue_before_hour is None or when[0] < fatigue_before_hour:
                shown_hours.setdefault(article_id, set()).add(when[0])
    for article_id, hours in shown_hours.items():
        shown[article_id] = shown.get(article_id, 0) + len(hours)
    if not progress:
        seeds = clicked
    personal = personalisation_enabled and profiled
    top_seeds = sorted(seeds.items(), key=lambda kv: -kv[1])[:20] if personal else []
    return ReaderState(
        reader_id=reader_id,
        interests=(Interest(vector=interest),) if personal and interest is not None else (),
        seeds=tuple(Seed(article_id=a, weight=w) for a, w in top_seeds),
        read_ids=frozenset(read),
        hidden_ids=frozenset(hidden),
        # "clicked" and "read" are the same set of articles
        unclicked_impressions={a: n for a, n in shown.items() if a not in read},
        section_affinity=dict(section_affinity or {}) if personal else {},
        tag_affinity=dict(tag_affinity or {}) if personal else {},
        author_affinity=dict(author_affinity or {}) if personal else {},
        context_habits=dict(context_habits or {}) if personal else {},
        style=style if personal else "",
        personalisation_enabled=personalisation_enabled,
    )


def _vector_of(data: bytes) -> np.ndarray:
    """A pgvector value in binary: int16 dimensions, int16 unused, big-endian float4s."""
    return np.frombuffer(data, dtype=">f4", offset=4).astype(np.float32)


def _json_value(value: Any) -> Any:
    """jsonb from a raw cursor: Django's psycopg setup returns it as text."""
    return json.loads(value) if isinstance(value, str | bytes) else (value or {})


def reader_states(
    *, reader_ids: Sequence[int], history_days: int = 30, now: datetime | None = None
) -> list[ReaderState]:
    """Engine view of readers: profile vectors and affinities plus recent reading history.

    ``now`` (default: the present) bounds the history on both sides: events up to ``now`` and
    no older than ``history_days``, so a replay or a training set sees no event from its future.

    One query per chunk: readers, profiles and their events aggregated into arrays, which
    costs far less than one ORM row per event. Results come in binary: interest vectors are
    then a byte copy (see :func:`_vectors_load`) instead of parsing 384 numbers of text each.
    """
    if not reader_ids:
        return []
    since = (now or timezone.now()) - timedelta(days=history_days)
    this_hour = int((now or timezone.now()).timestamp() // 3600)
    if now is None:  # events may be stamped a little ahead of the server's clock
        now = timezone.now() + timedelta(seconds=int(newsrec_settings.EVENTS_MAX_FUTURE_SECONDS))
    sql = _READER_STATES.format(
        reader=Reader._meta.db_table,
        profile=ReaderProfile._meta.db_table,
        event=Event._meta.db_table,
    )
    connection.ensure_connection()
    # Django's cursors bind client-side, which rules out binary results: a plain psycopg one
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, [since, now, list(reader_ids)], binary=True)
        fetched = {row[0]: row for row in cursor.fetchall()}
    states = []
    for reader_id in reader_ids:
        row = fetched.get(reader_id)
        if row is None:
            continue
        _, enabled, has_profile, vector, sections, tags, authors, habits, *rest = row
        sessions, depth, *events = rest
        articles, kinds, dwells, depths, allowed, hours = events
        states.append(
            reader_state_build(
                reader_id,
                zip(
                    articles or (),
                    kinds or (),
                    dwells or (),
                    depths or (),
                    allowed or (),
                    hours or (),
                    strict=True,
                ),
                fatigue_before_hour=this_hour,
                personalisation_enabled=enabled,  # with profiled, gates everything personal
                profiled=bool(has_profile),
                interest=_vector_of(vector) if vector is not None else None,
                section_affinity=_json_value(sections),
                tag_affinity=_json_value(tags),
                author_affinity=_json_value(authors),
                context_habits=_habits(_json_value(habits)),
                style=reading_style(sessions=sessions or 0, avg_session_depth=depth or 0.0),
            )
        )
    return states


# --- Building and storing ----------------------------------------------------------------------


def _items_json(
    items: Sequence[FeedItem], pool: Pool, strings: dict[str, str] | None = None
) -> str:
    """A feed's items as stored JSON (title and publication time from the pool).

    Written with format strings rather than dicts through json.dumps: a chunk stores thousands
    of items with a dozen numbers each, and this is several times faster. Each pool row's
    article id, title and publication time are written once per pool (:func:`_rows_json`); the
    ranker's :class:`ItemColumns` are read column-wise, without an item object each. Scores
    keep 6 decimals, breakdown values 4 significant digits; the other strings go through
    json's own escaping, memoised in ``strings`` (a chunk's feeds share most sections and
    reasons). A breakdown of the usual width is formatted by the item's own format string, in
    the same operation as the rest of the item.
    """
    index, heads = pool.index, _rows_json(pool)
    memo: dict[str, str] = {} if strings is None else strings
    if isinstance(items, ItemColumns):
        rows: Iterable[ItemRow] = items.rows()
    else:
        rows = (
            (i.article_id, i.score, i.source, i.reason, i.section, i.seed_id,
             tuple(i.breakdown.values()))
            for i in items
        )  # fmt: skip
    parts = []
    for article_id, score, source, reason, section, seed_id, values in rows:
        head = (
            heads[index[article_id]],
            memo.get(section) or memo.setdefault(section, _string(section)),
            score,
            memo.get(source) or memo.setdefault(source, _string(source)),
            memo.get(reason) or memo.setdefault(reason, _string(reason)),
            "null" if seed_id is None else int(seed_id),
        )
        if len(values) == _WIDTH:
            parts.append(_ITEM_FIXED % (*head, *values))
        else:
            parts.append(_ITEM % (*head, ",".join(map(_NUMBER.__mod__, values))))
    return "[" + ",".join(parts) + "]"


_ITEM = '{%s"section":%s,"score":%.6f,"source":%s,"reason":%s,"seed_id":%s,"breakdown":[%s]}'
_NUMBER = "%.4g"
_WIDTH = len(BREAKDOWN_KEYS)  # the engine's breakdowns
_ITEM_FIXED = _ITEM.replace("%s]}", ",".join([_NUMBER] * _WIDTH) + "]}")
_ROWS_JSON: weakref.WeakKeyDictionary[Pool, list[str]] = weakref.WeakKeyDictionary()


def _rows_json(pool: Pool) -> list[str]:
    """Per pool row, the start of its stored items: article id, title and publication time
    (``repr`` of the epoch seconds). Made once per pool, which every chunk shares."""
    heads = _ROWS_JSON.get(pool)
    if heads is None:
        heads = [
            f'"article_id":{article_id},"title":{_string(title)},"published_at":{published!r},'
            for article_id, title, published in zip(
                pool.ids.tolist(), pool.titles, pool.published_at.tolist(), strict=True
            )
        ]
        _ROWS_JSON[pool] = heads
    return heads


def breakdown_of(item: dict[str, Any]) -> dict[str, float]:
    """A stored item's score breakdown by name (stored as a bare list, in BREAKDOWN_KEYS order,
    to keep feed rows small: they are written for every reader on every rebuild)."""
    from newsrec.engine.ranker import BREAKDOWN_KEYS

    return dict(zip(BREAKDOWN_KEYS, item.get("breakdown") or (), strict=False))


_JSON = json.JSONEncoder(check_circular=False, separators=(",", ":"))


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
    """Swap in complete new feeds; each row changes in one statement. Returns rows written.

    Readers erased (or opted out) since their state was loaded are left out, never failing the
    others' feeds.
    """
    if not results:
        return 0
    rows: list[tuple[int | None, list[Any]]] = []
    strings: dict[str, str] = {}
    for state, result in results:
        reader_id = None if state is None else int(state.reader_id)
        habits: dict[str, dict[str, dict[str, float]]] = {}
        for (device, daypart), sections in (state.context_habits if state else {}).items():
            habits.setdefault(device, {})[daypart] = dict(sections)
        stored: dict[str, Any] = habits
        if state is not None and state.style:
            stored = {**habits, STYLE_KEY: state.style}
        row = [
            feed_key(reader_id),
            reader_id,
            _items_json(result.items, pool, strings),
            _JSON.encode([{"kind": str(c.kind), "message": c.message} for c in result.conflicts]),
            _JSON.encode(stored),
            result.rules_version,
            datetime.fromtimestamp(result.built_at, tz=UTC),
        ]
        rows.append((reader_id, row))
    # Bound server-side (a plain psycopg cursor, entered once atomic() has connected): Django's
    # cursors would quote a chunk's megabytes of JSON into the SQL text, which costs the client
    # to write and the server to read back.
    with (
        transaction.atomic(),
        connection.wrap_database_errors,
        psycopg.Cursor(connection.connection) as cursor,
    ):
        # Two rebuilds of one reader never interleave: they queue on these locks (in id order).
        keys = sorted(r for r, _ in rows if r is not None)
        if keys:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(7331, r::int) FROM unnest(%s::bigint[]) r", [keys]
            )
            # The readers that still exist and want a personal feed, kept so until this commits:
            # an erase or an opt-out waits for this write and then deletes the feed with the
            # rest (one under way first leaves them out here).
            cursor.execute(
                "SELECT id FROM newsrec_reader WHERE id = ANY(%s) AND personalisation_enabled"
                " ORDER BY id FOR SHARE",
                [keys],
            )
            existing = {row[0] for row in cursor.fetchall()}
            rows = [(r, p) for r, p in rows if r is None or r in existing]
        if not rows:
            return 0
        values = ",".join(["(%s, %s, %s::json, %s::jsonb, %s::jsonb, %s, %s, 1)"] * len(rows))
        cursor.execute(_UPSERT.format(values=values), [v for _, p in rows for v in p])
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
    start = time.perf_counter()
    rules = rules_provider().live_rules() if rules is None else rules
    pool = pool_cached()
    context = Context(now=time.time())
    with collector_paused():
        states = reader_states(reader_ids=reader_ids)
        model = serving_model()
        ranker = Ranker(model=model)
        n = int(newsrec_settings.FEED_LENGTH)
        hand = readers_on_hand_weights(reader_ids) if model is not None else set()
        if hand:  # an experiment's hand-weighted arm: the same build without the model
            ranked = _rank_split(pool, states, context, rules, n, ranker, hand)
        else:
            ranked = ranker.rank_many(pool, states, context, rules, n)
        results: list[tuple[ReaderState | None, FeedResult]] = list(
            zip(states, ranked, strict=True)
        )
        if include_default:
            anonymous = ReaderState(reader_id="default")
            results.append((None, ranker.rank(pool, anonymous, context, rules, n)))
        written = feeds_store(results=results, pool=pool)
    return RebuildStats(len(results), written, time.perf_counter() - start)


def _rank_split(
    pool: Pool,
    states: list[ReaderState],
    context: Context,
    rules: Rules,
    n: int,
    ranker: Ranker,
    hand: set[int],
) -> list[FeedResult]:
    """Feeds of ``states`` in their order, readers in ``hand`` ranked by the hand weights."""
    on_hand = [s.reader_id in hand for s in states]
    hand_states = [s for s in states if s.reader_id in hand]
    model_states = [s for s in states if s.reader_id not in hand]
    by_hand = iter(Ranker().rank_many(pool, hand_states, context, rules, n))
    by_model = iter(ranker.rank_many(pool, model_states, context, rules, n))
    return [next(by_hand) if h else next(by_model) for h in on_hand]


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Hold off Python's cyclic garbage collector while a chunk is built.

    A chunk allocates some hundred thousand short-lived objects (items, breakdowns, strings),
    none of them in reference cycles; each collection they trigger would walk every object of
    the process (the pool, caches, Django) for nothing, about a tenth of the chunk's time.
    Reference counting frees them as usual; the collector resumes afterwards.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def readers_kept(*, active_days: int | None = None) -> QuerySet[Reader]:
    """Readers whose feeds are kept: personalised and seen within FEED_ACTIVE_DAYS."""
    days = active_days or int(newsrec_settings.FEED_ACTIVE_DAYS)
    since = timezone.now() - timedelta(days=days)
    return Reader.objects.filter(
        Q(last_seen__gte=since) | Q(last_seen__isnull=True, created__gte=since)
    ).filter(personalisation_enabled=True)


def readers_to_refresh(*, active_days: int | None = None) -> Iterable[int]:
    """The ids of the readers whose feeds are kept, in id order."""
    return (
        readers_kept(active_days=active_days)
        .order_by("pk")
        .values_list("pk", flat=True)
        .iterator(chunk_size=10_000)
    )


# --- Reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedView:
    """A feed as served: items after the read-time rules and the context re-rank."""

    key: str
    items: list[dict[str, Any]]
    rules_version: int
    built_at: Any
    version: int
    personalised: bool
    experiment: str = ""  # the experiment variant's tag ("e3v7") when the reader is in one
    rules_tag: str = ""  # read-time rules applied ("r12s3"): part of the ETag, see ReadRules.tag
    conflicts: tuple[str, ...] = ()  # what the read-time rules could not honour (for staff)
    caps: tuple[Cap, ...] = ()  # the diversity caps the items keep: a page showing fewer keeps them

    @property
    def recommendation_id(self) -> str:
        """Sent back with impressions and clicks: "<feed key>:<version>[:<variant tag>]"."""
        return ":".join(filter(None, [self.key, str(self.version), self.experiment]))[:64]


def feed_read(
    *,
    reader: Reader | None,
    device: str = "",
    local_hour: int | None = None,
    limit: int = 50,
    section: str = "",
) -> FeedView:
    """One indexed query for the reader's feed (or the default one) plus the context re-rank.

    Rule sets scoped to ``section``'s page, to ``device`` or to the reader's experiment variant
    are applied here (see ``editorial.compiler.read_rules``); a section feed always goes through
    them, with the section's newest articles as extra candidates. Readers in a running
    experiment's holdout get the newest articles instead (no ranking), and so does everyone
    while no feed has been built yet (a new site before its first rebuild): both with the
    blocklists and max age of the rule sets that apply.
    """
    arm = experiments_provider().reader_arm(reader=reader)
    if arm is not None and arm.holdout:
        return feed_latest(arm=arm, limit=limit, section=section, device=device)
    personal = reader is not None and reader.personalisation_enabled
    keys = [feed_key(reader.pk), DEFAULT_FEED_KEY] if personal and reader else [DEFAULT_FEED_KEY]
    # One row: the reader's own feed when it exists, else the default one.
    preference = Case(When(key=keys[0], then=Value(0)), default=Value(1))
    feed = Feed.objects.filter(key__in=keys).order_by(preference).first()
    if feed is None or not feed.items:  # none built yet, or built from an empty pool
        return feed_latest(arm=arm, limit=limit, section=section, device=device)
    now = time.time()
    scoped = rules_provider().read_rules(
        section=section, device=device, variant_id=arm.variant_id if arm is not None else None
    )
    rules = scoped.rules
    if section:  # a section page shows the pins of its own set, not the front page's
        rules = replace(rules, pins=scoped.section_pins)
    items = hard_filtered(
        _without_withdrawn(list(feed.items)),
        rules.filters,
        now=now,
        labels=feed.rules_version < rules.version,
    )
    conflicts: tuple[str, ...] = ()
    if section or scoped.scoped or (device and scoped.device_pins):
        if section:
            items = [i for i in items if i["section"] == section]
        reader_id = reader.pk if feed.key != DEFAULT_FEED_KEY and reader is not None else None
        items, conflicts = _read_rules_apply(
            items, scoped, rules, reader_id=reader_id, device=device, section=section,
            limit=limit, now=now,
        )  # fmt: skip
    if feed.key != DEFAULT_FEED_KEY and feed.context_habits and reader is not None:
        items = _context_order(items, reader.pk, feed.context_habits, device, local_hour)
    caps = rules.diversity.caps
    return FeedView(
        key=feed.key,
        items=items_capped(items, caps)[:limit],
        rules_version=max(feed.rules_version, scoped.rules.version if scoped.scoped else 0),
        built_at=feed.built_at,
        version=feed.version,
        personalised=feed.key != DEFAULT_FEED_KEY,
        experiment=arm.tag if arm is not None else "",
        rules_tag=scoped.tag if scoped.scoped else "",
        conflicts=conflicts,
        caps=caps,
    )


def hard_filtered(
    items: list[dict[str, Any]], filters: Filters, *, now: float, labels: bool
) -> list[dict[str, Any]]:
    """Stored items that the hard filters allow at ``now``: blocked sections and articles,
    timed blocks running now, and max ages (which a stored item can pass while it waits).

    Items carry their section and publication time; their tags and authors are read (one
    query) only with ``labels`` (the feed was built under older rules) or while a timed tag
    or author block runs: otherwise the build already applied the tag and author blocks.
    """
    active = filters.at(now)

    def allowed(item: dict[str, Any]) -> bool:
        published = item.get("published_at")
        return not active.excludes(
            article_id=item["article_id"], section=item["section"], now=now,
            published_at=None if published is None else float(published),
        )  # fmt: skip

    kept = [item for item in items if allowed(item)]
    timed = any(b.field in ("tag", "author") for b in filters.timed_blocks)
    if kept and (labels or timed) and (active.blocked_tags or active.blocked_authors):
        blocked = Q(pk__in=[])
        if active.blocked_tags:
            blocked |= Q(tags__overlap=sorted(active.blocked_tags))
        if active.blocked_authors:
            blocked |= Q(authors__overlap=sorted(active.blocked_authors))
        out = set(
            Article.objects.filter(pk__in=[i["article_id"] for i in kept])
            .filter(blocked)
            .values_list("pk", flat=True)
        )
        kept = [item for item in kept if item["article_id"] not in out]
    return kept


def items_capped(items: list[dict[str, Any]], caps: Sequence[Cap]) -> list[dict[str, Any]]:
    """Feed items reordered so that every first K keeps the caps (``caps_keep``) after the
    read dropped or moved some; tags and authors are read (one query) for caps on them."""
    if not caps or not items:
        return items
    extra: dict[int, tuple[list[str], list[str]]] = {}
    if any(cap.field != "section" for cap in caps):
        rows = Article.objects.filter(pk__in=[i["article_id"] for i in items]).values_list(
            "pk", "tags", "authors"
        )
        extra = {pk: (tags or [], authors or []) for pk, tags, authors in rows}

    def labels(item: dict[str, Any], name: str) -> list[str]:
        if name == "section":
            return [item["section"]] if item["section"] else []
        tags, authors = extra.get(item["article_id"], ([], []))
        return tags if name == "tag" else authors

    return caps_keep(items, caps, labels, fixed=lambda item: item["source"] == PIN_SOURCE)


LATEST_FEED_KEY = "latest"  # what holdout readers get: the newest live articles, unranked
LATEST_SOURCE = "latest"


def feed_latest(*, arm: Arm | None, limit: int, section: str = "", device: str = "") -> FeedView:
    """Recommendations off: the newest live articles in one indexed query, no scores or reasons
    (an experiment's holdout, and every reader before the first rebuild).

    Items have the stored feeds' shape so that pages, tags and the API render them unchanged.
    Its version is a checksum of the items, so that the API's ETag changes with the list.
    """
    from newsrec.selectors import articles_allowed

    # Recommendations are off, editorial safety is not: the blocklists and max age of the
    # site-wide rules and of the rules scoped to this section page or device still apply.
    filters = rules_provider().read_rules(section=section, device=device).rules.filters
    latest = articles_allowed(Article.objects.published(), filters)
    if section:
        latest = latest.filter(section=section)
    rows = list(
        latest.order_by("-published_at", "-id").values_list(
            "id", "title", "section", "published_at"
        )[:limit]
    )
    items: list[dict[str, Any]] = [
        {"article_id": pk, "title": title, "section": name,
         "published_at": published.timestamp() if published else None, "score": 0.0,
         "source": LATEST_SOURCE, "reason": "", "seed_id": None, "breakdown": {}}
        for pk, title, name, published in rows
    ]  # fmt: skip
    dated = [published for *_, published in rows if published is not None]
    return FeedView(
        key=LATEST_FEED_KEY,
        items=items,
        rules_version=0,
        built_at=max(dated) if dated else datetime.fromtimestamp(0, tz=UTC),
        version=zlib.crc32(",".join(str(r[0]) for r in rows).encode()),
        personalised=False,
        experiment=arm.tag if arm is not None else "",
    )


FRESH_SOURCE = FreshSource.name  # the source extra section candidates are shown as


def _read_rules_apply(
    items: list[dict[str, Any]],
    scoped: ReadRules,
    rules: Rules,
    *,
    reader_id: int | None,
    device: str,
    section: str,
    limit: int,
    now: float,
) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
    """Re-rank stored items under read-time ``rules`` (``newsrec.engine.overlay``) on a pool of
    just these articles, the pinned ones and, for a section, its newest articles."""
    from newsrec.engine.overlay import overlay, overlay_prepare, with_newest

    pinned = [p.article_id for p in rules.pins]
    stored = {i["article_id"] for i in items}
    found = _read_pool(
        [*stored, *pinned],
        now=now,
        vectors=rules.diversity.mmr_lambda < 1.0,
        section=section,
        newest=limit + len(items),
        pinned=[a for a in pinned if a not in stored],
        reader_id=reader_id,
    )
    pool = found.pool
    state = ReaderState(
        reader_id=reader_id if reader_id is not None else DEFAULT_FEED_KEY,
        read_ids=frozenset(found.engaged),
        returning=reader_id is not None,
    )
    candidates = with_newest(
        pool,
        [_as_item(i) for i in items],
        found.newest,
        source=FRESH_SOURCE,
        reason=f"New in {section}",
    )
    context = Context(now=now, device=device)
    prepared = overlay_prepare(pool, context, rules, extra_boosts=scoped.extra_boosts)
    result = overlay(prepared, candidates, state, n=max(limit, 1))
    by_id = {i["article_id"]: i for i in items}
    out = []
    for item in result.items:
        row = pool.index[item.article_id]
        stored_item = by_id.get(item.article_id, {})
        out.append(
            {
                **stored_item,
                "article_id": item.article_id,
                "title": stored_item.get("title") or pool.titles[row],
                "section": item.section,
                "published_at": stored_item.get("published_at") or float(pool.published_at[row]),
                "score": round(item.score, 6),
                "source": item.source,
                "reason": item.reason,
                "seed_id": item.seed_id,
            }
        )
    return out, tuple(c.message for c in result.conflicts)


def _as_item(item: dict[str, Any]) -> FeedItem:
    return FeedItem(
        article_id=item["article_id"], score=float(item["score"]), source=item["source"],
        reason=item["reason"], breakdown=breakdown_of(item), section=item["section"],
        seed_id=item.get("seed_id"),
    )  # fmt: skip


_READ_POOL = """
WITH wanted AS (
    SELECT unnest(%(ids)s::bigint[]) AS id
    UNION
    (SELECT id FROM {article} WHERE %(section)s::text <> '' AND section = %(section)s AND {live}
     ORDER BY published_at DESC NULLS FIRST, id DESC LIMIT %(newest)s)
)
SELECT a.id, a.title, a.published_at, a.section, a.authors, a.tags,
       CASE WHEN %(vectors)s THEN a.embedding END,
       a.id = ANY(%(pinned)s::bigint[]) AND EXISTS (
           SELECT 1 FROM {event} e
           WHERE e.reader_id = %(reader)s::bigint AND e.article_id = a.id
             AND e.kind = ANY(%(kinds)s)
       )
FROM {article} a JOIN wanted USING (id)
WHERE {live}
ORDER BY a.published_at DESC NULLS FIRST, a.id DESC
"""
_LIVE = (
    "status = 'published' AND (published_at IS NULL OR published_at <= %(now)s) "
    "AND (embargo_until IS NULL OR embargo_until <= %(now)s)"
)


@dataclass(frozen=True)
class ReadPool:
    """The articles a read-time re-rank needs, as a small pool (see :func:`_read_pool`)."""

    pool: Pool
    newest: list[int]  # the section's newest live articles, newest first
    engaged: set[int]  # pinned articles the reader has read or hidden


def _read_pool(
    article_ids: list[int],
    *,
    now: float,
    vectors: bool,
    section: str = "",
    newest: int = 0,
    pinned: Sequence[int] = (),
    reader_id: int | None = None,
) -> ReadPool:
    """These articles (those live now), the ``newest`` live ones of ``section``, and which of
    the ``pinned`` ones the reader has read or hidden (pins must not bring those back): one
    query, in binary so that vectors (only fetched when MMR needs them) are a byte copy."""
    moment = datetime.fromtimestamp(now, tz=UTC)
    sql = _READ_POOL.format(article=Article._meta.db_table, event=Event._meta.db_table, live=_LIVE)
    params = {
        "ids": list(set(article_ids)), "section": section, "newest": newest, "now": moment,
        "vectors": vectors, "pinned": list(pinned), "reader": reader_id,
        "kinds": [str(k) for k in (*_READ_KINDS, EventKind.HIDE)],
    }  # fmt: skip
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, binary=True)
        rows = cursor.fetchall()
    dimensions = int(newsrec_settings.EMBEDDING_DIMENSIONS)
    zero = np.zeros(dimensions, dtype=np.float32)
    metas = [
        ArticleMeta(
            article_id=article_id, title=title, embedding=zero if vector is None
            else _vector_of(vector), published_at=published.timestamp() if published else now,
            section=name, authors=tuple(authors or ()), tags=tuple(tags or ()),
        )
        for article_id, title, published, name, authors, tags, vector, _ in rows
    ]  # fmt: skip
    return ReadPool(
        pool=Pool.from_articles(metas, dimensions=dimensions),
        newest=[r[0] for r in rows if section and r[3] == section][:newest],
        engaged={r[0] for r in rows if r[7]},
    )


WITHDRAWN_KEY = "newsrec:withdrawn"
WITHDRAWN_SECONDS = 6 * 3600  # longer than any fan-out takes to rebuild every feed
WITHDRAWN_LOCAL_SECONDS = 2.0  # each process re-reads the shared list at most this often
_withdrawn_local: dict[str, tuple[float, frozenset[int]]] = {}


def articles_withdraw(*, article_ids: Sequence[int]) -> None:
    """Hide retracted/unpublished/deleted articles from stored feeds at once, until rebuilt."""
    from django.core.cache import cache

    now = time.time()
    current = {k: v for k, v in (cache.get(WITHDRAWN_KEY) or {}).items() if v > now}
    current.update({int(i): now + WITHDRAWN_SECONDS for i in article_ids})
    cache.set(WITHDRAWN_KEY, current, timeout=WITHDRAWN_SECONDS)
    _withdrawn_local.clear()


def withdrawn_ids() -> frozenset[int]:
    """Articles withdrawn since the feeds were built: one small cache read every 2 s per process."""
    from django.core.cache import cache

    checked, ids = _withdrawn_local.get("ids", (0.0, frozenset()))
    if time.monotonic() - checked > WITHDRAWN_LOCAL_SECONDS:
        now = time.time()
        ids = frozenset(k for k, v in (cache.get(WITHDRAWN_KEY) or {}).items() if v > now)
        _withdrawn_local["ids"] = (time.monotonic(), ids)
    return ids


def _without_withdrawn(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    gone = withdrawn_ids()
    if not gone:
        return items
    return [i for i in items if i["article_id"] not in gone]


def _context_order(
    items: list[dict[str, Any]],
    reader_id: int,
    habits: dict[str, Any],
    device: str,
    hour: int | None,
) -> list[dict[str, Any]]:
    style = habits.get(STYLE_KEY, "") if isinstance(habits, dict) else ""
    state = ReaderState(
        reader_id=reader_id, context_habits=_habits(habits), style=str(style), returning=True
    )
    context = Context(now=time.time(), device=device, local_hour=hour)
    as_items = [
        FeedItem(
            article_id=i["article_id"], score=i["score"], source=i["source"], reason=i["reason"],
            breakdown={}, section=i["section"],
        )
        for i in items
    ]  # fmt: skip
    by_id = {i["article_id"]: i for i in items}
    return [
        {**by_id[item.article_id], "reason": item.reason}
        for item in context_rerank(as_items, state, context)
    ]


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
        now_done = cache.incr(f"{PROGRESS_KEY}:{run_id}:done", done)
        cache.set(f"{PROGRESS_KEY}:{run_id}:moved", time.time(), timeout=7 * 86400)
        run = cache.get(PROGRESS_KEY)
        if run and run.get("run_id") == run_id and now_done >= run["total"]:
            # the first chunk to complete the run records when it finished (add: only once)
            cache.add(f"{PROGRESS_KEY}:{run_id}:finished", time.time(), timeout=7 * 86400)


def fanout_resume(*, enqueue: Any, now: float | None = None) -> int:
    """Re-queue what an interrupted fan-out left undone; returns how many readers were queued.

    A chunk lost with its worker waits for the broker's redelivery (an hour on Redis). Once no
    chunk of the latest run has finished for FANOUT_STALL_SECONDS (and the run is not done),
    the feeds it covers that are still older than the live rules are queued again, under the
    same run, in chunks. Idempotent; nothing at all while the run progresses or once it is
    done, else one indexed query. Each resume of a run waits twice as long as the one before,
    so that workers all down do not flood the queue.
    """
    from django.core.cache import cache

    now = time.time() if now is None else now
    run = cache.get(PROGRESS_KEY)
    if not run:
        return 0
    base = f"{PROGRESS_KEY}:{run['run_id']}"
    marks = cache.get_many([f"{base}:finished", f"{base}:moved", f"{base}:resumes"])
    if f"{base}:finished" in marks:
        return 0
    resumes = int(marks.get(f"{base}:resumes", 0))
    quiet = now - float(marks.get(f"{base}:moved", run["started"]))
    if quiet < int(newsrec_settings.FANOUT_STALL_SECONDS) * 2 ** min(resumes, 5):
        return 0
    stale = list(
        Feed.objects.filter(rules_version__lt=rules_provider().version())  # rules_version index
        .filter(Q(reader__isnull=True) | Q(reader__in=readers_kept()))
        .order_by("reader_id")
        .values_list("reader_id", flat=True)
    )
    if not stale:
        return 0
    cache.set_many({f"{base}:moved": now, f"{base}:resumes": resumes + 1}, timeout=7 * 86400)
    ids = [r for r in stale if r is not None]
    size = int(newsrec_settings.FEED_CHUNK_SIZE)
    chunks = [ids[i : i + size] for i in range(0, len(ids), size)] or [[]]
    for i, chunk in enumerate(chunks):
        enqueue(chunk, run["run_id"], i == 0 and None in stale)
    return len(ids)


def fanout_progress() -> dict[str, Any] | None:
    """Latest fan-out: readers done / total, elapsed seconds and ETA."""
    from django.core.cache import cache

    run = cache.get(PROGRESS_KEY)
    if not run:
        return None
    done = int(cache.get(f"{PROGRESS_KEY}:{run['run_id']}:done") or 0)
    finished = cache.get(f"{PROGRESS_KEY}:{run['run_id']}:finished")
    elapsed = time.time() - run["started"]
    rate = done / elapsed if elapsed > 0 else 0.0
    remaining = max(run["total"] - done, 0)
    return {
        **run,
        "done": min(done, run["total"]),
        "elapsed_seconds": round(elapsed, 1),
        # how long the run took (not the time since it started), once it is done
        "duration_seconds": round((finished or time.time()) - run["started"], 1),
        "finished": finished is not None,
        "finished_at": datetime.fromtimestamp(finished, tz=UTC) if finished else None,
        "eta_seconds": round(remaining / rate, 1) if rate > 0 and remaining else 0.0,
    }
