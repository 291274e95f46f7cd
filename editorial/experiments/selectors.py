"""Reads of experiments: the running one (memoised), a reader's arm, the holdout feed, results."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.utils import timezone

from editorial.experiments.assignment import Arm, RunningExperiment, arm_for
from editorial.experiments.stats import (
    Comparison,
    SampleRatio,
    VariantCounts,
    VariantFigures,
    compare,
    sample_ratio_check,
    sample_size_warnings,
)
from editorial.experiments.stats import variant_figures as figures_of
from editorial.models import Experiment, ExperimentStatus, Variant, VariantKind
from newsrec.memo import Memo
from newsrec.models import Event, Reader

# Feed reads are hot: each process looks the running experiment up at most this often. Start
# and stop clear this process's copy at once; other processes follow within these seconds.
RUNNING_MEMO_SECONDS = 5.0

_running: Memo[RunningExperiment | None] = Memo("running experiment", RUNNING_MEMO_SECONDS)


def running_experiment_load() -> RunningExperiment | None:
    """The running experiment with its arms, from the database (one query)."""
    variants = list(
        Variant.objects.filter(experiment__status=ExperimentStatus.RUNNING)
        .select_related("experiment")
        .order_by("id")
    )
    if not variants:
        return None
    experiment = variants[0].experiment
    arms = tuple(
        Arm(experiment_id=v.experiment_id, variant_id=v.pk, name=v.name, kind=v.kind,
            weight=v.weight)
        for v in variants
    )  # fmt: skip
    return RunningExperiment(experiment_id=experiment.pk, salt=experiment.salt, arms=arms)


def running_experiment() -> RunningExperiment | None:
    """The running experiment, memoised per process for RUNNING_MEMO_SECONDS."""
    return _running.get(running_experiment_load)


def running_memo_clear() -> None:
    _running.clear()


def reader_arm(*, reader: Reader | None) -> Arm | None:
    """The reader's arm in the running experiment; None outside any experiment.

    Visitors without a reader yet and readers who turned personalisation off are outside
    experiments: the latter always get the non-personalised feed they asked for.
    """
    if reader is None or not reader.personalisation_enabled:
        return None
    running = running_experiment()
    return arm_for(running, str(reader.public_id)) if running is not None else None


def readers_on_hand_weights(reader_ids: Sequence[int]) -> set[int]:
    """Of ``reader_ids``, those in a hand-weighted arm of the running experiment: their feeds
    are built without the learned ranker (newsrec's ``RANKER_ARMS`` provider). One query, and
    none at all while no running experiment has such an arm."""
    running = running_experiment()
    if running is None or not any(arm.hand_weighted for arm in running.arms):
        return set()
    rows = Reader.objects.filter(pk__in=reader_ids, personalisation_enabled=True).values_list(
        "pk", "public_id"
    )
    return {
        pk for pk, public_id in rows
        if (arm := arm_for(running, str(public_id))) is not None and arm.hand_weighted
    }  # fmt: skip


# --- Results -------------------------------------------------------------------------------


@dataclass(frozen=True)
class VariantResult:
    variant: Variant
    figures: VariantFigures
    comparison: Comparison | None  # against the baseline; None for the baseline itself


@dataclass(frozen=True)
class ExperimentResults:
    """Figures per variant over the experiment's window, each compared with the holdout, with
    the checks that say whether to trust them."""

    experiment: Experiment
    window_start: datetime | None
    window_end: datetime | None
    baseline: Variant | None  # the (first) holdout variant
    variants: list[VariantResult]
    sample_ratio: SampleRatio | None = None  # readers per variant against the weights
    warnings: tuple[str, ...] = ()  # in editors' words: mismatch, too few readers or clicks


# Per exposed reader (one impression of the variant at least): impressions and clicks of the
# variant's items, summed with their squares and products (readers are the statistical units).
_SERVED = """
WITH per_reader AS (
    SELECT count(*) FILTER (WHERE kind = 'impression') AS i,
           count(*) FILTER (WHERE kind = 'click') AS c
    FROM {event}
    WHERE occurred_at >= %(start)s AND occurred_at < %(end)s
      AND kind IN ('impression', 'click') AND recommendation_id LIKE %(pattern)s
    GROUP BY reader_id
    HAVING count(*) FILTER (WHERE kind = 'impression') > 0
)
SELECT count(*), coalesce(sum(i), 0), coalesce(sum(c), 0),
       coalesce(sum(i * i), 0), coalesce(sum(c * c), 0), coalesce(sum(c * i), 0)
FROM per_reader
"""
_READS = """
WITH exposed AS (
    SELECT DISTINCT reader_id FROM {event}
    WHERE occurred_at >= %(start)s AND occurred_at < %(end)s
      AND kind = 'impression' AND recommendation_id LIKE %(pattern)s
), reads AS (
    SELECT e.reader_id, e.article_id, bool_or(e.kind = 'finish') AS finished,
           max(e.dwell_seconds) AS dwell
    FROM {event} e JOIN exposed x ON x.reader_id = e.reader_id
    WHERE e.occurred_at >= %(start)s AND e.occurred_at < %(end)s
      AND e.kind IN ('read', 'finish', 'dwell')
    GROUP BY e.reader_id, e.article_id
)
SELECT count(*), count(*) FILTER (WHERE finished), count(dwell), coalesce(sum(dwell), 0)
FROM reads
"""


def _like_suffix(tag: str) -> str:
    # Recommendation ids end in ":<tag>"; tags are letters and digits, nothing to escape.
    return f"%:{tag}"


def variant_counts(*, variant: Variant, start: datetime, end: datetime) -> VariantCounts:
    """Aggregate the variant's events in [start, end) in two queries.

    Impressions and clicks count when their recommendation id carries the variant's tag (items
    served under it); reads, finishes and dwell count everything those exposed readers read in
    the window, wherever they found it: engagement is what recommendations should move.
    """
    params: dict[str, Any] = {"start": start, "end": end, "pattern": _like_suffix(variant.tag)}
    with connection.cursor() as cursor:
        cursor.execute(_SERVED.format(event=Event._meta.db_table), params)
        readers, impressions, clicks, impressions_sq, clicks_sq, products = cursor.fetchone()
        cursor.execute(_READS.format(event=Event._meta.db_table), params)
        reads, finishes, dwell_reads, dwell_seconds = cursor.fetchone()
    return VariantCounts(
        readers=int(readers),
        impressions=int(impressions),  # sum() of counts is numeric: back to int
        clicks=int(clicks),
        impressions_sq=float(impressions_sq),
        clicks_sq=float(clicks_sq),
        clicks_impressions=float(products),
        reads=reads,
        finishes=finishes,
        dwell_reads=dwell_reads,
        dwell_seconds=float(dwell_seconds),
    )


def experiment_results(*, experiment: Experiment, now: datetime | None = None) -> ExperimentResults:
    """Per-variant figures over [started_at, stopped_at or now), compared with the holdout."""
    variants = list(experiment.variants.order_by("id"))
    # The holdout (recommendations off), else the arm without nudges (nudges on vs off).
    baseline = next((v for v in variants if v.kind == VariantKind.HOLDOUT), None) or next(
        (v for v in variants if v.kind == VariantKind.NO_NUDGES), None
    )
    start = experiment.started_at
    if start is None:  # a draft: nothing served yet
        return ExperimentResults(experiment, None, None, baseline, [])
    end = experiment.stopped_at or (now or timezone.now())
    figures = {v.pk: figures_of(variant_counts(variant=v, start=start, end=end)) for v in variants}
    results = [
        VariantResult(
            variant=v,
            figures=figures[v.pk],
            comparison=(
                compare(figures[v.pk], figures[baseline.pk])
                if baseline is not None and v.pk != baseline.pk
                else None
            ),
        )
        for v in variants
    ]
    ratio = sample_ratio_check(
        [figures[v.pk].counts.readers for v in variants], [v.weight for v in variants]
    )
    warnings = []
    if ratio is not None and ratio.mismatch:
        split = ", ".join(
            f"{v.name} {o} (expected {e:.0f})"
            for v, o, e in zip(variants, ratio.observed, ratio.expected, strict=True)
        )
        warnings.append(
            f"Sample ratio mismatch: readers per variant ({split}) are not the configured "
            f"shares (chi-square {ratio.chi_square:.1f}, p = {ratio.p_value:.2g}). Something "
            "assigns or counts readers unevenly; do not trust the comparison until it is found."
        )
    warnings += sample_size_warnings([(v.name, figures[v.pk].counts) for v in variants])
    return ExperimentResults(experiment, start, end, baseline, results, ratio, tuple(warnings))
