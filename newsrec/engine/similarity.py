"""Reader-vs-pool cosine similarities, computed for many readers with one matrix product."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from newsrec.engine.errors import EngineInputError
from newsrec.engine.pool import Pool
from newsrec.engine.types import ReaderState


@dataclass(frozen=True, eq=False)
class ReaderSims:
    """One reader's interest vectors scored against the whole pool, plus their seed vectors.

    ``interest`` has one row per interest vector. Seeds keep their vectors only (comparing them
    with the whole pool is the because-you-read source's job, which caches it per article);
    ``seed_positions`` points back into ``reader.seeds`` and ``seed_rows`` is the seed's pool row
    (-1 when the seed has left the pool and came with its own vector).
    """

    interest: np.ndarray  # float32 (k, n)
    interest_weights: np.ndarray  # float32 (k,)
    seed_vectors: np.ndarray  # float32 (s, d), unit length
    seed_weights: np.ndarray  # float32 (s,)
    seed_positions: np.ndarray  # int64 (s,)
    seed_rows: np.ndarray  # int64 (s,)
    # weighted max of ``interest`` over its rows clipped to [0, 1] (None when no interest has
    # weight): computed once per chunk, shared by the interest source and relevance
    interest_best: np.ndarray | None = None  # float32 (n,)
    # the last seed_matrix() result with the rows it was computed for: relevance and the
    # learned ranker's seed signals read the same candidate rows, one product serves both
    _seed_memo: list[np.ndarray] = field(default_factory=list, repr=False)

    @classmethod
    def for_reader(cls, pool: Pool, reader: ReaderState, max_seeds: int = 20) -> ReaderSims:
        return batch_similarities(pool, [reader], max_seeds=max_seeds)[0]

    def relevance(self, pool: Pool, rows: np.ndarray) -> np.ndarray:
        """Best weighted similarity of ``rows`` to any interest or seed vector, in [0, 1]."""
        best = np.zeros(len(rows), np.float32)
        if len(rows) and self.interest_best is not None:
            best = self.interest_best[rows]  # already in [0, 1]
        elif len(rows) and len(self.interest_weights):
            best = np.maximum(best, weighted_max(self.interest[:, rows], self.interest_weights))
        if len(rows) and len(self.seed_weights) and self.seed_weights.max() > 0:
            sims = self.seed_matrix(pool, rows)
            scale = self.seed_weights / self.seed_weights.max()
            best = np.maximum(best, (sims * scale[:, None]).max(axis=0))
        return np.clip(best, 0.0, 1.0)

    def seed_matrix(self, pool: Pool, rows: np.ndarray) -> np.ndarray:
        """Cosine similarity of each seed vector to each of ``rows``, (seeds x rows).

        Remembered for the last ``rows`` array asked about (by identity), so the ranker's
        relevance and seed signals of one reader's candidates cost one product.
        """
        memo = self._seed_memo
        if memo and memo[0] is rows:
            return memo[1]
        # (rows x d) @ (d x seeds) is the faster orientation for BLAS with a handful of seeds;
        # stored seeds x rows, where a max or mean over the seeds is a few passes over
        # contiguous rows (over a row of a handful of values it is five times slower)
        sims = np.ascontiguousarray(
            (np.take(pool.embeddings, rows, axis=0) @ self.seed_vectors.T).T
        )
        memo[:] = [rows, sims]
        return sims


def weighted_max(sims: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Column-wise max of ``sims`` rows scaled by weight / max weight (zeros if no weight)."""
    top = float(weights.max())
    if top <= 0:
        return np.zeros(sims.shape[1], np.float32)
    return (sims * (weights / top)[:, None]).max(axis=0)


def _unit(vector: object, dimensions: int, reader_id: object) -> np.ndarray:
    array = np.asarray(vector, dtype=np.float32).reshape(-1)
    if array.shape[0] != dimensions or not np.isfinite(array).all():
        raise EngineInputError(
            f"Reader {reader_id}: vectors need {dimensions} finite values, got {array.shape[0]}."
        )
    norm = float(np.linalg.norm(array))
    return array / norm if norm > 0 else array


def batch_similarities(
    pool: Pool, readers: Sequence[ReaderState], *, max_seeds: int = 20
) -> list[ReaderSims]:
    """Stack every reader's interest vectors and multiply once by the pool matrix."""
    d = pool.dimensions
    if len(pool) == 0:
        readers = [ReaderState(reader_id=r.reader_id) for r in readers]  # nothing to compare with
    vectors: list[np.ndarray] = []
    layout: list[tuple[int, int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    for reader in readers:
        start = len(vectors)
        seed_vectors: list[np.ndarray] = []
        interest_w: list[float] = []
        seed_w: list[float] = []
        positions: list[int] = []
        rows: list[int] = []
        if reader.personal:
            for interest in reader.interests:
                vectors.append(_unit(interest.vector, d, reader.reader_id))
                interest_w.append(interest.weight)
            # the strongest recent reads make the best explanations
            ranked = sorted(range(len(reader.seeds)), key=lambda i: -reader.seeds[i].weight)
            for position in ranked[:max_seeds]:
                seed = reader.seeds[position]
                row = pool.index.get(seed.article_id, -1)
                if row >= 0:
                    seed_vectors.append(pool.embeddings[row])
                elif seed.vector is not None:
                    seed_vectors.append(_unit(seed.vector, d, reader.reader_id))
                else:
                    continue  # left the pool without a vector: nothing to compare with
                seed_w.append(seed.weight)
                positions.append(position)
                rows.append(row)
        layout.append(
            (
                start,
                len(interest_w),
                np.asarray(interest_w, np.float32),
                np.asarray(seed_vectors, np.float32).reshape(len(seed_vectors), d),
                np.asarray(seed_w, np.float32),
                np.asarray(positions, np.int64),
                np.asarray(rows, np.int64),
            )
        )
    n = len(pool)
    product = np.stack(vectors) @ pool.embeddings.T if vectors else np.zeros((0, n), np.float32)
    bests = _interest_bests(product, layout)
    out: list[ReaderSims] = []
    for (start, k, *arrays), best in zip(layout, bests, strict=True):
        interest_weights, seed_vectors_, seed_weights, seed_positions, seed_rows = arrays
        out.append(
            ReaderSims(
                interest=product[start : start + k],
                interest_weights=interest_weights,
                seed_vectors=seed_vectors_,
                seed_weights=seed_weights,
                seed_positions=seed_positions,
                seed_rows=seed_rows,
                interest_best=best,
            )
        )
    return out


def _interest_bests(product: np.ndarray, layout: list[tuple]) -> list[np.ndarray | None]:
    """Every reader's :func:`weighted_max` of its interest rows, clipped to [0, 1]."""
    bests: list[np.ndarray | None] = []
    clipped: np.ndarray | None = None  # the whole product clipped in one call, when needed
    for start, k, weights, *_ in layout:
        top = float(weights.max()) if k else 0.0
        if top <= 0:
            bests.append(None)
        elif k == 1:
            if clipped is None:
                clipped = np.clip(product, 0.0, 1.0)
            bests.append(clipped[start])  # one vector: its weight scales to 1
        else:
            sims = product[start : start + k] * (weights / top)[:, None]
            bests.append(np.clip(sims.max(axis=0), 0.0, 1.0))
    return bests
