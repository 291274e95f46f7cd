"""The engine's view of a reader from events (pure), and co-visitation from pairs."""

from __future__ import annotations

from newsrec.feeds import CLICK_SEED_WEIGHT, covisits_from_engaged, reader_state_build


def test_a_site_that_sends_only_clicks_still_gets_because_you_read_seeds() -> None:
    state = reader_state_build(
        1, [(10, "click", None, None, True), (11, "click", None, None, True)]
    )
    assert {s.article_id for s in state.seeds} == {10, 11}
    assert {s.weight for s in state.seeds} == {CLICK_SEED_WEIGHT}
    assert state.read_ids == {10, 11}


def test_with_read_progress_a_bounced_click_is_no_seed() -> None:
    events = [
        (10, "click", None, None, True),
        (11, "click", None, None, True),
        (11, "dwell", 45.0, 0.4, True),
    ]
    state = reader_state_build(1, events)
    assert [s.article_id for s in state.seeds] == [11]


def test_clicks_without_profiling_consent_are_never_seeds() -> None:
    state = reader_state_build(1, [(10, "click", None, None, False)])
    assert state.seeds == ()
    assert state.read_ids == {10}


def test_impressions_without_a_click_count_as_fatigue() -> None:
    events = [(10, "impression", None, None, True)] * 2 + [(11, "impression", None, None, True)]
    events.append((11, "click", None, None, True))
    assert reader_state_build(1, events).unclicked_impressions == {10: 2}


def test_fatigue_counts_hours_shown_before_this_one_not_reloads() -> None:
    """Reloading (impressions only) within the hour changes nothing; each earlier hour an
    article was shown without a click counts once (#12.9)."""
    now = 500_000
    reloads = [(10, "impression", None, None, True, now)] * 6
    assert reader_state_build(1, reloads, fatigue_before_hour=now).unclicked_impressions == {}
    earlier = [
        (10, "impression", None, None, True, now - 3),
        (10, "impression", None, None, True, now - 3),
        (10, "impression", None, None, True, now - 1),
        *reloads,
    ]
    state = reader_state_build(1, earlier, fatigue_before_hour=now)
    assert state.unclicked_impressions == {10: 2}


def test_covisits_from_pairs_keep_articles_read_by_enough_common_readers() -> None:
    engaged = [("a", 1), ("a", 2), ("b", 1), ("b", 2), ("b", 3), ("c", 1), ("c", 3), ("d", 1)]
    covisits = covisits_from_engaged(engaged, min_readers=2)
    assert covisits[1] == [(2, 2.0), (3, 2.0)]
    assert covisits[2] == [(1, 2.0)]
    assert 4 not in covisits
