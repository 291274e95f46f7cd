"""Validation of one incoming reader event (no database): rules, messages and their order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from newsrec.events import EventRejected, validate_event

NOW = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
VALID = {
    "event_id": "ev-1",
    "kind": "dwell",
    "article_id": 42,
    "occurred_at": "2026-11-28T10:29:00+01:00",
    "dwell_seconds": 12,
    "device": " mobile ",
    "session_id": "s-1",
}


def reasons(raw: Any) -> dict[str, str]:
    with pytest.raises(EventRejected) as caught:
        validate_event(raw, now=NOW)
    return caught.value.reasons


def test_valid_event_is_cleaned() -> None:
    data = validate_event(VALID, now=NOW, default_device="desktop")
    assert data.occurred_at == NOW - timedelta(minutes=1)
    assert data.dwell_seconds == 12.0
    assert isinstance(data.dwell_seconds, float)
    assert data.device == "mobile"  # stripped; the default only applies when none is sent
    assert validate_event({**VALID, "device": None}, now=NOW, default_device="tablet").device == (
        "tablet"
    )
    assert validate_event({**VALID, "occurred_at": "2026-11-28T09:29:00"}, now=NOW).occurred_at == (
        NOW - timedelta(minutes=1)
    )  # no offset: UTC


@pytest.mark.parametrize("field", ["dwell_seconds", "read_depth"])
def test_an_integer_too_large_for_a_float_is_a_reason_not_a_crash(field: str) -> None:
    # json.loads reads 400 digits as an int; float() of it raised OverflowError (a 500).
    assert reasons({**VALID, field: 10**400}) == {field: "must be a finite number"}


def test_every_problem_is_reported_in_one_fixed_order() -> None:
    raw = {
        "session_id": "x" * 65,
        "weekday": 9,
        "colour": "red",
        "occurred_at": "yesterday",
        "kind": "dwell",
        "event_id": "",
    }
    expected = {
        "event": "unknown field(s): colour",
        "event_id": "is required",
        "article_id": "is required (or article_external_id)",
        "dwell_seconds": "is required for dwell events",
        "occurred_at": "is not a valid ISO 8601 date/time: 'yesterday'",
        "weekday": "must be between 0 and 6",
        "session_id": "is too long (65 characters; the limit is 64)",
    }
    got = reasons(raw)
    assert got == expected
    assert list(got) == list(expected)
    assert list(reasons(dict(reversed(raw.items())))) == list(expected)


@pytest.mark.parametrize(
    ("extra", "field", "message"),
    [
        ({"kind": "poke"}, "kind", "must be one of"),
        ({"kind": 3}, "kind", "must be a string"),
        ({"article_id": True}, "article_id", "must be an integer"),
        ({"article_id": 0}, "article_id", "must be between 1 and"),
        ({"dwell_seconds": "5"}, "dwell_seconds", "must be a number"),
        ({"dwell_seconds": 86_401}, "dwell_seconds", "must be between 0 and 86400"),
        ({"read_depth": 1.5}, "read_depth", "must be between 0 and 1"),
        ({"device": "fridge"}, "device", "must be one of desktop, mobile, tablet"),
        ({"referrer": "pigeon"}, "referrer", "must be one of"),
        ({"session_id": "a\x00b"}, "session_id", "contains a NUL byte"),
        ({"surface": "x\ud800"}, "surface", "(lone surrogate)"),
        ({"occurred_at": "2026-11-28T09:30:00+16:00"}, "occurred_at", "beyond ±14:00"),
        ({"occurred_at": "0001-01-01T00:00:00+01:00"}, "occurred_at", "out of range"),
        ({"occurred_at": "2026-11-28T09:36:00+00:00"}, "occurred_at", "in the future"),
        ({"occurred_at": "2026-11-20T09:30:00+00:00"}, "occurred_at", "older than"),
        ({"occurred_at": None}, "occurred_at", "is required"),
    ],
)
def test_bad_field_gets_its_reason(extra: dict[str, Any], field: str, message: str) -> None:
    got = reasons({**VALID, **extra})
    assert list(got) == [field]
    assert message in got[field]


# The ingestion fast path (#18.5) must accept exactly what validate_event accepts, cleaned the
# same way, and hand everything else to it (which answers the reasons).
WINDOW = (NOW - timedelta(days=7), NOW + timedelta(minutes=5))
EDGE_EVENTS = [
    VALID,
    {**VALID, "kind": "impression", "feed_slot": 0, "surface": "home", "recommendation_id": "r"},
    {**VALID, "kind": "read", "dwell_seconds": 0, "read_depth": 1, "local_hour": 23, "weekday": 6},
    {**VALID, "dwell_seconds": 86_400, "read_depth": 0.0},
    {**VALID, "article_id": 2**63 - 1, "article_external_id": "cms-1"},
    {k: v for k, v in VALID.items() if k != "article_id"} | {"article_external_id": " cms-9 "},
    {**VALID, "device": ""},
    {**VALID, "device": " tablet", "referrer": "social ", "session_id": "  "},
    {**VALID, "event_id": "  e  ", "kind": " click "},
    {**VALID, "occurred_at": "2026-11-28T09:29:00Z"},
    {**VALID, "occurred_at": "2026-11-28T09:29:00"},
    {**VALID, "occurred_at": "2026-11-28 09:29:00.123456+03:30"},
    {**VALID, "occurred_at": "2026-11-28T09:35:00+00:00"},  # exactly the latest accepted
    {**VALID, "occurred_at": "2026-11-21T09:30:00+00:00"},  # exactly the earliest accepted
    {**VALID, "occurred_at": " 2026-11-28T09:29:00+00:00 "},
    {**VALID, "occurred_at": "2026-11-28"},
    {**VALID, "session_id": "ü" * 64, "surface": "'\"\\"},
    # every one of these is rejected, or taken only by the full check
    {**VALID, "event_id": ""},
    {**VALID, "event_id": " "},
    {**VALID, "event_id": "x" * 65},
    {**VALID, "event_id": " " * 10 + "x" * 60},
    {**VALID, "event_id": 7},
    {**VALID, "kind": "poke"},
    {**VALID, "kind": None},
    {k: v for k, v in VALID.items() if k != "kind"},
    {k: v for k, v in VALID.items() if k != "article_id"},
    {k: v for k, v in VALID.items() if k != "dwell_seconds"},
    {k: v for k, v in VALID.items() if k != "occurred_at"},
    {**VALID, "article_id": 0},
    {**VALID, "article_id": 1.0},
    {**VALID, "article_id": True},
    {**VALID, "article_id": "5"},
    {**VALID, "article_id": 2**63},
    {**VALID, "article_id": None, "article_external_id": "cms-1"},
    {**VALID, "dwell_seconds": True},
    {**VALID, "dwell_seconds": -0.1},
    {**VALID, "dwell_seconds": float("nan")},
    {**VALID, "dwell_seconds": float("inf")},
    {**VALID, "dwell_seconds": 10**400},
    {**VALID, "read_depth": 1.0000001},
    {**VALID, "feed_slot": 10_001},
    {**VALID, "local_hour": -1},
    {**VALID, "weekday": 6.0},
    {**VALID, "device": "fridge"},
    {**VALID, "device": "Mobile"},
    {**VALID, "surface": "a\tb"},
    {**VALID, "surface": "a\x00b"},
    {**VALID, "surface": "x\ud800"},
    {**VALID, "surface": "\u200b"},
    {**VALID, "recommendation_id": "y" * 5000},
    {**VALID, "colour": "red"},
    {**VALID, "reader_id": "someone"},
    {**VALID, "occurred_at": "yesterday"},
    {**VALID, "occurred_at": ""},
    {**VALID, "occurred_at": 1764322140},
    {**VALID, "occurred_at": "2026-11-28T09:35:01+00:00"},
    {**VALID, "occurred_at": "2026-11-21T09:29:59+00:00"},
    {**VALID, "occurred_at": "2026-11-28T09:30:00+16:00"},
    {**VALID, "occurred_at": "0001-01-01T00:00:00+01:00"},
    {**VALID, "occurred_at": "2026-13-28T09:29:00+00:00"},
]


@pytest.mark.parametrize("raw", EDGE_EVENTS)
@pytest.mark.parametrize("default_device", ["", "desktop"])
def test_fast_path_takes_only_what_the_full_check_accepts(
    raw: dict[str, Any], default_device: str
) -> None:
    from newsrec.events import EventData, _fast_row, _row_of

    fast = _fast_row(raw, *WINDOW, default_device)
    try:
        data: EventData | None = validate_event(raw, now=NOW, default_device=default_device)
    except EventRejected:
        data = None
    if data is None:
        assert fast is None
    elif fast is not None:
        # Text left out is stored as "" either way (_STORE), and occurred_at travels as ISO text.
        full = {k: v for k, v in _row_of(data).items() if v != ""}
        fast = {k: v for k, v in fast.items() if v != ""}
        assert fast == full
        assert [type(v) for v in fast.values()] == [type(full[k]) for k in fast]


def test_plain_events_take_the_fast_path() -> None:
    from newsrec.events import _fast_row

    for raw in EDGE_EVENTS[:17]:
        assert _fast_row(raw, *WINDOW, "") is not None, raw


def test_no_fast_path_event_can_exceed_the_size_limit() -> None:
    from newsrec.events import _SPECS, FAST_MAX_REPR, MAX_EVENT_BYTES

    assert FAST_MAX_REPR < MAX_EVENT_BYTES
    longest = {
        name: ('"\\' * 300)[:high] if form == 0 else -1.2345678901234567e-308 if form == 2 else high
        for name, (form, _low, high) in _SPECS.items()
    }
    assert len(repr(longest)) <= FAST_MAX_REPR
