"""Reads of the hourly rows: figures per surface, slot, section and article, over time, and the
rule publishes to mark on the time axis."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from django.db.models import QuerySet, Sum
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone

from editorial.models import (
    DWELL_BUCKET_EDGES,
    ArticleHourStats,
    Facet,
    FacetHourStats,
    RuleSetVersion,
)
from newsrec.models import Article

BUCKETS = len(DWELL_BUCKET_EDGES) + 1
Step = Literal["hour", "day"]


def dwell_median(buckets: Sequence[int]) -> float | None:
    """The median dwell (seconds) of a dwell histogram, interpolated inside its bucket; a median
    in the open last bucket is that bucket's lower edge."""
    total = sum(buckets)
    if not total:
        return None
    half, seen = total / 2, 0
    for index, count in enumerate(buckets):
        if count and seen + count >= half:
            low = DWELL_BUCKET_EDGES[index - 1] if index else 0
            if index >= len(DWELL_BUCKET_EDGES):
                return float(low)
            high = DWELL_BUCKET_EDGES[index]
            return low + (high - low) * (half - seen) / count
        seen += count
    return None  # pragma: no cover  (the loop always reaches half of a positive total)


@dataclass(frozen=True)
class Figures:
    """Summed hourly rows with their rates."""

    key: str  # the article's title, or the surface, slot or section
    article_id: int | None
    impressions: int
    clicks: int
    reads: int
    finishes: int
    hides: int
    dwell_seconds: float
    dwell_reads: int
    dwell_buckets: tuple[int, ...] = ()

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

    @property
    def median_dwell(self) -> float | None:
        return dwell_median(self.dwell_buckets)

    def minus(self, other: Figures, *, key: str | None = None) -> Figures:
        """These figures without ``other``'s (a part of them), e.g. a slot without one article."""
        mine = self.dwell_buckets or (0,) * BUCKETS
        theirs = other.dwell_buckets or (0,) * BUCKETS
        buckets = tuple(a - b for a, b in zip(mine, theirs, strict=True))
        return Figures(
            key=self.key if key is None else key, article_id=None,
            impressions=self.impressions - other.impressions, clicks=self.clicks - other.clicks,
            reads=self.reads - other.reads, finishes=self.finishes - other.finishes,
            hides=self.hides - other.hides, dwell_seconds=self.dwell_seconds - other.dwell_seconds,
            dwell_reads=self.dwell_reads - other.dwell_reads, dwell_buckets=buckets,
        )  # fmt: skip


SUMS = {
    **{
        name: Sum(name)
        for name in (
            "impressions", "clicks", "reads", "finishes", "hides", "dwell_seconds", "dwell_reads",
        )
    },
    **{f"b{i}": Sum(f"dwell_buckets__{i}") for i in range(BUCKETS)},
}  # fmt: skip


def figures_of(row: Mapping[str, Any], key: str, article_id: int | None = None) -> Figures:
    """Figures from a row annotated with SUMS (missing sums are zeros)."""
    return Figures(
        key=key, article_id=article_id,
        impressions=int(row.get("impressions") or 0), clicks=int(row.get("clicks") or 0),
        reads=int(row.get("reads") or 0), finishes=int(row.get("finishes") or 0),
        hides=int(row.get("hides") or 0), dwell_seconds=float(row.get("dwell_seconds") or 0.0),
        dwell_reads=int(row.get("dwell_reads") or 0),
        dwell_buckets=tuple(int(row.get(f"b{i}") or 0) for i in range(BUCKETS)),
    )  # fmt: skip


def hour_floor(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _window(qs: QuerySet[Any], since: datetime, until: datetime | None) -> QuerySet[Any]:
    qs = qs.filter(hour__gte=hour_floor(since))
    return qs if until is None else qs.filter(hour__lt=until)


def _facet_rows(
    facet: str, *, since: datetime, until: datetime | None, surface: str
) -> QuerySet[FacetHourStats]:
    qs = _window(FacetHourStats.objects.filter(facet=facet), since, until)
    return qs.filter(surface=surface) if surface else qs


def total(*, since: datetime, until: datetime | None = None, surface: str = "") -> Figures:
    """Everything on one surface (or all) in the window."""
    row = _facet_rows(Facet.SECTION, since=since, until=until, surface=surface).aggregate(**SUMS)
    return figures_of(row, surface or "All surfaces")


def analytics_by_surface(
    *, since: datetime, until: datetime | None = None, surface: str = ""
) -> list[Figures]:
    """Totals per surface, most impressions first."""
    qs = _facet_rows(Facet.SECTION, since=since, until=until, surface=surface)
    rows = qs.values("surface").annotate(**SUMS).order_by("-impressions", "surface")
    return [figures_of(row, str(row["surface"]) or "(none)") for row in rows]


def analytics_by_slot(
    *, since: datetime, until: datetime | None = None, surface: str = ""
) -> list[Figures]:
    """Totals per slot (1 = top), in slot order; reads that came from no list last."""
    qs = _facet_rows(Facet.SLOT, since=since, until=until, surface=surface)
    rows = list(qs.values("value").annotate(**SUMS).order_by())
    rows.sort(key=lambda r: (r["value"] == "", int(r["value"] or 0)))
    return [figures_of(row, str(row["value"]) or "(no slot)") for row in rows]


def analytics_by_section(
    *, since: datetime, until: datetime | None = None, surface: str = ""
) -> list[Figures]:
    """Totals per section of the articles, most impressions first."""
    qs = _facet_rows(Facet.SECTION, since=since, until=until, surface=surface)
    rows = qs.values("value").annotate(**SUMS).order_by("-impressions", "value")
    return [figures_of(row, str(row["value"]) or "(no section)") for row in rows]


def analytics_by_article(
    *, since: datetime, until: datetime | None = None, surface: str = "", limit: int | None = 50
) -> list[Figures]:
    """Totals per article (on one surface, if given), most impressions first."""
    qs = _window(ArticleHourStats.objects.all(), since, until)
    if surface:
        qs = qs.filter(surface=surface)
    rows = list(
        qs.values("article_id").annotate(**SUMS).order_by("-impressions", "-clicks", "article_id")
    )
    if limit is not None:
        rows = rows[:limit]
    titles = dict(
        Article.objects.filter(pk__in=[r["article_id"] for r in rows]).values_list("pk", "title")
    )
    return [figures_of(row, titles.get(row["article_id"], "?"), row["article_id"]) for row in rows]


def analytics_surfaces() -> list[str]:
    """The surfaces seen in the hourly rows, alphabetically."""
    return sorted(FacetHourStats.objects.order_by().values_list("surface", flat=True).distinct())


@dataclass(frozen=True)
class Point:
    """The figures of one hour or day."""

    at: datetime
    figures: Figures


def analytics_series(
    *, since: datetime, until: datetime | None = None, surface: str = "", step: Step = "day",
    facet: str = "", value: str = "",
) -> list[Point]:  # fmt: skip
    """Figures per hour or day (in the site's time zone) from ``since`` to ``until`` (now),
    every step present (zeros where nothing happened), optionally of one slot or section."""
    until = until or timezone.now()
    qs = _facet_rows(facet or Facet.SECTION, since=since, until=until, surface=surface)
    if facet:
        qs = qs.filter(value=value)
    trunc = TruncHour("hour") if step == "hour" else TruncDay("hour")
    rows = {
        row["at"]: row for row in qs.annotate(at=trunc).values("at").annotate(**SUMS).order_by()
    }
    points = []
    for at in steps(since=since, until=until, step=step):
        points.append(Point(at=at, figures=figures_of(rows.get(at, {}), f"{at:%Y-%m-%d %H:00}")))
    return points


def steps(*, since: datetime, until: datetime, step: Step) -> list[datetime]:
    """The starts of the hours or days (site time zone) that meet [since, until)."""
    local = timezone.localtime(since)
    first = local.replace(minute=0, second=0, microsecond=0)
    if step == "day":
        first = first.replace(hour=0)
    out = []
    at = first
    while at < until:
        out.append(at)
        naive = at.replace(tzinfo=None) + (timedelta(hours=1) if step == "hour" else timedelta(1))
        at = timezone.make_aware(naive, timezone.get_current_timezone())
    return out


@dataclass(frozen=True)
class Marker:
    """A moment to mark on the time axis: a rule set published (with the rules version then)."""

    at: datetime
    label: str
    rules_version: int
    version_id: int


def analytics_markers(*, since: datetime, until: datetime | None = None) -> list[Marker]:
    """Rule set publishes in the window, oldest first."""
    qs = RuleSetVersion.objects.filter(published_at__gte=since).select_related("rule_set")
    if until is not None:
        qs = qs.filter(published_at__lt=until)
    return [
        Marker(
            at=v.published_at,
            label=f"{v.rule_set.name} v{v.number}",
            rules_version=v.rules_version,
            version_id=v.pk,
        )
        for v in qs.order_by("published_at", "pk")
    ]
