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
