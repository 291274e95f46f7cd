"""The churn model: examples from past events, a logistic regression with Platt calibration on
a later slice of time, its honest metrics on the latest slice, and the heuristic it replaces.

Plain numpy over ``RiskFeatures`` vectors; nothing here touches the database.

Label: a reader active in the ``window_days`` before a cutoff *churned* when they sent no event
at all in the ``horizon_days`` after it. Cutoffs are daily; the examples are split by time into
train (earliest), calibration and validation (latest), with ``horizon_days`` left between the
slices so that no label window of an earlier slice reaches into a later one.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from newsrec.retention.features import EventRow, RiskFeatures, risk_features

FEATURE_NAMES = RiskFeatures.NAMES
RELIABILITY_BINS = 10


@dataclass(frozen=True)
class Examples:
    """Feature rows with their churn label and cutoff (Unix seconds)."""

    X: np.ndarray
    y: np.ndarray
    cutoffs: np.ndarray

    def __len__(self) -> int:
        return len(self.y)

    def take(self, mask: np.ndarray) -> Examples:
        return Examples(self.X[mask], self.y[mask], self.cutoffs[mask])


def training_examples(
    histories: Mapping[Any, Sequence[EventRow]],
    *,
    now: datetime,
    horizon_days: int,
    window_days: int,
    training_days: int,
) -> Examples:
    """One example per reader and daily cutoff whose label is already known (cutoff + horizon
    <= now) and before which the reader was active within ``window_days``."""
    day0 = now.replace(hour=0, minute=0, second=0, microsecond=0)
    last = day0 - timedelta(days=horizon_days)
    first = day0 - timedelta(days=training_days - window_days)
    cutoffs: list[datetime] = []
    moment = first
    while moment <= last:
        cutoffs.append(moment)
        moment += timedelta(days=1)
    rows: list[list[float]] = []
    labels: list[int] = []
    stamps: list[float] = []
    for events in histories.values():
        ordered = sorted(events, key=lambda e: e.at)
        times = [e.at for e in ordered]
        for cutoff in cutoffs:
            lo = bisect.bisect_left(times, cutoff - timedelta(days=window_days))
            hi = bisect.bisect_left(times, cutoff)
            if hi == lo:
                continue  # not active in the window: already gone, not at risk
            returned = bisect.bisect_left(times, cutoff + timedelta(days=horizon_days)) > hi
            features = risk_features(ordered[lo:hi], as_of=cutoff, window_days=window_days)
            rows.append(features.vector())
            labels.append(0 if returned else 1)
            stamps.append(cutoff.timestamp())
    width = len(FEATURE_NAMES)
    return Examples(
        np.asarray(rows, dtype=np.float64).reshape(-1, width),
        np.asarray(labels, dtype=np.float64),
        np.asarray(stamps, dtype=np.float64),
    )


def time_split(
    examples: Examples, *, horizon_days: int, shares: tuple[float, float] = (0.6, 0.2)
) -> tuple[Examples, Examples, Examples]:
    """Train, calibration and validation slices by cutoff, a horizon apart."""
    if not len(examples):
        return examples, examples, examples
    start, end = float(examples.cutoffs.min()), float(examples.cutoffs.max())
    gap = horizon_days * 86_400.0
    usable = max(end - start - 2 * gap, 0.0)
    train_end = start + usable * shares[0]
    calibration_start = train_end + gap
    calibration_end = calibration_start + usable * shares[1]
    validation_start = calibration_end + gap
    c = examples.cutoffs
    return (
        examples.take(c <= train_end),
        examples.take((c >= calibration_start) & (c <= calibration_end)),
        examples.take(c >= validation_start),
    )


# --- Metrics ---------------------------------------------------------------------------------


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties count half); NaN without both classes."""
    labels = labels > 0
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if not positives or not negatives:
        return math.nan
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=np.float64)
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):  # average ranks over ties
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def brier(probabilities: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean((probabilities - labels) ** 2)) if len(labels) else math.nan


def reliability(
    probabilities: np.ndarray, labels: np.ndarray, bins: int = RELIABILITY_BINS
) -> list[dict[str, float]]:
    """Per tenth of predicted probability: how many, the mean prediction, the churn seen."""
    out = []
    edges = np.linspace(0.0, 1.0, bins + 1)
    for n in range(bins):
        low, high = edges[n], edges[n + 1]
        inside = (probabilities >= low) & (
            (probabilities < high) if n < bins - 1 else (probabilities <= high)
        )
        count = int(inside.sum())
        if count:
            out.append(
                {
                    "low": round(float(low), 2),
                    "high": round(float(high), 2),
                    "count": count,
                    "predicted": round(float(probabilities[inside].mean()), 4),
                    "observed": round(float(labels[inside].mean()), 4),
                }
            )
    return out


# --- Fitting ---------------------------------------------------------------------------------


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -35.0, 35.0)))


def logistic_fit(
    X: np.ndarray, y: np.ndarray, *, l2: float = 1.0, iterations: int = 50
) -> np.ndarray:
    """Weights (intercept last) of an L2-regularised logistic regression, by Newton's method."""
    A = np.hstack([X, np.ones((len(X), 1))])
    w = np.zeros(A.shape[1])
    penalty = np.full(A.shape[1], l2)
    penalty[-1] = 0.0  # the intercept is not shrunk
    for _ in range(iterations):
        p = _sigmoid(A @ w)
        gradient = A.T @ (p - y) + penalty * w
        hessian = (A * (p * (1 - p))[:, None]).T @ A + np.diag(penalty) + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return w


@dataclass(frozen=True)
class ChurnParams:
    """A fitted model: standardisation, weights over FEATURE_NAMES, and Platt's a and b."""

    means: list[float]
    scales: list[float]
    weights: list[float]
    intercept: float
    platt_a: float = 1.0
    platt_b: float = 0.0

    def score(self, X: np.ndarray) -> np.ndarray:
        """The uncalibrated log-odds."""
        Z = (X - np.asarray(self.means)) / np.asarray(self.scales)
        return Z @ np.asarray(self.weights) + self.intercept

    def probability(self, X: np.ndarray) -> np.ndarray:
        return _sigmoid(self.platt_a * self.score(X) + self.platt_b)

    def as_json(self) -> dict[str, Any]:
        return {
            "means": self.means, "scales": self.scales, "weights": self.weights,
            "intercept": self.intercept, "platt_a": self.platt_a, "platt_b": self.platt_b,
        }  # fmt: skip

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChurnParams:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class ChurnFit:
    """The outcome of a training run: parameters, or None with the reason there are none."""

    params: ChurnParams | None
    metrics: dict[str, Any] = field(default_factory=dict)
    sizes: dict[str, Any] = field(default_factory=dict)
    verdict: str = ""


def _enough(part: Examples, minimum: int) -> bool:
    churned = int(part.y.sum())
    return (
        len(part) >= minimum and churned >= minimum // 10 and len(part) - churned >= minimum // 10
    )


def churn_fit(
    examples: Examples, *, horizon_days: int, min_examples: int, l2: float = 1.0
) -> ChurnFit:
    """Fit on the earliest slice, calibrate on the next, measure on the latest.

    With fewer than ``min_examples`` in a slice (or fewer than a tenth of that in either
    class), no model is fitted: risk then comes from ``heuristic_probability``.
    """
    train, calibration, validation = time_split(examples, horizon_days=horizon_days)
    sizes = {
        "examples": len(examples),
        "train": len(train),
        "calibration": len(calibration),
        "validation": len(validation),
        "churned": int(examples.y.sum()),
    }
    if not all(_enough(part, min_examples) for part in (train, calibration, validation)):
        return ChurnFit(
            None,
            metrics=_heuristic_metrics(validation if len(validation) else examples),
            sizes=sizes,
            verdict=(
                f"Too little history for a model (each time slice needs {min_examples} reader-"
                "days with both outcomes): risk comes from the documented heuristic."
            ),
        )
    means = train.X.mean(axis=0)
    scales = train.X.std(axis=0)
    scales[scales == 0] = 1.0
    w = logistic_fit((train.X - means) / scales, train.y, l2=l2)
    raw = ChurnParams(
        means=means.tolist(),
        scales=scales.tolist(),
        weights=w[:-1].tolist(),
        intercept=float(w[-1]),
    )
    a, b = logistic_fit(raw.score(calibration.X)[:, None], calibration.y, l2=0.0)
    params = ChurnParams(**{**raw.as_json(), "platt_a": float(a), "platt_b": float(b)})
    metrics = model_metrics(params, validation)
    metrics["heuristic"] = _heuristic_metrics(validation)
    return ChurnFit(
        params,
        metrics=metrics,
        sizes=sizes,
        verdict=(
            f"Logistic regression, AUC {metrics['auc']:.3f} on the latest slice "
            f"(recency alone {metrics['recency_auc']:.3f}), Brier {metrics['brier']:.3f}."
        ),
    )


def model_metrics(params: ChurnParams, validation: Examples) -> dict[str, Any]:
    probabilities = params.probability(validation.X)
    recency = validation.X[:, FEATURE_NAMES.index("days_since_last")]
    return {
        "auc": auc(probabilities, validation.y),
        "recency_auc": auc(recency, validation.y),
        "brier": brier(probabilities, validation.y),
        "base_rate": float(validation.y.mean()) if len(validation) else math.nan,
        "reliability": reliability(probabilities, validation.y),
    }


def _heuristic_metrics(part: Examples) -> dict[str, Any]:
    if not len(part):
        return {}
    probabilities = np.asarray([heuristic_from_vector(row) for row in part.X])
    recency = part.X[:, FEATURE_NAMES.index("days_since_last")]
    return {
        "auc": auc(probabilities, part.y),
        "recency_auc": auc(recency, part.y),
        "brier": brier(probabilities, part.y),
        "base_rate": float(part.y.mean()),
        "reliability": reliability(probabilities, part.y),
    }


# --- The heuristic ---------------------------------------------------------------------------


def heuristic_probability(features: RiskFeatures) -> float:
    """Risk while the site has too little history to train on, documented in docs/retention.md.

    Log-odds start at -2 (about 12 %) and grow with how overdue the reader is against their
    own rhythm (log of 1 + days since the last visit / usual days between visits, x 1.5), each
    habitual slot missed in a row (+0.4, at most 5), falling visits (-1 x the trend, -1..1),
    stories finished less often (-1 x the completion trend) and hides and skips (+2 x their
    share); readers with many active days are steadier (-0.05 per day, at most 20 days).
    """
    return heuristic_from_vector(features.vector())


def heuristic_from_vector(row: Sequence[float] | np.ndarray) -> float:
    f = dict(zip(FEATURE_NAMES, (float(v) for v in row), strict=True))
    z = (
        -2.0
        + 1.5 * math.log1p(max(f["recency_ratio"], 0.0))
        + 0.4 * min(f["habit_missed"], 5.0)
        - 1.0 * f["frequency_trend"]
        - 1.0 * f["completion_trend"]
        + 2.0 * f["negative_share"]
        - 0.05 * min(f["active_days"], 20.0)
    )
    return 1.0 / (1.0 + math.exp(-z))
