"""Whether to trust an experiment: sample ratio mismatch, minimum samples, lift intervals."""

from __future__ import annotations

import math
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from editorial.experiments import selectors, services
from editorial.experiments.assignment import Arm, RunningExperiment, arm_for
from editorial.experiments.stats import (
    VariantCounts,
    chi_square_sf,
    difference_interval,
    lift_interval,
    sample_ratio_check,
    sample_size_warnings,
)
from editorial.models import Experiment, Variant, VariantKind
from newsrec.api.authentication import api_key_create
from newsrec.models import Event
from tests.factories import ReaderFactory, make_article
from tests.integration.test_editorial_publish import make_user

# --- Pure statistics ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statistic", "df", "p"),
    [
        (3.841458820694124, 1, 0.05),  # the tabulated critical values
        (6.634896601021214, 1, 0.01),
        (10.827566170662733, 1, 0.001),
        (5.991464547107979, 2, 0.05),
        (7.814727903251178, 3, 0.05),
        (13.276704135987622, 4, 0.01),
        (2.0, 2, math.exp(-1)),  # two degrees of freedom: exactly exp(-x / 2)
        (16.0, 1, math.erfc(math.sqrt(8))),  # one: erfc(sqrt(x / 2))
        (0.0, 3, 1.0),
    ],
)
def test_chi_square_tail_matches_tabulated_values(statistic: float, df: int, p: float) -> None:
    assert chi_square_sf(statistic, df) == pytest.approx(p, rel=1e-9)


def test_sample_ratio_mismatch_is_flagged_for_a_known_skew() -> None:
    # 90 / 10 configured, 8,880 / 1,120 seen: expected 9,000 / 1,000, so
    # chi-square = 120² / 9,000 + 120² / 1,000 = 1.6 + 14.4 = 16, p = erfc(√8) = 6.3e-5.
    check = sample_ratio_check([8880, 1120], [90, 10])
    assert check is not None
    assert check.expected == (9000.0, 1000.0)
    assert check.chi_square == pytest.approx(16.0)
    assert check.p_value == pytest.approx(6.3342e-5, rel=1e-4)
    assert check.mismatch
    # Three arms, 50 / 30 / 20 of 1,000: 60 over, 60 short and on target, so chi-square =
    # 60² / 500 + 60² / 300 + 0 = 19.2 with 2 df, p = exp(-9.6) = 6.8e-5.
    three = sample_ratio_check([560, 240, 200], [50, 30, 20])
    assert three is not None
    assert three.chi_square == pytest.approx(19.2)
    assert three.p_value == pytest.approx(math.exp(-19.2 / 2))
    assert three.mismatch


def test_a_fair_split_passes_the_sample_ratio_check() -> None:
    exact = sample_ratio_check([9000, 1000], [90, 10])
    assert exact is not None
    assert (exact.chi_square, exact.p_value, exact.mismatch) == (0.0, 1.0, False)
    near = sample_ratio_check([505, 495], [1, 1])  # chi-square 0.1, p = 0.7518
    assert near is not None
    assert near.p_value == pytest.approx(0.751830, abs=1e-6)
    assert not near.mismatch
    # The real assignment of 10,000 readers to 90 / 10 arms is fair.
    arms = tuple(
        Arm(experiment_id=1, variant_id=i, name=f"v{i}", kind="personalised", weight=w)
        for i, w in ((1, 90), (2, 10))
    )
    running = RunningExperiment(experiment_id=1, salt="srm", arms=arms)
    split = Counter(arm_for(running, str(uuid.UUID(int=n * 7919 + 1))) for n in range(10_000))
    check = sample_ratio_check([split[arms[0]], split[arms[1]]], [90, 10])
    assert check is not None
    assert not check.mismatch, check
    assert sample_ratio_check([0, 0], [1, 1]) is None  # nobody yet
    assert sample_ratio_check([10], [1]) is None  # one arm: nothing to compare


def test_lift_and_difference_intervals_match_hand_computed_values() -> None:
    # 6 % against 4 % of 1,000 each. Ratio 1.5; SE(ln ratio) = √(1/60 - 1/1000 + 1/40 - 1/1000)
    # = 0.199165, so the lift is exp(ln 1.5 ± 1.96 · 0.199165) - 1 = 1.5 % … 121.6 %.
    assert lift_interval(60, 1000, 40, 1000) == pytest.approx((0.015224, 1.216260), abs=1e-6)
    # Difference 0.02 ± 1.96 · √(.06 · .94 / 1000 + .04 · .96 / 1000) = 0.02 ± 0.019083.
    assert difference_interval(60, 1000, 40, 1000) == pytest.approx((0.000917, 0.039083), abs=1e-6)
    assert lift_interval(0, 1000, 40, 1000) is None  # no click: the ratio is 0, no log
    assert difference_interval(1, 10, 0, 0) is None


def test_minimum_sample_warnings_name_the_short_variants() -> None:
    warnings = sample_size_warnings(
        [
            ("personalised", VariantCounts(readers=150, clicks=40)),
            ("holdout", VariantCounts(readers=12, clicks=3)),
            ("hand", VariantCounts(readers=400, clicks=9)),
        ]
    )
    assert warnings == [
        "“holdout” has 12 readers (at least 100) and 3 clicks (at least 10): too few to judge yet.",
        "“hand” has 9 clicks (at least 10): too few to judge yet.",
    ]


# --- Results, API and admin ----------------------------------------------------------------------


def _experiment(personalised_readers: int, holdout_readers: int) -> Experiment:
    """A running 50 / 50 experiment whose readers each saw three items and some clicked once:
    12 of the personalised readers, 2 of the holdout's."""
    experiment = Experiment.objects.create(name="Checks", salt="checks")
    p = Variant.objects.create(experiment=experiment, name="personalised", weight=50)
    h = Variant.objects.create(
        experiment=experiment, name="holdout", kind=VariantKind.HOLDOUT, weight=50
    )
    services.experiment_start(experiment=experiment)
    Experiment.objects.filter(pk=experiment.pk).update(
        started_at=timezone.now() - timedelta(hours=1)
    )
    experiment.refresh_from_db()
    article = make_article()
    now = timezone.now()
    rows = []
    for variant, count, clickers in ((p, personalised_readers, 12), (h, holdout_readers, 2)):
        for n in range(count):
            reader = ReaderFactory.create()
            kinds = ["impression"] * 3 + (["click"] if n < clickers else [])
            rows += [
                Event(reader=reader, event_id=f"e{i}", kind=kind, article=article,
                      recommendation_id=f"default:1:{variant.tag}", occurred_at=now)
                for i, kind in enumerate(kinds)
            ]  # fmt: skip
    Event.objects.bulk_create(rows)
    return experiment


@pytest.fixture(autouse=True)
def _fresh_memo() -> None:
    selectors.running_memo_clear()


@pytest.mark.django_db
def test_results_api_and_admin_warn_of_a_skewed_split() -> None:
    experiment = _experiment(33, 7)  # expected 20 / 20: chi-square 16.9, p = 3.9e-5
    results = selectors.experiment_results(experiment=experiment)
    assert results.sample_ratio is not None
    assert results.sample_ratio.observed == (33, 7)
    assert results.sample_ratio.chi_square == pytest.approx(16.9)
    assert results.sample_ratio.p_value == pytest.approx(math.erfc(math.sqrt(8.45)))
    assert results.sample_ratio.mismatch
    assert results.warnings[0].startswith("Sample ratio mismatch: readers per variant ")
    assert "personalised 33 (expected 20), holdout 7 (expected 20)" in results.warnings[0]
    assert results.warnings[1:] == (
        "“personalised” has 33 readers (at least 100): too few to judge yet.",
        "“holdout” has 7 readers (at least 100) and 2 clicks (at least 10): too few to judge yet.",
    )
    comparison = results.variants[0].comparison
    assert comparison is not None
    # 12/99 against 2/21: lift 0.2727. Readers are the units (3 impressions each, a click or
    # none): var(CTR) by the delta method over readers, 0.000803 and 0.003779, so
    # SE(ln ratio) = √(0.000803 / (12/99)² + 0.003779 / (2/21)²) = 0.6927.
    assert comparison.ctr_lift == pytest.approx(12 / 99 / (2 / 21) - 1)
    assert (comparison.ctr_lift_low, comparison.ctr_lift_high) == pytest.approx(
        (-0.668609, 3.887984), abs=1e-6
    )

    _key, raw = api_key_create(name="dashboard", scopes=["read-feeds"])
    body = (
        APIClient(HTTP_AUTHORIZATION=f"Api-Key {raw}")
        .get(f"/api/v1/experiments/{experiment.pk}/")
        .json()
    )
    assert body["sample_ratio"]["observed"] == [33, 7]
    assert body["sample_ratio"]["mismatch"] is True
    assert body["sample_ratio"]["p_value"] == pytest.approx(3.93e-5, rel=1e-2)
    assert body["warnings"] == list(results.warnings)
    assert body["results"][0]["comparison"]["ctr_lift_low"] == pytest.approx(-0.668609, abs=1e-6)

    client = Client()
    client.force_login(make_user("senior", "Senior editor"))
    html = client.get(f"/admin/editorial/experiment/{experiment.pk}/results/").content.decode()
    assert 'id="experiment-warnings"' in html
    assert "Sample ratio mismatch" in html
    assert "<strong>mismatch</strong> (p &lt; 0.001)" in html
    assert "27.3 % <small>(-66.9 to 388.8 %)</small>" in html


@pytest.mark.django_db
def test_a_fair_split_shows_no_mismatch() -> None:
    experiment = _experiment(21, 19)
    results = selectors.experiment_results(experiment=experiment)
    assert results.sample_ratio is not None
    assert results.sample_ratio.p_value == pytest.approx(0.751830, abs=1e-6)  # chi-square 0.1
    assert not results.sample_ratio.mismatch
    assert not any("mismatch" in w for w in results.warnings)
    client = Client()
    client.force_login(make_user("senior", "Senior editor"))
    html = client.get(f"/admin/editorial/experiment/{experiment.pk}/results/").content.decode()
    assert "consistent with the shares" in html
