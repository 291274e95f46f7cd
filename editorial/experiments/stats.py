"""Experiment statistics: CTR with Wilson intervals, two-proportion z-tests, lifts (pure)."""

from __future__ import annotations

import math
from dataclasses import dataclass

Z_95 = 1.959963984540054  # two-sided 95 %


def wilson_interval(successes: int, trials: int, *, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval of a proportion; (0, 0) without trials.

    Unlike the normal approximation it stays inside [0, 1] and behaves with few clicks.
    """
    if trials <= 0:
        return 0.0, 0.0
    p = successes / trials
    z2 = z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / (1 + z2 / trials)
    # The bounds at 0 and 1 are exact there; floating point would leave 1e-16 off.
    low = 0.0 if successes <= 0 else max(0.0, centre - half)
    high = 1.0 if successes >= trials else min(1.0, centre + half)
    return low, high


def two_proportion_z_test(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float]:
    """(z, two-sided p) for "proportion 1 differs from proportion 2", pooled standard error.

    Without data on either side, or when nobody or everybody succeeded, there is no evidence
    of a difference: (0.0, 1.0).
    """
    if n1 <= 0 or n2 <= 0:
        return 0.0, 1.0
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 0.0, 1.0
    z = (x1 / n1 - x2 / n2) / se
    return z, math.erfc(abs(z) / math.sqrt(2))


def relative_lift(value: float | None, baseline: float | None) -> float | None:
    """(value - baseline) / baseline; None when the baseline is zero or unknown."""
    if value is None or not baseline:
        return None
    return (value - baseline) / baseline


@dataclass(frozen=True)
class VariantCounts:
    """What the events of one variant add up to over the experiment's window."""

    readers: int = 0  # distinct readers with at least one impression of the variant
    impressions: int = 0
    clicks: int = 0  # clicks on items of the variant's feed (same recommendation id tag)
    reads: int = 0  # distinct (reader, article) read, finished or dwelt on by those readers
    finishes: int = 0  # distinct (reader, article) finished
    dwell_reads: int = 0  # reads with a dwell time
    dwell_seconds: float = 0.0  # sum of each read's longest dwell


@dataclass(frozen=True)
class VariantFigures:
    """Counts with their rates: CTR (and its 95 % interval), reads per reader, mean dwell."""

    counts: VariantCounts
    ctr: float
    ctr_low: float
    ctr_high: float
    reads_per_reader: float
    finishes_per_reader: float
    mean_dwell_seconds: float | None


def variant_figures(counts: VariantCounts) -> VariantFigures:
    low, high = wilson_interval(counts.clicks, counts.impressions)
    per_reader = 1 / counts.readers if counts.readers else 0.0
    return VariantFigures(
        counts=counts,
        ctr=counts.clicks / counts.impressions if counts.impressions else 0.0,
        ctr_low=low,
        ctr_high=high,
        reads_per_reader=counts.reads * per_reader,
        finishes_per_reader=counts.finishes * per_reader,
        mean_dwell_seconds=(
            counts.dwell_seconds / counts.dwell_reads if counts.dwell_reads else None
        ),
    )


@dataclass(frozen=True)
class Comparison:
    """A variant against the baseline (the holdout): what recommendations are worth."""

    ctr_difference: float  # absolute, in proportion points
    ctr_lift: float | None  # relative
    z: float
    p_value: float
    significant: bool  # p < alpha
    reads_per_reader_lift: float | None


def compare(
    variant: VariantFigures, baseline: VariantFigures, *, alpha: float = 0.05
) -> Comparison:
    """CTR lift with a two-proportion z-test, and the lift in reads per reader (no test)."""
    a, b = variant.counts, baseline.counts
    z, p = two_proportion_z_test(a.clicks, a.impressions, b.clicks, b.impressions)
    return Comparison(
        ctr_difference=variant.ctr - baseline.ctr,
        ctr_lift=relative_lift(variant.ctr, baseline.ctr) if b.impressions else None,
        z=z,
        p_value=p,
        significant=p < alpha,
        reads_per_reader_lift=(
            relative_lift(variant.reads_per_reader, baseline.reads_per_reader)
            if b.readers
            else None
        ),
    )
