"""Each rule kind through the ranker, and how conflicting rules resolve and are reported."""

from __future__ import annotations

import pytest

from newsrec.engine import (
    Boost,
    ConflictKind,
    EngineInputError,
    Filters,
    Freshness,
    FreshSource,
    Pin,
    Ranker,
    Rules,
    Segment,
)
from newsrec.engine.pool import Pool
from newsrec.engine.types import FeedResult, ReaderState
from tests.unit.engine.builders import HOUR, NOW, article, ctx, pool_of, reader

# a source that proposes every live article, so rules alone decide the feed
EVERYTHING = [FreshSource(window_hours=10_000, limit=10_000)]


def feed(pool: Pool, rules: Rules, who: ReaderState | None = None, **context: object) -> FeedResult:
    return Ranker(EVERYTHING).rank(pool, who or reader(), ctx(**context), rules, n=10)


def kinds(result: FeedResult) -> list[str]:
    return [c.kind for c in result.conflicts]


POOL = pool_of(
    article(1, section="Politics", authors=("Ada",), tags=("election",), hours_old=1),
    article(2, section="Sport", authors=("Bo",), tags=("football",), hours_old=2),
    article(3, section="Science", authors=("Cy",), tags=("space",), hours_old=3),
    article(4, section="Sport", authors=("Ada",), tags=("tennis",), hours_old=50),
)


@pytest.mark.parametrize(
    ("filters", "gone"),
    [
        (Filters(blocked_sections=frozenset({"Sport"})), {2, 4}),
        (Filters(blocked_tags=frozenset({"space"})), {3}),
        (Filters(blocked_authors=frozenset({"Ada"})), {1, 4}),
        (Filters(blocked_articles=frozenset({2, 999})), {2}),
        (Filters(max_age_hours=24), {4}),
        (Filters(max_age_hours=2.5, max_age_hours_by_section={"Sport": 100}), {3}),
        (Filters(), set()),
    ],
)
def test_hard_filters(filters: Filters, gone: set[int]) -> None:
    result = feed(POOL, Rules(filters=filters))
    assert set(result.article_ids) == {1, 2, 3, 4} - gone


def test_not_live_articles_never_appear() -> None:
    pool = pool_of(
        article(1),
        article(2, retracted=True),
        article(3, embargo_until=NOW + HOUR),
        article(4, embargo_until=NOW - HOUR),
        article(5, hours_old=-2),  # scheduled for the future
    )
    assert sorted(feed(pool, Rules()).article_ids) == [1, 4]


def test_read_and_hidden_articles_are_excluded() -> None:
    who = reader(read_ids=frozenset({1}), hidden_ids=frozenset({3}))
    assert sorted(feed(POOL, Rules(), who).article_ids) == [2, 4]


@pytest.mark.parametrize(
    ("boost", "first"),
    [
        (Boost("section", "Science", 50.0), 3),
        (Boost("tag", "football", 50.0), 2),
        (Boost("author", "Bo", 50.0), 2),
        (Boost("article", 4, 500.0), 4),
        (Boost("section", "Politics", 0.01), 2),  # a bury moves the leader down
        (Boost("section", "Science", 50.0, valid_from=NOW + 1), 1),  # not yet active
        (Boost("section", "Science", 50.0, valid_until=NOW), 1),  # expired (half-open window)
    ],
)
def test_boosts_and_buries(boost: Boost, first: int) -> None:
    assert feed(POOL, Rules(boosts=(boost,))).article_ids[0] == first


def test_matching_boosts_multiply_and_show_in_breakdown() -> None:
    rules = Rules(boosts=(Boost("section", "Sport", 2.0), Boost("tag", "football", 3.0)))
    item = next(i for i in feed(POOL, rules).items if i.article_id == 2)
    assert item.breakdown["rules"] == pytest.approx(6.0)


def test_freshness_half_life_per_section() -> None:
    pool = pool_of(
        article(1, section="Opinion", hours_old=24), article(2, section="News", hours_old=24)
    )
    rules = Rules(freshness=Freshness(half_life_hours=24, by_section={"Opinion": 240}))
    items = {i.article_id: i for i in feed(pool, rules).items}
    assert items[2].breakdown["decay"] == pytest.approx(0.5)
    assert items[1].breakdown["decay"] == pytest.approx(0.5**0.1)
    assert [i.article_id for i in feed(pool, rules).items] == [1, 2]


def test_pin_takes_its_slot_with_reason() -> None:
    result = feed(POOL, Rules(pins=(Pin(4, slot=1, rule_id=7),)))
    first = result.items[0]
    assert (first.article_id, first.source, first.reason) == (4, "pin", "Pinned by the editors")
    assert result.conflicts == ()


@pytest.mark.parametrize(
    ("pin", "context", "who", "applies"),
    [
        (
            Pin(4, 2, segment=Segment(devices=frozenset({"mobile"}))),
            {"device": "mobile"},
            reader(),
            True,
        ),
        (
            Pin(4, 2, segment=Segment(devices=frozenset({"mobile"}))),
            {"device": "desktop"},
            reader(),
            False,
        ),
        (Pin(4, 2, segment=Segment(visitors="new")), {}, reader(), True),
        (Pin(4, 2, segment=Segment(visitors="new")), {}, reader(read_ids=frozenset({9})), False),
        (
            Pin(4, 2, segment=Segment(visitors="returning")),
            {},
            reader(read_ids=frozenset({9})),
            True,
        ),
        (Pin(4, 2, valid_from=NOW - 10, valid_until=NOW + 10), {}, reader(), True),
        (Pin(4, 2, valid_from=NOW + 10), {}, reader(), False),
        (Pin(4, 2, valid_until=NOW), {}, reader(), False),
    ],
)
def test_pin_segments_and_windows(
    pin: Pin, context: dict[str, str], who: ReaderState, applies: bool
) -> None:
    result = feed(POOL, Rules(pins=(pin,)), who, **context)
    assert (result.items[1].article_id == 4 and result.items[1].pinned) is applies
    assert result.conflicts == ()  # inactive pins are not conflicts


def test_pin_on_blocked_article_is_dropped_and_reported() -> None:
    rules = Rules(
        filters=Filters(blocked_sections=frozenset({"Sport"})), pins=(Pin(2, slot=1, rule_id=5),)
    )
    result = feed(POOL, rules)
    assert 2 not in result.article_ids
    assert kinds(result) == [ConflictKind.PIN_BLOCKED]
    assert result.conflicts[0].rule_id == 5
    assert result.conflicts[0].article_id == 2


def test_pin_beyond_max_age_is_blocked() -> None:
    result = feed(POOL, Rules(filters=Filters(max_age_hours=10), pins=(Pin(4, slot=1),)))
    assert 4 not in result.article_ids
    assert kinds(result) == [ConflictKind.PIN_BLOCKED]


@pytest.mark.parametrize(
    ("pool_pin", "who", "kind"),
    [
        (Pin(999, 1), reader(), ConflictKind.PIN_NOT_IN_POOL),
        (Pin(1, 1), reader(hidden_ids=frozenset({1})), ConflictKind.PIN_EXCLUDED),
        (Pin(1, 1), reader(read_ids=frozenset({1})), ConflictKind.PIN_EXCLUDED),
        (Pin(1, 11), reader(), ConflictKind.PIN_OUT_OF_RANGE),
    ],
)
def test_other_dropped_pins_are_reported(pool_pin: Pin, who: ReaderState, kind: str) -> None:
    assert kinds(feed(POOL, Rules(pins=(pool_pin,)), who)) == [kind]


@pytest.mark.parametrize(
    ("pins", "winner"),
    [
        ((Pin(1, 1, priority=1), Pin(2, 1, priority=5)), 2),
        ((Pin(1, 1, priority=5), Pin(2, 1, priority=1)), 1),
        ((Pin(1, 1, created_at=NOW - 10), Pin(2, 1, created_at=NOW - 20)), 1),  # later created
        ((Pin(1, 1), Pin(2, 1)), 2),  # full tie: later in the rule set
    ],
)
def test_two_pins_for_one_slot(pins: tuple[Pin, ...], winner: int) -> None:
    result = feed(POOL, Rules(pins=pins))
    assert result.items[0].article_id == winner
    assert kinds(result) == [ConflictKind.PIN_SLOT_TAKEN]
    loser = ({1, 2} - {winner}).pop()
    assert result.conflicts[0].article_id == loser
    assert loser in result.article_ids  # the losing article is still ranked normally


def test_blocked_high_priority_pin_frees_the_slot() -> None:
    rules = Rules(
        filters=Filters(blocked_articles=frozenset({1})),
        pins=(Pin(1, 1, priority=9), Pin(2, 1, priority=1)),
    )
    result = feed(POOL, rules)
    assert result.items[0].article_id == 2
    assert kinds(result) == [ConflictKind.PIN_BLOCKED]


def test_same_article_pinned_twice_keeps_stronger_pin() -> None:
    result = feed(POOL, Rules(pins=(Pin(3, 1, priority=2), Pin(3, 4, priority=1))))
    assert result.article_ids.count(3) == 1
    assert result.items[0].article_id == 3
    assert kinds(result) == [ConflictKind.PIN_DUPLICATE]


def test_pin_moves_up_when_too_few_articles() -> None:
    result = feed(POOL, Rules(pins=(Pin(4, slot=9),)))
    assert result.article_ids[-1] == 4
    assert len(result.items) == 4
    assert kinds(result) == [ConflictKind.PIN_MOVED]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Boost("section", "x", 0.0), "factor"),
        (lambda: Boost("colour", "x", 2.0), "field"),  # type: ignore[arg-type]
        (lambda: Pin(1, slot=0), "slot"),
        (lambda: Pin(1, 1, valid_from=NOW, valid_until=NOW - 1), "ends before"),
        (lambda: Filters(max_age_hours=-1), "max_age_hours"),
        (lambda: Freshness(by_section={"Sport": 0}), "half-life"),
        (lambda: Segment(visitors="vip"), "visitors"),  # type: ignore[arg-type]
    ],
)
def test_invalid_rules_raise_clear_errors(build: object, message: str) -> None:
    with pytest.raises(EngineInputError, match=message):
        build()  # type: ignore[operator]


def test_rules_version_is_carried() -> None:
    assert feed(POOL, Rules(version=42)).rules_version == 42
