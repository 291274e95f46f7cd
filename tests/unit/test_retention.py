"""Churn-risk features against hand-made histories, and the model against recency alone."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from newsrec.retention.features import EventRow, risk_features, sessions_of
from newsrec.retention.model import (
    auc,
    brier,
    churn_fit,
    heuristic_probability,
    reliability,
    training_examples,
)

# A Thursday at noon (UTC): the reader's weekday mornings are over for the day.
NOW = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)


def visit(at: datetime, *, opened: int = 2, finished: int = 1, session: str = "") -> list[EventRow]:
    """One visit: an impression, then ``opened`` stories, the first ``finished`` of them read."""
    events = [EventRow(at=at, kind="impression", article_id=0, session_id=session)]
    for n in range(opened):
        moment = at + timedelta(minutes=2 + 3 * n)
        events.append(EventRow(at=moment, kind="click", article_id=n + 1, session_id=session))
        if n < finished:
            events.append(
                EventRow(at=moment + timedelta(minutes=2), kind="finish", article_id=n + 1,
                         read_depth=1.0, session_id=session)
            )  # fmt: skip
    return events


def weekday_mornings(first: datetime, last: datetime, *, hour: int = 7) -> list[datetime]:
    days = []
    day = first.replace(hour=hour, minute=30)
    while day <= last:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def test_no_history_is_most_overdue() -> None:
    features = risk_features([], as_of=NOW, window_days=28)
    assert features.sessions == 0
    assert features.days_since_last == 28


def test_sessions_split_on_pauses_and_session_ids() -> None:
    start = NOW - timedelta(days=1)
    events = [
        *visit(start),
        *visit(start + timedelta(minutes=20)),  # within 30 minutes: the same visit
        *visit(start + timedelta(hours=3), session="a"),
        *visit(start + timedelta(hours=3, minutes=5), session="b"),  # a new session id
        *visit(start + timedelta(hours=3, minutes=10), session="c"),
    ]
    assert len(sessions_of(events)) == 4


def test_recency_frequency_and_its_trend() -> None:
    # Every day in the first half of the window, twice in the second half, last 5 days ago.
    early = [NOW - timedelta(days=d, hours=2) for d in range(15, 28)]
    late = [NOW - timedelta(days=9, hours=2), NOW - timedelta(days=5, hours=2)]
    events = [e for at in early + late for e in visit(at)]
    features = risk_features(events, as_of=NOW, window_days=28)
    assert features.days_since_last == pytest.approx(5 + 2 / 24 - 13 / 1440, abs=0.01)
    assert features.sessions == 15
    assert features.active_days == 15
    assert features.frequency_trend == pytest.approx((2 - 13) / 15, abs=1e-3)
    assert features.recency_ratio == pytest.approx(features.days_since_last / (28 / 15), abs=1e-3)


def test_session_depth_and_completion_trends() -> None:
    early = [e for d in range(20, 27) for e in visit(NOW - timedelta(days=d), opened=4, finished=4)]
    late = [e for d in range(1, 8) for e in visit(NOW - timedelta(days=d), opened=1, finished=0)]
    features = risk_features(early + late, as_of=NOW, window_days=28)
    assert features.session_depth == pytest.approx((7 * 4 + 7 * 1) / 14)
    assert features.depth_trend == pytest.approx(1 - 4)
    assert features.completion == pytest.approx(28 / 35)
    assert features.completion_trend == pytest.approx(0 - 1)


def test_missed_weekday_mornings() -> None:
    # Reads every weekday morning, then stops after Friday 27 February: Monday 2, Tuesday 3,
    # Wednesday 4 and Thursday 5 March (over at noon) are four mornings missed.
    mornings = weekday_mornings(NOW - timedelta(days=27), datetime(2026, 2, 27, 23, tzinfo=UTC))
    events = [e for at in mornings for e in visit(at)]
    features = risk_features(events, as_of=NOW, window_days=28)
    assert features.habit is not None
    assert (features.habit.days, features.habit.daypart) == ("weekday", "morning")
    assert features.habit_missed == 4
    assert features.habit.describe() == "Usually reads on weekday mornings, missed 4 times"


def test_habit_in_the_readers_local_time() -> None:
    # 22:30 UTC is 07:30 the next morning in UTC+9, as the browser reports it.
    mornings = weekday_mornings(NOW - timedelta(days=27), NOW - timedelta(days=3), hour=7)
    events = [
        EventRow(at=at - timedelta(hours=9), kind="click", article_id=1, local_hour=7)
        for at in mornings
    ]
    features = risk_features(events, as_of=NOW, window_days=28)
    assert features.habit is not None
    assert features.habit.daypart == "morning"


def test_an_irregular_reader_has_no_habit() -> None:
    times = [NOW - timedelta(days=d, hours=(d * 7) % 24) for d in range(1, 28, 3)]
    features = risk_features([e for at in times for e in visit(at)], as_of=NOW, window_days=28)
    assert features.habit_missed == 0


def test_hides_and_skips() -> None:
    at = NOW - timedelta(days=1)
    events = [
        *visit(at, opened=3),
        EventRow(at=at + timedelta(minutes=15), kind="hide", article_id=7),
        EventRow(at=at + timedelta(minutes=16), kind="skip", article_id=8),
        EventRow(at=at + timedelta(minutes=17), kind="skip", article_id=9),
    ]
    features = risk_features(events, as_of=NOW, window_days=28)
    assert (features.hides, features.skips) == (1, 2)
    assert features.negative_share == pytest.approx(3 / (3 + 3 + 1), abs=1e-3)


def test_events_after_the_moment_do_not_count() -> None:
    events = visit(NOW - timedelta(days=3)) + visit(NOW + timedelta(hours=1))
    assert risk_features(events, as_of=NOW, window_days=28).days_since_last == pytest.approx(
        3 - 5 / 1440, abs=1e-3
    )


def test_heuristic_grows_with_absence_and_missed_habits() -> None:
    mornings = weekday_mornings(NOW - timedelta(days=27), NOW)
    regular = risk_features([e for at in mornings for e in visit(at)], as_of=NOW)
    gone = risk_features([e for at in mornings[:-8] for e in visit(at)], as_of=NOW, window_days=28)
    assert heuristic_probability(regular) < 0.15 < heuristic_probability(gone)


def test_metrics() -> None:
    labels = np.array([0, 0, 1, 1.0])
    assert auc(np.array([0.1, 0.4, 0.35, 0.8]), labels) == pytest.approx(0.75)
    assert auc(np.array([0.5, 0.5, 0.5, 0.5]), labels) == pytest.approx(0.5)
    assert math.isnan(auc(np.array([0.1, 0.2]), np.array([1.0, 1.0])))
    assert brier(np.array([0.0, 1.0]), np.array([0.0, 1.0])) == 0.0
    bins = reliability(np.array([0.05, 0.07, 0.95]), np.array([0.0, 1.0, 1.0]))
    assert bins[0] == {"low": 0.0, "high": 0.1, "count": 2, "predicted": 0.06, "observed": 0.5}


# --- The model against recency alone, on simulated readers ------------------------------------


def simulated_histories(
    seed: int, *, readers: int, days: int, now: datetime = NOW
) -> dict[int, list[EventRow]]:
    """Loyal morning readers, occasional readers and lapsing readers, some on a break.

    Lapsing readers drift away over three weeks before they stop: fewer visits, fewer stories
    per visit, fewer finished, more skipped. Loyal readers sometimes take a week off and come
    back, which recency alone cannot tell from leaving.
    """
    rng = np.random.default_rng(seed)
    start = now - timedelta(days=days)
    histories: dict[int, list[EventRow]] = {}
    for reader in range(readers):
        kind = rng.choice(["loyal", "occasional", "lapsing"], p=[0.35, 0.3, 0.35])
        joined = int(rng.integers(0, days // 2))
        stops = int(rng.integers(days // 3, days + 25)) if kind == "lapsing" else days + 100
        break_from = int(rng.integers(0, days)) if rng.random() < 0.4 else -100
        events: list[EventRow] = []
        for day in range(joined, min(days, stops)):
            date = start + timedelta(days=day)
            weekend = date.weekday() >= 5
            fading = max(0.0, min(1.0, (stops - day) / 21))  # 1 until three weeks before
            if break_from <= day < break_from + int(rng.integers(5, 10)):
                continue
            if kind == "occasional":
                chance, hour = 0.3, int(rng.integers(8, 23))
            else:
                chance, hour = (0.25 if weekend else 0.85), int(rng.integers(6, 9))
            if kind == "lapsing":
                chance *= 0.15 + 0.85 * fading
            if rng.random() >= chance:
                continue
            at = date.replace(hour=hour, minute=int(rng.integers(0, 60)))
            opened = 1 + int(rng.poisson(2.5 * (fading if kind == "lapsing" else 1.0)))
            finish_rate = 0.6 * (fading if kind == "lapsing" else 1.0) + 0.1
            finished = int(rng.binomial(opened, finish_rate))
            events += visit(at, opened=opened, finished=finished)
            skip_rate = 0.05 + (0.4 * (1 - fading) if kind == "lapsing" else 0.0)
            for n in range(int(rng.binomial(4, skip_rate))):
                events.append(EventRow(at=at + timedelta(minutes=25 + n), kind="skip"))
        histories[reader] = events
    return histories


def test_model_beats_recency_alone_on_a_time_split() -> None:
    histories = simulated_histories(7, readers=400, days=91)
    examples = training_examples(
        histories, now=NOW, horizon_days=7, window_days=28, training_days=91
    )
    fit = churn_fit(examples, horizon_days=7, min_examples=200)
    assert fit.params is not None, fit.verdict
    metrics = fit.metrics
    assert metrics["auc"] > metrics["recency_auc"] + 0.02
    assert metrics["brier"] < metrics["base_rate"] * (1 - metrics["base_rate"])  # beats the rate
    assert sum(b["count"] for b in metrics["reliability"]) == fit.sizes["validation"]
    # Calibrated: predicted and observed churn agree where most readers are.
    for row in metrics["reliability"]:
        if row["count"] >= 200:
            assert abs(row["predicted"] - row["observed"]) < 0.1


def test_too_little_history_falls_back_to_the_heuristic() -> None:
    histories = simulated_histories(3, readers=15, days=40)
    examples = training_examples(
        histories, now=NOW, horizon_days=7, window_days=28, training_days=40
    )
    fit = churn_fit(examples, horizon_days=7, min_examples=200)
    assert fit.params is None
    assert "heuristic" in fit.verdict
