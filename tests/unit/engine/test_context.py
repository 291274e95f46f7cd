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


def test_a_habit_that_moved_an_item_up_says_so_in_its_reason() -> None:
    """#12.10: context shows in reasons ("You often read Sport in the morning")."""
    morning = context_rerank(FEED, SPORT_ON_MOBILE_MORNINGS, ctx(device="mobile", local_hour=7))
    assert morning[1].reason == "You often read Sport in the morning on your phone"
    assert morning[3].reason == "Recommended for you"  # Politics: no habit


def test_bingers_get_more_of_what_they_started_and_samplers_the_standouts() -> None:
    feed = [
        item(1, "Politics"), item(2, "Science"), item(3, "Culture"), item(4, "Politics"),
        item(5, "Sport", source="because_you_read"), item(6, "Sport", source="trending"),
    ]  # fmt: skip
    binge = reader(read_ids=frozenset({9}), style="binge")
    sample = reader(read_ids=frozenset({9}), style="sample")
    assert ids(context_rerank(feed, binge, ctx()))[:3] == [1, 2, 5]
    assert ids(context_rerank(feed, sample, ctx()))[:4] == [1, 2, 3, 6]
    opted_out = reader(read_ids=frozenset({9}), style="binge", personalisation_enabled=False)
    assert ids(context_rerank(feed, opted_out, ctx())) == ids(feed)


def test_reading_style_needs_a_few_sessions() -> None:
    from newsrec.engine.types import reading_style

    assert reading_style(sessions=2, avg_session_depth=5.0) == ""
    assert reading_style(sessions=5, avg_session_depth=3.0) == "binge"
    assert reading_style(sessions=5, avg_session_depth=1.0) == "sample"
    assert reading_style(sessions=5, avg_session_depth=2.0) == ""
