"""The editors' admin pages' arithmetic: percentages, the section colours, bars, splits."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from editorial import presenters


def sample(day: int, **mix: float) -> Any:
    return SimpleNamespace(taken_at=datetime(2026, 1, day, tzinfo=UTC), mix=mix)


@pytest.mark.parametrize(("share", "shown"), [(None, None), (0.0, 0.0), (0.25, 25.0)])
def test_percent_keeps_none_for_not_measured(share: float | None, shown: float | None) -> None:
    assert presenters.percent(share) == shown


def test_section_hues_spread_evenly_in_alphabetical_order() -> None:
    assert presenters.section_hues(["Sport", "News", "Arts", "News"]) == {
        "Arts": 0,
        "News": 120,
        "Sport": 240,
    }
    assert presenters.section_hues([]) == {}


def test_mix_history_colours_a_section_the_same_in_every_sample_and_the_legend() -> None:
    samples = [sample(2, Sport=0.6, News=0.4), sample(1, Arts=0.5, News=0.5)]
    history, legend = presenters.mix_history(samples)
    assert legend == [("Arts", 0), ("News", 120), ("Sport", 240)]
    assert history == [
        (samples[0].taken_at, [("News", 0.4, 120), ("Sport", 0.6, 240)]),
        (samples[1].taken_at, [("Arts", 0.5, 0), ("News", 0.5, 120)]),
    ]
    assert presenters.mix_history([]) == ([], [])


def test_mix_ranked_puts_the_biggest_share_first() -> None:
    ranked = presenters.mix_ranked({"Arts": 0.2, "News": 0.5, "Sport": 0.2, "Life": 0.1})
    assert ranked == [("News", 0.5), ("Arts", 0.2), ("Sport", 0.2), ("Life", 0.1)]


def test_variant_split_in_percent_of_the_weights() -> None:
    variants = [
        SimpleNamespace(name="personalised", weight=9),
        SimpleNamespace(name="holdout", weight=1),
    ]
    assert presenters.variant_split(variants) == "personalised 90 %, holdout 10 %"
    assert presenters.variant_split([SimpleNamespace(name="all", weight=0)]) == "all 0 %"
    assert presenters.variant_split([]) == "—"


def result(ctr: float, low: float, high: float, comparison: Any = None) -> Any:
    figures = SimpleNamespace(ctr=ctr, ctr_low=low, ctr_high=high, counts="counts")
    return SimpleNamespace(variant="v", figures=figures, comparison=comparison)


def test_results_rows_share_one_scale_the_highest_upper_bound() -> None:
    comparison = SimpleNamespace(
        ctr_lift=0.5, reads_per_reader_lift=-0.1, ctr_lift_low=0.25, ctr_lift_high=0.75
    )
    baseline, other = result(0.02, 0.01, 0.04), result(0.03, 0.02, 0.05, comparison)
    rows = presenters.results_rows([baseline, other])
    assert rows[0]["bar"] == pytest.approx(40.0)
    assert rows[0]["ci_left"] == pytest.approx(20.0)
    assert rows[0]["ci_width"] == pytest.approx(60.0)
    assert rows[1]["bar"] == pytest.approx(60.0)
    assert rows[1]["ci_left"] + rows[1]["ci_width"] == pytest.approx(100.0)
    assert rows[0]["ctr_pct"] == pytest.approx(2.0)
    assert rows[0]["lift_pct"] is None
    assert rows[0]["cmp"] is None
    assert rows[1]["lift_pct"] == pytest.approx(50.0)
    assert rows[1]["reads_lift_pct"] == pytest.approx(-10.0)
    assert (rows[1]["lift_low_pct"], rows[1]["lift_high_pct"]) == pytest.approx((25.0, 75.0))
    assert rows[1]["f"] is other.figures
    assert rows[1]["c"] == "counts"


def test_results_rows_without_clicks_draw_no_bars() -> None:
    (row,) = presenters.results_rows([result(0.0, 0.0, 0.0)])
    assert (row["bar"], row["ci_left"], row["ci_width"]) == (0.0, 0.0, 0.0)
    assert presenters.results_rows([]) == []


def test_returns_rows_take_the_baselines_difference_when_compared() -> None:
    returns = SimpleNamespace(
        exposed=12,
        return_rate=lambda days: f"rate {days}",
        reads_per_reader=lambda: "reads",
    )
    comparison = SimpleNamespace(return_rate={1: "d1", 7: "d7"}, reads_per_reader="dreads")
    baseline: Any = SimpleNamespace(variant="holdout", returns=returns, comparison=None)
    other: Any = SimpleNamespace(variant="personalised", returns=returns, comparison=comparison)
    rows = presenters.returns_rows([baseline, other])
    assert rows[0] == {
        "variant": "holdout", "exposed": 12, "r1": "rate 1", "r7": "rate 7", "reads": "reads",
        "d1": None, "d7": None, "dreads": None,
    }  # fmt: skip
    assert (rows[1]["d1"], rows[1]["d7"], rows[1]["dreads"]) == ("d1", "d7", "dreads")


def test_changed_fields_lists_only_what_changed_with_a_dash_for_a_missing_side() -> None:
    before = {"name": "A", "factor": 1.0, "gone": "x"}
    after = {"name": "A", "factor": 2.0, "new": "y"}
    assert presenters.changed_fields(before, after) == [
        ("factor", 1.0, 2.0),
        ("gone", "x", "—"),
        ("new", "—", "y"),
    ]
    assert presenters.changed_fields(None, None) == []
