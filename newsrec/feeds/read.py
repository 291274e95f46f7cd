"""The read path: a stored feed (or the newest articles) through the read-time rules and context."""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

import numpy as np
from django.db import connection
from django.db.models import Q

from newsrec.conf import newsrec_settings
from newsrec.engine.context import context_rerank
from newsrec.engine.diversity import caps_keep
from newsrec.engine.pool import ArticleMeta, Pool
from newsrec.engine.ranker import PIN_SOURCE
from newsrec.engine.rules import Cap, Filters, Rules
from newsrec.engine.sources import FreshSource
from newsrec.engine.types import Context, FeedItem, ReaderState
from newsrec.feeds import withdrawn
from newsrec.feeds.catalogue import card_articles
from newsrec.feeds.codec import (
    DEFAULT_FEED_KEY,
    STYLE_KEY,
    breakdown_of,
    feed_key,
    habits_decode,
    json_value,
    rows_binary,
    vector_of,
)
from newsrec.feeds.states import READ_KINDS
from newsrec.models import Article, Event, EventKind, Feed, Reader
from newsrec.providers import Arm, ReadRules, experiments_provider, rules_provider


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
    feed = _stored_feed(keys)
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
        withdrawn.without_withdrawn(list(feed.items)),
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


@dataclass(frozen=True)
class StoredFeed:
    """The columns of a stored feed that a read uses."""

    key: str
    items: list[dict[str, Any]]
    context_habits: dict[str, Any]
    rules_version: int
    built_at: datetime
    version: int


_STORED_FEED = """
SELECT key, items, context_habits, rules_version, built_at, version FROM {feed}
WHERE key = ANY(%s) ORDER BY key = %s DESC LIMIT 1
"""


def _stored_feed(keys: list[str]) -> StoredFeed | None:
    """The first of ``keys`` that has a stored feed (the reader's own, else the default one):
    one indexed query, written out (the ORM's query building cost more than the query)."""
    with connection.cursor() as cursor:
        cursor.execute(_STORED_FEED.format(feed=Feed._meta.db_table), [keys, keys[0]])
        row = cursor.fetchone()
    if row is None:
        return None
    key, items, habits, rules_version, built_at, version = row
    return StoredFeed(
        key=key, items=json_value(items) or [], context_habits=json_value(habits) or {},
        rules_version=int(rules_version), built_at=built_at, version=int(version),
    )  # fmt: skip


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
    read dropped or moved some; tags and authors come from the card articles for caps on them."""
    if not caps or not items:
        return items
    extra: dict[int, tuple[list[str], list[str]]] = {}
    if any(cap.field != "section" for cap in caps):
        found = card_articles({int(i["article_id"]) for i in items})
        extra = {pk: (a.tags or [], a.authors or []) for pk, a in found.items()}

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
    # Recommendations are off, editorial safety is not: the blocklists and max age of the
    # site-wide rules and of the rules scoped to this section page or device still apply.
    filters = rules_provider().read_rules(section=section, device=device).rules.filters
    latest = Article.objects.published().allowed_by(filters)
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
_LIVE = (  # newsrec.models.live_at in SQL
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
        "kinds": [str(k) for k in (*READ_KINDS, EventKind.HIDE)],
    }  # fmt: skip
    rows = rows_binary(sql, params)
    dimensions = int(newsrec_settings.EMBEDDING_DIMENSIONS)
    zero = np.zeros(dimensions, dtype=np.float32)
    metas = [
        ArticleMeta(
            article_id=article_id, title=title, embedding=zero if vector is None
            else vector_of(vector), published_at=published.timestamp() if published else now,
            section=name, authors=tuple(authors or ()), tags=tuple(tags or ()),
        )
        for article_id, title, published, name, authors, tags, vector, _ in rows
    ]  # fmt: skip
    return ReadPool(
        pool=Pool.from_articles(metas, dimensions=dimensions),
        newest=[r[0] for r in rows if section and r[3] == section][:newest],
        engaged={r[0] for r in rows if r[7]},
    )


def _context_order(
    items: list[dict[str, Any]],
    reader_id: int,
    habits: dict[str, Any],
    device: str,
    hour: int | None,
) -> list[dict[str, Any]]:
    style = habits.get(STYLE_KEY, "") if isinstance(habits, dict) else ""
    state = ReaderState(
        reader_id=reader_id, context_habits=habits_decode(habits), style=str(style), returning=True
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


Item = TypeVar("Item")


def rails_group(
    items: Sequence[Item],
    *,
    seed_of: Callable[[Item], int | None],
    live_seeds: Collection[int],
    rails: int,
) -> list[tuple[int, list[Item]]]:
    """The "Because you read X" rails of a served feed, for the site and the API alike: its
    items grouped by the seed ``seed_of`` names (None: not a "because you read" item), in feed
    order, at most ``rails`` of them. A seed no longer live names no rail: a retracted or
    unpublished story never headlines a rail again."""
    grouped: dict[int, list[Item]] = {}
    for item in items:
        seed = seed_of(item)
        if seed is not None and seed in live_seeds:
            grouped.setdefault(seed, []).append(item)
    return list(grouped.items())[:rails]
