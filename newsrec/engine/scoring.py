"""Feature scoring: relevance, affinity, popularity, context and source, then multipliers."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from newsrec.engine.errors import EngineInputError
from newsrec.engine.pool import Pool
from newsrec.engine.signals import smoothed_ctr
from newsrec.engine.types import Context, ReaderState


@dataclass(frozen=True)
class Weights:
    """How features combine into one score; every feature lies in [0, 1].

    ``base = relevance*r + affinity*a + popularity*p + clickthrough*t + context*c + source*s``
    where

    - r: best weighted cosine between the article and the reader's interest and seed vectors
      (negative similarities count as 0);
    - a: the reader's strongest explicit affinity to the article's section, tags or authors;
    - p: ``log1p(trending) / log1p(max trending in the pool)``;
    - t: the article's smoothed click-through rate, scaled to [0, 1] between the pool's lowest
      and highest (0 for every article while the pool has no impressions to tell them apart);
    - c: the reader's habit for the article's section in this (device, daypart);
    - s: the candidate source's own score times its source weight.

    ``score = base * (1 - freshness + freshness * decay) * rule multiplier * fatigue`` where
    ``decay = 0.5 ** (age / half-life)`` and ``fatigue = fatigue_per_impression ** n`` for ``n``
    impressions the reader never clicked. Multipliers commute, so rule order 2-3 is exact.
    """

    relevance: float = 1.0
    affinity: float = 0.3
    popularity: float = 0.3
    # Replaying NeMig DE val (docs/learning.md), the click-through rate alone ranks at AUC .575
    # and similarity to the reader's history at .494: the formula without it scored below a
    # plain popularity count (.4949 vs .5331); with 2.0 it scores .5594 (1.0: .5433, 3.0: .5653).
    clickthrough: float = 2.0
    context: float = 0.2
    source: float = 0.3
    freshness: float = 0.5  # share of the score that decays with age
    fatigue_per_impression: float = 0.85  # multiplier per impression without a click
    floor: float = 1e-3  # keeps boosts meaningful for articles with no feature at all

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not (math.isfinite(value) and value >= 0):
                raise EngineInputError(f"Weights.{f.name} must be a finite number >= 0.")
        if self.freshness > 1 or not 0 < self.fatigue_per_impression <= 1:
            raise EngineInputError(
                "Weights.freshness must be <= 1 and fatigue_per_impression in (0, 1]."
            )


def trending_score(clicks: float, age_hours: float) -> float:
    """Hacker-News-style gravity: clicks decay with age so that trending means "now"."""
    return clicks / (max(age_hours, 0.0) + 2.0) ** 1.5


def popularity(pool: Pool) -> np.ndarray:
    """Reader-independent popularity in [0, 1]."""
    trending = np.log1p(np.maximum(pool.trending, 0.0))
    top = float(trending.max()) if len(pool) else 0.0
    return (trending / top).astype(np.float32) if top > 0 else np.zeros(len(pool), np.float32)


def clickthrough(pool: Pool) -> np.ndarray:
    """Reader-independent click-through in [0, 1]: the smoothed rate between the pool's lowest
    (0) and highest (1); all 0 when every article has the same rate (no impressions yet)."""
    if not len(pool):
        return np.zeros(0, np.float32)
    rate, _ = smoothed_ctr(pool.clicks, pool.impressions)
    low, high = float(rate.min()), float(rate.max())
    if high - low <= 1e-9:
        return np.zeros(len(pool), np.float32)
    return ((rate - low) / (high - low)).astype(np.float32)


def relevance(rows: np.ndarray, weights: np.ndarray, similarity: np.ndarray) -> np.ndarray:
    """Best weighted similarity per column of ``similarity`` (rows x articles), clipped at 0."""
    if len(rows) == 0 or weights.max(initial=0.0) <= 0:
        return np.zeros(similarity.shape[1] if similarity.ndim == 2 else 0, np.float32)
    scaled = similarity * (weights / weights.max())[:, None]
    return np.clip(scaled.max(axis=0), 0.0, 1.0)


def reader_features(
    pool: Pool, reader: ReaderState, context: Context, rows: np.ndarray
) -> dict[str, np.ndarray]:
    """Affinity, context habit and fatigue count for the given pool rows."""
    n = len(rows)
    affinity = np.zeros(n, np.float32)
    habit = np.zeros(n, np.float32)
    fatigue = np.zeros(n, np.float32)
    if reader.personalisation_enabled and n:
        for labels, mapping in (
            (pool.sections, reader.section_affinity),
            (pool.tags, reader.tag_affinity),
            (pool.authors, reader.author_affinity),
        ):
            if mapping:
                affinity = np.maximum(
                    affinity, labels.max_over(labels.values_by_code(mapping), rows)
                )
        habits = reader.habit(context)
        if habits:
            habit = pool.sections.max_over(pool.sections.values_by_code(habits), rows)
        if reader.unclicked_impressions:
            counts = np.zeros(len(pool), np.float32)
            impressed = pool.indices_of(reader.unclicked_impressions)
            counts[impressed] = [reader.unclicked_impressions[int(pool.ids[r])] for r in impressed]
            fatigue = counts[rows]
    return {
        "affinity": np.clip(affinity, 0.0, 1.0),
        "context": np.clip(habit, 0.0, 1.0),
        "unclicked": np.maximum(fatigue, 0.0),
    }


def combine(weights: Weights, features: dict[str, np.ndarray]) -> np.ndarray:
    """The documented formula; ``features`` gains "base", "fatigue" and "score"."""
    base = (
        weights.relevance * features["relevance"]
        + weights.affinity * features["affinity"]
        + weights.popularity * features["popularity"]
        + weights.clickthrough * features["clickthrough"]
        + weights.context * features["context"]
        + weights.source * features["source"]
        + weights.floor
    )
    fresh = (1.0 - weights.freshness) + weights.freshness * features["decay"]
    fatigue = np.power(weights.fatigue_per_impression, features["unclicked"])
    score = base * fresh * features["rules"] * fatigue
    features["base"] = base
    features["freshness"] = fresh
    features["fatigue"] = fatigue
    features["score"] = score
    return score
