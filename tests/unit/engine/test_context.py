"""Read-time context re-rank: habits lift sections lightly; pins never move."""

from __future__ import annotations

import pytest

from newsrec.engine import EngineInputError, FeedItem, context_rerank
from newsrec.engine.types import daypart_of
from tests.unit.engine.builders import ctx, reader

SPORT_ON_MOBILE_MORNINGS = reader(
    read_ids=frozenset({1}), context_habits={("mobile", "morning"): {"Sport": 1.0}}
)


def item(article_id: int, section: str, source: str = "interest") -> FeedItem:
    return FeedItem(article_id, 1.0, source, "Recommended for you", {}, section=section)


FEED = [
    item(1, "Politics", source="pin"),
    item(2, "Politics"),
    item(3, "Science"),
    item(4, "Culture"),
    item(5, "Politics"),
    item(6, "Sport"),
    item(7, "Sport"),
]


def ids(items: list[FeedItem]) -> list[int]:
    return [i.article_id for i in items]


def test_sport_rises_on_mobile_in_the_morning_and_pins_stay() -> None:
    morning = context_rerank(FEED, SPORT_ON_MOBILE_MORNINGS, ctx(device="mobile", local_hour=7))
    assert ids(morning) == [1, 6, 7, 2, 3, 4, 5]
    assert morning[0].pinned


@pytest.mark.parametrize(
    "context",
    [
        {"device": "desktop", "local_hour": 7},
        {"device": "mobile", "local_hour": 20},
        {"device": "mobile"},  # hour unknown
    ],
)
def test_other_contexts_keep_the_stored_order(context: dict[str, object]) -> None:
    assert ids(context_rerank(FEED, SPORT_ON_MOBILE_MORNINGS, ctx(**context))) == ids(FEED)


def test_shift_is_bounded() -> None:
    weak = reader(context_habits={("mobile", "morning"): {"Sport": 0.4}})
    moved = context_rerank(FEED, weak, ctx(device="mobile", local_hour=7), max_shift=5)
    assert ids(moved) == [1, 2, 3, 6, 4, 7, 5]  # 0.4 * 5 = 2 places up, no more


def test_personalisation_off_disables_habits() -> None:
    off = reader(
        personalisation_enabled=False, context_habits={("mobile", "morning"): {"Sport": 1.0}}
    )
    assert ids(context_rerank(FEED, off, ctx(device="mobile", local_hour=7))) == ids(FEED)


def test_negative_shift_is_rejected() -> None:
    with pytest.raises(EngineInputError, match="max_shift"):
        context_rerank(FEED, SPORT_ON_MOBILE_MORNINGS, ctx(), max_shift=-1)


@pytest.mark.parametrize(
    ("hour", "part"),
    [
        (5, "morning"),
        (11, "morning"),
        (12, "afternoon"),
        (17, "evening"),
        (22, "night"),
        (3, "night"),
    ],
)
def test_dayparts(hour: int, part: str) -> None:
    assert daypart_of(hour) == part
