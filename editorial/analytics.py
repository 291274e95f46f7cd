"""Editors' analytics: reader events rolled up per article, surface and hour, and reads of them.

The roll-up recomputes whole hours from the events (delete and insert in one transaction), so
running it twice changes nothing, late events are picked up by the next run over their hour,
and purged events disappear. The beat schedule rolls up the last few hours often and the whole
event retention window once a day.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from editorial.models import ArticleHourStats
from newsrec.models import Article, Event

RECENT_HOURS = 3  # the frequent roll-up's window: events normally arrive within seconds

_ROLLUP = """
WITH per_reader AS (
    SELECT date_trunc('hour', occurred_at) AS hour, article_id, surface, reader_id,
           count(*) FILTER (WHERE kind = 'impression') AS impressions,
           count(*) FILTER (WHERE kind = 'click') AS clicks,
           bool_or(kind IN ('read', 'dwell', 'finish')) AS did_read,
           bool_or(kind = 'finish') AS did_finish,
           bool_or(kind = 'hide') AS did_hide,
           max(dwell_seconds) AS dwell
    FROM {event}
    WHERE occurred_at >= %(start)s AND occurred_at < %(end)s
    GROUP BY 1, 2, 3, 4
)
INSERT INTO {stats} (hour, article_id, surface, impressions, clicks, reads, finishes, hides,
                     dwell_seconds, dwell_reads)
SELECT hour, article_id, surface, sum(impressions), sum(clicks),
       count(*) FILTER (WHERE did_read), count(*) FILTER (WHERE did_finish),
       count(*) FILTER (WHERE did_hide), coalesce(sum(dwell), 0), count(dwell)
FROM per_reader
GROUP BY 1, 2, 3
"""


def _hour_floor(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def analytics_rollup(*, start: datetime, end: datetime) -> int:
    """Recompute the hourly rows of every whole hour touching [start, end); returns the rows
    written."""
    start = _hour_floor(start)
    end = _hour_floor(end) + timedelta(hours=1) if end != _hour_floor(end) else end
    sql = _ROLLUP.format(event=Event._meta.db_table, stats=ArticleHourStats._meta.db_table)
    with transaction.atomic(), connection.cursor() as cursor:
        ArticleHourStats.objects.filter(hour__gte=start, hour__lt=end).delete()
        cursor.execute(sql, {"start": start, "end": end})
        return int(cursor.rowcount)


def analytics_rollup_recent(*, hours: int = RECENT_HOURS, now: datetime | None = None) -> int:
    """Roll up the last ``hours`` hours up to now (the frequent beat task)."""
    now = now or timezone.now()
    return analytics_rollup(start=now - timedelta(hours=hours), end=now)


@dataclass(frozen=True)
class Figures:
    """Summed hourly rows with their rates."""

    key: str  # the article's title or the surface's name
    article_id: int | None
    impressions: int
    clicks: int
    reads: int
    finishes: int
    hides: int
    dwell_seconds: float
    dwell_reads: int

    @property
    def ctr(self) -> float | None:
        return self.clicks / self.impressions if self.impressions else None

    @property
    def completion(self) -> float | None:
        return self.finishes / self.reads if self.reads else None

    @property
    def ctr_percent(self) -> float | None:
        return None if self.ctr is None else 100 * self.ctr

    @property
    def completion_percent(self) -> float | None:
        return None if self.completion is None else 100 * self.completion

    @property
    def mean_dwell(self) -> float | None:
        return self.dwell_seconds / self.dwell_reads if self.dwell_reads else None


_SUMS = {
    name: Sum(name)
    for name in (
        "impressions", "clicks", "reads", "finishes", "hides", "dwell_seconds", "dwell_reads",
    )
}  # fmt: skip


def _figures(row: Mapping[str, Any], key: str, article_id: int | None) -> Figures:
    return Figures(
        key=key, article_id=article_id,
        impressions=int(row["impressions"] or 0), clicks=int(row["clicks"] or 0),
        reads=int(row["reads"] or 0), finishes=int(row["finishes"] or 0),
        hides=int(row["hides"] or 0), dwell_seconds=float(row["dwell_seconds"] or 0.0),
        dwell_reads=int(row["dwell_reads"] or 0),
    )  # fmt: skip


def analytics_by_surface(*, since: datetime, surface: str = "") -> list[Figures]:
    """Totals per surface since ``since``, most impressions first."""
    qs = ArticleHourStats.objects.filter(hour__gte=_hour_floor(since))
    if surface:
        qs = qs.filter(surface=surface)
    rows = qs.values("surface").annotate(**_SUMS).order_by("-impressions", "surface")
    return [_figures(row, str(row["surface"]) or "(none)", None) for row in rows]


def analytics_by_article(
    *, since: datetime, surface: str = "", limit: int | None = 50
) -> list[Figures]:
    """Totals per article since ``since`` (on one surface, if given), most impressions first."""
    qs = ArticleHourStats.objects.filter(hour__gte=_hour_floor(since))
    if surface:
        qs = qs.filter(surface=surface)
    rows = list(
        qs.values("article_id").annotate(**_SUMS).order_by("-impressions", "-clicks", "article_id")
    )
    if limit is not None:
        rows = rows[:limit]
    titles = dict(
        Article.objects.filter(pk__in=[r["article_id"] for r in rows]).values_list("pk", "title")
    )
    return [_figures(row, titles.get(row["article_id"], "?"), row["article_id"]) for row in rows]


def analytics_surfaces() -> list[str]:
    """The surfaces seen in the hourly rows, alphabetically."""
    return sorted(ArticleHourStats.objects.order_by().values_list("surface", flat=True).distinct())
