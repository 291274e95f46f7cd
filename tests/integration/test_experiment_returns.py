"""Return rates within 1 and 7 days and reads per reader, per variant (#16.5): hand-counted."""

from __future__ import annotations

import math
from datetime import UTC, datetime, time, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from editorial.experiments.returns import experiment_returns
from editorial.experiments.stats import Z_95
from editorial.models import Experiment, VariantKind
from newsrec.models import Article, Event, Reader
from tests.factories import ReaderFactory, make_article
from tests.integration.test_experiments import make_experiment

pytestmark = pytest.mark.django_db


def noon(days_ago: int) -> datetime:
    today = timezone.now().astimezone(UTC).date()
    return datetime.combine(today - timedelta(days=days_ago), time(12), tzinfo=UTC)


@pytest.fixture
def experiment() -> Experiment:
    made = make_experiment(
        ("nudges", VariantKind.PERSONALISED, 50), ("no nudges", VariantKind.NO_NUDGES, 50),
        name="Nudges on/off",
    )  # fmt: skip
    Experiment.objects.filter(pk=made.pk).update(started_at=timezone.now() - timedelta(days=10))
    made.refresh_from_db()
    a, b = (make_article(title=f"Story {n}") for n in range(2))
    on = made.variants.get(kind=VariantKind.PERSONALISED)
    off = made.variants.get(kind=VariantKind.NO_NUDGES)

    def events(reader: Reader, rows: list[tuple[str, Article, int, str]]) -> None:
        Event.objects.bulk_create(
            Event(reader=reader, event_id=f"{reader.pk}-{n}", kind=kind, article=article,
                  occurred_at=noon(ago), recommendation_id=rec)
            for n, (kind, article, ago, rec) in enumerate(rows)
        )  # fmt: skip

    r_on, r_off = f"reader:1:1:{on.tag}", f"reader:1:1:{off.tag}"
    first, second, third, fourth = (ReaderFactory.create() for _ in range(4))
    # Visit days 9, 8 and 5 days ago: within a day 1 of 3, within a week 2 of 2 (the day 5
    # days ago has not had its 7 days yet). Two stories read.
    events(first, [("impression", a, 9, r_on), ("read", a, 9, ""), ("finish", a, 9, ""),
                   ("read", b, 8, ""), ("impression", a, 5, r_on)])  # fmt: skip
    # 3 and 2 days ago: within a day 1 of 2; no day with a full week after it. Nothing read.
    events(second, [("impression", a, 3, r_on), ("impression", b, 2, r_on)])
    # A visit 9 days ago, before the first exposure (6 days ago), is no visit day: 0 of 1. Its
    # read still counts (reads are everything the exposed read in the window): two stories.
    events(third, [("read", b, 9, ""), ("impression", a, 6, r_on), ("read", a, 6, "")])
    # Without nudges: one visit, 9 days ago, never back: 0 of 1 and 0 of 1.
    events(fourth, [("impression", a, 9, r_off)])
    return made


def test_return_rates_and_reads_per_reader_match_a_hand_count(experiment: Experiment) -> None:
    on = experiment.variants.get(kind=VariantKind.PERSONALISED)
    off = experiment.variants.get(kind=VariantKind.NO_NUDGES)
    assert experiment.started_at is not None
    with_nudges, without = experiment_returns(
        variants=[on, off], baseline=off, start=experiment.started_at, end=timezone.now()
    )
    figures = with_nudges.returns
    assert figures.exposed == 3
    day, week = figures.return_rate(1), figures.return_rate(7)
    assert (day.value, day.n) == (pytest.approx(2 / 6), 3)
    assert (week.value, week.n) == (1.0, 1)
    assert day.low is not None
    assert day.high is not None
    assert day.low < 2 / 6 < day.high
    reads = figures.reads_per_reader()
    assert reads.value == pytest.approx(4 / 3)  # 2, 0 and 2 stories
    half = Z_95 * math.sqrt((4 / 3) / 3)  # sample variance of (2, 0, 2) is 4/3
    assert (reads.low, reads.high) == (pytest.approx(4 / 3 - half), pytest.approx(4 / 3 + half))

    assert without.comparison is None
    assert without.returns.return_rate(1).value == 0.0
    assert without.returns.return_rate(7).value == 0.0
    comparison = with_nudges.comparison
    assert comparison is not None
    assert comparison.return_rate[1].value == pytest.approx(2 / 6)
    assert comparison.return_rate[7].value == pytest.approx(1.0)
    assert comparison.reads_per_reader.value is None  # one reader without: no interval


def test_the_results_page_shows_them_against_the_arm_without_nudges(
    experiment: Experiment, admin_client: Client
) -> None:
    url = reverse("admin:editorial_experiment_results", args=[experiment.pk])
    html = admin_client.get(url).content.decode()
    assert "the variant without nudges “no nudges”" in html
    assert "Return within 1 day (95 % CI)" in html
    assert "Return within 7 days (95 % CI)" in html
    on = experiment.variants.get(kind=VariantKind.PERSONALISED)
    row = html.split(f'<tr data-variant="{on.pk}">', 1)[1].split("</tr>", 1)[0]
    assert "<td>3</td>" in row
    assert "<td>0.333 (" in row
    assert "<td>1.000 (" in row
    assert "<td>1.33 (" in row


def test_the_results_api_carries_them_too(experiment: Experiment, admin_client: Client) -> None:
    body = admin_client.get(f"/api/v1/experiments/{experiment.pk}/").json()
    on = experiment.variants.get(kind=VariantKind.PERSONALISED)
    off = experiment.variants.get(kind=VariantKind.NO_NUDGES)
    rows = {row["variant_id"]: row["returns"] for row in body["results"]}
    assert rows[on.pk]["return_1d"]["value"] == pytest.approx(1 / 3)  # visit days: 1 of 3
    assert rows[on.pk]["return_7d"]["value"] == pytest.approx(1.0)
    assert rows[on.pk]["reads_per_reader"]["value"] == pytest.approx(4 / 3)
    assert rows[off.pk]["difference"] is None  # the baseline
    difference = rows[on.pk]["difference"]
    assert difference["return_1d"]["value"] == pytest.approx(1 / 3)
    assert difference["reads_per_reader"]["value"] is None  # one reader without: no variance
