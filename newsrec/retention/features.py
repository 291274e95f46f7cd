"""Churn-risk features of one reader, from their own events: plain functions, no database.

Everything is computed "as of" a moment from the events of the ``window_days`` before it, so
the same function labels the past (training) and scores the present.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

DAY = 86_400.0
SESSION_GAP_SECONDS = 30 * 60  # a pause longer than this starts a new visit
OPENED = frozenset({"click", "read", "dwell", "finish", "share"})  # the reader opened the story
NEGATIVE = frozenset({"hide", "skip"})
# Habit slots: weekdays or weekends, by part of the (reader's local) day; "night" spans midnight.
DAYPARTS: tuple[tuple[str, int, int], ...] = (
    ("night", 0, 5),
    ("morning", 5, 12),
    ("afternoon", 12, 18),
    ("evening", 18, 23),
    ("night", 23, 24),
)
HABIT_MIN_VISITS = 3  # days with a visit in the slot before it counts as a habit
HABIT_MIN_SHARE = 0.6  # ... and the share of the slot's occurrences (up to the last visit) read


@dataclass(frozen=True)
class EventRow:
    """The parts of one event that risk features use."""

    at: datetime
    kind: str
    article_id: int = 0
    read_depth: float | None = None
    session_id: str = ""
    local_hour: int | None = None  # as the reader's browser reported it


@dataclass(frozen=True)
class Habit:
    """A visit slot the reader keeps, and how many of its latest occurrences they missed."""

    days: str  # "weekday" or "weekend"
    daypart: str  # "morning", "afternoon", "evening", "night"
    visits: int
    missed: int

    def describe(self) -> str:
        times = "time" if self.missed == 1 else "times"
        return f"Usually reads on {self.days} {self.daypart}s, missed {self.missed} {times}"


@dataclass(frozen=True)
class RiskFeatures:
    """One reader's signals as of a moment; ``vector()`` is what the model reads."""

    days_since_last: float
    recency_ratio: float  # days since last visit / the reader's usual days between visits
    active_days: int
    sessions: int
    frequency_trend: float  # -1 (all visits in the earlier half of the window) .. 1
    session_depth: float  # stories opened per visit
    depth_trend: float  # later half minus earlier half
    completion: float  # share of opened stories finished
    completion_trend: float
    habit_missed: int  # most missed occurrences in a row of any habitual slot
    hides: int
    skips: int
    negative_share: float  # hides and skips among hides, skips and stories opened
    habit: Habit | None = None

    NAMES = (
        "days_since_last", "recency_ratio", "active_days", "sessions", "frequency_trend",
        "session_depth", "depth_trend", "completion", "completion_trend", "habit_missed",
        "hides", "skips", "negative_share",
    )  # fmt: skip

    def vector(self) -> list[float]:
        return [float(getattr(self, name)) for name in self.NAMES]


@dataclass(frozen=True)
class _Session:
    start: datetime
    opened: int
    finished: int


def sessions_of(events: Sequence[EventRow]) -> list[_Session]:
    """Visits: events grouped by session id, or by pauses longer than SESSION_GAP_SECONDS."""
    out: list[_Session] = []
    start: datetime | None = None
    last: EventRow | None = None
    opened: set[int] = set()
    finished: set[int] = set()
    for event in sorted(events, key=lambda e: e.at):
        new = (
            last is None
            or (event.at - last.at).total_seconds() > SESSION_GAP_SECONDS
            or bool(event.session_id and last.session_id and event.session_id != last.session_id)
        )
        if new:
            if start is not None:
                out.append(_Session(start, len(opened), len(finished & opened)))
            start, opened, finished = event.at, set(), set()
        if event.kind in OPENED:
            opened.add(event.article_id)
        if event.kind == "finish" or (event.read_depth or 0.0) >= 0.9:
            opened.add(event.article_id)
            finished.add(event.article_id)
        last = event
    if start is not None:
        out.append(_Session(start, len(opened), len(finished & opened)))
    return out


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _trend(earlier: Sequence[float], later: Sequence[float]) -> float:
    """Mean of the later half minus the earlier half; 0 unless both halves have visits."""
    return _mean(later) - _mean(earlier) if earlier and later else 0.0


def _completion(sessions: Sequence[_Session]) -> float:
    opened = sum(s.opened for s in sessions)
    return sum(s.finished for s in sessions) / opened if opened else 0.0


def local_offset_hours(events: Sequence[EventRow]) -> int:
    """The reader's usual offset from UTC, from the local hours their browser reported."""
    offsets = Counter(
        ((e.local_hour - e.at.hour + 12) % 24) - 12 for e in events if e.local_hour is not None
    )
    return offsets.most_common(1)[0][0] if offsets else 0


def slot_of(moment: datetime) -> tuple[str, str]:
    days = "weekend" if moment.weekday() >= 5 else "weekday"
    part = next(name for name, low, high in DAYPARTS if low <= moment.hour < high)
    return days, part


def _occurrences(days: str, part: str, *, first: date, local_now: datetime) -> list[date]:
    """The days whose ``days``/``part`` slot is over by ``local_now``, from ``first`` on."""
    hours = max(high for name, _low, high in DAYPARTS if name == part)
    out: list[date] = []
    day = first
    while day <= local_now.date():
        kind = "weekend" if day.weekday() >= 5 else "weekday"
        end = datetime.combine(day, time(), tzinfo=local_now.tzinfo) + timedelta(hours=hours)
        if kind == days and end <= local_now:
            out.append(day)
        day += timedelta(days=1)
    return out


def habit_missed(events: Sequence[EventRow], *, as_of: datetime, window_days: int) -> Habit | None:
    """The habitual slot with the most occurrences missed in a row since the last visit in it.

    A slot (weekday mornings, weekend evenings, ...) is a habit when the reader visited on at
    least HABIT_MIN_VISITS days in it and on HABIT_MIN_SHARE of its occurrences up to their last
    visit there. Occurrences count only once they are over, in the reader's local time.
    """
    if not events:
        return None
    offset = timedelta(hours=local_offset_hours(events))
    local_now = as_of + offset
    first = (as_of - timedelta(days=window_days) + offset).date()
    visited: dict[tuple[str, str], set[date]] = {}
    for event in events:
        local = event.at + offset
        visited.setdefault(slot_of(local), set()).add(local.date())
    best: Habit | None = None
    for (days, part), seen in sorted(visited.items()):
        if len(seen) < HABIT_MIN_VISITS:
            continue
        occurrences = _occurrences(days, part, first=first, local_now=local_now)
        last_seen = max(seen)
        upto = [d for d in occurrences if d <= last_seen]
        if not upto or len(seen) / len(upto) < HABIT_MIN_SHARE:
            continue
        missed = sum(1 for d in occurrences if d > last_seen)
        if best is None or missed > best.missed:
            best = Habit(days=days, daypart=part, visits=len(seen), missed=missed)
    return best


def risk_features(
    events: Sequence[EventRow], *, as_of: datetime, window_days: int = 28
) -> RiskFeatures:
    """The reader's signals as of ``as_of``, from their events in the window before it."""
    start = as_of - timedelta(days=window_days)
    middle = as_of - timedelta(days=window_days / 2)
    recent = [e for e in events if start <= e.at < as_of]
    sessions = sessions_of(recent)
    if not sessions:
        return RiskFeatures(
            days_since_last=float(window_days), recency_ratio=float(window_days),
            active_days=0, sessions=0, frequency_trend=0.0, session_depth=0.0,
            depth_trend=0.0, completion=0.0, completion_trend=0.0, habit_missed=0,
            hides=0, skips=0, negative_share=0.0,
        )  # fmt: skip
    last = max(e.at for e in recent)
    days_since = (as_of - last).total_seconds() / DAY
    active_days = len({e.at.date() for e in recent})
    usual_gap = window_days / active_days
    earlier = [s for s in sessions if s.start < middle]
    later = [s for s in sessions if s.start >= middle]
    frequency_trend = (len(later) - len(earlier)) / len(sessions)
    opened = sum(s.opened for s in sessions)
    hides = sum(1 for e in recent if e.kind == "hide")
    skips = sum(1 for e in recent if e.kind == "skip")
    habit = habit_missed(recent, as_of=as_of, window_days=window_days)
    return RiskFeatures(
        days_since_last=round(days_since, 4),
        recency_ratio=round(days_since / usual_gap, 4),
        active_days=active_days,
        sessions=len(sessions),
        frequency_trend=round(frequency_trend, 4),
        session_depth=round(_mean([s.opened for s in sessions]), 4),
        depth_trend=round(_trend([s.opened for s in earlier], [s.opened for s in later]), 4),
        completion=round(_completion(sessions), 4),
        completion_trend=round(
            _completion(later) - _completion(earlier) if earlier and later else 0.0, 4
        ),
        habit_missed=habit.missed if habit else 0,
        hides=hides,
        skips=skips,
        negative_share=round((hides + skips) / (hides + skips + opened + 1), 4),
        habit=habit,
    )
