"""The orchestrator: one reader or many, through overridable steps, into explained feeds."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from newsrec.engine.diversity import Slate, assemble, assemble_many
from newsrec.engine.errors import EngineInputError
from newsrec.engine.pins import PlacedPin, resolve_pins
from newsrec.engine.pool import Pool
from newsrec.engine.rules import (
    Rules,
    allowed_mask,
    boost_multiplier,
    freshness_decay,
    live_mask,
)
from newsrec.engine.scoring import Weights, clickthrough, combine, popularity, reader_features
from newsrec.engine.signals import (
    SERVING_POSITION,
    RankingModel,
    covisit_scores,
    feature_matrix,
    learned_base,
    pool_signals,
    prescore,
    section_affinity,
    signal_reasons,
    squash,
)
from newsrec.engine.similarity import ReaderSims, batch_similarities
from newsrec.engine.sources import CandidateSource, Query, default_sources
from newsrec.engine.types import (
    Conflict,
    Context,
    FeedItem,
    FeedResult,
    ItemColumns,
    ReaderState,
)

PIN_SOURCE = "pin"
PIN_REASON = "Pinned by the editors"
BREAKDOWN_KEYS = (
    "relevance",
    "affinity",
    "popularity",
    "context",
    "source",
    "base",
    "decay",
    "freshness",
    "rules",
    "unclicked",
    "fatigue",
    "score",
    # new keys go last: stored feeds keep breakdowns as bare lists in this order, and one built
    # before a key was added must still read with the right names
    "clickthrough",
)
_SCORE = BREAKDOWN_KEYS.index("score")


@dataclass(frozen=True, eq=False)
class Prepared:
    """Reader-independent work for one (pool, context, rules): done once per batch."""

    pool: Pool
    context: Context
    rules: Rules
    live: np.ndarray
    allowed: np.ndarray  # step 1 (hard filters)
    boosts: np.ndarray  # step 2 (boost/bury multipliers)
    decay: np.ndarray  # step 3 (freshness decay)
    popularity: np.ndarray
    clickthrough: np.ndarray  # the hand formula's click-through feature
    sources: list[Any]  # each source's prepare() result
    signals: dict[str, np.ndarray] | None = None  # pool signals, when a model or caller needs them


@dataclass(frozen=True, eq=False)
class Gathered:
    """The union of every source's candidates: one entry per row, from its strongest source."""

    rows: np.ndarray
    source_scores: np.ndarray  # source score x source weight
    sources: np.ndarray  # index into Ranker.sources
    seeds: np.ndarray  # position in reader.seeds or -1


@dataclass(frozen=True, eq=False)
class CandidateScores:
    """One reader's given candidates scored (see :meth:`Ranker.score_candidates`)."""

    article_ids: list[int]
    scores: np.ndarray  # float, -inf where not eligible
    eligible: np.ndarray  # bool
    features: dict[str, np.ndarray]  # every signal, one value per candidate


@dataclass(frozen=True, eq=False)
class Staged:
    """One reader after :meth:`Ranker.stage`: candidates scored, shortlisted, pins resolved."""

    query: Query
    gathered: Gathered
    rows: np.ndarray  # every scored row (gathered minus pinned, then pinned)
    features: dict[str, np.ndarray]
    slate: Slate
    conflicts: list[Conflict]


class Ranker:
    """Rank feeds; override a step method to change one stage, keep the rest."""

    def __init__(
        self,
        sources: Sequence[CandidateSource] | None = None,
        weights: Weights | None = None,
        *,
        max_seeds: int = 20,
        chunk_size: int = 128,
        model: RankingModel | None = None,
        model_shortlist: int = 200,
    ) -> None:
        self.sources = list(default_sources() if sources is None else sources)
        names = [s.name for s in self.sources]
        if any(not name for name in names) or len(set(names)) != len(names) or PIN_SOURCE in names:
            raise EngineInputError(
                f"Sources need distinct, non-empty names other than 'pin': {names}."
            )
        self.weights = weights or Weights()
        self.model = model  # a learned model replaces the hand-weighted formula (see score())
        self.model_shortlist = max(1, model_shortlist)
        self.max_seeds = max_seeds
        self.chunk_size = max(1, chunk_size)

    # -- entry points ---------------------------------------------------------------------------

    def rank(
        self, pool: Pool, reader: ReaderState, context: Context, rules: Rules, n: int = 50
    ) -> FeedResult:
        """The feed of one reader."""
        return self.rank_many(pool, [reader], context, rules, n)[0]

    def rank_many(
        self,
        pool: Pool,
        readers: Sequence[ReaderState],
        context: Context,
        rules: Rules,
        n: int = 50,
        *,
        stages: dict[str, float] | None = None,
    ) -> list[FeedResult]:
        """Feeds of many readers: rules evaluated once, similarities as one product per chunk.

        ``stages``, when given, gains the seconds spent in each step: "prepare" (rules over the
        pool), "similarities", "score" (sources, signals, model, pins), "diversity" (caps and
        MMR) and "explain" (reasons and breakdowns).
        """
        if n < 1:
            raise EngineInputError(f"Feed length n must be >= 1, got {n}.")
        clock = _StageClock(stages)
        prepared = self.prepare(pool, context, rules)
        clock.lap("prepare")
        results: list[FeedResult] = []
        for _, chunk, sims in self.chunks(prepared, readers):
            clock.lap("similarities")
            staged = [
                self.stage(prepared, reader, s, n) for reader, s in zip(chunk, sims, strict=True)
            ]
            clock.lap("score")
            placed = self.diversify_many(pool, rules, [st.slate for st in staged], n)
            clock.lap("diversity")
            results.extend(
                self.finish(prepared, st, order, more)
                for st, (order, more) in zip(staged, placed, strict=True)
            )
            clock.lap("explain")
        return results

    def chunks(
        self, prepared: Prepared, readers: Sequence[ReaderState]
    ) -> Iterator[tuple[int, Sequence[ReaderState], list[ReaderSims]]]:
        """Readers ``chunk_size`` at a time with their similarities (one matrix product per
        chunk) and every source's batch work done: (first position, readers, similarities)."""
        for start in range(0, len(readers), self.chunk_size):
            chunk = readers[start : start + self.chunk_size]
            sims = batch_similarities(prepared.pool, chunk, max_seeds=self.max_seeds)
            for source, state in zip(self.sources, prepared.sources, strict=True):
                source.prefetch(prepared.pool, sims, state)
            yield start, chunk, sims

    def prepare(
        self, pool: Pool, context: Context, rules: Rules, *, signals: bool = False
    ) -> Prepared:
        """Steps 1-3 for the whole pool, which do not depend on the reader."""
        boosts = boost_multiplier(pool, rules.boosts, context)
        return Prepared(
            pool=pool,
            context=context,
            rules=rules,
            live=live_mask(pool, context),
            allowed=allowed_mask(pool, rules.filters, context),
            boosts=boosts,
            decay=freshness_decay(pool, rules.freshness, context),
            popularity=popularity(pool),
            clickthrough=clickthrough(pool),
            sources=[source.prepare_for(pool, context, rules) for source in self.sources],
            signals=(
                pool_signals(pool, context.now, boosts)
                if signals or self.model is not None
                else None
            ),
        )

    def score_candidates(
        self,
        pool: Pool,
        readers: Sequence[ReaderState],
        context: Context,
        rules: Rules,
        candidates: Sequence[Sequence[int]],
    ) -> list[CandidateScores]:
        """Score a given candidate set per reader (article ids) exactly as feeds are scored.

        The supported entry point for offline evaluation and for training data: the same
        sources, signals, model or hand weights and rules as :meth:`rank_many`, but over the
        articles given instead of the slots of a feed. An article that the hard filters or the
        reader's exclusions remove, or that is not in the pool, scores ``-inf``.
        """
        if len(candidates) != len(readers):
            raise EngineInputError("score_candidates needs one candidate list per reader.")
        prepared = self.prepare(pool, context, rules, signals=True)
        out: list[CandidateScores] = []
        for start, chunk, sims in self.chunks(prepared, readers):
            for reader, s, ids in zip(
                chunk, sims, candidates[start : start + len(chunk)], strict=True
            ):
                out.append(self._score_given(prepared, reader, s, ids))
        return out

    def _score_given(
        self, prepared: Prepared, reader: ReaderState, sims: ReaderSims, ids: Sequence[int]
    ) -> CandidateScores:
        pool = prepared.pool
        rows = np.asarray([pool.index.get(int(a), -1) for a in ids], dtype=np.int64)
        eligible = prepared.allowed & ~self.exclusions(pool, reader)
        query = Query(pool, reader, prepared.context, eligible, sims)
        gathered = self.gather(query, prepared)
        known = rows >= 0
        safe = np.where(known, rows, 0)
        source_scores = np.zeros(len(rows), np.float32)
        if len(gathered.rows):
            at = np.minimum(np.searchsorted(gathered.rows, safe), len(gathered.rows) - 1)
            source_scores = np.where(gathered.rows[at] == safe, gathered.source_scores[at], 0.0)
        scores, features = self.score(
            query, prepared, safe, source_scores.astype(np.float32), keep=len(safe)
        )
        if self.model is None:  # with a model, score() has added every signal already
            features = self.signals(query, prepared, safe, features)
        ok = known & eligible[safe]
        scores = np.where(ok, scores, -np.inf)
        return CandidateScores(
            article_ids=[int(a) for a in ids], scores=scores, eligible=ok, features=features
        )

    def rank_prepared(
        self, prepared: Prepared, reader: ReaderState, sims: ReaderSims, n: int = 50
    ) -> FeedResult:
        """One reader's feed from prepared, reader-independent arrays."""
        staged = self.stage(prepared, reader, sims, n)
        [(order, more)] = self.diversify_many(prepared.pool, prepared.rules, [staged.slate], n)
        return self.finish(prepared, staged, order, more)

    def stage(
        self, prepared: Prepared, reader: ReaderState, sims: ReaderSims, n: int = 50
    ) -> Staged:
        """Steps 1-3 and the pins for one reader: everything before the slots are filled."""
        if n < 1:
            raise EngineInputError(f"Feed length n must be >= 1, got {n}.")
        pool, context, rules = prepared.pool, prepared.context, prepared.rules
        excluded = self.exclusions(pool, reader)
        eligible = prepared.allowed & ~excluded
        query = Query(pool, reader, context, eligible, sims)
        pins, conflicts = resolve_pins(
            pool,
            rules.pins,
            reader,
            context,
            live=prepared.live,
            allowed=prepared.allowed,
            excluded=excluded,
            n=n,
        )
        gathered = self.gather(query, prepared)
        pinned_rows = np.asarray([p.row for p in pins], dtype=np.int64)
        # a handful of pins: one comparison each beats np.isin's sort
        keep = np.ones(len(gathered.rows), bool)
        for pinned in pinned_rows.tolist():
            keep &= gathered.rows != pinned
        rows = np.concatenate([gathered.rows[keep], pinned_rows])
        source_scores = np.zeros(len(rows), np.float32)
        count = int(keep.sum())
        source_scores[:count] = gathered.source_scores[keep]
        if len(pinned_rows) and len(gathered.rows):
            # a pinned row keeps the source score it was gathered with (gathered.rows is sorted)
            at = np.minimum(np.searchsorted(gathered.rows, pinned_rows), len(gathered.rows) - 1)
            found = gathered.rows[at] == pinned_rows
            source_scores[count:] = np.where(found, gathered.source_scores[at], 0.0)
        scores, features = self.score(query, prepared, rows, source_scores, keep=len(pinned_rows))
        top = self.shortlist(scores[:count], rules.diversity.candidates)
        slate = Slate(rows[:count][top], scores[:count][top], pins)
        return Staged(query, gathered, rows, features, slate, conflicts)

    def finish(
        self, prepared: Prepared, staged: Staged, order: list[int], more: list[Conflict]
    ) -> FeedResult:
        """Reasons and breakdowns for the placed articles only."""
        pinned = {p.row for p in staged.slate.pins}
        items = self.explain(
            staged.query, staged.gathered, staged.rows, staged.features, order, pinned
        )
        return FeedResult(
            reader_id=staged.query.reader.reader_id,
            items=items if isinstance(items, ItemColumns) else tuple(items),
            conflicts=tuple(staged.conflicts + more),
            rules_version=prepared.rules.version,
            built_at=prepared.context.now,
        )

    # -- steps ----------------------------------------------------------------------------------

    def exclusions(self, pool: Pool, reader: ReaderState) -> np.ndarray:
        """Read and hidden articles are never shown again (they also beat pins)."""
        excluded = np.zeros(len(pool), dtype=bool)
        excluded[pool.indices_of(reader.read_ids)] = True
        excluded[pool.indices_of(reader.hidden_ids)] = True
        return excluded

    def gather(self, query: Query, prepared: Prepared) -> Gathered:
        """Union of the sources; each row keeps its strongest source (earlier source on ties)."""
        parts_rows, parts_scores, parts_sources, parts_seeds = [], [], [], []
        for i, (source, state) in enumerate(zip(self.sources, prepared.sources, strict=True)):
            found = source.candidates(query, state)
            if len(found.rows) == 0:
                continue
            rows = np.asarray(found.rows, dtype=np.int64)
            scores = np.asarray(found.scores, np.float32)
            seeds = found.seeds if found.seeds is not None else np.full(len(rows), -1, np.int64)
            seeds = np.asarray(seeds, np.int64)
            ok = query.eligible[rows]  # a third-party source cannot smuggle in excluded rows
            if not ok.all():
                rows, scores, seeds = rows[ok], scores[ok], seeds[ok]
            parts_rows.append(rows)
            parts_scores.append(scores * source.weight)
            parts_sources.append(np.full(len(rows), i, np.int64))
            parts_seeds.append(seeds)
        rows = np.concatenate(parts_rows) if parts_rows else np.zeros(0, np.int64)
        scores = np.concatenate(parts_scores) if parts_scores else np.zeros(0, np.float32)
        sources = np.concatenate(parts_sources) if parts_sources else np.zeros(0, np.int64)
        seeds = np.concatenate(parts_seeds) if parts_seeds else np.zeros(0, np.int64)
        order = np.lexsort((sources, -scores, rows))
        rows, scores, sources, seeds = rows[order], scores[order], sources[order], seeds[order]
        first = _firsts(rows)
        return Gathered(rows[first], scores[first], sources[first], seeds[first])

    def score(
        self,
        query: Query,
        prepared: Prepared,
        rows: np.ndarray,
        source_scores: np.ndarray,
        *,
        keep: int = 0,
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Features of the candidate rows and their combined score: the hand-weighted formula
        (see :class:`Weights`) or, with a model, the model's score times the editorial boosts.

        With a model, the freshness decay (from the editors' half-lives) and the fatigue count
        are inputs the model weighs; boosts and buries multiply its score exactly as they
        multiply the hand-weighted one, and every later rule (filters, pins, caps) is unchanged.

        A model with a linear fit to its own scores (``prefilter``) is a cascade: the model
        scores the ``model_shortlist`` rows that the fit ranks best, plus the last ``keep``
        rows (the pinned ones); the rest keep the floor score, below every scored row. Only the
        best ``Diversity.candidates`` rows are ever placed, so a shortlist a few times longer
        loses nothing the model would place, at a fraction of the model's cost.
        """
        features = reader_features(query.pool, query.reader, query.context, rows)
        features.update(
            relevance=query.sims.relevance(query.pool, rows),
            popularity=prepared.popularity[rows],
            clickthrough=prepared.clickthrough[rows],
            source=source_scores,
            decay=prepared.decay[rows],
            rules=prepared.boosts[rows],
        )
        if self.model is None:
            return combine(self.weights, features), features
        features = self.signals(query, prepared, rows, features)
        matrix = feature_matrix(features, self.model.feature_names)
        base = np.full(len(rows), np.float32(self.weights.floor))
        head = len(rows) - keep
        first = prescore(self.model, matrix[:head]) if head > self.model_shortlist else None
        if first is not None:
            # shortlisted by the score the row would end with: the editors' boosts multiply
            # the model's, so a boosted row the model alone ranks lower must not be cut here
            first = (self.weights.floor + squash(first)) * features["rules"][:head]
            top = np.argpartition(-first, self.model_shortlist - 1)
            chosen = np.concatenate([top[: self.model_shortlist], np.arange(head, len(rows))])
            base[chosen] += learned_base(self.model, matrix[chosen])
        else:
            base += learned_base(self.model, matrix)
        ones = np.ones(len(rows), np.float32)
        score = base * features["rules"]
        features.update(base=base, freshness=ones, fatigue=ones, score=score)
        return score, features

    def signals(
        self,
        query: Query,
        prepared: Prepared,
        rows: np.ndarray,
        features: dict[str, np.ndarray],
    ) -> dict[str, np.ndarray]:
        """Every signal of :data:`newsrec.engine.signals.SIGNALS` for ``rows``, added to the
        hand formula's ``features``."""
        pool, reader, sims = query.pool, query.reader, query.sims
        pooled = prepared.signals
        if pooled is None:
            pooled = pool_signals(pool, prepared.context.now, prepared.boosts)
        n = len(rows)
        profile = np.zeros(n, np.float32)
        seed_max = np.zeros(n, np.float32)
        seed_mean = np.zeros(n, np.float32)
        if n and sims.interest_best is not None:
            profile = sims.interest_best[rows]
        if n and len(sims.seed_weights):
            seed_sims = sims.seed_matrix(pool, rows)
            seed_max = seed_sims.max(axis=0)
            seed_mean = seed_sims.mean(axis=0)
        out = dict(features)
        out.update({name: values[rows] for name, values in pooled.items()})
        out.update(
            profile_similarity=profile,
            seed_similarity_max=seed_max,
            seed_similarity_mean=seed_mean,
            section_affinity=section_affinity(pool, reader, rows),
            covisit=covisit_scores(pool, reader, rows),
            history=np.full(n, np.log1p(len(reader.read_ids)), np.float32),
            position=np.full(n, SERVING_POSITION, np.float32),
        )
        return out

    def shortlist(self, scores: np.ndarray, m: int) -> np.ndarray:
        """Positions of the best ``m`` scores, best first (diversity only looks at these)."""
        positions = np.arange(len(scores))
        if len(scores) > m:
            positions = np.argpartition(-scores, m - 1)[:m]
        return positions[np.lexsort((positions, -scores[positions]))]

    def diversify(
        self,
        pool: Pool,
        rules: Rules,
        rows: np.ndarray,
        scores: np.ndarray,
        pins: list[PlacedPin],
        n: int,
    ) -> tuple[list[int], list[Conflict]]:
        """Steps 4 and 5: caps and MMR fill the slots around the pins."""
        return assemble(pool, rules.diversity, rows, scores, pins, n)

    def diversify_many(
        self, pool: Pool, rules: Rules, slates: list[Slate], n: int
    ) -> list[tuple[list[int], list[Conflict]]]:
        """Steps 4 and 5 for a chunk of readers at once (through :meth:`diversify` when a
        subclass overrides it)."""
        if type(self).diversify is not Ranker.diversify or len(slates) == 1:
            # one reader: the per-reader loop has less set-up than the batched one
            return [self.diversify(pool, rules, s.rows, s.scores, s.pins, n) for s in slates]
        return assemble_many(pool, rules.diversity, slates, n)

    def explain(
        self,
        query: Query,
        gathered: Gathered,
        rows: np.ndarray,
        features: dict[str, np.ndarray],
        order: list[int],
        pinned: set[int],
    ) -> Sequence[FeedItem]:
        """Feed items with source, human reason and score breakdown (as columns: the feed store
        writes them without an object per item)."""
        pool, reader = query.pool, query.reader
        if not order:
            return ()
        chosen = np.asarray(order, dtype=np.int64)
        # rows are distinct: a binary search through their sort order finds each chosen row
        by_row = np.argsort(rows, kind="stable")
        at = by_row[np.searchsorted(rows, chosen, sorter=by_row)]
        table = np.stack([features[k] for k in BREAKDOWN_KEYS], dtype=np.float64)[:, at]
        # gathered.rows is sorted, so a binary search finds each row's origin
        origin = np.minimum(np.searchsorted(gathered.rows, chosen), max(len(gathered.rows) - 1, 0))
        source_of = gathered.sources[origin].tolist() if len(gathered.rows) else []
        seed_of = gathered.seeds[origin].tolist() if len(gathered.rows) else []
        seeds = reader.seeds
        sources = self.sources
        learned: list[str | None] = [None] * len(order)
        if self.model is not None and "ctr" in features:
            # the model's reasons replace the generic ones of sources that know none better
            wanted = self.model.feature_names
            placed = {k: features[k][at] for k in wanted if k in features}
            learned = signal_reasons(self.model, feature_matrix(placed, wanted))
        names: list[str] = []
        reasons: list[str] = []
        seed_ids: list[int | None] = []
        for k, row in enumerate(order):
            if row in pinned:
                names.append(PIN_SOURCE)
                reasons.append(PIN_REASON)
                seed_ids.append(None)
                continue
            source = sources[source_of[k]]
            seed = seed_of[k]
            names.append(source.name)
            reason = source.reason(pool, reader, row, seed)
            if source.generic_reason and learned[k] is not None:
                reason = learned[k]  # type: ignore[assignment]
            reasons.append(reason)
            seed_ids.append(seeds[seed].article_id if 0 <= seed < len(seeds) else None)
        section_names = pool.section_names
        return ItemColumns(
            keys=BREAKDOWN_KEYS,
            article_ids=pool.ids[chosen].tolist(),
            scores=table[_SCORE].tolist(),
            sources=names,
            reasons=reasons,
            sections=[section_names[row] for row in order],
            seed_ids=seed_ids,
            breakdowns=table.T.tolist(),
        )


class _StageClock:
    """Adds the seconds since the previous lap to a named stage (does nothing without a dict)."""

    def __init__(self, stages: dict[str, float] | None) -> None:
        self.stages = stages
        self.last = time.perf_counter()

    def lap(self, stage: str) -> None:
        if self.stages is None:
            return
        now = time.perf_counter()
        self.stages[stage] = self.stages.get(stage, 0.0) + now - self.last
        self.last = now


def _firsts(rows: np.ndarray) -> np.ndarray:
    """Mask over sorted ``rows``: the first of each run of equal values."""
    first = np.ones(len(rows), bool)
    np.not_equal(rows[1:], rows[:-1], out=first[1:])
    return first


def rank(
    pool: Pool, reader: ReaderState, context: Context, rules: Rules, n: int = 50
) -> FeedResult:
    """One reader's feed with the default sources and weights."""
    return Ranker().rank(pool, reader, context, rules, n)


def rank_many(
    pool: Pool, readers: Sequence[ReaderState], context: Context, rules: Rules, n: int = 50
) -> list[FeedResult]:
    """Many readers' feeds with the default sources and weights."""
    return Ranker().rank_many(pool, readers, context, rules, n)
