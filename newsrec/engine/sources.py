"""Pluggable candidate sources: each proposes pool rows with a score in [0, 1] and a reason.

Subclass :class:`CandidateSource`, set ``name``, override ``candidates()`` and ``reason()``,
and optionally ``prepare()`` for reader-independent work done once per batch.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from newsrec.engine.pool import Pool
from newsrec.engine.rules import HOUR, Rules, allowed_mask, picked_mask
from newsrec.engine.rules import Filters as _Filters
from newsrec.engine.similarity import ReaderSims
from newsrec.engine.types import Context, ReaderState


@dataclass(frozen=True, eq=False)
class Query:
    """What a source may look at for one reader; ``eligible`` already holds every exclusion."""

    pool: Pool
    reader: ReaderState
    context: Context
    eligible: np.ndarray  # bool over the pool
    sims: ReaderSims

    @classmethod
    def for_reader(
        cls, pool: Pool, reader: ReaderState, context: Context, eligible: np.ndarray | None = None
    ) -> Query:
        """A standalone query (live articles minus read/hidden) for using a source on its own."""
        if eligible is None:
            eligible = allowed_mask(pool, _Filters(), context)
            eligible[pool.indices_of(reader.read_ids | reader.hidden_ids)] = False
        return cls(pool, reader, context, eligible, ReaderSims.for_reader(pool, reader))


@dataclass(frozen=True, eq=False)
class Candidates:
    """Rows proposed by one source; ``seeds`` are positions in ``reader.seeds`` (-1 = none)."""

    rows: np.ndarray  # int64
    scores: np.ndarray  # float32 in [0, 1]
    seeds: np.ndarray | None = None  # int64

    @classmethod
    def empty(cls) -> Candidates:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.float32))


def top_rows(values: np.ndarray, mask: np.ndarray, k: int) -> np.ndarray:
    """Rows of the k largest ``values`` where ``mask``; ties go to the lower row."""
    rows = np.flatnonzero(mask)
    if len(rows) > k:
        rows = rows[top_positions(values[rows], k)]
    return rows[np.lexsort((rows, -values[rows]))]


def top_positions(values: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k largest ``values`` (unordered), for 0 < k < len(values).

    A full argpartition of a pool-sized array dominates the per-reader cost, so a threshold
    estimated from a strided sample first drops most of the array; the result is exact, and
    when the estimate keeps fewer than k values the full partition runs instead.
    """
    n = len(values)
    if n > 16 * k and n > 2048:
        step = 16
        sample = values[::step]
        # the sample's (2k / step)-th largest value ranks about 2k-th in the whole array, so it
        # lies below the k-th largest with overwhelming probability; about 2k values pass it
        keep = min(len(sample), 2 * k // step + 1)
        threshold = np.partition(sample, len(sample) - keep)[len(sample) - keep]
        candidates = np.flatnonzero(values >= threshold)
        if len(candidates) >= k:
            if len(candidates) == k:
                return candidates
            return candidates[np.argpartition(-values[candidates], k - 1)[:k]]
    return np.argpartition(-values, k - 1)[:k]


def top_eligible(values: np.ndarray, eligible: np.ndarray, k: int, floor: float) -> np.ndarray:
    """:func:`top_rows` of ``values`` where ``eligible`` and at least ``floor``, without building
    that pool-sized mask: a threshold estimated from a strided sample of all ``values`` picks
    about 2k rows first, and only those are checked for eligibility. Exact: when fewer than k
    eligible rows pass a threshold above ``floor``, the full computation runs instead.
    """
    n = len(values)
    if k > 0 and n > 16 * k and n > 2048:
        sample = values[::16]
        keep = min(len(sample), 2 * k // 16 + 1)
        estimate = np.partition(sample, len(sample) - keep)[len(sample) - keep]
        complete = not estimate > floor  # then every row at least ``floor`` is looked at
        rows = np.flatnonzero(values >= (floor if complete else estimate))
        rows = rows[eligible[rows]]
        if complete or len(rows) >= k:
            # rows ascend, so a stable sort on the value alone sends ties to the lower row
            return rows[np.argsort(-values[rows], kind="stable")[:k]]
    return top_rows(values, eligible & (values >= floor), k)


def first_per_group(groups: np.ndarray, k: int) -> np.ndarray:
    """Mask over an already ordered sequence: the first k items of each group."""
    if len(groups) == 0:
        return np.zeros(0, dtype=bool)
    order = np.argsort(groups, kind="stable")
    ordered = groups[order]
    starts = np.concatenate(([0], np.flatnonzero(ordered[1:] != ordered[:-1]) + 1))
    sizes = np.diff(starts, append=len(ordered))
    keep = np.zeros(len(groups), dtype=bool)
    keep[order] = np.arange(len(ordered)) - np.repeat(starts, sizes) < k
    return keep


def section_codes(pool: Pool) -> np.ndarray:
    """One section code per row (-1 = no section)."""
    codes = np.full(len(pool), -1, dtype=np.int64)
    codes[pool.sections.owners] = pool.sections.codes
    return codes


def section_max(pool: Pool, codes: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per row: the maximum of ``values`` over the row's section."""
    best = np.zeros(len(pool.sections.names) + 1, dtype=np.float64)
    np.maximum.at(best, codes + 1, values)  # shifted so "no section" (-1) is a group too
    return best[codes + 1]


RECENT_READING = "Because of your recent reading"  # "because you read" without naming the seed


class CandidateSource:
    """Base class: propose candidates and explain them."""

    name = ""
    # True when reason() says nothing about this article in particular ("Recommended for
    # you"): a learned ranker then names the signal that placed it instead
    generic_reason = False

    def __init__(self, *, weight: float = 1.0) -> None:
        self.weight = weight  # multiplies the source's score into the "source" feature

    def prepare(self, pool: Pool, context: Context) -> Any:
        """Reader-independent work, done once per pool and batch."""
        return None

    def prepare_for(self, pool: Pool, context: Context, rules: Rules) -> Any:
        """``prepare`` for a ranking under ``rules`` (a source that reads the editors' rules,
        such as editors' picks, overrides this one)."""
        return self.prepare(pool, context)

    def prefetch(self, pool: Pool, sims: Sequence[ReaderSims], prepared: Any) -> None:
        """Optional batch work for a chunk of readers before their candidates are asked for."""

    def candidates(self, query: Query, prepared: Any = None) -> Candidates:
        raise NotImplementedError(".candidates() must be overridden")

    def reason(self, pool: Pool, reader: ReaderState, row: int, seed: int) -> str:
        raise NotImplementedError(".reason() must be overridden")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(weight={self.weight})"


def seed_title(pool: Pool, reader: ReaderState, seed: int) -> str:
    if not 0 <= seed < len(reader.seeds):
        return ""
    item = reader.seeds[seed]
    row = pool.index.get(item.article_id)
    return pool.titles[row] if row is not None else item.title


# Neighbour lists of BecauseYouReadSource, per pool object (dropped with the pool).
_Lists = dict[tuple[int, int, float], dict[int, Any]]
_NEIGHBOURS: weakref.WeakKeyDictionary[Pool, _Lists] = weakref.WeakKeyDictionary()
# The latest pool's rows, vectors and lists, held strongly: a cache that reloads its pool drops
# the old one before the new one is first used, and the weak entry would go with it.
_LATEST: list[tuple[np.ndarray, np.ndarray, _Lists]] = []


def _neighbours_of_same_pool(pool: Pool) -> _Lists:
    """A reloaded pool with the very same rows and vectors keeps the lists already computed."""
    known = [(other.ids, other.embeddings, lists) for other, lists in list(_NEIGHBOURS.items())]
    for ids, embeddings, lists in known + _LATEST:
        if np.array_equal(ids, pool.ids) and np.array_equal(embeddings, pool.embeddings):
            return lists
    return {}


def _neighbours_for(pool: Pool) -> _Lists:
    per_pool = _NEIGHBOURS.get(pool)
    if per_pool is None:
        per_pool = _NEIGHBOURS[pool] = _neighbours_of_same_pool(pool)
        _LATEST[:] = [(pool.ids, pool.embeddings, per_pool)]
    return per_pool


class InterestSource(CandidateSource):
    """Content neighbours of the reader's interest vectors (also serves brand-new articles)."""

    name = "interest"
    generic_reason = True

    def __init__(self, *, weight: float = 1.0, limit: int = 300, min_similarity: float = 0.05):
        super().__init__(weight=weight)
        self.limit = limit
        self.min_similarity = min_similarity

    def candidates(self, query: Query, prepared: Any = None) -> Candidates:
        sims = query.sims
        if len(sims.interest) == 0 or sims.interest_weights.max() <= 0:
            return Candidates.empty()
        if sims.interest_best is not None:
            best = sims.interest_best  # already clipped
        elif len(sims.interest) == 1:
            best = np.clip(sims.interest[0], 0.0, 1.0)  # one vector: its weight scales to 1
        else:
            weights = sims.interest_weights / sims.interest_weights.max()
            best = np.clip((sims.interest * weights[:, None]).max(axis=0), 0.0, 1.0)
        rows = top_eligible(best, query.eligible, self.limit, self.min_similarity)
        return Candidates(rows, best[rows].astype(np.float32))

    def reason(self, pool: Pool, reader: ReaderState, row: int, seed: int) -> str:
        return "Recommended for you"


class BecauseYouReadSource(CandidateSource):
    """Nearest neighbours of each recent well-read article, keeping the seed for the reason.

    Neighbour lists of in-pool seeds are cached per batch (readers share many seeds); a list
    emptied by the reader's exclusions is recomputed in full, so the cache never changes results.
    """

    name = "because_you_read"

    def __init__(
        self,
        *,
        weight: float = 1.0,
        per_seed: int = 20,
        min_similarity: float = 0.1,
        cache_factor: int = 5,
    ):
        super().__init__(weight=weight)
        self.per_seed = per_seed
        self.min_similarity = min_similarity
        self.cache_factor = cache_factor

    def prepare(self, pool: Pool, context: Context) -> Any:
        # seed row -> (neighbour rows best first, their similarities, truncated?); the lists
        # depend on the pool alone, so every batch over the same pool object shares them
        return _neighbours_for(pool).setdefault(
            (self.per_seed, self.cache_factor, self.min_similarity), {}
        )

    def prefetch(self, pool: Pool, sims: Sequence[ReaderSims], prepared: Any) -> None:
        """Neighbour lists of the chunk's uncached seeds, as one matrix product per block."""
        if prepared is None:
            return
        wanted = {row for s in sims for row in s.seed_rows.tolist() if row >= 0}
        missing = np.asarray(sorted(wanted - prepared.keys()), dtype=np.int64)
        size = min(self.per_seed * self.cache_factor, len(pool))
        for start in range(0, len(missing), 256):
            block = missing[start : start + 256]
            values = pool.embeddings[block] @ pool.embeddings.T
            values[np.arange(len(block)), block] = -np.inf  # a seed is not its own neighbour
            values[values < self.min_similarity] = -np.inf
            if size < len(pool):
                cols = np.stack([top_positions(line, size) for line in values])
            else:
                cols = np.broadcast_to(np.arange(len(pool)), values.shape)
            top = np.take_along_axis(values, cols, axis=1)
            order = np.lexsort((cols, -top), axis=-1)
            cols = np.take_along_axis(cols, order, axis=1)
            top = np.take_along_axis(top, order, axis=1)
            for row, c, v in zip(block.tolist(), cols, top, strict=True):
                valid = np.isfinite(v)
                prepared[row] = (c[valid], v[valid], bool(valid.all()))

    def neighbours(
        self, pool: Pool, vector: np.ndarray, own: int, eligible: np.ndarray | None, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest rows to ``vector`` (at least ``min_similarity``), best first."""
        sims = pool.embeddings @ vector
        mask = np.ones(len(pool), bool) if eligible is None else eligible.copy()
        if own >= 0:
            mask[own] = False
        rows = top_rows(sims, mask & (sims >= self.min_similarity), k)
        return rows, sims[rows]

    def candidates(self, query: Query, prepared: Any = None) -> Candidates:
        sims, pool = query.sims, query.pool
        cache = prepared if prepared is not None else {}
        weights = sims.seed_weights
        if len(weights) == 0 or weights.max() <= 0:
            return Candidates.empty()
        all_rows, all_scores, all_seeds = [], [], []
        for i, (row, position) in enumerate(
            zip(sims.seed_rows.tolist(), sims.seed_positions.tolist(), strict=True)
        ):
            if weights[i] <= 0:
                continue
            found = None
            if row >= 0:
                if row not in cache:
                    size = self.per_seed * self.cache_factor
                    rows, values = self.neighbours(pool, sims.seed_vectors[i], row, None, size)
                    cache[row] = (rows, values, len(rows) == size)
                rows, values, truncated = cache[row]
                ok = query.eligible[rows]
                if ok.sum() >= self.per_seed or not truncated:
                    found = rows[ok][: self.per_seed], values[ok][: self.per_seed]
            if found is None:
                found = self.neighbours(
                    pool, sims.seed_vectors[i], row, query.eligible, self.per_seed
                )
            all_rows.append(found[0])
            all_scores.append(found[1] * (weights[i] / weights.max()))
            all_seeds.append(np.full(len(found[0]), position, np.int64))
        if not all_rows:
            return Candidates.empty()
        return _best_per_row(
            np.concatenate(all_rows), np.concatenate(all_scores), np.concatenate(all_seeds)
        )

    def reason(self, pool: Pool, reader: ReaderState, row: int, seed: int) -> str:
        title = seed_title(pool, reader, seed)
        return f"Because you read {title}" if title else RECENT_READING


class CovisitSource(CandidateSource):
    """Item-item co-visitation: what readers of the reader's recent articles also read."""

    name = "covisit"

    def __init__(self, *, weight: float = 0.8, per_seed: int = 20):
        super().__init__(weight=weight)
        self.per_seed = per_seed

    def candidates(self, query: Query, prepared: Any = None) -> Candidates:
        reader, pool = query.reader, query.pool
        if not reader.personal or not pool.covisits or not reader.seeds:
            return Candidates.empty()
        top_weight = max(s.weight for s in reader.seeds) or 1.0
        all_rows, all_scores, all_seeds = [], [], []
        for position, seed in enumerate(reader.seeds):
            neighbours = pool.covisits.get(seed.article_id)
            if neighbours is None or seed.weight <= 0:
                continue
            rows, weights = neighbours
            keep = query.eligible[rows]
            rows, weights = rows[keep], weights[keep]
            if len(rows) == 0:
                continue
            order = np.lexsort((rows, -weights))[: self.per_seed]
            all_rows.append(rows[order])
            all_scores.append(weights[order] / weights.max() * (seed.weight / top_weight))
            all_seeds.append(np.full(len(order), position, np.int64))
        if not all_rows:
            return Candidates.empty()
        return _best_per_row(
            np.concatenate(all_rows), np.concatenate(all_scores), np.concatenate(all_seeds)
        )

    def reason(self, pool: Pool, reader: ReaderState, row: int, seed: int) -> str:
        title = seed_title(pool, reader, seed)
        return f"Readers of {title} also read this" if title else "Readers like you read this"


_ANSWERS_KEPT = 4096  # per source and pool: bounds the memory of shared answers


class TrendingSource(CandidateSource):
    """Time-decayed popularity: the top overall and the top of every section.

    Only the top ``slack`` x (limit, per_section) of the pool are looked at per reader, which
    keeps the per-reader work small; exclusions rarely reach that deep.
    """

    name = "trending"

    def __init__(
        self, *, weight: float = 0.6, limit: int = 30, per_section: int = 3, slack: int = 4
    ):
        super().__init__(weight=weight)
        self.limit = limit
        self.per_section = per_section
        self.slack = slack

    def prepare(self, pool: Pool, context: Context) -> Any:
        key = ("trending", self.limit, self.per_section, self.slack)
        return pool.derived(key, lambda: self._prepare(pool))

    def _prepare(self, pool: Pool) -> Any:
        trending = np.maximum(pool.trending, 0.0)
        codes = section_codes(pool)
        rows = np.flatnonzero(trending > 0)
        order = rows[np.lexsort((rows, -trending[rows]))]
        top = trending.max() if len(pool) else 0.0
        overall = trending / top if top > 0 else trending
        best = section_max(pool, codes, trending)
        within = np.divide(trending, best, out=np.zeros_like(trending), where=best > 0)
        head = np.zeros(len(order), bool)
        head[: self.limit * self.slack] = True
        head |= first_per_group(codes[order], self.per_section * self.slack)
        # the candidates depend on the reader only through which rows of the head are eligible,
        # and most readers' exclusions miss the head: one answer per pattern, shared per pool
        answers: dict[bytes, Candidates] = {}
        return order[head], codes, overall, within, answers

    def candidates(self, query: Query, prepared: Any = None) -> Candidates:
        order, codes, overall, within, answers = prepared or self.prepare(query.pool, query.context)
        eligible = query.eligible[order]
        key = eligible.tobytes()
        found = answers.get(key)
        if found is None:
            found = self._candidates(order[eligible], codes, overall, within)
            if len(answers) < _ANSWERS_KEPT:
                found.rows.setflags(write=False)  # shared by readers: never changed in place
                found.scores.setflags(write=False)
                answers[key] = found
        return found

    def _candidates(
        self, ordered: np.ndarray, codes: np.ndarray, overall: np.ndarray, within: np.ndarray
    ) -> Candidates:
        top = np.zeros(len(ordered), bool)
        top[: self.limit] = True
        section_top = first_per_group(codes[ordered], self.per_section) & (codes[ordered] >= 0)
        chosen = top | section_top
        rows = ordered[chosen]
        scores = np.maximum(
            np.where(top[chosen], overall[rows], 0.0),
            np.where(section_top[chosen], within[rows], 0.0),
        )
        return Candidates(rows, scores.astype(np.float32))

    def reason(self, pool: Pool, reader: ReaderState, row: int, seed: int) -> str:
        section = pool.section_of(row)
        return f"Trending in {section}" if section else "Trending now"


class EditorPickSource(CandidateSource):
    """Articles the editors picked, newest first."""

    name = "editor_pick"

    def __init__(self, *, weight: float = 0.9, limit: int = 50):
        super().__init__(weight=weight)
        self.limit = limit

    def prepare(self, pool: Pool, context: Context) -> Any:
        rows = np.flatnonzero(pool.editor_pick)
        return rows[np.lexsort((rows, -pool.published_at[rows]))]

    def prepare_for(self, pool: Pool, context: Context, rules: Rules) -> Any:
        """The pool's flagged articles and the editors' picks active now, newest first."""
        rows = np.flatnonzero(picked_mask(pool, rules.picks, context))
        return rows[np.lexsort((rows, -pool.published_at[rows]))]

    def candidates(self, query: Query, prepared: Any = None) -> Candidates:
        order = prepared if prepared is not None else self.prepare(query.pool, query.context)
        rows = order[query.eligible[order]][: self.limit]
        return Candidates(rows, np.ones(len(rows), np.float32))

    def reason(self, pool: Pool, reader: ReaderState, row: int, seed: int) -> str:
        return "Editor's pick"


class FreshSource(CandidateSource):
    """The newest articles, published within ``window_hours``."""

    name = "fresh"

    def __init__(self, *, weight: float = 0.5, window_hours: float = 12.0, limit: int = 50):
        super().__init__(weight=weight)
        self.window_hours = window_hours
        self.limit = limit

    def prepare(self, pool: Pool, context: Context) -> Any:
        age = (context.now - pool.published_at) / HOUR
        rows = np.flatnonzero((age >= 0) & (age <= self.window_hours))
        order = rows[np.lexsort((rows, -pool.published_at[rows]))]
        return order, np.clip(1.0 - age / self.window_hours, 0.0, 1.0)

    def candidates(self, query: Query, prepared: Any = None) -> Candidates:
        order, scores = prepared or self.prepare(query.pool, query.context)
        rows = order[query.eligible[order]][: self.limit]
        return Candidates(rows, scores[rows].astype(np.float32))

    def reason(self, pool: Pool, reader: ReaderState, row: int, seed: int) -> str:
        section = pool.section_of(row)
        return f"New in {section}" if section else "Just in"


class ColdStartSource(CandidateSource):
    """For readers without interest vectors or seeds (or who turned personalisation off): the
    most popular articles of every section plus editor picks, so a first feed is varied.

    Like trending, only the top ``slack`` x ``per_section`` of each section are looked at.
    """

    name = "cold_start"

    def __init__(
        self, *, weight: float = 0.7, per_section: int = 5, limit: int = 200, slack: int = 4
    ):
        super().__init__(weight=weight)
        self.per_section = per_section
        self.limit = limit
        self.slack = slack

    def prepare(self, pool: Pool, context: Context) -> Any:
        return pool.derived(
            ("cold_start", self.per_section, self.slack), lambda: self._prepare(pool)
        )

    def _prepare(self, pool: Pool) -> Any:
        rows = np.arange(len(pool))
        order = np.lexsort((rows, -pool.published_at, -pool.clicks, -pool.trending))
        codes = section_codes(pool)
        strength = np.maximum(pool.trending, 0.0) + 1e-3 * np.maximum(pool.clicks, 0.0)
        best = section_max(pool, codes, strength)
        within = np.divide(strength, best, out=np.zeros_like(strength), where=best > 0)
        head = first_per_group(codes[order], self.per_section * self.slack)
        return order[head | pool.editor_pick[order]], codes, within

    def candidates(self, query: Query, prepared: Any = None) -> Candidates:
        who = query.reader
        if who.personal and (who.interests or who.seeds):
            return Candidates.empty()  # content sources know this reader well enough
        order, codes, within = prepared or self.prepare(query.pool, query.context)
        ordered = order[query.eligible[order]]
        keep = first_per_group(codes[ordered], self.per_section) | query.pool.editor_pick[ordered]
        rows = ordered[keep][: self.limit]
        scores = np.where(query.pool.editor_pick[rows], 1.0, 0.5 + 0.5 * within[rows])
        return Candidates(rows, scores.astype(np.float32))

    def reason(self, pool: Pool, reader: ReaderState, row: int, seed: int) -> str:
        return "Editor's pick" if pool.editor_pick[row] else "Popular right now"


def _best_per_row(rows: np.ndarray, scores: np.ndarray, seeds: np.ndarray) -> Candidates:
    """Keep each row once, with its best score (and that score's seed)."""
    order = np.lexsort((seeds, -scores, rows))
    rows, scores, seeds = rows[order], scores[order], seeds[order]
    first = np.ones(len(rows), bool)
    np.not_equal(rows[1:], rows[:-1], out=first[1:])
    return Candidates(rows[first], np.clip(scores[first], 0, 1).astype(np.float32), seeds[first])


def default_sources() -> list[CandidateSource]:
    """The sources a :class:`~newsrec.engine.ranker.Ranker` uses unless told otherwise."""
    return [
        BecauseYouReadSource(),
        InterestSource(),
        CovisitSource(),
        EditorPickSource(),
        TrendingSource(),
        FreshSource(),
        ColdStartSource(),
    ]
