"""Small synthetic pools and readers for the engine tests (hand-made vectors, fixed clock)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from newsrec.engine import ArticleMeta, Context, Interest, Pool, ReaderState, Rules, Seed

NOW = 1_800_000_000.0
HOUR = 3600.0
DIM = 8


def axis(i: int, tilt: float = 0.0, towards: int | None = None) -> list[float]:
    """Unit vector along axis i, optionally tilted towards another axis."""
    vector = [0.0] * DIM
    vector[i] = 1.0
    if towards is not None:
        vector[towards] = tilt
    return vector


def article(
    article_id: int,
    *,
    vector: Sequence[float] | None = None,
    section: str = "News",
    hours_old: float = 1.0,
    title: str | None = None,
    **extra: object,
) -> ArticleMeta:
    return ArticleMeta(
        article_id=article_id,
        title=title or f"Article {article_id}",
        embedding=list(vector) if vector is not None else axis(article_id % DIM),
        published_at=NOW - hours_old * HOUR,
        section=section,
        **extra,  # type: ignore[arg-type]
    )


def pool_of(*articles: ArticleMeta, **kwargs: object) -> Pool:
    return Pool.from_articles(list(articles), **kwargs)  # type: ignore[arg-type]


def reader(reader_id: int = 1, **kwargs: object) -> ReaderState:
    return ReaderState(reader_id=reader_id, **kwargs)  # type: ignore[arg-type]


def interested_in(*axes: int, **kwargs: Any) -> ReaderState:
    """A returning reader whose interest vectors point along the given axes."""
    return reader(interests=tuple(Interest(axis(i)) for i in axes), **kwargs)


def seeded(*seed_ids: int, **kwargs: Any) -> ReaderState:
    return reader(seeds=tuple(Seed(s) for s in seed_ids), read_ids=frozenset(seed_ids), **kwargs)


def ctx(**kwargs: object) -> Context:
    return Context(now=NOW, **kwargs)  # type: ignore[arg-type]


NO_RULES = Rules()


def random_pool(rng: np.random.Generator, n: int, *, sections: Sequence[str]) -> Pool:
    """A random pool with random vectors, sections, authors, tags and popularity."""
    return Pool.from_articles(
        [
            ArticleMeta(
                article_id=i + 1,
                title=f"Story {i + 1}",
                embedding=rng.normal(size=DIM).tolist(),
                published_at=NOW - float(rng.uniform(0, 96)) * HOUR,
                section=str(rng.choice(sections)),
                authors=(f"author{int(rng.integers(0, 5))}",),
                tags=tuple({f"tag{int(t)}" for t in rng.integers(0, 6, size=2)}),
                trending=float(rng.exponential(3.0)),
                clicks=float(rng.integers(0, 50)),
                editor_pick=bool(rng.random() < 0.1),
            )
            for i in range(n)
        ]
    )
