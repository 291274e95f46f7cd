"""Ranking metrics per impression (MIND's definitions) and beyond-accuracy figures.

Every ranking metric is computed per impression (a candidate set with at least one click and one
non-click) and averaged over impressions. Ties never use the log's own order:

- AUC counts a clicked/unclicked pair with equal scores as half right (the Mann-Whitney
  statistic, as ``sklearn.metrics.roc_auc_score`` computes it), which no order can change;
- MRR and nDCG rank every tied candidate as if the unclicked ones came first (pessimistic), so a
  scorer that cannot tell candidates apart gains nothing from how the log listed them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

RANKING_METRICS = ("auc", "mrr", "ndcg5", "ndcg10")


def _pessimistic_ranks(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """1-based rank of every candidate, unclicked ones first among equal scores."""
    order = np.lexsort((labels, -scores))  # by score descending, then label 0 before 1
    ranks = np.empty(len(scores), dtype=np.int64)
    ranks[order] = np.arange(1, len(scores) + 1)
    return ranks


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Share of (clicked, unclicked) pairs ordered right; ties count half."""
    pos, neg = scores[labels > 0], scores[labels <= 0]
    if not len(pos) or not len(neg):
        return math.nan
    greater = (pos[:, None] > neg[None, :]).sum()
    equal = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * equal) / (len(pos) * len(neg)))


def mrr(scores: np.ndarray, labels: np.ndarray) -> float:
    """MIND's MRR: sum of 1/rank over clicked candidates divided by the number of clicks."""
    clicked = labels > 0
    if not clicked.any():
        return math.nan
    ranks = _pessimistic_ranks(scores, clicked.astype(np.int64))
    return float((1.0 / ranks[clicked]).sum() / clicked.sum())


def ndcg(scores: np.ndarray, labels: np.ndarray, k: int) -> float:
    """MIND's nDCG@k: gains 2^label - 1, discount log2(rank + 1)."""
    gains = np.power(2.0, labels.astype(np.float64)) - 1.0
    if gains.sum() <= 0:
        return math.nan
    ranks = _pessimistic_ranks(scores, (labels > 0).astype(np.int64))
    top = ranks <= k
    dcg = float((gains[top] / np.log2(ranks[top] + 1.0)).sum())
    ideal = np.sort(gains)[::-1][:k]
    idcg = float((ideal / np.log2(np.arange(2, len(ideal) + 2))).sum())
    return dcg / idcg


def impression_metrics(
    scores: Sequence[float] | np.ndarray, labels: Sequence[float] | np.ndarray
) -> dict[str, float]:
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    s = np.where(np.isfinite(s), s, -1e300)  # filtered candidates rank last, still tied there
    return {"auc": auc(s, y), "mrr": mrr(s, y), "ndcg5": ndcg(s, y, 5), "ndcg10": ndcg(s, y, 10)}


@dataclass
class RankingReport:
    """Running means of the ranking metrics over impressions."""

    sums: dict[str, float] = field(default_factory=lambda: dict.fromkeys(RANKING_METRICS, 0.0))
    impressions: int = 0
    skipped: int = 0  # impressions without both a click and a non-click

    def add(
        self, scores: Sequence[float] | np.ndarray, labels: Sequence[float] | np.ndarray
    ) -> None:
        values = impression_metrics(scores, labels)
        if any(math.isnan(v) for v in values.values()):
            self.skipped += 1
            return
        self.impressions += 1
        for key, value in values.items():
            self.sums[key] += value

    def means(self) -> dict[str, float]:
        n = max(self.impressions, 1)
        return {key: round(self.sums[key] / n, 4) for key in RANKING_METRICS}


def ranking_figures(
    scores: Iterable[Sequence[float] | np.ndarray], labels: Iterable[Sequence[float] | np.ndarray]
) -> dict[str, float]:
    """Mean AUC, MRR, nDCG@5/10 over impressions, and how many impressions counted."""
    report = RankingReport()
    for s, y in zip(scores, labels, strict=True):
        report.add(s, y)
    return {**report.means(), "impressions": report.impressions}


def intra_list_diversity(embeddings: np.ndarray) -> float:
    """Mean pairwise cosine distance (1 - cosine) within one list of unit vectors."""
    n = len(embeddings)
    if n < 2:
        return math.nan
    sims = embeddings @ embeddings.T
    upper = sims[np.triu_indices(n, k=1)]
    return float(np.mean(1.0 - upper))


@dataclass(frozen=True)
class ListFigures:
    """Beyond-accuracy figures of the top-k lists readers get."""

    diversity: float  # mean intra-list diversity
    coverage: float  # distinct recommended articles / catalogue size
    novelty: float  # mean self-information -log2(share of readers who read the item)
    top_section_share: float  # mean share of a list taken by its most frequent section


def list_figures(
    lists: Iterable[Sequence[int]],
    *,
    embeddings: Mapping[int, np.ndarray],
    sections: Mapping[int, str],
    readers_of: Mapping[int, int],
    readers: int,
    catalogue_size: int,
) -> ListFigures:
    diversities: list[float] = []
    novelties: list[float] = []
    shares: list[float] = []
    seen: set[int] = set()
    for items in lists:
        if not items:
            continue
        seen.update(items)
        vectors = np.asarray([embeddings[a] for a in items if a in embeddings], dtype=np.float32)
        value = intra_list_diversity(vectors)
        if not math.isnan(value):
            diversities.append(value)
        novelties.extend(
            -math.log2((readers_of.get(a, 0) + 1) / (max(readers, 0) + 1)) for a in items
        )
        counts: dict[str, int] = {}
        for a in items:
            key = sections.get(a, "")
            counts[key] = counts.get(key, 0) + 1
        shares.append(max(counts.values()) / len(items))

    def mean(values: list[float]) -> float:
        return round(float(np.mean(values)), 4) if values else math.nan

    return ListFigures(
        diversity=mean(diversities),
        coverage=round(len(seen) / catalogue_size, 4) if catalogue_size else math.nan,
        novelty=mean(novelties),
        top_section_share=mean(shares),
    )
