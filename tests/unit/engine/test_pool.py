"""Pool construction: normalised arrays, labels, co-visits and clear errors on bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from newsrec.engine import ArticleMeta, EngineInputError, Pool
from tests.unit.engine.builders import NOW, article, pool_of


def test_embeddings_are_l2_normalised_and_ids_indexed() -> None:
    pool = pool_of(article(7, vector=[3, 4, 0, 0, 0, 0, 0, 0]), article(9))
    assert pool.ids.tolist() == [7, 9]
    assert pool.index == {7: 0, 9: 1}
    assert np.allclose(pool.embeddings[0, :2], [0.6, 0.8])
    assert pool.embeddings.dtype == np.float32


def test_labels_hold_sections_authors_tags() -> None:
    pool = pool_of(
        article(1, section="Sport", authors=("Ada", "Tom"), tags=("f1", "f1", "cars")),
        article(2, section="", tags=()),
    )
    assert pool.section_of(0) == "Sport"
    assert pool.section_of(1) == ""
    assert pool.authors.of(0) == ("Ada", "Tom")
    assert pool.tags.of(0) == ("f1", "cars")  # duplicates collapse
    assert pool.tags.mask_any(["cars"]).tolist() == [True, False]
    assert pool.sections.mask_any([""]).tolist() == [False, False]  # "" never matches a rule


def test_max_over_is_the_same_for_single_and_multi_valued_labels() -> None:
    pool = pool_of(
        article(1, section="Sport", tags=("a", "b")),
        article(2, section="", tags=()),
        article(3, section="Politics", tags=("b",)),
    )
    assert pool.sections.single is not None  # one section each: looked up directly
    assert pool.tags.single is None
    rows = np.asarray([2, 1, 0, 0])
    sections = pool.sections.max_over(pool.sections.values_by_code({"Sport": 0.5}), rows)
    assert sections.dtype == np.float32
    assert sections.tolist() == [0.0, 0.0, 0.5, 0.5]
    negative = pool.sections.values_by_code({"Sport": -0.5, "Politics": 0.25})
    assert pool.sections.max_over(negative, rows).tolist() == [0.25, 0.0, 0.0, 0.0]
    tags = pool.tags.max_over(pool.tags.values_by_code({"a": 0.25, "b": 0.75}), rows)
    assert tags.tolist() == [0.75, 0.0, 0.75, 0.75]


def test_covisits_keep_only_pool_neighbours_with_positive_weights() -> None:
    pool = pool_of(
        article(1),
        article(2),
        covisits={1: [(2, 3.0), (99, 5.0), (2, 1.0)], 500: [(1, 2.0), (2, -1.0)], 3: [(77, 1.0)]},
    )
    rows, weights = pool.covisits[1]
    assert rows.tolist() == [1]
    assert weights.tolist() == [3.0]
    assert pool.covisits[500][0].tolist() == [0]  # archive articles may be co-visit sources
    assert 3 not in pool.covisits


def test_empty_pool_is_allowed() -> None:
    pool = Pool.from_articles([], dimensions=8)
    assert len(pool) == 0
    assert pool.dimensions == 8


@pytest.mark.parametrize(
    ("articles", "message"),
    [
        ([article(1), article(1)], "appears twice"),
        ([article(1), article(2, vector=[1.0, 2.0])], "same length"),
        ([article(1, vector=[math.nan] * 8)], "non-finite"),
        (
            [ArticleMeta(article_id=1, title="x", embedding=[1.0] * 8, published_at=math.inf)],
            "finite published_at",
        ),
    ],
)
def test_bad_articles_raise_clear_errors(articles: list[ArticleMeta], message: str) -> None:
    with pytest.raises(EngineInputError, match=message):
        Pool.from_articles(articles)


def test_dimension_mismatch_is_reported() -> None:
    with pytest.raises(EngineInputError, match="expected 384"):
        Pool.from_articles([article(1)], dimensions=384)


def test_zero_vector_stays_zero() -> None:
    pool = pool_of(article(1, vector=[0.0] * 8))
    assert not pool.embeddings.any()
    assert pool.published_at[0] < NOW
