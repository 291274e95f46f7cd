"""The benchmarks' pass/fail checks: targets, ratios and the one-second tail (issue #18)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from _common import ratio, tail_check, target_check


def test_a_single_request_over_a_second_fails_the_tail_check() -> None:
    # The section page: a fine p95, and one request of 56 s of server time.
    check = tail_check(
        server_paced={"p95": 784.0, "p99": 900.0, "max": 56_237.0},
        client_paced={"p95": 784.0, "p99": 950.0, "max": 990.0},
    )
    assert check["pass"] is False
    assert check["over_limit"] == ["server_paced"]
    assert check["server_paced"] == {"p99": 900.0, "max": 56_237.0}


def test_tails_under_a_second_pass_and_missing_distributions_are_left_out() -> None:
    check = tail_check(server_closed={"p99": 40.0, "max": 999.9}, client_paced={})
    assert check["pass"] is True
    assert "client_paced" not in check


@pytest.mark.parametrize(
    ("value", "target", "at_least", "passes"),
    [(1.9, 2.0, False, True), (2.1, 2.0, False, False), (12.0, 10.0, True, True),
     (None, 10.0, True, False)],
)  # fmt: skip
def test_target_check(value: float | None, target: float, at_least: bool, passes: bool) -> None:
    assert target_check(value, target, at_least=at_least)["pass"] is passes


def test_ratio_without_a_floor_is_none() -> None:
    assert ratio(8.0, 4.0) == 2.0
    assert ratio(8.0, 0.0) is None
    assert ratio(None, 4.0) is None
