"""Churn risk per reader: the model trained from stored events, bands stored by the task."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from editorial.models import Rule, RuleSet
from newsrec import feeds, readers
from newsrec.api.authentication import api_key_create
from newsrec.models import Article, ChurnModel, Event, Feed, Reader, ReaderRisk, RiskBand
from newsrec.readers import personalisation_set, reader_erase
from newsrec.retention import services
from newsrec.retention.features import EventRow
from tests.conftest import wait_for
from tests.factories import (
    ReaderFactory,
    make_article,
    make_catalogue,
    make_reader_who_finished,
)
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


# --- GET /api/v1/readers/at-risk/ -------------------------------------------------------------

AT_RISK = "/api/v1/readers/at-risk/"


def api(*scopes: str) -> APIClient:
    _key, raw = api_key_create(name="newsletter", scopes=list(scopes))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


def at_risk(reader: Reader, *, band: str = RiskBand.HIGH, rose_at: datetime | None = None) -> None:
    now = timezone.now()
    ReaderRisk.objects.create(
        reader=reader, probability=0.72 if band == RiskBand.HIGH else 0.4, band=band,
        previous_band=RiskBand.LOW, band_since=rose_at or now, rose_at=rose_at or now,
        reasons=["Usually reads on weekday mornings, missed 3 times"], computed_at=now,
    )  # fmt: skip


@pytest.fixture
def catalogue() -> list[Article]:
    feeds.pool_cache_clear()
    return list(make_catalogue(["Sport", "Politics", "Culture"], 30))


def host_reader(name: str, catalogue: list[Article]) -> Reader:
    """A reader the host names by its own id, who finished two stories."""
    reader = make_reader_who_finished(catalogue[:2])
    reader.client_id = f"api:{name}"
    reader.save(update_fields=["client_id"])
    return reader


@pytest.mark.parametrize("scopes", [[], ["read-feeds", "manage-readers", "write-events"]])
def test_at_risk_needs_its_own_scope(scopes: list[str]) -> None:
    assert api(*scopes).get(AT_RISK).status_code == 403
    assert APIClient().get(AT_RISK).status_code in (401, 403)
    assert api("read-retention").get(AT_RISK).status_code == 200


def test_at_risk_lists_readers_whose_risk_rose_with_picks_under_the_rules(
    catalogue: list[Article],
) -> None:
    reader = host_reader("subscriber-1", catalogue)
    feeds.feeds_rebuild(reader_ids=[reader.pk], include_default=True)
    stored = Feed.objects.get(reader=reader).items
    assert any(item["section"] == "Sport" for item in stored[:4])  # until the rule below
    rule_set = RuleSet.objects.create(name="Default", is_live=True)
    Rule.objects.create(rule_set=rule_set, kind="block", target_field="section",
                        target_value="Sport")  # fmt: skip
    at_risk(reader)
    steady = host_reader("subscriber-2", catalogue)
    ReaderRisk.objects.create(
        reader=steady, probability=0.1, band=RiskBand.LOW, band_since=timezone.now(),
        computed_at=timezone.now(),
    )  # fmt: skip

    response = api("read-retention").get(AT_RISK, {"picks": 4})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    body = response.json()
    assert body["count"] == 1
    (row,) = body["results"]
    assert row["reader_id"] == str(reader.public_id)
    assert row["host_reader_id"] == "subscriber-1"
    assert (row["band"], row["previous_band"]) == ("high", "low")
    assert row["reasons"] == ["Usually reads on weekday mornings, missed 3 times"]
    assert len(row["picks"]) == 4
    read = {a.pk for a in catalogue[:2]}
    for pick in row["picks"]:
        assert pick["section"] != "Sport"  # the live blocklist holds off the site too
        assert pick["article_id"] not in read
        assert pick["reason"]
        assert pick["recommendation_id"].startswith(f"reader:{reader.pk}:")


def test_at_risk_leaves_out_the_opted_out_the_unreachable_and_the_erased(
    catalogue: list[Article],
) -> None:
    kept = host_reader("kept", catalogue)
    opted_out = host_reader("opted-out", catalogue)
    erased = host_reader("erased", catalogue)
    anonymous = cast(Reader, ReaderFactory.create(client_id="cookie:abc"))
    for reader in (kept, opted_out, erased, anonymous):
        at_risk(reader)
    personalisation_set(reader=opted_out, enabled=False)
    reader_erase(reader=erased)

    body = api("read-retention").get(AT_RISK).json()
    assert [r["host_reader_id"] for r in body["results"]] == ["kept"]


def test_at_risk_since_band_and_pages(catalogue: list[Article]) -> None:
    now = timezone.now()
    old = host_reader("old", catalogue)
    at_risk(old, rose_at=now - timedelta(days=10))
    for n in range(3):
        at_risk(host_reader(f"r{n}", catalogue), band=RiskBand.RISING,
                rose_at=now - timedelta(hours=n))  # fmt: skip
    client = api("read-retention")

    assert client.get(AT_RISK).json()["count"] == 3  # the default: a horizon back
    since = (now - timedelta(days=30)).isoformat()
    assert client.get(AT_RISK, {"since": since}).json()["count"] == 4
    assert client.get(AT_RISK, {"since": since, "band": "high"}).json()["count"] == 1
    page = client.get(AT_RISK, {"page_size": 2, "picks": 1}).json()
    assert [r["host_reader_id"] for r in page["results"]] == ["r0", "r1"]  # latest rise first
    assert page["next"]
    assert client.get(AT_RISK, {"band": "low"}).status_code == 400
    assert client.get(AT_RISK, {"picks": 11}).status_code == 400


# --- "Before you go" ------------------------------------------------------------------------


@pytest.fixture
def logged_in(catalogue: list[Article]) -> tuple[Client, Reader]:
    """A logged-in reader who finished the first two stories, with their feed built."""
    user = User.objects.create_user(f"reader-{uuid.uuid4().hex[:8]}", password="pw-123456789")
    reader = readers.reader_for_user(user=user)
    for n, article in enumerate(catalogue[:2]):
        Event.objects.create(
            reader=reader, event_id=f"f{n}", kind="finish", article=article,
            occurred_at=timezone.now(), read_depth=1.0,
        )  # fmt: skip
    feeds.feeds_rebuild(reader_ids=[reader.pk], include_default=True)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client, reader


def nudge_items(html: str) -> list[int]:
    dialog = html.split("data-newsrec-nudge", 1)[1].split("</dialog>", 1)[0]
    return [int(pk) for pk in re.findall(r'data-newsrec-article="(\d+)"', dialog)]


def claim(client: Client) -> bool:
    token = client.get(reverse("newsrec:privacy")).cookies["csrftoken"].value
    response = client.post(reverse("newsrec:nudge-shown"), HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"]
    return bool(response.json()["show"])


def test_the_article_page_carries_the_nudge_with_unread_picks_and_reasons(
    catalogue: list[Article], logged_in: tuple[Client, Reader]
) -> None:
    client, reader = logged_in
    page = catalogue[5]
    html = client.get(reverse("newsrec:article", kwargs={"pk": page.pk})).content.decode()
    assert 'aria-labelledby="newsrec-nudge-title"' in html
    assert "newsrec/nudge.js" in html
    items = nudge_items(html)
    assert len(items) == 3
    assert not {page.pk, catalogue[0].pk, catalogue[1].pk} & set(items)  # unread, not this one
    stored = [i["article_id"] for i in Feed.objects.get(reader=reader).items]
    assert items == [pk for pk in stored if pk != page.pk][:3]  # the top of their feed
    reasons = re.findall(r'class="newsrec-nudge__reason">([^<]*)<', html)
    assert len(reasons) == 3
    assert all(reasons)  # each says why, e.g. "Popular right now"


def test_the_nudge_is_capped_per_reader_per_day(
    catalogue: list[Article], logged_in: tuple[Client, Reader], settings: Any
) -> None:
    client, _reader = logged_in
    url = reverse("newsrec:article", kwargs={"pk": catalogue[5].pk})
    assert claim(client) is True
    assert claim(client) is False  # the default: one a day
    assert "data-newsrec-nudge" not in client.get(url).content.decode()

    settings.NEWSREC = {"NUDGE_MAX_PER_DAY": 3}
    assert "data-newsrec-nudge" in client.get(url).content.decode()
    assert [claim(client), claim(client)] == [True, False]


def test_no_nudge_for_readers_who_opted_out_or_are_unknown(
    catalogue: list[Article], logged_in: tuple[Client, Reader], settings: Any
) -> None:
    client, reader = logged_in
    url = reverse("newsrec:article", kwargs={"pk": catalogue[5].pk})
    personalisation_set(reader=reader, enabled=False)
    assert "data-newsrec-nudge" not in client.get(url).content.decode()
    assert claim(client) is False
    assert "data-newsrec-nudge" not in Client().get(url).content.decode()  # a first visit

    personalisation_set(reader=reader, enabled=True)
    settings.NEWSREC = {"NUDGE_MAX_PER_DAY": 0}  # turned off
    assert "data-newsrec-nudge" not in client.get(url).content.decode()


def test_claiming_a_nudge_needs_the_csrf_token(logged_in: tuple[Client, Reader]) -> None:
    client, _reader = logged_in
    assert client.post(reverse("newsrec:nudge-shown")).status_code == 403
    assert client.get(reverse("newsrec:nudge-shown")).status_code == 405


def test_the_nudge_leaves_out_what_the_reader_hid(
    catalogue: list[Article], logged_in: tuple[Client, Reader]
) -> None:
    client, reader = logged_in
    url = reverse("newsrec:article", kwargs={"pk": catalogue[5].pk})
    first = nudge_items(client.get(url).content.decode())[0]
    Event.objects.create(
        reader=reader, event_id="hide-1", kind="hide", article_id=first, occurred_at=timezone.now()
    )
    assert first not in nudge_items(client.get(url).content.decode())


# --- Editors' view ----------------------------------------------------------------------------


def test_editors_see_readers_per_band_and_the_models_figures(
    articles: list[Article], admin_client: Client
) -> None:
    now = at_noon()
    steady = morning_reader(articles, now=now, stopped_days_ago=0)
    lapsing = morning_reader(articles, now=now, stopped_days_ago=8)
    services.reader_risks_update(now=now)

    html = admin_client.get(reverse("admin:newsrec_readerrisk_changelist")).content.decode()
    assert re.search(r'data-band="low"><th scope="row">Low</th><td>1</td><td>50 %', html)
    assert re.search(r'data-band="rising"><th scope="row">Rising</th><td>0</td>', html)
    assert re.search(r'data-band="high"><th scope="row">High</th><td>1</td><td>50 %', html)
    assert "Readers scored</th><td>2</td>" in html
    assert str(steady.public_id) in html
    assert str(lapsing.public_id) in html
    assert "Usually reads" not in html  # no behaviour beyond the band in the list
    assert "churn model v" in html

    model = ChurnModel.objects.get()
    card = admin_client.get(reverse("admin:newsrec_churnmodel_change", args=[model.pk]))
    assert card.status_code == 200
    assert "recency alone" in card.content.decode()
    assert admin_client.get(reverse("admin:newsrec_readerrisk_add")).status_code == 403


def test_the_readers_export_holds_their_risk_and_opting_out_deletes_it(
    articles: list[Article],
) -> None:
    now = at_noon()
    reader = morning_reader(articles, now=now, stopped_days_ago=8)
    services.reader_risks_update(now=now)
    exported = readers.reader_export(reader=reader)["churn_risk"]
    assert exported["band"] == RiskBand.HIGH
    assert "Usually reads on weekday mornings, missed 6 times" in exported["reasons"]

    personalisation_set(reader=reader, enabled=False)
    assert not ReaderRisk.objects.filter(reader=reader).exists()  # at once, not next hour
    assert readers.reader_export(reader=reader)["churn_risk"] is None
