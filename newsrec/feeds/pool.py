"""The live pool: the candidate articles every feed is ranked from, cached per process."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import psycopg
from django.db import connection
from django.db.models import Count, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from newsrec.conf import newsrec_settings
from newsrec.engine.pool import ArticleMeta, Pool
from newsrec.engine.rules import Cap, Diversity, diversity_with_defaults
from newsrec.engine.scoring import trending_score
from newsrec.feeds.catalogue import catalogue_signature
from newsrec.feeds.covisits import covisits_cached, covisits_compute
from newsrec.models import Article, Event, EventKind

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
