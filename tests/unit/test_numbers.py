"""The one strict parser of whole numbers from requests and forms."""

from __future__ import annotations

import pytest

from newsrec.numbers import BIGINT_MAX, ascii_int


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("7", 7), (" 42 ", 42), ("0", 0), (12, 12), (str(BIGINT_MAX), BIGINT_MAX)],
)
def test_ascii_digits_within_range_are_numbers(raw: object, expected: int) -> None:
    assert ascii_int(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["²", "¹", "\u0663", "\uff11", "-1", "+1", "1.0", "1e3", "", " ", "abc", None, True, 1.0,
     str(BIGINT_MAX + 1), "9" * 40, -5],
)  # fmt: skip
def test_anything_else_is_none(raw: object) -> None:
    assert ascii_int(raw) is None


def test_bounds_are_inclusive() -> None:
    assert ascii_int("1", low=1, high=50) == 1
    assert ascii_int("50", low=1, high=50) == 50
    assert ascii_int("0", low=1, high=50) is None
    assert ascii_int("51", low=1, high=50) is None
