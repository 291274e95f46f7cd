"""Do readers come back? Return rates within 1 and 7 days and reads per reader, per variant, with
95 % intervals in which readers are the units (what nudges on vs off must move).

A variant's **exposed readers** had at least one impression served under it in the window. Each
UTC day on which an exposed reader sent any event, from the day of their first exposure on, is
a *visit day*; a visit day d **returned within D days** when the reader sent an event on one of
the days d+1 .. d+D. Only visit days whose D following days are over before the window's end
count (d + D < the end's day), so a running experiment never counts a return that could still
happen. The return rate is returned visit days over counted visit days (a ratio of per-reader
sums), its variance the delta method's over readers (``stats.ctr_variance``): one reader's
days move together. **Reads per reader** is distinct stories read (read, dwell or finish) in
the window per exposed reader, with the normal interval of a mean.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connection

from editorial.experiments.stats import Z_95, VariantCounts, ctr_variance
from editorial.models import Variant
from newsrec.models import Event

HORIZONS = (1, 7)

_RETURNS = """
WITH exposed AS (
    SELECT reader_id, min(occurred_at) AS first_at FROM {event}
    WHERE occurred_at >= %(start)s AND occurred_at < %(end)s
      AND kind = 'impression' AND recommendation_id LIKE %(pattern)s
    GROUP BY reader_id
), days AS (
    SELECT DISTINCT e.reader_id, (e.occurred_at AT TIME ZONE 'UTC')::date AS day
    FROM {event} e JOIN exposed x ON x.reader_id = e.reader_id
    WHERE e.occurred_at >= %(start)s AND e.occurred_at < %(end)s
      AND (e.occurred_at AT TIME ZONE 'UTC')::date >= (x.first_at AT TIME ZONE 'UTC')::date
), per_reader AS (
    SELECT d.reader_id,
        count(*) FILTER (WHERE d.day + 2 <= %(end_day)s) AS a1,
        count(*) FILTER (WHERE d.day + 2 <= %(end_day)s AND EXISTS (
            SELECT 1 FROM days n WHERE n.reader_id = d.reader_id
              AND n.day > d.day AND n.day <= d.day + 1)) AS r1,
        count(*) FILTER (WHERE d.day + 8 <= %(end_day)s) AS a7,
        count(*) FILTER (WHERE d.day + 8 <= %(end_day)s AND EXISTS (
            SELECT 1 FROM days n WHERE n.reader_id = d.reader_id
              AND n.day > d.day AND n.day <= d.day + 7)) AS r7
    FROM days d GROUP BY d.reader_id
), reads AS (
    SELECT e.reader_id, count(DISTINCT e.article_id) AS n
    FROM {event} e JOIN exposed x ON x.reader_id = e.reader_id
    WHERE e.occurred_at >= %(start)s AND e.occurred_at < %(end)s
      AND e.kind IN ('read', 'dwell', 'finish')
    GROUP BY e.reader_id
)
SELECT
    (SELECT count(*) FROM exposed),
    (SELECT coalesce(sum(r.n), 0) FROM reads r),
    (SELECT coalesce(sum(r.n * r.n), 0) FROM reads r),
    count(*) FILTER (WHERE a1 > 0), coalesce(sum(a1), 0), coalesce(sum(r1), 0),
    coalesce(sum(a1 * a1), 0), coalesce(sum(r1 * r1), 0), coalesce(sum(a1 * r1), 0),
    count(*) FILTER (WHERE a7 > 0), coalesce(sum(a7), 0), coalesce(sum(r7), 0),
    coalesce(sum(a7 * a7), 0), coalesce(sum(r7 * r7), 0), coalesce(sum(a7 * r7), 0)
FROM per_reader
"""


@dataclass(frozen=True)
class Estimate:
    """A figure with its 95 % interval (None: no data for it)."""

    value: float | None
    low: float | None = None
    high: float | None = None
    n: int = 0  # readers behind it

    @property
    def excludes_zero(self) -> bool:
        return self.low is not None and self.high is not None and (self.low > 0 or self.high < 0)


@dataclass(frozen=True)
class ReturnCounts:
    """Per-reader sums of one horizon: readers with a counted visit day, visit days, returns."""

    readers: int
    days: int
    returns: int
    days_sq: float
    returns_sq: float
    products: float

    def as_ratio(self) -> VariantCounts:
        # The same ratio-of-sums shape as clicks over impressions.
        return VariantCounts(
            readers=self.readers, impressions=self.days, clicks=self.returns, reads=0,
            finishes=0, dwell_reads=0, dwell_seconds=0.0, impressions_sq=self.days_sq,
            clicks_sq=self.returns_sq, clicks_impressions=self.products,
        )  # fmt: skip


@dataclass(frozen=True)
class VariantReturns:
    """One variant's return rates (by horizon in days) and reads per reader."""

    exposed: int
    counts: dict[int, ReturnCounts]
    reads: int
    reads_sq: float

    def return_rate(self, days: int) -> Estimate:
        counts = self.counts[days]
        if counts.days <= 0:
            return Estimate(None)
        rate = counts.returns / counts.days
        half = Z_95 * math.sqrt(ctr_variance(counts.as_ratio()))
        return Estimate(rate, max(0.0, rate - half), min(1.0, rate + half), counts.readers)

    def reads_per_reader(self) -> Estimate:
        n = self.exposed
        if n <= 0:
            return Estimate(None)
        mean = self.reads / n
        if n < 2:
            return Estimate(mean, None, None, n)
        half = Z_95 * math.sqrt(_variance(self.reads, self.reads_sq, n) / n)
        return Estimate(mean, mean - half, mean + half, n)


def _variance(total: float, total_sq: float, n: int) -> float:
    return max((total_sq - total * total / n) / (n - 1), 0.0) if n >= 2 else 0.0


def variant_returns(*, variant: Variant, start: datetime, end: datetime) -> VariantReturns:
    """The sums behind the variant's return rates and reads per reader, in one query."""
    params: dict[str, Any] = {
        "start": start, "end": end, "pattern": f"%:{variant.tag}",
        "end_day": end.astimezone(UTC).date(),
    }  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(_RETURNS.format(event=Event._meta.db_table), params)
        row = cursor.fetchone()
    exposed, reads, reads_sq = int(row[0]), int(row[1]), float(row[2])
    counts = {
        days: ReturnCounts(int(r), int(d), int(x), float(dd), float(xx), float(dx))
        for days, (r, d, x, dd, xx, dx) in zip(HORIZONS, (row[3:9], row[9:15]), strict=True)
    }
    return VariantReturns(exposed=exposed, counts=counts, reads=reads, reads_sq=reads_sq)


@dataclass(frozen=True)
class ReturnsComparison:
    """A variant against the baseline: differences with their 95 % intervals."""

    return_rate: dict[int, Estimate]  # by horizon: rate minus the baseline's, in proportion
    reads_per_reader: Estimate  # mean minus the baseline's


def returns_compare(variant: VariantReturns, baseline: VariantReturns) -> ReturnsComparison:
    rates: dict[int, Estimate] = {}
    for days in HORIZONS:
        a, b = variant.return_rate(days), baseline.return_rate(days)
        if a.value is None or b.value is None:
            rates[days] = Estimate(None)
            continue
        se = math.sqrt(
            ctr_variance(variant.counts[days].as_ratio())
            + ctr_variance(baseline.counts[days].as_ratio())
        )
        diff = a.value - b.value
        rates[days] = Estimate(diff, diff - Z_95 * se, diff + Z_95 * se, a.n + b.n)
    ra, rb = variant.reads_per_reader(), baseline.reads_per_reader()
    reads = Estimate(None)
    if ra.value is not None and rb.value is not None and variant.exposed > 1 < baseline.exposed:
        se = math.sqrt(
            _variance(variant.reads, variant.reads_sq, variant.exposed) / variant.exposed
            + _variance(baseline.reads, baseline.reads_sq, baseline.exposed) / baseline.exposed
        )
        diff = ra.value - rb.value
        reads = Estimate(diff, diff - Z_95 * se, diff + Z_95 * se, ra.n + rb.n)
    return ReturnsComparison(return_rate=rates, reads_per_reader=reads)


@dataclass(frozen=True)
class VariantReturnsResult:
    variant: Variant
    returns: VariantReturns
    comparison: ReturnsComparison | None  # None for the baseline


def experiment_returns(
    *, variants: list[Variant], baseline: Variant | None, start: datetime, end: datetime
) -> list[VariantReturnsResult]:
    """Return rates and reads per reader of each variant, compared with the baseline."""
    figures = {v.pk: variant_returns(variant=v, start=start, end=end) for v in variants}
    return [
        VariantReturnsResult(
            variant=v,
            returns=figures[v.pk],
            comparison=(
                returns_compare(figures[v.pk], figures[baseline.pk])
                if baseline is not None and v.pk != baseline.pk
                else None
            ),
        )
        for v in variants
    ]
