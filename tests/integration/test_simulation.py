"""The reader simulator: real read and event paths, exact counts, seeds, purge, the command."""

from __future__ import annotations

import io
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Count
from django.utils import timezone

from newsrec import events, simulation
from newsrec.models import Article, Event, EventKind, Feed, Reader, ReaderProfile
from tests.factories import ReaderFactory, make_catalogue

pytestmark = pytest.mark.django_db

SECTIONS = ["Local", "Sport", "Culture", "Business", "Science"]


@pytest.fixture
def catalogue() -> list[Article]:
    articles = make_catalogue(SECTIONS, 50, hours_apart=1.2, with_authors=True)
    for n, article in enumerate(articles):
        article.tags = [f"tag{n % 6}", f"tag{n % 4 + 6}"]
        article.save(update_fields=["tags"])
    return articles


def _stored() -> Counter[str]:
    rows = (
        Event.objects.filter(reader__in=simulation.simulated_readers())
        .values("kind")
        .annotate(n=Count("id"))
    )
    return Counter({row["kind"]: row["n"] for row in rows})


def test_seeded_run_is_counted_exactly_and_repeats_after_a_purge(
    catalogue: list[Article], monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[dict[str, Any]] = []
    real_ingest = simulation.events_ingest

    def spy(**kwargs: Any) -> events.IngestReport:
        sent.extend(kwargs["raw_events"])
        return real_ingest(**kwargs)

    monkeypatch.setattr(simulation, "events_ingest", spy)
    first = simulation.simulation_run(readers=10, days=2, seed=7)

    # Everything went through the ingestion service, and every event was accepted and stored.
    assert first.sent == len(sent) == first.accepted > 100
    assert first.rejected == first.duplicate == 0
    assert _stored() == first.kinds
    assert {EventKind.IMPRESSION, EventKind.CLICK, EventKind.READ, EventKind.DWELL} <= set(
        first.kinds
    )
    # The same validation as the API's: every event passes validate_event unchanged.
    now = timezone.now()
    for raw in sent:
        events.validate_event(raw, now=now)
    window_start = now - timedelta(days=2)
    assert all(window_start <= e.occurred_at <= now for e in Event.objects.all())
    # Profiles and feeds were rebuilt by the real code.
    sim = simulation.simulated_readers()
    assert sim.count() == 10
    assert ReaderProfile.objects.filter(reader__in=sim).count() >= 8
    assert Feed.objects.filter(reader__in=sim).count() >= 8

    ids = set(Event.objects.values_list("event_id", flat=True))
    assert simulation.simulated_readers_purge() == (10, first.accepted)
    assert not Event.objects.exists()
    assert not Reader.objects.exists()

    sent.clear()
    second = simulation.simulation_run(readers=10, days=2, seed=7)
    assert (second.visits, second.sent, second.accepted, second.kinds) == (
        first.visits, first.sent, first.accepted, first.kinds,
    )  # fmt: skip
    assert set(Event.objects.values_list("event_id", flat=True)) == ids


def test_a_rerun_without_purge_is_idempotent(catalogue: list[Article]) -> None:
    first = simulation.simulation_run(readers=4, days=1, seed=3)
    stored = Event.objects.count()
    again = simulation.simulation_run(readers=4, days=1, seed=3)
    # The same readers and event ids: what was stored already is answered as a duplicate.
    assert Reader.objects.count() == 4
    assert again.duplicate > 0
    assert Event.objects.count() == stored + again.accepted
    assert first.accepted == stored


def test_purge_removes_exactly_the_simulated_readers(catalogue: list[Article]) -> None:
    real = ReaderFactory.create()
    Event.objects.create(
        reader=real, event_id="real-1", kind=EventKind.CLICK, article=catalogue[0],
        occurred_at=timezone.now(),
    )  # fmt: skip
    report = simulation.simulation_run(readers=5, days=1, seed=1)
    assert Reader.objects.count() == 6
    assert simulation.simulated_readers_purge() == (5, report.accepted)
    assert list(Reader.objects.all()) == [real]
    assert list(Event.objects.values_list("event_id", flat=True)) == ["real-1"]


def test_choices_depend_on_what_is_shown(catalogue: list[Article]) -> None:
    simulation.simulation_run(readers=40, days=2, seed=11)
    personas = {
        f"{simulation.SIM_PREFIX}11:{p.index}": p
        for p in simulation._draw_personas(seed=11, count=40)
    }
    by_slot: Counter[int] = Counter()
    shown = {True: [0, 0], False: [0, 0]}  # favourite section? -> [impressions, clicks]
    rows = Event.objects.filter(kind__in=[EventKind.IMPRESSION, EventKind.CLICK]).values_list(
        "kind", "feed_slot", "reader__client_id", "article__section"
    )
    for kind, slot, client_id, section in rows:
        assert client_id is not None
        assert slot is not None
        favourite = personas[client_id].sections[section] >= 0.5
        shown[favourite][kind == EventKind.CLICK] += 1
        if kind == EventKind.CLICK:
            by_slot[slot] += 1
    # Position: readers scan from the top and stop (each next card with SCAN_ON = 0.88), so top
    # slots get most clicks: 2.15 times slots 7-9's for equal interest, 1 without the bias. The
    # feeds (and so the clicks) change with the hour of the run: a margin, not 2.
    assert sum(by_slot[s] for s in (1, 2, 3)) > 1.5 * sum(by_slot[s] for s in (7, 8, 9))
    # Interest: articles of a favourite section are clicked far more often.
    ctr = {k: clicks / impressions for k, (impressions, clicks) in shown.items()}
    assert ctr[True] > 2 * ctr[False]


def test_days_must_stay_within_the_accepted_event_age(catalogue: list[Article]) -> None:
    with pytest.raises(ValueError, match="between 1 and 7"):
        simulation.simulation_run(readers=1, days=8)
    with pytest.raises(CommandError, match="between 1 and 7"):
        call_command("newsrec_simulate", "--readers", "1", "--days", "9", verbosity=0)


def test_command_simulates_skips_when_present_and_purges(catalogue: list[Article]) -> None:
    def run(*args: str) -> str:
        out = io.StringIO()
        call_command("newsrec_simulate", *args, stdout=out, stderr=io.StringIO(), verbosity=0)
        return out.getvalue()

    output = run("--readers", "3", "--days", "1", "--seed", "2")
    assert "Simulated 3 readers over 1 days" in output
    assert "0 rejected" in output
    assert "nothing simulated" in run("--readers", "3", "--if-none")
    stored = Event.objects.count()
    assert f"Purged 3 simulated reader(s) and their {stored} event(s)." in run(
        "--purge", "--readers", "0"
    )
    assert not Reader.objects.exists()


def test_the_demo_starts_with_results_of_an_on_off_experiment(catalogue: list[Article]) -> None:
    """#17.7: the demo's first start leaves the experiments page with figures in both arms, and
    a stopped experiment (the site then serves every reader normally)."""
    from editorial.experiments.selectors import experiment_results
    from editorial.models import Experiment

    out = io.StringIO()
    call_command("editorial_demo_experiment", "--readers", "16", "--days", "1", stdout=out,
                 stderr=io.StringIO())  # fmt: skip
    experiment = Experiment.objects.get()
    assert experiment.status == "stopped"
    results = experiment_results(experiment=experiment)
    shown = {r.variant.name: r.figures.counts.impressions for r in results.variants}
    assert shown["personalised"] > 0
    assert shown["holdout"] > 0
    call_command("editorial_demo_experiment", stdout=out)  # the next start: nothing more
    assert Experiment.objects.count() == 1
    assert "exist already" in out.getvalue()


def test_with_nudges_only_the_arm_that_has_them_meets_them_within_the_cap(
    catalogue: list[Article],
) -> None:
    from editorial.experiments import selectors as experiments
    from editorial.models import VariantKind
    from tests.integration.test_experiments import make_experiment

    experiments.running_memo_clear()
    experiment = make_experiment(
        ("nudges", VariantKind.PERSONALISED, 50), ("no nudges", VariantKind.NO_NUDGES, 50),
        name="Nudges on/off",
    )  # fmt: skip
    on = experiment.variants.get(kind=VariantKind.PERSONALISED)
    off = experiment.variants.get(kind=VariantKind.NO_NUDGES)
    report = simulation.simulation_run(readers=16, days=2, seed=5, nudges=True)
    assert report.rejected == 0
    nudged = Event.objects.filter(surface="nudge", kind=EventKind.IMPRESSION)
    tags = {rec.rsplit(":", 1)[-1] for rec in nudged.values_list("recommendation_id", flat=True)}
    assert tags == {on.tag}  # never in the arm without nudges
    assert off.tag not in tags
    per_reader_day = Counter(
        (reader, session.split("d")[-1].split("s")[0])
        for reader, session in nudged.values_list("reader_id", "session_id").distinct()
    )
    assert per_reader_day
    assert max(per_reader_day.values()) == 1  # NUDGE_MAX_PER_DAY, per simulated day
    experiments.running_memo_clear()
