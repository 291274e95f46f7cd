"""Churn risk per reader: the model trained from stored events, bands stored by the task."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from django.utils import timezone

from newsrec.models import Article, ChurnModel, Event, Reader, ReaderRisk, RiskBand
from newsrec.readers import personalisation_set, reader_erase
from newsrec.retention import services
from newsrec.retention.features import EventRow
from tests.conftest import wait_for
from tests.factories import ReaderFactory, make_article
from tests.unit.test_retention import simulated_histories, visit, weekday_mornings

pytestmark = pytest.mark.django_db


@pytest.fixture
def articles() -> list[Article]:
    return [make_article(title=f"Story {n}") for n in range(6)]


def store(
    reader: Reader, events: Sequence[EventRow], articles: list[Article], *, prefix: str = "e"
) -> None:
    Event.objects.bulk_create(
        Event(
            reader=reader, event_id=f"{prefix}{n}", kind=e.kind,
            article=articles[e.article_id % len(articles)], occurred_at=e.at,
            read_depth=e.read_depth, session_id=e.session_id, local_hour=e.local_hour,
        )
        for n, e in enumerate(events)
    )  # fmt: skip


def reader_with(events: Sequence[EventRow], articles: list[Article]) -> Reader:
    reader = cast(Reader, ReaderFactory.create())
    store(reader, events, articles)
    return reader


def morning_reader(articles: list[Article], *, now: datetime, stopped_days_ago: int) -> Reader:
    mornings = weekday_mornings(now - timedelta(days=27), now - timedelta(days=stopped_days_ago))
    return reader_with([e for at in mornings for e in visit(at)], articles)


def at_noon(days: int = 0) -> datetime:
    """Noon UTC of a fixed Thursday, ``days`` later: weekday mornings are over by then."""
    return datetime(2026, 11, 26, 12, tzinfo=UTC) + timedelta(days=days)


def test_with_little_history_the_heuristic_scores_and_explains(articles: list[Article]) -> None:
    now = at_noon()
    regular = morning_reader(articles, now=now, stopped_days_ago=0)
    lapsing = morning_reader(articles, now=now, stopped_days_ago=8)
    opted_out = morning_reader(articles, now=now, stopped_days_ago=8)
    personalisation_set(reader=opted_out, enabled=False)

    assert services.reader_risks_update(now=now) == 2
    model = ChurnModel.objects.get()
    assert model.kind == "heuristic"
    assert "heuristic" in model.verdict
    assert model.training["readers"] == 2
    low, high = ReaderRisk.objects.get(reader=regular), ReaderRisk.objects.get(reader=lapsing)
    assert (low.band, low.rose_at) == (RiskBand.LOW, None)
    assert (high.band, high.rose_at) == (RiskBand.HIGH, now)
    assert high.probability > 0.6 > 0.3 > low.probability
    assert "Usually reads on weekday mornings, missed 6 times" in high.reasons
    assert any(r.startswith("Not back for 8 days") for r in high.reasons)
    assert not ReaderRisk.objects.filter(reader=opted_out).exists()


def test_bands_rise_and_fall_with_the_readers_visits(articles: list[Article]) -> None:
    now = at_noon()
    reader = morning_reader(articles, now=now, stopped_days_ago=0)
    services.reader_risks_update(now=now)
    assert ReaderRisk.objects.get(reader=reader).band == RiskBand.LOW

    later = at_noon(7)  # a week without a visit
    services.reader_risks_refresh(now=later)
    risk = ReaderRisk.objects.get(reader=reader)
    assert risk.band != RiskBand.LOW
    assert (risk.previous_band, risk.band_since, risk.rose_at) == (RiskBand.LOW, later, later)

    back = at_noon(8)
    store(reader, visit(back - timedelta(hours=4)), articles, prefix="back")
    services.reader_risks_refresh(now=back)
    risk = ReaderRisk.objects.get(reader=reader)
    assert risk.band == RiskBand.LOW
    assert risk.rose_at is None  # fell: no longer "rose"


def test_readers_who_leave_lose_their_risk(articles: list[Article]) -> None:
    now = at_noon()
    _gone, erased, opting_out = (
        morning_reader(articles, now=now, stopped_days_ago=2) for _ in range(3)
    )
    services.reader_risks_update(now=now)
    assert ReaderRisk.objects.count() == 3

    reader_erase(reader=erased)
    assert ReaderRisk.objects.count() == 2  # at once, with the reader
    personalisation_set(reader=opting_out, enabled=False)
    services.reader_risks_refresh(now=at_noon(40))  # gone: nothing in the window any more
    assert ReaderRisk.objects.count() == 0


def test_a_model_is_trained_from_the_sites_own_events(
    articles: list[Article], settings: Any
) -> None:
    settings.NEWSREC = {**getattr(settings, "NEWSREC", {}), "CHURN_MIN_EXAMPLES": 100}
    now = at_noon()
    histories = simulated_histories(11, readers=120, days=91, now=now)
    for events in histories.values():
        reader_with(events, articles)

    model = services.churn_model_train(now=now)
    assert model.kind == "logistic", model.verdict
    metrics = model.metrics
    assert metrics["auc"] > metrics["recency_auc"]
    assert 0 < metrics["brier"] < 0.25
    validation = model.training["validation"]
    assert sum(row["count"] for row in metrics["reliability"]) == validation > 100
    assert set(model.params) >= {"weights", "means", "scales", "platt_a", "platt_b"}

    assert services.reader_risks_refresh(now=now) > 0
    assert set(ReaderRisk.objects.values_list("model", flat=True)) == {model.pk}


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_beat_task_stores_bands_through_the_worker(
    articles: list[Article], celery_worker: object
) -> None:
    from newsrec.tasks import reader_risks_update

    now = timezone.now()
    reader = morning_reader(articles, now=now, stopped_days_ago=0)
    reader_risks_update.delay()
    assert wait_for(lambda: ReaderRisk.objects.filter(reader=reader).exists(), timeout=60)
    assert ChurnModel.objects.exists()
