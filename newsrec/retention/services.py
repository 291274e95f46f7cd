"""Writes for retention: train a churn model version, store every recent reader's risk band."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from django.db import IntegrityError, transaction
from django.utils import timezone

from newsrec.conf import newsrec_settings
from newsrec.models import Reader
from newsrec.retention import selectors
from newsrec.retention.features import RiskFeatures, risk_features
from newsrec.retention.model import (
    FEATURE_NAMES,
    ChurnParams,
    churn_fit,
    heuristic_probability,
    training_examples,
)
from newsrec.retention.models import (
    BAND_RANK,
    ChurnModel,
    ChurnModelKind,
    ReaderRisk,
    RiskBand,
    RiskBandCount,
)
from newsrec.retention.nudges import nudge_claim as nudge_claim

SCORE_CHUNK = 1000  # readers per query and write while scoring


def _json_safe(value: Any) -> Any:
    """NaN and infinities as null: PostgreSQL's JSON has no such numbers."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def churn_model_train(*, now: datetime | None = None) -> ChurnModel:
    """Train on the site's own events; a version is stored even when it falls back (why, and
    the heuristic's metrics on what history there is, for editors to see)."""
    now = now or timezone.now()
    horizon = int(newsrec_settings.CHURN_HORIZON_DAYS)
    window = int(newsrec_settings.CHURN_WINDOW_DAYS)
    days = int(newsrec_settings.CHURN_TRAINING_DAYS)
    since = now - timedelta(days=days)
    histories = selectors.reader_histories(since=since, until=now)
    examples = training_examples(
        histories, now=now, horizon_days=horizon, window_days=window, training_days=days
    )
    fit = churn_fit(
        examples, horizon_days=horizon, min_examples=int(newsrec_settings.CHURN_MIN_EXAMPLES)
    )
    return ChurnModel.objects.create(
        created_at=now,
        kind=ChurnModelKind.LOGISTIC if fit.params else ChurnModelKind.HEURISTIC,
        horizon_days=horizon,
        window_days=window,
        feature_names=list(FEATURE_NAMES),
        params=fit.params.as_json() if fit.params else {},
        metrics=_json_safe(fit.metrics),
        training={**fit.sizes, "readers": len(histories), "from": since.isoformat(),
                  "until": now.isoformat()},
        verdict=fit.verdict,
    )  # fmt: skip


def churn_model_due(*, now: datetime | None = None) -> bool:
    """No model yet, or the newest is older than CHURN_RETRAIN_HOURS (or another horizon)."""
    now = now or timezone.now()
    latest = selectors.churn_model_latest()
    return (
        latest is None
        or latest.horizon_days != int(newsrec_settings.CHURN_HORIZON_DAYS)
        or latest.window_days != int(newsrec_settings.CHURN_WINDOW_DAYS)
        or now - latest.created_at >= timedelta(hours=float(newsrec_settings.CHURN_RETRAIN_HOURS))
    )


def band_of(probability: float) -> RiskBand:
    bands = newsrec_settings.CHURN_BANDS
    if probability >= float(bands["HIGH"]):
        return RiskBand.HIGH
    if probability >= float(bands["RISING"]):
        return RiskBand.RISING
    return RiskBand.LOW


def risk_reasons(features: RiskFeatures) -> list[str]:
    """What in the reader's own behaviour raised their risk, in editors' (and hosts') words."""
    reasons = []
    if features.habit is not None and features.habit.missed:
        reasons.append(features.habit.describe())
    days = int(features.days_since_last)
    if days >= 2 and features.recency_ratio >= 1.5:
        usual = max(round(features.days_since_last / features.recency_ratio), 1)
        every = "every day" if usual == 1 else f"every {usual} days"
        reasons.append(f"Not back for {days} days (usually {every})")
    if features.frequency_trend <= -0.3:
        later = round(features.sessions * (1 + features.frequency_trend) / 2)
        earlier = features.sessions - later
        reasons.append(
            f"Visiting less often: {later} visits in the last fortnight, {earlier} before"
        )
    if features.depth_trend <= -1.0:
        reasons.append("Opens fewer stories per visit")
    if features.completion_trend <= -0.2:
        reasons.append("Finishes fewer stories")
    if features.negative_share >= 0.2:
        reasons.append(f"Hid or skipped {features.hides + features.skips} stories")
    return reasons


def _probabilities(model: ChurnModel | None, features: Sequence[RiskFeatures]) -> list[float]:
    if model is not None and model.kind == ChurnModelKind.LOGISTIC and model.params:
        X = np.asarray([f.vector() for f in features], dtype=np.float64)
        return [float(p) for p in ChurnParams.from_json(model.params).probability(X)]
    return [heuristic_probability(f) for f in features]


def _risk_rows(
    reader_ids: list[int], *, model: ChurnModel | None, now: datetime
) -> list[ReaderRisk]:
    window = int(newsrec_settings.CHURN_WINDOW_DAYS)
    histories = selectors.reader_histories(
        since=now - timedelta(days=window), until=now, reader_ids=reader_ids
    )
    scored = [rid for rid in reader_ids if histories.get(rid)]
    features = [risk_features(histories[rid], as_of=now, window_days=window) for rid in scored]
    previous = {r.reader_id: r for r in ReaderRisk.objects.filter(reader_id__in=scored)}
    rows = []
    for rid, feature, probability in zip(
        scored, features, _probabilities(model, features), strict=True
    ):
        band = band_of(probability)
        before = previous.get(rid)
        old_band = RiskBand(before.band) if before else RiskBand.LOW
        rose_at = before.rose_at if before else None
        if BAND_RANK[band] > BAND_RANK[old_band]:
            rose_at = now
        elif BAND_RANK[band] < BAND_RANK[old_band]:
            rose_at = None
        previous_band, band_since = "", now
        if before is not None and band == before.band:
            previous_band, band_since = before.previous_band, before.band_since
        elif before is not None:
            previous_band = before.band
        rows.append(
            ReaderRisk(
                reader_id=rid,
                probability=round(probability, 4),
                band=band,
                previous_band=previous_band,
                band_since=band_since,
                rose_at=rose_at,
                reasons=risk_reasons(feature),
                computed_at=now,
                model=model,
            )
        )
    return rows


def _store(rows: list[ReaderRisk]) -> None:
    ReaderRisk.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["reader"],
        update_fields=[
            "probability", "band", "previous_band", "band_since", "rose_at", "reasons",
            "computed_at", "model",
        ],
    )  # fmt: skip


def reader_risks_refresh(*, now: datetime | None = None) -> int:
    """Score every reader active in the window with the newest churn model; returns how many.

    Readers gone longer than the window, or who opted out of personalisation, lose their row:
    they are not "at risk" any more, and an opted-out reader is never profiled.
    """
    now = now or timezone.now()
    model = selectors.churn_model_latest()
    window = int(newsrec_settings.CHURN_WINDOW_DAYS)
    active = sorted(selectors.readers_active(since=now - timedelta(days=window), until=now))
    written = 0
    for start in range(0, len(active), SCORE_CHUNK):
        rows = _risk_rows(active[start : start + SCORE_CHUNK], model=model, now=now)
        try:
            with transaction.atomic():
                _store(rows)
        except IntegrityError:  # a reader erased meanwhile: store the others
            alive = set(Reader.objects.filter(pk__in=[r.reader_id for r in rows]).values_list(
                "pk", flat=True))  # fmt: skip
            _store([r for r in rows if r.reader_id in alive])
        written += len(rows)
    ReaderRisk.objects.filter(computed_at__lt=now).delete()  # not scored in this run
    band_counts_record(at=now)
    at_risk_webhook_queue(rose_at=now)
    return written


def band_counts_record(*, at: datetime) -> None:
    """Store how many readers are in each band now (the editors' view over time)."""
    counts = selectors.risk_band_counts()
    RiskBandCount.objects.bulk_create(
        [RiskBandCount(at=at, band=band, readers=n) for band, n in counts.items()],
        update_conflicts=True,
        unique_fields=["at", "band"],
        update_fields=["readers"],
    )


def at_risk_webhook_queue(*, rose_at: datetime) -> bool:
    """Queue the delivery of the readers whose band rose at ``rose_at`` to the host's webhook,
    after the commit; nothing without NEWSREC["AT_RISK_WEBHOOK"]["URL"]. Returns whether queued.
    """
    if not str((newsrec_settings.AT_RISK_WEBHOOK or {}).get("URL") or ""):
        return False
    if not ReaderRisk.objects.personalised().filter(rose_at=rose_at).exists():
        return False
    from newsrec import outbox, tasks

    stamp = rose_at.isoformat()
    transaction.on_commit(lambda: outbox.send_or_record(tasks.at_risk_webhook_deliver, stamp))
    return True


def reader_risks_update(*, now: datetime | None = None) -> int:
    """The periodic job: retrain the churn model when due, then score every recent reader."""
    if churn_model_due(now=now):
        churn_model_train(now=now)
    return reader_risks_refresh(now=now)
