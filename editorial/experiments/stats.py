"""Experiment statistics: CTR with Wilson intervals, two-proportion z-tests, lifts with their
intervals, the sample-ratio-mismatch check and the minimum-sample warning (pure)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

Z_95 = 1.959963984540054  # two-sided 95 %
# A split this unlikely under the configured shares means the assignment or the counting is
# broken (a bot, a cache, a lost beacon in one arm), not chance: the usual threshold for SRM.
SRM_ALPHA = 0.001
# Below these per variant, intervals are wide and the z-test's normal approximation is poor.
MIN_READERS = 100
MIN_CLICKS = 10


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
    # Per-reader sums of squares and products of (impressions, clicks): readers, not
    # impressions, are assigned to variants, so CTR's variance is computed over readers
    # (``ctr_variance``). Zero when unknown: the binomial variance is used then.
    impressions_sq: float = 0.0
    clicks_sq: float = 0.0
    clicks_impressions: float = 0.0


def ctr_variance(counts: VariantCounts) -> float:
    """Variance of the variant's CTR (clicks / impressions) with readers as the units: the delta
    method for a ratio of per-reader means. A reader's clicks move together (one reader who
    loves the feed clicks a lot), so treating impressions as independent understates it.

    Falls back to the binomial ``p (1 - p) / impressions`` without per-reader sums or readers.
    """
    n, clicks, shown = counts.readers, counts.clicks, counts.impressions
    if shown <= 0:
        return 0.0
    ratio = clicks / shown
    binomial = ratio * (1 - ratio) / shown
    if n < 2 or not counts.impressions_sq:
        return binomial
    mean_i, mean_c = shown / n, clicks / n
    var_i = (counts.impressions_sq - n * mean_i**2) / (n - 1)
    var_c = (counts.clicks_sq - n * mean_c**2) / (n - 1)
    cov = (counts.clicks_impressions - n * mean_c * mean_i) / (n - 1)
    clustered = (var_c - 2 * ratio * cov + ratio**2 * var_i) / (n * mean_i**2)
    return max(clustered, 0.0)


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


def difference_interval(
    x1: int, n1: int, x2: int, n2: int, *, z: float = Z_95
) -> tuple[float, float] | None:
    """Interval of p1 - p2 (Wald, unpooled); None without trials on either side."""
    if n1 <= 0 or n2 <= 0:
        return None
    p1, p2 = x1 / n1, x2 / n2
    half = z * math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    return p1 - p2 - half, p1 - p2 + half


def lift_interval(
    x1: int, n1: int, x2: int, n2: int, *, z: float = Z_95
) -> tuple[float, float] | None:
    """Interval of the relative lift p1 / p2 - 1 (log risk ratio, Katz); None when either side
    has no success (the ratio is then 0 or unbounded)."""
    if min(x1, x2) <= 0 or n1 <= 0 or n2 <= 0:
        return None
    log_ratio = math.log((x1 / n1) / (x2 / n2))
    se = math.sqrt(1 / x1 - 1 / n1 + 1 / x2 - 1 / n2)
    return math.exp(log_ratio - z * se) - 1, math.exp(log_ratio + z * se) - 1


def chi_square_sf(statistic: float, df: int) -> float:
    """P(X >= statistic) for X ~ chi-square with ``df`` degrees of freedom.

    The regularised upper incomplete gamma Q(df/2, statistic/2): its series below a + 1, a
    continued fraction above (Numerical Recipes, 6.2), both to 1e-15.
    """
    if df <= 0:
        raise ValueError("df must be positive")
    if statistic <= 0:
        return 1.0
    a, x = df / 2, statistic / 2
    log_front = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1:  # P(a, x) by its series; Q = 1 - P
        term = total = 1 / a
        n = a
        while abs(term) > abs(total) * 1e-15:
            n += 1
            term *= x / n
            total += term
        return max(0.0, 1.0 - total * math.exp(log_front))
    tiny = 1e-300  # modified Lentz
    b = x + 1 - a
    c, d = 1 / tiny, 1 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-15:
            break
    return min(1.0, math.exp(log_front) * h)


@dataclass(frozen=True)
class SampleRatio:
    """Readers per variant against the configured shares (chi-square goodness of fit)."""

    observed: tuple[int, ...]
    expected: tuple[float, ...]
    chi_square: float
    p_value: float
    mismatch: bool  # p < SRM_ALPHA: do not trust the comparison until the cause is found


def sample_ratio_check(
    observed: Sequence[int], weights: Sequence[int], *, alpha: float = SRM_ALPHA
) -> SampleRatio | None:
    """Is the split of readers what the weights promise? None with fewer than two variants or
    no readers yet."""
    total, weight_sum = sum(observed), sum(weights)
    if len(observed) != len(weights) or len(observed) < 2 or total <= 0 or weight_sum <= 0:
        return None
    expected = tuple(total * w / weight_sum for w in weights)
    statistic = sum((o - e) ** 2 / e for o, e in zip(observed, expected, strict=True))
    p = chi_square_sf(statistic, len(observed) - 1)
    return SampleRatio(tuple(observed), expected, statistic, p, p < alpha)


def sample_size_warnings(named: Sequence[tuple[str, VariantCounts]]) -> list[str]:
    """One sentence per variant with fewer readers or clicks than a reading needs."""
    warnings = []
    for name, counts in named:
        short = []
        if counts.readers < MIN_READERS:
            short.append(f"{counts.readers} readers (at least {MIN_READERS})")
        if counts.clicks < MIN_CLICKS:
            short.append(f"{counts.clicks} clicks (at least {MIN_CLICKS})")
        if short:
            warnings.append(f"“{name}” has {' and '.join(short)}: too few to judge yet.")
    return warnings


@dataclass(frozen=True)
class Comparison:
    """A variant against the baseline (the holdout): what recommendations are worth."""

    ctr_difference: float  # absolute, in proportion points
    ctr_difference_low: float | None  # its 95 % interval
    ctr_difference_high: float | None
    ctr_lift: float | None  # relative
    ctr_lift_low: float | None  # its 95 % interval
    ctr_lift_high: float | None
    z: float
    p_value: float
    significant: bool  # p < alpha
    reads_per_reader_lift: float | None


def _clustered(
    a: VariantCounts, b: VariantCounts, *, z_crit: float = Z_95
) -> tuple[float, float, tuple[float, float] | None, tuple[float, float] | None]:
    """(z, p, difference interval, lift interval) of CTR a vs b with readers as the units."""
    if a.impressions <= 0 or b.impressions <= 0:
        return 0.0, 1.0, None, None
    r1, r2 = a.clicks / a.impressions, b.clicks / b.impressions
    v1, v2 = ctr_variance(a), ctr_variance(b)
    se = math.sqrt(v1 + v2)
    z = (r1 - r2) / se if se > 0 else 0.0
    p = math.erfc(abs(z) / math.sqrt(2)) if se > 0 else 1.0
    difference = (r1 - r2 - z_crit * se, r1 - r2 + z_crit * se)
    lift = None
    if r1 > 0 and r2 > 0:
        se_log = math.sqrt(v1 / r1**2 + v2 / r2**2)
        log_ratio = math.log(r1 / r2)
        low, high = log_ratio - z_crit * se_log, log_ratio + z_crit * se_log
        lift = (math.exp(low) - 1, math.exp(high) - 1)
    return z, p, difference, lift


def compare(
    variant: VariantFigures, baseline: VariantFigures, *, alpha: float = 0.05
) -> Comparison:
    """CTR lift with its intervals and a z-test, and the lift in reads per reader (no test).

    Readers are the units (they, not impressions, are assigned to variants): with per-reader
    sums the variance is the delta method's over readers, which keeps an A/A test's false
    positives at alpha; without them, the two-proportion (binomial) formulas."""
    a, b = variant.counts, baseline.counts
    if a.impressions_sq and b.impressions_sq:
        z, p, difference, lift = _clustered(a, b)
    else:
        z, p = two_proportion_z_test(a.clicks, a.impressions, b.clicks, b.impressions)
        difference = difference_interval(a.clicks, a.impressions, b.clicks, b.impressions)
        lift = lift_interval(a.clicks, a.impressions, b.clicks, b.impressions)
    return Comparison(
        ctr_difference=variant.ctr - baseline.ctr,
        ctr_difference_low=difference[0] if difference else None,
        ctr_difference_high=difference[1] if difference else None,
        ctr_lift=relative_lift(variant.ctr, baseline.ctr) if b.impressions else None,
        ctr_lift_low=lift[0] if lift else None,
        ctr_lift_high=lift[1] if lift else None,
        z=z,
        p_value=p,
        significant=p < alpha,
        reads_per_reader_lift=(
            relative_lift(variant.reads_per_reader, baseline.reads_per_reader)
            if b.readers
            else None
        ),
    )
