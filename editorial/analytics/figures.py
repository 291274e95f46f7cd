"""Reads of the hourly rows: figures per surface, slot, section and article, over time, and the
rule publishes to mark on the time axis."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from django.db.models import F, QuerySet, Sum
from django.db.models.functions import TruncDay
from django.utils import timezone

from editorial.analytics.rollup import day_floor
from editorial.models import (
    DWELL_BUCKET_EDGES,
    ArticleDayStats,
    ArticleHourStats,
    Facet,
    FacetDayStats,
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


PLAIN_SUMS = {
    name: Sum(name)
    for name in (
        "impressions", "clicks", "reads", "finishes", "hides", "dwell_seconds", "dwell_reads",
    )
}  # fmt: skip
SUMS = {**PLAIN_SUMS, **{f"b{i}": Sum(f"dwell_buckets__{i}") for i in range(BUCKETS)}}


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


Span = tuple[bool, datetime, datetime]  # (read the day rows?, start, end)


def spans(since: datetime, until: datetime | None) -> list[Span]:
    """[since, until) as the whole UTC days inside it (read from the day rows) and the hours
    before and after them (from the hour rows), so long periods read few rows. Up to now
    (``until`` None), today's day row counts as whole: each roll-up rewrites it with the hours."""
    since = hour_floor(since)
    first = day_floor(since)
    first = first if first == since else first + timedelta(days=1)
    if until is None:
        end = last = day_floor(timezone.now()) + timedelta(days=1)
    else:
        end, last = until, day_floor(until)
    if last - first < timedelta(days=1):
        return [(False, since, end)]
    out: list[Span] = [(False, since, first)] if since < first else []
    out.append((True, first, last))
    if last < end:
        out.append((False, last, end))
    return out


def _rows(
    days: bool, start: datetime, end: datetime, *, facet: str = "", surface: str = ""
) -> QuerySet[Any]:
    """The hour or day rows of [start, end): of one facet, or per article."""
    if facet:
        model: type[Any] = FacetDayStats if days else FacetHourStats
        qs = model.objects.filter(facet=facet)
    else:
        qs = (ArticleDayStats if days else ArticleHourStats).objects.all()
    qs = qs.filter(hour__gte=start, hour__lt=end)
    return qs.filter(surface=surface) if surface else qs


def plus(a: Figures, b: Figures) -> Figures:
    """The sum of two sets of figures (``a``'s key)."""
    mine = a.dwell_buckets or (0,) * BUCKETS
    theirs = b.dwell_buckets or (0,) * BUCKETS
    return Figures(
        key=a.key, article_id=a.article_id, impressions=a.impressions + b.impressions,
        clicks=a.clicks + b.clicks, reads=a.reads + b.reads, finishes=a.finishes + b.finishes,
        hides=a.hides + b.hides, dwell_seconds=a.dwell_seconds + b.dwell_seconds,
        dwell_reads=a.dwell_reads + b.dwell_reads,
        dwell_buckets=tuple(x + y for x, y in zip(mine, theirs, strict=True)),
    )  # fmt: skip


def _grouped(
    field: str, *, since: datetime, until: datetime | None, facet: str = "", surface: str = "",
    sums: Mapping[str, Any] = SUMS, only: Sequence[Any] | None = None,
) -> dict[Any, Figures]:  # fmt: skip
    """Figures per value of ``field`` in the window, summed over its spans (of the values in
    ``only``, if given)."""
    out: dict[Any, Figures] = {}
    for days, start, end in spans(since, until):
        qs = _rows(days, start, end, facet=facet, surface=surface)
        if only is not None:
            qs = qs.filter(**{f"{field}__in": only})
        for row in qs.values(field).annotate(**sums).order_by():
            figures = figures_of(row, str(row[field]))
            key = row[field]
            out[key] = plus(out[key], figures) if key in out else figures
    return out


def _by_impressions(figures: dict[Any, Figures]) -> list[Figures]:
    return sorted(figures.values(), key=lambda f: (-f.impressions, f.key))


def total(*, since: datetime, until: datetime | None = None, surface: str = "") -> Figures:
    """Everything on one surface (or all) in the window."""
    out = figures_of({}, surface or "All surfaces")
    for days, start, end in spans(since, until):
        qs = _rows(days, start, end, facet=Facet.SECTION, surface=surface)
        out = plus(out, figures_of(qs.aggregate(**SUMS), out.key))
    return out


def analytics_by_surface(
    *, since: datetime, until: datetime | None = None, surface: str = ""
) -> list[Figures]:
    """Totals per surface, most impressions first."""
    grouped = _grouped("surface", since=since, until=until, facet=Facet.SECTION, surface=surface)
    return [replace(f, key=f.key or "(none)") for f in _by_impressions(grouped)]


def analytics_by_slot(
    *, since: datetime, until: datetime | None = None, surface: str = ""
) -> list[Figures]:
    """Totals per slot (1 = top), in slot order; reads that came from no list last."""
    grouped = _grouped("value", since=since, until=until, facet=Facet.SLOT, surface=surface)
    ordered = sorted(grouped.items(), key=lambda kv: (kv[0] == "", int(kv[0] or 0)))
    return [replace(f, key=f.key or "(no slot)") for _, f in ordered]


def analytics_by_section(
    *, since: datetime, until: datetime | None = None, surface: str = ""
) -> list[Figures]:
    """Totals per section of the articles, most impressions first."""
    grouped = _grouped("value", since=since, until=until, facet=Facet.SECTION, surface=surface)
    return [replace(f, key=f.key or "(no section)") for f in _by_impressions(grouped)]


def analytics_by_article(
    *, since: datetime, until: datetime | None = None, surface: str = "", limit: int | None = 50
) -> list[Figures]:
    """Totals per article (on one surface, if given), most impressions first.

    The dwell histograms (the costly sums) are read only for the ``limit`` articles shown."""
    window: dict[str, Any] = {"since": since, "until": until, "surface": surface}
    plain = limit is not None
    grouped = _grouped("article_id", **window, sums=PLAIN_SUMS if plain else SUMS)
    ordered = sorted(grouped.items(), key=lambda kv: (-kv[1].impressions, -kv[1].clicks, kv[0]))
    if limit is not None:
        ordered = ordered[:limit]
        full = _grouped("article_id", **window, only=[pk for pk, _ in ordered])
        ordered = [(pk, full.get(pk, f)) for pk, f in ordered]
    titles = dict(
        Article.objects.filter(pk__in=[pk for pk, _ in ordered]).values_list("pk", "title")
    )
    return [replace(f, key=titles.get(pk, "?"), article_id=pk) for pk, f in ordered]


def analytics_surfaces() -> list[str]:
    """The surfaces seen in the day rows (and today's hours), alphabetically."""
    seen = set(FacetDayStats.objects.order_by().values_list("surface", flat=True).distinct())
    return sorted(seen)


@dataclass(frozen=True)
class Point:
    """The figures of one hour or day."""

    at: datetime
    figures: Figures


def analytics_series(
    *, since: datetime, until: datetime | None = None, surface: str = "", step: Step = "day",
    facet: str = "", value: str = "",
) -> list[Point]:  # fmt: skip
    """Figures per hour or UTC day from ``since`` to ``until`` (now), every step present (zeros
    where nothing happened), optionally of one slot or section."""
    end = until or timezone.now()
    rows: dict[datetime, Figures] = {}
    windows = spans(since, until) if step == "day" else [(False, hour_floor(since), end)]
    for days, start, stop in windows:
        qs = _rows(days, start, stop, facet=facet or Facet.SECTION, surface=surface)
        if facet:
            qs = qs.filter(value=value)
        if step == "day" and not days:
            qs = qs.annotate(at=TruncDay("hour", tzinfo=UTC))
        else:
            qs = qs.annotate(at=F("hour"))
        for row in qs.values("at").annotate(**SUMS).order_by():
            figures = figures_of(row, "")
            rows[row["at"]] = plus(rows[row["at"]], figures) if row["at"] in rows else figures
    return [
        Point(at=at, figures=replace(rows.get(at, figures_of({}, "")), key=_label(at, step)))
        for at in steps(since=since, until=end, step=step)
    ]


def _label(at: datetime, step: Step) -> str:
    return f"{at:%Y-%m-%d %H:00}" if step == "hour" else f"{at:%Y-%m-%d}"


def steps(*, since: datetime, until: datetime, step: Step) -> list[datetime]:
    """The starts of the hours or UTC days that meet [since, until)."""
    at = hour_floor(since.astimezone(UTC)) if step == "hour" else day_floor(since)
    delta = timedelta(hours=1) if step == "hour" else timedelta(days=1)
    out = []
    while at < until:
        out.append(at)
        at += delta
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
