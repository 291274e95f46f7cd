"""LightGBM lambdarank models over the engine's signals, and the training sets they learn from."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from newsrec.engine.signals import SIGNALS, feature_matrix
from newsrec.learning.metrics import ranking_figures

# Tuned on NeMig DE val (out-of-fold, see docs/learning.md): 7 leaves x 100 trees scored as
# well as 15 x 150 there (AUC .583 vs .581) at about half the serving cost per row.
DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "lambdarank",
    "learning_rate": 0.08,
    "num_leaves": 7,
    "min_data_in_leaf": 50,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "lambdarank_truncation_level": 10,
    "verbose": -1,
    # the same model from the same rows on any run: one thread, a fixed seed, and the histogram
    # layout forced (LightGBM otherwise picks row- or column-wise by timing its first pass, so a
    # busy machine can flip the choice and with it the float sums the trees split on)
    "num_threads": 1,
    "deterministic": True,
    "force_row_wise": True,
    "seed": 7,
}
DEFAULT_ROUNDS = 100
EARLY_STOPPING = 30


@dataclass
class TrainingSet:
    """Candidate rows grouped by impression: signals, graded labels (0 shown, 1 clicked,
    2 well read) and the group sizes; ``keys`` name each group's reader (for splits)."""

    features: dict[str, list[np.ndarray]] = field(default_factory=dict)
    labels: list[np.ndarray] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)

    def add(
        self, key: str, features: Mapping[str, np.ndarray], labels: Sequence[float] | np.ndarray
    ) -> None:
        n = len(labels)
        for name in SIGNALS:
            self.features.setdefault(name, []).append(
                np.asarray(features[name], np.float32)
                if name in features
                else np.zeros(n, np.float32)
            )
        self.labels.append(np.asarray(labels, np.float32))
        self.keys.append(key)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def rows(self) -> int:
        return int(sum(len(y) for y in self.labels))

    @property
    def clicks(self) -> int:
        return int(sum(int((y > 0).sum()) for y in self.labels))

    def subset(self, groups: Iterable[int]) -> TrainingSet:
        out = TrainingSet()
        for g in groups:
            for name, parts in self.features.items():
                out.features.setdefault(name, []).append(parts[g])
            out.labels.append(self.labels[g])
            out.keys.append(self.keys[g])
        return out

    def joined(self, other: TrainingSet) -> TrainingSet:
        out = self.subset(range(len(self)))
        for name in SIGNALS:
            out.features.setdefault(name, []).extend(other.features.get(name, []))
        out.labels.extend(other.labels)
        out.keys.extend(other.keys)
        return out

    def columns(self, group: int) -> dict[str, np.ndarray]:
        """One group's signals by name."""
        return {name: parts[group] for name, parts in self.features.items()}

    def groups(self) -> Iterator[dict[str, np.ndarray]]:
        """Every group's signals by name, in order."""
        return (self.columns(g) for g in range(len(self)))

    def matrix(self, names: Sequence[str]) -> np.ndarray:
        columns = {
            name: np.concatenate(self.features[name]) for name in names if self.features.get(name)
        }
        return feature_matrix(columns, names) if columns else np.zeros((0, len(names)), np.float32)

    def label_vector(self) -> np.ndarray:
        return np.concatenate(self.labels) if self.labels else np.zeros(0, np.float32)

    def group_sizes(self) -> list[int]:
        return [len(y) for y in self.labels]

    def split_by_reader(self, share: float, salt: str = "valid") -> tuple[TrainingSet, TrainingSet]:
        """A reader-disjoint split: ``share`` of the readers (by a stable hash) go second."""
        first: list[int] = []
        second: list[int] = []
        for g, key in enumerate(self.keys):
            digest = hashlib.sha256(f"{salt}:{key}".encode()).digest()
            (second if digest[0] / 256 < share else first).append(g)
        return self.subset(first), self.subset(second)

    def evaluate(self, score: Any) -> dict[str, float]:
        """Mean ranking metrics of ``score(columns of one group) -> scores`` over the groups."""
        return ranking_figures(map(score, self.groups()), self.labels)


@dataclass
class LightGBMRanker:
    """A trained model the engine can serve (``feature_names`` + ``predict``)."""

    feature_names: tuple[str, ...]
    booster: Any  # lightgbm.Booster
    # a linear fit to the model's own scores (weights, then the intercept): the engine's cheap
    # first stage, which picks the rows the trees score (see Ranker.score)
    prefilter: np.ndarray | None = None

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster.predict(matrix, num_threads=1), np.float64)

    def score(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        return self.predict(feature_matrix(columns, self.feature_names))

    def to_text(self) -> str:
        return str(self.booster.model_to_string())

    def prefilter_list(self) -> list[float]:
        return [] if self.prefilter is None else [float(x) for x in self.prefilter]

    @classmethod
    def from_text(
        cls, text: str, feature_names: Sequence[str], prefilter: Sequence[float] | None = None
    ) -> LightGBMRanker:
        import lightgbm

        weights = np.asarray(prefilter, np.float64) if prefilter else None
        if weights is not None and len(weights) != len(feature_names) + 1:
            weights = None  # from another set of signals: score every row instead
        return cls(tuple(feature_names), lightgbm.Booster(model_str=text), weights)

    def importances(self) -> dict[str, float]:
        """Share of the total split gain per signal, largest first."""
        gains = np.asarray(self.booster.feature_importance(importance_type="gain"), np.float64)
        total = float(gains.sum()) or 1.0
        pairs = sorted(zip(self.feature_names, gains / total, strict=True), key=lambda kv: -kv[1])
        return {name: round(float(share), 4) for name, share in pairs}


def fit(
    train: TrainingSet,
    *,
    feature_names: Sequence[str] = SIGNALS,
    params: Mapping[str, Any] | None = None,
    rounds: int = DEFAULT_ROUNDS,
    valid: TrainingSet | None = None,
) -> tuple[LightGBMRanker, int]:
    """Train a lambdarank model; with ``valid``, stop early on its nDCG@10. Returns the model
    and the number of rounds kept."""
    import lightgbm

    names = tuple(feature_names)
    settings = {**DEFAULT_PARAMS, **(params or {})}
    matrix = train.matrix(names)
    data = lightgbm.Dataset(
        matrix, train.label_vector(), group=train.group_sizes(), feature_name=list(names),
    )  # fmt: skip
    callbacks: list[Any] = []
    valid_sets = []
    if valid is not None and len(valid):
        valid_sets = [
            lightgbm.Dataset(
                valid.matrix(names), valid.label_vector(), group=valid.group_sizes(),
                reference=data,
            )
        ]  # fmt: skip
        settings["metric"] = "ndcg"
        settings["eval_at"] = [10]
        callbacks.append(lightgbm.early_stopping(EARLY_STOPPING, verbose=False))
    booster = lightgbm.train(settings, data, num_boost_round=rounds, valid_sets=valid_sets,
                             callbacks=callbacks)  # fmt: skip
    kept = booster.best_iteration if valid_sets and booster.best_iteration > 0 else rounds
    if valid_sets:
        booster = lightgbm.Booster(model_str=booster.model_to_string(num_iteration=kept))
    scores = np.asarray(booster.predict(matrix), np.float64)
    return LightGBMRanker(names, booster, distil(matrix, scores)), int(kept)


def distil(matrix: np.ndarray, scores: np.ndarray) -> np.ndarray | None:
    """Least-squares linear weights (and intercept) that best reproduce ``scores``."""
    if len(matrix) <= matrix.shape[1]:
        return None
    design = np.hstack([matrix.astype(np.float64), np.ones((len(matrix), 1))])
    ridge = 1e-3 * np.eye(design.shape[1])
    weights = np.linalg.solve(design.T @ design + ridge, design.T @ scores)
    return weights if np.isfinite(weights).all() else None


def fold_of(key: str, folds: int) -> int:
    """A reader's fold: stable across runs and the same for every impression of the reader."""
    return hashlib.sha256(f"fold:{key}".encode()).digest()[0] % folds


def cross_fit(
    data: TrainingSet,
    *,
    extra: TrainingSet | None = None,
    folds: int = 5,
    feature_names: Sequence[str] = SIGNALS,
    params: Mapping[str, Any] | None = None,
    rounds: int = DEFAULT_ROUNDS,
) -> tuple[list[np.ndarray], dict[str, float]]:
    """Out-of-fold scores for every group of ``data`` and their metrics: each fold of readers
    is scored by a model trained on the other folds (of ``data`` and ``extra``), so no reader's
    impressions are scored by a model that saw that reader."""
    scores: list[np.ndarray] = [np.zeros(len(y)) for y in data.labels]
    data_folds = [fold_of(key, folds) for key in data.keys]
    extra_folds = [fold_of(key, folds) for key in extra.keys] if extra is not None else []
    for k in range(folds):
        inside = data.subset([g for g, f in enumerate(data_folds) if f != k])
        if extra is not None:
            inside = inside.joined(extra.subset([g for g, f in enumerate(extra_folds) if f != k]))
        outside = [g for g, f in enumerate(data_folds) if f == k]
        if not len(inside) or not outside:
            continue
        model, _ = fit(inside, feature_names=feature_names, params=params, rounds=rounds)
        for g in outside:
            scores[g] = model.score(data.columns(g))
    return scores, ranking_figures(scores, data.labels)


def better(candidate: Mapping[str, float], incumbent: Mapping[str, float]) -> bool:
    """Promotion test: higher AUC and no worse nDCG@10 (both rounded to 4 places)."""
    a, b = candidate.get("auc", math.nan), incumbent.get("auc", math.nan)
    if math.isnan(a):
        return False
    if math.isnan(b):
        return True
    return a > b and candidate.get("ndcg10", 0.0) >= incumbent.get("ndcg10", 0.0)


__all__ = ["LightGBMRanker", "TrainingSet", "cross_fit", "fit"]
