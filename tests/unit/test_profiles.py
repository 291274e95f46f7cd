"""profile_compute: order independence, signal weighting, decay, habits and style (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from newsrec.models import EventKind
from newsrec.profiles import ArticleFacts, EventSignal, ProfileData, profile_compute

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
ARTICLES = {
    1: ArticleFacts(section="Sport", tags=("football",), authors=("Ann",), embedding=(1, 0, 0, 0)),
    2: ArticleFacts(section="Politics", tags=("vote",), authors=("Bo",), embedding=(0, 1, 0, 0)),
    3: ArticleFacts(section="Culture", tags=("film", "vote"), embedding=(0, 0, 1, 0)),
    4: ArticleFacts(section="Sport", tags=("tennis",), authors=("Ann", "Cy"), embedding=None),
    5: ArticleFacts(section="Science", embedding=(0.5, 0.5, 0.5, 0.5)),
}


def ev(n: int, kind: str, article: int, minutes: float = 0, **extra: object) -> EventSignal:
    return EventSignal(
        event_id=f"e{n}",
        kind=kind,
        article_id=article,
        occurred_at=T0 + timedelta(minutes=minutes),
        **extra,  # type: ignore[arg-type]
    )


def compute(events: list[EventSignal]) -> ProfileData:
    return profile_compute(events, ARTICLES, half_life_days=14)


event_lists = st.lists(
    st.builds(
        lambda kind, article, minutes, dwell, depth, device, hour, session: (
            kind, article, minutes, dwell, depth, device, hour, session
        ),
        st.sampled_from([k.value for k in EventKind]),
        st.sampled_from(sorted(ARTICLES)),
        st.floats(min_value=0, max_value=60 * 24 * 30, allow_nan=False),
        st.none() | st.floats(min_value=0, max_value=3_600, allow_nan=False),
        st.none() | st.floats(min_value=0, max_value=1, allow_nan=False),
        st.sampled_from(["", "mobile", "desktop"]),
        st.none() | st.integers(min_value=0, max_value=23),
        st.sampled_from(["", "s1", "s2", "s3"]),
    ),
    max_size=40,
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(rows=event_lists, data=st.data())
def test_any_permutation_of_the_events_gives_the_same_profile(
    rows: list[tuple], data: st.DataObject
) -> None:
    events = [
        ev(i, kind, article, minutes, dwell_seconds=dwell, read_depth=depth, device=device,
           local_hour=hour, session_id=session)
        for i, (kind, article, minutes, dwell, depth, device, hour, session) in enumerate(rows)
    ]  # fmt: skip
    shuffled = data.draw(st.permutations(events))
    assert compute(shuffled) == compute(events)


def test_no_events_gives_an_empty_profile() -> None:
    assert compute([]) == ProfileData()


def test_reads_pull_the_vector_and_hides_push_it_away() -> None:
    profile = compute(
        [ev(1, "read", 1, dwell_seconds=240, read_depth=1.0), ev(2, "finish", 1), ev(3, "hide", 2)]
    )
    assert profile.interest_vector is not None
    x, y, _, _ = profile.interest_vector
    assert x > 0 > y
    assert profile.section_affinity == {"Sport": 1.0, "Politics": -0.6}
    assert profile.author_affinity["Ann"] == 1.0
    assert profile.events_counted == 3


def test_cumulative_read_progress_counts_once_not_summed() -> None:
    one = compute([ev(1, "read", 1, dwell_seconds=60), ev(2, "read", 2, dwell_seconds=60)])
    many = compute(
        [ev(1, "read", 1, dwell_seconds=60), ev(2, "read", 2, dwell_seconds=60)]
        + [ev(10 + i, "read", 1, 0.1 * i, dwell_seconds=10.0 * i) for i in range(6)]
    )
    assert one.section_affinity == many.section_affinity == {"Sport": 1.0, "Politics": 1.0}


def test_dwell_is_capped_so_a_forgotten_tab_does_not_dominate() -> None:
    profile = compute(
        [ev(1, "dwell", 1, dwell_seconds=80_000), ev(2, "dwell", 2, dwell_seconds=300)]
    )
    assert profile.section_affinity == {"Sport": 1.0, "Politics": 1.0}


def test_older_interests_decay_by_the_half_life() -> None:
    profile = compute([ev(1, "click", 1, 0), ev(2, "click", 2, 14 * 24 * 60)])
    assert profile.section_affinity == {"Politics": 1.0, "Sport": 0.5}
    assert profile.last_event_at == T0 + timedelta(days=14)


def test_context_habits_and_style() -> None:
    profile = compute(
        [
            ev(1, "click", 1, device="mobile", local_hour=7, session_id="a"),
            ev(2, "click", 4, device="mobile", local_hour=8, session_id="a"),
            ev(3, "click", 2, device="mobile", local_hour=9, session_id="a"),
            ev(4, "finish", 2, device="mobile", local_hour=9, session_id="a"),
            ev(5, "click", 3, device="desktop", local_hour=20, session_id="b"),
            ev(6, "impression", 5, device="desktop", local_hour=20, session_id="b"),
        ]
    )
    assert profile.context_habits == {
        "mobile": {"morning": {"Politics": 0.5, "Sport": 0.5}},
        "desktop": {"evening": {"Culture": 1.0}},
    }
    assert (profile.sessions, profile.avg_session_depth) == (2, 2.0)
    assert profile.completion_rate == 0.25
