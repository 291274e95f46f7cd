"""A host's own ranking pieces, named in NEWSREC["RANKER"] and ["CANDIDATE_SOURCES"] by tests."""

from __future__ import annotations

from typing import Any

import numpy as np

from newsrec.engine.pool import Pool
from newsrec.engine.ranker import Ranker
from newsrec.engine.sources import Candidates, CandidateSource, Query
from newsrec.engine.types import ReaderState


class LongReadsSource(CandidateSource):
    """Proposes only the articles of the "Long reads" section."""

    name = "long_reads"

    def candidates(self, query: Query, prepared: Any = None) -> Candidates:
        rows = np.asarray(
            [
                r
                for r in np.flatnonzero(query.eligible).tolist()
                if query.pool.section_of(r) == "Long reads"
            ],
            dtype=np.int64,
        )
        return Candidates(rows, np.ones(len(rows), dtype=np.float32))

    def reason(self, pool: Pool, reader: ReaderState, row: int, seed: int) -> str:
        return "A long read for the weekend"


class CountingRanker(Ranker):
    """The engine's ranker, counting how many were built."""

    built = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        type(self).built += 1
        super().__init__(*args, **kwargs)


class WholeRanker(Ranker):
    """Replaces an entry point rather than a step, with rank_many's signature before #18.4."""

    def rank_many(  # type: ignore[override]
        self, pool: Pool, readers: Any, context: Any, rules: Any, n: int = 50
    ) -> Any:
        return super().rank_many(pool, readers, context, rules, n)
