"""The live candidate pool: articles as numpy arrays, built once and shared by every reader."""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

import numpy as np

from newsrec.engine.errors import EngineInputError

T = TypeVar("T")


@dataclass(frozen=True)
class ArticleMeta:
    """One live article as the engine sees it (times are epoch seconds)."""

    article_id: int
    title: str
    embedding: Sequence[float] | np.ndarray
    published_at: float
    section: str = ""
    authors: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    clicks: float = 0.0  # recent clicks
    impressions: float = 0.0  # recent impressions
    clicks_long: float = 0.0  # clicks over a longer window (30 days by default)
    trending: float = 0.0  # time-decayed popularity, computed by the caller
    editor_pick: bool = False
    embargo_until: float | None = None
    retracted: bool = False


@dataclass(frozen=True, eq=False)
class Labels:
    """A multi-valued string attribute (section, authors, tags) in CSR form over the pool."""

    names: tuple[str, ...]
    indptr: np.ndarray  # int64, len n + 1; article i owns codes[indptr[i]:indptr[i + 1]]
    codes: np.ndarray  # int64 codes into names
    owners: np.ndarray  # int64 article index of every entry of codes
    lookup: Mapping[str, int]

    @classmethod
    def build(cls, per_article: Sequence[Sequence[str]]) -> Labels:
        lookup: dict[str, int] = {}
        codes: list[int] = []
        indptr = [0]
        for values in per_article:
            seen: set[int] = set()
            for value in values:
                if not value:
                    continue  # "" means "no section": it must never match a rule
                code = lookup.setdefault(value, len(lookup))
                if code not in seen:
                    seen.add(code)
                    codes.append(code)
            indptr.append(len(codes))
        ptr = np.asarray(indptr, dtype=np.int64)
        return cls(
            names=tuple(lookup),
            indptr=ptr,
            codes=np.asarray(codes, dtype=np.int64),
            owners=np.repeat(np.arange(len(per_article), dtype=np.int64), np.diff(ptr)),
            lookup=lookup,
        )

    def of(self, index: int) -> tuple[str, ...]:
        """The values of one article."""
        return tuple(self.names[c] for c in self.codes[self.indptr[index] : self.indptr[index + 1]])

    def mask_any(self, values: Iterable[str]) -> np.ndarray:
        """Boolean mask over the pool: articles carrying at least one of ``values``."""
        wanted = [self.lookup[v] for v in values if v in self.lookup]
        mask = np.zeros(len(self.indptr) - 1, dtype=bool)
        if wanted:
            mask[self.owners[np.isin(self.codes, wanted)]] = True
        return mask

    def entries(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(position in ``indices``, code) for every value of the given articles."""
        starts = self.indptr[indices]
        lengths = self.indptr[indices + 1] - starts
        total = int(lengths.sum())
        owner = np.repeat(np.arange(len(indices), dtype=np.int64), lengths)
        offsets = np.arange(total, dtype=np.int64) - np.repeat(
            np.cumsum(lengths) - lengths, lengths
        )
        return owner, self.codes[np.repeat(starts, lengths) + offsets]

    def values_by_code(self, mapping: Mapping[str, float]) -> np.ndarray | None:
        """A per-code array of ``mapping``'s values (None when nothing in it is in the pool)."""
        out: np.ndarray | None = None
        for name, value in mapping.items():
            code = self.lookup.get(name)
            if code is not None:
                if out is None:
                    out = np.zeros(len(self.names), dtype=np.float32)
                out[code] = value
        return out

    @cached_property
    def single(self) -> np.ndarray | None:
        """Each article's one code (-1 = none) when no article has two (sections); else None."""
        if len(self.indptr) > 1 and int(np.diff(self.indptr).max()) > 1:
            return None
        codes = np.full(len(self.indptr) - 1, -1, dtype=np.int64)
        codes[self.owners] = self.codes
        return codes

    def max_over(self, by_code: np.ndarray | None, indices: np.ndarray) -> np.ndarray:
        """Per article in ``indices``: its labels' largest ``by_code`` value (0 if none)."""
        out = np.zeros(len(indices), dtype=np.float32)
        if by_code is None or len(indices) == 0:
            return out
        single = self.single
        if single is not None:
            # one label at most: a lookup, with code -1 landing on the appended 0
            padded = np.append(by_code.astype(np.float32, copy=False), np.float32(0.0))
            return np.maximum(padded[single[indices]], out)
        owner, codes = self.entries(indices)
        np.maximum.at(out, owner, by_code[codes])
        return out


@dataclass(frozen=True, eq=False)
class Pool:
    """The live pool as arrays; build it with :meth:`from_articles`."""

    ids: np.ndarray  # int64 article ids
    embeddings: np.ndarray  # float32 (n, d), rows L2-normalised (zero rows allowed)
    titles: tuple[str, ...]
    sections: Labels
    authors: Labels
    tags: Labels
    published_at: np.ndarray  # float64 epoch seconds
    clicks: np.ndarray  # float64
    impressions: np.ndarray  # float64
    clicks_long: np.ndarray  # float64
    trending: np.ndarray  # float64, time-decayed popularity
    editor_pick: np.ndarray  # bool
    embargo_until: np.ndarray  # float64, NaN = no embargo
    retracted: np.ndarray  # bool
    section_names: tuple[str, ...] = ()  # the section of every row ("" = none)
    covisits: Mapping[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    # article id (pool or archive) -> (pool indices, weights) of articles read by the same readers
    index: Mapping[int, int] = field(default_factory=dict)  # article id -> row
    # what derived() computed from this pool; a pool made by dataclasses.replace starts empty
    _derived: dict[Hashable, Any] = field(default_factory=dict, init=False, repr=False)

    def derived(self, key: Hashable, build: Callable[[], T]) -> T:
        """``build()``, computed once per pool object and ``key``: reader-independent work that
        depends on this pool alone (the sources' orders, count-based signals), which every
        batch and every single reader's rebuild over the pool then shares. Keep it unchanged."""
        try:
            return self._derived[key]  # type: ignore[no-any-return]
        except KeyError:
            value = self._derived[key] = build()
            return value

    @classmethod
    def from_articles(
        cls,
        articles: Sequence[ArticleMeta],
        *,
        covisits: Mapping[int, Sequence[tuple[int, float]]] | None = None,
        dimensions: int | None = None,
    ) -> Pool:
        """Build the pool; embeddings are L2-normalised here, bad values raise EngineInputError."""
        n = len(articles)
        index: dict[int, int] = {}
        for i, art in enumerate(articles):
            if int(art.article_id) in index:
                raise EngineInputError(f"Article {art.article_id} appears twice in the pool.")
            index[int(art.article_id)] = i
        if n:
            try:
                matrix = np.asarray([a.embedding for a in articles], dtype=np.float32)
            except ValueError as exc:
                raise EngineInputError(
                    f"Embeddings must all have the same length ({exc})."
                ) from exc
            if matrix.ndim != 2:
                raise EngineInputError("Embeddings must be flat sequences of numbers.")
        else:
            matrix = np.zeros((0, dimensions or 0), dtype=np.float32)
        if dimensions is not None and matrix.shape[1] != dimensions:
            raise EngineInputError(
                f"Embeddings have {matrix.shape[1]} dimensions, expected {dimensions}."
            )
        if not np.isfinite(matrix).all():
            bad = articles[int(np.nonzero(~np.isfinite(matrix).all(axis=1))[0][0])].article_id
            raise EngineInputError(f"Article {bad} has a non-finite embedding value.")
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        matrix = np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)

        def floats(name: str) -> np.ndarray:
            values = np.asarray([getattr(a, name) for a in articles], dtype=np.float64)
            if not np.isfinite(values).all():
                raise EngineInputError(f"Every article needs a finite {name}.")
            return values

        for art in articles:
            if not isinstance(art.authors, tuple | list) or not isinstance(art.tags, tuple | list):
                raise EngineInputError(f"Article {art.article_id}: authors and tags must be lists.")
        embargo = np.asarray(
            [math.nan if a.embargo_until is None else a.embargo_until for a in articles],
            dtype=np.float64,
        )
        return cls(
            ids=np.asarray([int(a.article_id) for a in articles], dtype=np.int64),
            embeddings=np.ascontiguousarray(matrix),
            titles=tuple(a.title for a in articles),
            sections=Labels.build([(a.section,) for a in articles]),
            authors=Labels.build([a.authors for a in articles]),
            tags=Labels.build([a.tags for a in articles]),
            published_at=floats("published_at"),
            clicks=floats("clicks"),
            impressions=floats("impressions"),
            clicks_long=floats("clicks_long"),
            trending=floats("trending"),
            editor_pick=np.asarray([bool(a.editor_pick) for a in articles], dtype=bool),
            embargo_until=embargo,
            retracted=np.asarray([bool(a.retracted) for a in articles], dtype=bool),
            section_names=tuple(a.section or "" for a in articles),
            covisits=_covisit_rows(covisits or {}, index),
            index=index,
        )

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def dimensions(self) -> int:
        return int(self.embeddings.shape[1])

    def section_of(self, index: int) -> str:
        return self.section_names[index]

    def indices_of(self, article_ids: Iterable[int]) -> np.ndarray:
        """Pool rows of the given ids; ids not in the pool are skipped."""
        rows = [self.index[a] for a in article_ids if a in self.index]
        return np.asarray(rows, dtype=np.int64)


def _covisit_rows(
    covisits: Mapping[int, Sequence[tuple[int, float]]], index: Mapping[int, int]
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Keep neighbours that are in the pool, with positive finite weights."""
    rows: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for source_id, neighbours in covisits.items():
        best: dict[int, float] = {}
        for neighbour_id, weight in neighbours:
            row = index.get(int(neighbour_id))
            if row is None or not math.isfinite(weight) or weight <= 0:
                continue
            best[row] = max(best.get(row, 0.0), float(weight))
        if best:
            keys = np.fromiter(best.keys(), dtype=np.int64, count=len(best))
            weights = np.fromiter(best.values(), dtype=np.float32, count=len(best))
            rows[int(source_id)] = (keys, weights)
    return rows
