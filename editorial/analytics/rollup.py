"""The hourly roll-up: reader events into per-article rows, and those into per-slot and
per-section rows.

Whole hours are recomputed from the events (delete and insert in one transaction), so running
it twice changes nothing, late events are picked up by the next run over their hour, and purged
events disappear. The beat schedule rolls up the last few hours often and the whole event
retention window once a day.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from editorial.models import (
    DWELL_BUCKET_EDGES,
    ArticleDayStats,
    ArticleHourStats,
    Facet,
    FacetDayStats,
    FacetHourStats,
)
from newsrec.models import Article, Event

RECENT_HOURS = 3  # the frequent roll-up's window: events normally arrive within seconds
ATTRIBUTION = timedelta(hours=1)  # a read counts on the slot clicked at most this long before
BUCKETS = len(DWELL_BUCKET_EDGES) + 1
LOCK_KEY = 0x6E72_616E_6C79  # "nranly": the roll-up's PostgreSQL advisory lock
_READING = "('read', 'dwell', 'finish')"
_EDGES = "ARRAY[{}]::float8[]".format(", ".join(str(e) for e in DWELL_BUCKET_EDGES))
_FIGURES = "impressions, clicks, reads, finishes, hides, dwell_seconds, dwell_reads, dwell_buckets"

# A read, dwell or finish takes the surface and slot of the same reader's latest click on the
# same article in the ATTRIBUTION before it (clicks from the hour before the window included).
_ARTICLE_ROLLUP = f"""
WITH attributed AS (
    SELECT e.occurred_at, e.article_id, e.reader_id, e.kind, e.dwell_seconds,
           coalesce(c.surface, e.surface) AS surface,
           CASE WHEN e.kind IN {_READING} THEN c.feed_slot ELSE e.feed_slot END AS slot
    FROM {{event}} e
    LEFT JOIN LATERAL (
        SELECT c.surface, c.feed_slot FROM {{event}} c
        WHERE e.kind IN {_READING} AND c.reader_id = e.reader_id
          AND c.article_id = e.article_id AND c.kind = 'click'
          AND c.occurred_at <= e.occurred_at AND c.occurred_at > e.occurred_at - %(attribution)s
        ORDER BY c.occurred_at DESC, c.id DESC
        LIMIT 1
    ) c ON true
    WHERE e.occurred_at >= %(start)s AND e.occurred_at < %(end)s
), per_reader AS (
    SELECT date_trunc('hour', occurred_at) AS hour, article_id, surface, slot, reader_id,
           count(*) FILTER (WHERE kind = 'impression') AS impressions,
           count(*) FILTER (WHERE kind = 'click') AS clicks,
           bool_or(kind IN {_READING}) AS did_read,
           bool_or(kind = 'finish') AS did_finish,
           bool_or(kind = 'hide') AS did_hide,
           max(dwell_seconds) AS dwell,
           width_bucket(max(dwell_seconds), {_EDGES}) AS bucket
    FROM attributed
    GROUP BY 1, 2, 3, 4, 5
)
INSERT INTO {{stats}} (hour, article_id, surface, slot, section, {_FIGURES})
SELECT p.hour, p.article_id, p.surface, p.slot, a.section, sum(p.impressions), sum(p.clicks),
       count(*) FILTER (WHERE p.did_read), count(*) FILTER (WHERE p.did_finish),
       count(*) FILTER (WHERE p.did_hide), coalesce(sum(p.dwell), 0), count(p.dwell),
       ARRAY[{", ".join(f"count(*) FILTER (WHERE p.bucket = {i})" for i in range(BUCKETS))}]::int[]
FROM per_reader p JOIN {{article}} a ON a.id = p.article_id
GROUP BY 1, 2, 3, 4, 5
"""

_SUMMED = ", ".join(
    [
        "sum(impressions)", "sum(clicks)", "sum(reads)", "sum(finishes)", "sum(hides)",
        "sum(dwell_seconds)", "sum(dwell_reads)",
        "ARRAY[{}]::int[]".format(
            ", ".join(f"coalesce(sum(dwell_buckets[{i + 1}]), 0)" for i in range(BUCKETS))
        ),
    ]
)  # fmt: skip

_FACET_ROLLUP = f"""
INSERT INTO {{facets}} (hour, facet, surface, value, {_FIGURES})
SELECT hour, '{Facet.SLOT.value}', surface, coalesce(slot::text, ''), {_SUMMED}
FROM {{stats}} WHERE hour >= %(start)s AND hour < %(end)s
GROUP BY hour, surface, slot
UNION ALL
SELECT hour, '{Facet.SECTION.value}', surface, section, {_SUMMED}
FROM {{stats}} WHERE hour >= %(start)s AND hour < %(end)s
GROUP BY hour, surface, section
"""

# Day rows: the hour rows of whole UTC days summed (``hour`` holds the day's start).
_DAY_ROLLUP = f"""
INSERT INTO {{article_days}} (hour, article_id, surface, {_FIGURES})
SELECT date_trunc('day', hour AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', article_id, surface,
       {_SUMMED}
FROM {{stats}} WHERE hour >= %(start)s AND hour < %(end)s
GROUP BY 1, 2, 3
"""
_FACET_DAY_ROLLUP = f"""
INSERT INTO {{facet_days}} (hour, facet, surface, value, {_FIGURES})
SELECT date_trunc('day', hour AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', facet, surface, value,
       {_SUMMED}
FROM {{facets}} WHERE hour >= %(start)s AND hour < %(end)s
GROUP BY 1, 2, 3, 4
"""


def day_floor(moment: datetime) -> datetime:
    """The start of ``moment``'s UTC day."""
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _hour_floor(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def analytics_rollup(*, start: datetime, end: datetime) -> int:
    """Recompute the hourly rows of every whole hour touching [start, end); returns the
    per-article rows written."""
    start = _hour_floor(start)
    end = _hour_floor(end) + timedelta(hours=1) if end != _hour_floor(end) else end
    tables = {
        "event": Event._meta.db_table,
        "article": Article._meta.db_table,
        "stats": ArticleHourStats._meta.db_table,
        "facets": FacetHourStats._meta.db_table,
        "article_days": ArticleDayStats._meta.db_table,
        "facet_days": FacetDayStats._meta.db_table,
    }
    window: dict[str, Any] = {"start": start, "end": end, "attribution": ATTRIBUTION}
    with transaction.atomic(), connection.cursor() as cursor:
        # one roll-up at a time (the frequent and the daily task may meet): the second waits
        # and then rewrites the same hours, instead of failing on the rows' unique keys
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
        FacetHourStats.objects.filter(hour__gte=start, hour__lt=end).delete()
        ArticleHourStats.objects.filter(hour__gte=start, hour__lt=end).delete()
        cursor.execute(_ARTICLE_ROLLUP.format(**tables), window)
        written = int(cursor.rowcount)
        cursor.execute(_FACET_ROLLUP.format(**tables), window)
        # the whole UTC days touching the window, from their hour rows
        days = {"start": day_floor(start), "end": day_floor(end - timedelta(microseconds=1))}
        days["end"] += timedelta(days=1)
        FacetDayStats.objects.filter(hour__gte=days["start"], hour__lt=days["end"]).delete()
        ArticleDayStats.objects.filter(hour__gte=days["start"], hour__lt=days["end"]).delete()
        cursor.execute(_DAY_ROLLUP.format(**tables), days)
        cursor.execute(_FACET_DAY_ROLLUP.format(**tables), days)
        return written


def analytics_rollup_recent(*, hours: int = RECENT_HOURS, now: datetime | None = None) -> int:
    """Roll up the last ``hours`` hours up to now (the frequent beat task)."""
    now = now or timezone.now()
    return analytics_rollup(start=now - timedelta(hours=hours), end=now)
