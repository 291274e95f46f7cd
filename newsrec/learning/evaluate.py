"""Offline evaluation of the product's ranking on a MIND-format log (``newsrec_evaluate``).

Every method scores the same impressions' candidate sets at the same moments:

- ``random`` (seeded), ``popularity`` (clicks of the 7 days before) and ``ctr`` (the smoothed
  click-through rate of :func:`newsrec.engine.signals.smoothed_ctr`): non-personalised baselines;
- ``hand``: :meth:`Ranker.score_candidates` with the hand-weighted formula and the given rules;
- ``hand_new_reader``: the same ranker for a reader without history (the cold-start path);
- ``learned``: the same ranker with a LightGBM model trained on ``--fit`` (point-in-time signals
  from the state ``--train`` left). When ``--fit`` is the evaluated log itself, scores are
  out-of-fold (5 reader-disjoint folds), so no impression is scored by a model that saw it.

Beyond accuracy, the top 10 of a feed that the hand-weighted and learned rankers build from the
whole pool for up to 500 of the log's readers: intra-list diversity, catalogue coverage, novelty
and the share of the top 10 taken by its most frequent section.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from newsrec.engine.ranker import Ranker
from newsrec.engine.rules import Rules
from newsrec.engine.signals import SIGNALS, smoothed_ctr
from newsrec.engine.types import Context, ReaderState
from newsrec.ingest import ArticleData
from newsrec.learning.metrics import list_figures, ranking_figures
from newsrec.learning.model import (
    DEFAULT_ROUNDS,
    LightGBMRanker,
    TrainingSet,
    cross_fit,
    fit,
    fold_of,
)
from newsrec.learning.replay import Impression, Replay, by_moment
from newsrec.rankers import ranker_build

# Signal groups for the ablation: each is dropped in turn from the learned model.
SIGNAL_GROUPS: dict[str, tuple[str, ...]] = {
    "content similarity": (
        "relevance", "profile_similarity", "seed_similarity_max", "seed_similarity_mean",
    ),
    "section/tag/author affinity": ("affinity", "section_affinity", "context"),
    "co-visitation": ("covisit",),
    "fatigue": ("unclicked",),
    "history size": ("history",),
    "popularity": ("popularity", "clicks", "impressions"),
    "long-window popularity": ("clicks_long",),
    "click-through rate": ("ctr",),
    "content-smoothed click-through": ("ctr_content",),
    "section/tag/author click-through": ("section_ctr", "tag_ctr", "author_ctr"),
    "freshness": ("age_days", "decay"),
    "candidate source": ("source",),
}  # fmt: skip
LIST_READERS = 500
LIST_LENGTH = 10


@dataclass
class Scored:
    """Per impression: labels and every method's scores, plus the signals for training."""

    labels: list[np.ndarray] = field(default_factory=list)
    methods: dict[str, list[np.ndarray]] = field(default_factory=lambda: defaultdict(list))
    training: TrainingSet = field(default_factory=TrainingSet)


def score_log(
    replay: Replay,
    impressions: Sequence[Impression],
    *,
    rules: Rules,
    model: LightGBMRanker | None = None,
    seed: int = 7,
    progress: Callable[[int], object] | None = None,
) -> Scored:
    """Score every impression by every method at its moment (see the module's docstring)."""
    rng = np.random.default_rng(seed)
    hand = ranker_build()
    learned = ranker_build(model=model) if model is not None else None
    out = Scored()
    for moment, positions in by_moment(impressions, replay):
        pool = replay.pool_at(moment)
        context = Context(now=moment.timestamp())
        ctr, _ = smoothed_ctr(pool.clicks, pool.impressions)
        chunk = [impressions[p] for p in positions]
        readers = [replay.reader_at(imp.user, moment) for imp in chunk]
        candidates = [[replay.ids.get(n, -1) for n in imp.candidates] for imp in chunk]
        given = hand.score_candidates(pool, readers, context, rules, candidates)
        cold = hand.score_candidates(
            pool, [ReaderState(reader_id=r.reader_id) for r in readers], context, rules, candidates
        )
        served = (
            learned.score_candidates(pool, readers, context, rules, candidates)
            if learned is not None
            else None
        )
        for k, imp in enumerate(chunk):
            labels = np.asarray(imp.labels, np.float32)
            rows = np.asarray([pool.index.get(a, -1) for a in candidates[k]], np.int64)
            known = rows >= 0
            safe = np.where(known, rows, 0)
            out.labels.append(labels)
            out.methods["random"].append(rng.random(len(labels)))
            out.methods["popularity"].append(np.where(known, pool.clicks[safe], 0.0))
            out.methods["ctr"].append(np.where(known, ctr[safe], 0.0))
            out.methods["hand"].append(given[k].scores)
            out.methods["hand_new_reader"].append(cold[k].scores)
            if served is not None:
                out.methods["learned"].append(served[k].scores)
            out.training.add(imp.user, given[k].features, labels)
        if progress:
            progress(len(chunk))
    return out


def metrics_of(scored: Scored, method: str) -> dict[str, Any]:
    return ranking_figures(scored.methods[method], scored.labels)


def list_quality(
    replay: Replay,
    impressions: Sequence[Impression],
    *,
    rules: Rules,
    rankers: Mapping[str, Ranker],
) -> dict[str, dict[str, float]]:
    """Beyond-accuracy figures of top-10 feeds built from the whole pool (see the docstring)."""
    users: list[str] = []
    moments: dict[str, Any] = {}
    for imp in impressions:
        if imp.user not in moments:
            moments[imp.user] = replay.scored_at(imp)
            users.append(imp.user)
    users = users[:LIST_READERS]
    if not users:
        return {}
    moment = max(moments[u] for u in users)
    pool = replay.pool_at(moment)
    readers = [replay.reader_at(u, moment) for u in users]
    readers_of: dict[int, set[str]] = defaultdict(set)
    for e in replay.events:
        if e.kind == "click" and e.time <= moment:
            readers_of[e.article].add(e.user)
    embeddings = {int(pool.ids[i]): pool.embeddings[i] for i in range(len(pool))}
    sections = {int(pool.ids[i]): pool.section_names[i] for i in range(len(pool))}
    counts = {a: len(r) for a, r in readers_of.items()}
    out = {}
    for name, ranker in rankers.items():
        feeds = ranker.rank_many(pool, readers, Context(now=moment.timestamp()), rules, LIST_LENGTH)
        figures = list_figures(
            [f.article_ids for f in feeds],
            embeddings=embeddings,
            sections=sections,
            readers_of=counts,
            readers=len({e.user for e in replay.events}),
            catalogue_size=len(pool),
        )
        out[name] = {
            "diversity": figures.diversity,
            "coverage": figures.coverage,
            "novelty": figures.novelty,
            "top_section_share": figures.top_section_share,
        }
    return out


def build_replay(
    articles: Sequence[ArticleData],
    vectors: np.ndarray,
    *,
    start: datetime,
    events: Sequence[Impression],
    readers: Sequence[Impression],
    half_life_days: float,
) -> Replay:
    """A replay whose state is ``events`` (impressions and clicks) plus every reader's history."""
    replay = Replay(articles, vectors, start=start, half_life_days=half_life_days)
    replay.add_impressions(events)
    for imp in readers:
        replay.add_history(imp)
    return replay


def cross_fitted(
    articles: Sequence[ArticleData],
    vectors: np.ndarray,
    *,
    start: datetime,
    train: Sequence[Impression],
    readers: Sequence[Impression],
    half_life_days: float,
    rules: Rules,
    folds: int = 4,
    progress: Callable[[int], object] | None = None,
) -> TrainingSet:
    """Training rows from the ``--train`` log itself: each fold of its readers is scored
    against the state the other folds leave, so no row sees its own click in its signals."""
    out = TrainingSet()
    for k in range(folds):
        part = [i for i in train if fold_of(i.user, folds) == k]
        rest = [i for i in train if fold_of(i.user, folds) != k]
        replay = build_replay(
            articles, vectors, start=start, events=rest, readers=readers,
            half_life_days=half_life_days,
        )  # fmt: skip
        out = out.joined(score_log(replay, part, rules=rules, progress=progress).training)
    return out


def train_on(fit_set: TrainingSet, *, rounds: int = DEFAULT_ROUNDS) -> tuple[LightGBMRanker, int]:
    """A model on the whole fit set, its rounds chosen by early stopping on a reader split."""
    inner, held = fit_set.split_by_reader(0.2, salt="rounds")
    _, kept = fit(inner, valid=held, rounds=rounds)
    model, _ = fit(fit_set, rounds=max(kept, 10))
    return model, kept


def ablation(fit_set: TrainingSet, extra: TrainingSet | None) -> dict[str, dict[str, float]]:
    """Out-of-fold AUC and nDCG@10 on the fit set with each signal group left out."""
    _, full = cross_fit(fit_set, extra=extra)
    out = {"all signals": {"auc": full["auc"], "ndcg10": full["ndcg10"]}}
    for group, names in SIGNAL_GROUPS.items():
        kept = tuple(s for s in SIGNALS if s not in names)
        _, figures = cross_fit(fit_set, extra=extra, feature_names=kept)
        out[f"without {group}"] = {
            "auc": figures["auc"],
            "ndcg10": figures["ndcg10"],
            "auc_lost": round(full["auc"] - figures["auc"], 4),
        }
    return out


def format_table(rows: Mapping[str, Mapping[str, Any]], columns: Sequence[str]) -> str:
    """A plain-text table: one method per row."""
    width = max([len(k) for k in rows] + [8])
    lines = ["method".ljust(width) + "".join(f"{c:>12}" for c in columns)]
    for name, values in rows.items():
        cells = []
        for c in columns:
            value = values.get(c)
            if isinstance(value, float):
                cells.append("—".rjust(12) if math.isnan(value) else f"{value:>12.4f}")
            else:
                cells.append(f"{'' if value is None else value!s:>12}")
        lines.append(name.ljust(width) + "".join(cells))
    return "\n".join(lines)
