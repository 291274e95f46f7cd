"""Nudges (#16): "Pick up where you left off", the editors' controls, band counts over time and
the at-risk webhook."""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, cast

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from editorial.experiments import selectors as experiments
from editorial.models import NudgeSetting, Rule, RuleSet, VariantKind
from editorial.nudges import nudge_policies_clear
from newsrec import feeds, readers
from newsrec.api.authentication import api_key_create
from newsrec.models import Article, Event, Reader, ReaderRisk, RiskBand, RiskBandCount
from newsrec.readers import personalisation_set
from newsrec.retention import nudges, services, webhook
from newsrec.retention.selectors import risk_band_history
from newsrec.tasks import at_risk_webhook_deliver
from tests.factories import make_article, make_catalogue, topic_vector
from tests.integration.test_experiments import make_experiment, reader_in
from tests.integration.test_retention import at_noon, morning_reader

pytestmark = pytest.mark.django_db
LONG_BODY = "word " * 2000  # about nine minutes
SHORT_BODY = "word " * 300  # two minutes


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    cache.clear()
    nudge_policies_clear()
    experiments.running_memo_clear()
    yield
    nudge_policies_clear()
    experiments.running_memo_clear()


@pytest.fixture
def series() -> list[Article]:
    """Three parts of a story tagged "tram-line" (part 1 oldest) among a catalogue of others."""
    feeds.pool_cache_clear()
    others = make_catalogue(["Sport", "Politics", "Culture"], 18)
    for n, article in enumerate(others):
        article.tags = ["news"]
        article.body = LONG_BODY if n % 2 else SHORT_BODY
        article.save(update_fields=["tags", "body"])
    now = timezone.now()
    parts = [
        make_article(
            title=f"Tram line, part {n + 1}", section="Local", tags=["tram-line", "news"],
            body=LONG_BODY, published_at=now - timedelta(days=3 - n),
            embedding=topic_vector(100 + n, topics=3), embedding_status="ready",
        )
        for n in range(3)
    ]  # fmt: skip
    return [*parts, *others]


def opened(reader: Reader, article: Article, *, depth: float, session: str, minutes: int) -> None:
    at = timezone.now() - timedelta(minutes=minutes)
    Event.objects.create(reader=reader, event_id=f"c{article.pk}-{session}", kind="click",
                         article=article, occurred_at=at, session_id=session)  # fmt: skip
    Event.objects.create(reader=reader, event_id=f"r{article.pk}-{session}", kind="read",
                         article=article, occurred_at=at, session_id=session,
                         read_depth=depth)  # fmt: skip


def binge_reader(series: list[Article], **fields: Any) -> Reader:
    """Read part 1 of the story halfway, and two other stories in the same visit."""
    reader = readers.reader_for_client_id(client_id=uuid.uuid4().hex[:8])
    for key, value in fields.items():
        setattr(reader, key, value)
    reader.save()
    opened(reader, series[0], depth=0.5, session="s1", minutes=30)
    opened(reader, series[3], depth=1.0, session="s1", minutes=25)
    opened(reader, series[4], depth=1.0, session="s1", minutes=20)
    return reader


def sampler(series: list[Article]) -> Reader:
    """One story a visit, in two visits; their feed is built."""
    reader = readers.reader_for_client_id(client_id=uuid.uuid4().hex[:8])
    opened(reader, series[3], depth=0.3, session="a", minutes=3000)
    opened(reader, series[4], depth=0.4, session="b", minutes=60)
    feeds.feeds_rebuild(reader_ids=[reader.pk], include_default=True)
    return reader


def offered(reader: Reader) -> list[tuple[int, str]]:
    return [(c.article.pk, c.reason) for c in nudges.pickup_cards(reader=reader)]


# --- "Pick up where you left off": what it offers ----------------------------------------------


def test_a_binge_reader_gets_the_next_part_of_the_story_they_started(
    series: list[Article],
) -> None:
    reader = binge_reader(series)
    assert nudges.reader_style(reader=reader) == "binge"
    ((pk, reason),) = offered(reader)
    assert pk == series[1].pk
    assert reason == "Next in “tram-line”, after “Tram line, part 1”"


def test_the_next_part_obeys_every_editorial_rule_and_the_readers_hides(
    series: list[Article],
) -> None:
    reader = binge_reader(series)
    part2, part3 = series[1], series[2]
    rule_set = RuleSet.objects.create(name="Default", is_live=True)
    Rule.objects.create(rule_set=rule_set, kind="block", target_field="article",
                        target_value=str(part2.pk))  # fmt: skip
    assert offered(reader)[0][0] == part3.pk  # a blocked part is skipped

    Event.objects.create(reader=reader, event_id="h3", kind="hide", article=part3,
                         occurred_at=timezone.now())  # fmt: skip
    assert all(pk not in (part2.pk, part3.pk) for pk, _ in offered(reader))

    Rule.objects.all().delete()
    Event.objects.filter(kind="hide").delete()
    part2.embargo_until = timezone.now() + timedelta(hours=2)
    part2.save(update_fields=["embargo_until"])
    assert offered(reader)[0][0] == part3.pk  # under embargo: not yet
    feeds.articles_withdraw(article_ids=[part3.pk])
    assert all(pk not in (part2.pk, part3.pk) for pk, _ in offered(reader))


def test_without_a_story_tag_the_nearest_to_a_partly_read_story_follows(
    series: list[Article], settings: Any
) -> None:
    settings.NEWSREC = {"NUDGE_SERIES_MAX_ARTICLES": 20}  # "news" (21 articles): a topic
    for part in series[:3]:
        part.tags = ["news"]
        part.save(update_fields=["tags"])
    reader = binge_reader(series)
    ((pk, reason),) = offered(reader)
    assert reason == "Follows on from “Tram line, part 1”, which you started"
    assert pk not in {series[0].pk, series[3].pk, series[4].pk}


def test_a_sampler_gets_one_short_standout_from_their_feed(series: list[Article]) -> None:
    reader = sampler(series)
    assert nudges.reader_style(reader=reader) == "sampler"
    ((pk, reason),) = offered(reader)
    article = Article.objects.get(pk=pk)
    assert nudges.reading_minutes(article.body) <= 4
    assert re.fullmatch(r"A \d-minute read\. .+", reason)
    assert pk not in {series[3].pk, series[4].pk}


# --- Where, how often, for whom -----------------------------------------------------------------


@pytest.fixture
def logged_in(series: list[Article]) -> tuple[Client, Reader]:
    user = User.objects.create_user(f"reader-{uuid.uuid4().hex[:8]}", password="pw-123456789")
    reader = readers.reader_for_user(user=user)
    opened(reader, series[0], depth=0.5, session="s1", minutes=30)
    opened(reader, series[3], depth=1.0, session="s1", minutes=25)
    opened(reader, series[4], depth=1.0, session="s1", minutes=20)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client, reader


def pickup_items(html: str) -> list[int]:
    if "data-newsrec-pickup" not in html:
        return []
    region = html.split("data-newsrec-pickup ", 1)[1].split("</section>", 1)[0]
    return [int(pk) for pk in re.findall(r'data-newsrec-article="(\d+)"', region)]


def test_the_front_page_carries_it_capped_per_day_and_dismissible(
    series: list[Article], logged_in: tuple[Client, Reader], settings: Any
) -> None:
    client, _reader = logged_in
    settings.NEWSREC = {"NUDGE_PICKUP_MAX_PER_DAY": 2}
    html = client.get("/").content.decode()
    assert pickup_items(html) == [series[1].pk]
    assert "Pick up where you left off" in html
    assert "Next in “tram-line”, after “Tram line, part 1”" in html
    assert "newsrec/pickup.js" in html
    assert pickup_items(client.get("/").content.decode()) == [series[1].pk]
    assert pickup_items(client.get("/").content.decode()) == []  # two a day

    cache.clear()
    token = client.get(reverse("newsrec:privacy")).cookies["csrftoken"].value
    answer = client.post(reverse("newsrec:nudge-dismiss"), {"kind": "pick-up", "next": "/"},
                         HTTP_X_CSRFTOKEN=token, HTTP_ACCEPT="application/json")  # fmt: skip
    assert answer.json() == {"dismissed": True}
    assert pickup_items(client.get("/").content.decode()) == []  # dismissed for today
    bad = client.post(reverse("newsrec:nudge-dismiss"), {"kind": "spam"}, HTTP_X_CSRFTOKEN=token)
    assert bad.status_code == 400
    assert "kind must be one of" in bad.json()["detail"]
    without_js = client.post(reverse("newsrec:nudge-dismiss"), {"kind": "pick-up", "next": "/"},
                             HTTP_X_CSRFTOKEN=token)  # fmt: skip
    assert (without_js.status_code, without_js["Location"]) == (302, "/")


def test_never_for_opted_out_readers_nor_in_an_arm_without_nudges(
    series: list[Article], logged_in: tuple[Client, Reader]
) -> None:
    client, reader = logged_in
    personalisation_set(reader=reader, enabled=False)
    assert pickup_items(client.get("/").content.decode()) == []
    assert nudges.nudge_offer(reader=reader, kind="pick-up", surface="home", claim=False) is None

    make_experiment(
        ("nudges", VariantKind.PERSONALISED, 50), ("no nudges", VariantKind.NO_NUDGES, 50),
        name="Nudges on/off",
    )  # fmt: skip
    without = reader_in(VariantKind.NO_NUDGES)
    with_them = reader_in(VariantKind.PERSONALISED)
    for someone in (without, with_them):
        opened(someone, series[0], depth=0.5, session="s1", minutes=30)
        opened(someone, series[3], depth=1.0, session="s1", minutes=25)
    assert nudges.nudge_offer(reader=without, kind="pick-up", surface="home", claim=True) is None
    assert nudges.nudge_claim(reader=without, kind="before-you-go") is False
    offer = nudges.nudge_offer(reader=with_them, kind="pick-up", surface="home", claim=True)
    assert offer is not None
    (card,) = offer[1]
    arm = experiments.reader_arm(reader=with_them)
    assert arm is not None
    assert card.recommendation_id.endswith(f":{arm.tag}")


def test_editors_switch_kinds_per_surface_set_caps_copy_and_bands(
    series: list[Article], logged_in: tuple[Client, Reader]
) -> None:
    client, reader = logged_in
    setting = NudgeSetting.objects.create(
        kind="pick-up", enabled=True, surfaces=["article"], max_per_day=5,
        title="Carry on reading", lead="From where you stopped.", bands=[],
    )  # fmt: skip
    assert pickup_items(client.get("/").content.decode()) == []  # not on the front page
    setting.surfaces = ["home"]
    setting.save()
    html = client.get("/").content.decode()
    assert pickup_items(html) == [series[1].pk]
    assert "Carry on reading" in html
    assert "From where you stopped." in html

    setting.bands = [RiskBand.HIGH]
    setting.save()
    assert pickup_items(client.get("/").content.decode()) == []  # not scored: low
    ReaderRisk.objects.create(reader=reader, probability=0.8, band=RiskBand.HIGH,
                              band_since=timezone.now(), computed_at=timezone.now())  # fmt: skip
    assert pickup_items(client.get("/").content.decode()) == [series[1].pk]

    setting.enabled = False
    setting.save()
    assert pickup_items(client.get("/").content.decode()) == []

    before = NudgeSetting.objects.create(kind="before-you-go", surfaces=["article"],
                                         max_per_day=0, title="Wait")  # fmt: skip
    assert nudges.nudge_claim(reader=reader, kind="before-you-go") is False  # capped at 0
    before.max_per_day = 1
    before.save()
    assert nudges.nudge_claim(reader=reader, kind="before-you-go", surface="article") is True
    assert nudges.nudge_claim(reader=reader, kind="before-you-go", surface="article") is False


def test_the_admin_form_edits_the_controls_with_clear_errors(admin_client: Client) -> None:
    url = reverse("admin:editorial_nudgesetting_add")
    assert admin_client.get(url).status_code == 200
    data = {"kind": "pick-up", "enabled": "on", "surfaces": ["home", "article"],
            "max_per_day": "3", "title": "", "lead": "", "bands": ["rising", "high"]}  # fmt: skip
    assert admin_client.post(url, data).status_code == 302
    saved = NudgeSetting.objects.get(kind="pick-up")
    assert (saved.surfaces, saved.bands, saved.max_per_day) == (
        ["home", "article"],
        ["rising", "high"],
        3,
    )
    assert saved.title == "Pick up where you left off"  # newsrec's words when left empty
    again = admin_client.post(url, {**data, "kind": "before-you-go", "max_per_day": "99"})
    assert again.status_code == 200
    assert "Ensure this value is less than or equal to 20" in again.content.decode()
    bad = admin_client.post(url, {**data, "kind": "before-you-go", "surfaces": ["moon"]})
    assert "Select a valid choice" in bad.content.decode()
    listing = admin_client.get(reverse("admin:editorial_nudgesetting_changelist")).content
    assert "Front page, Article pages" in listing.decode()


# --- The API ---------------------------------------------------------------------------------


def test_the_api_claims_and_dismisses_the_readers_nudge(
    series: list[Article], logged_in: tuple[Client, Reader], settings: Any
) -> None:
    _client, reader = logged_in
    settings.NEWSREC = {"NUDGE_PICKUP_MAX_PER_DAY": 1}
    api = APIClient()
    api.force_authenticate(user=reader.user)
    answer = api.post("/api/v1/nudges/me/", {"kind": "pick-up"}, format="json")
    assert answer.status_code == 200
    assert "no-store" in answer["Cache-Control"]
    body = answer.json()
    assert body["show"] is True
    assert body["title"] == "Pick up where you left off"
    assert [i["article_id"] for i in body["items"]] == [series[1].pk]
    assert body["items"][0]["reason"].startswith("Next in “tram-line”")
    again = api.post("/api/v1/nudges/me/", {"kind": "pick-up"}, format="json").json()
    assert again == {"show": False, "kind": "pick-up", "title": "", "lead": "", "items": []}

    assert api.post("/api/v1/nudges/me/", {"kind": "x"}, format="json").status_code == 400
    assert api.post("/api/v1/nudges/me/", {"kind": "pick-up", "surface": "moon"},
                    format="json").status_code == 400  # fmt: skip
    assert api.post("/api/v1/nudges/me/dismiss/", {"kind": "before-you-go"},
                    format="json").status_code == 204  # fmt: skip
    assert nudges.nudge_claim(reader=reader, kind="before-you-go") is False

    _key, raw = api_key_create(name="server", scopes=["read-feeds"])
    server = APIClient()
    server.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    assert server.post("/api/v1/nudges/me/", {"kind": "pick-up"}, format="json").status_code == 403


# --- Readers per band over time ------------------------------------------------------------------


def test_each_scoring_run_stores_the_band_counts_editors_see_over_time(
    admin_client: Client,
) -> None:
    articles = [make_article(title=f"Story {n}") for n in range(6)]
    now = at_noon()
    morning_reader(articles, now=now, stopped_days_ago=0)
    morning_reader(articles, now=now, stopped_days_ago=8)
    services.reader_risks_update(now=now - timedelta(days=1))
    services.reader_risks_update(now=now - timedelta(hours=2))
    services.reader_risks_update(now=now)
    assert RiskBandCount.objects.count() == 9  # three runs, three bands each
    history = risk_band_history(days=30, now=now)
    assert [row["day"] for row in history] == [(now - timedelta(days=1)).date(), now.date()]
    assert history[-1] == {"day": now.date(), "low": 1, "rising": 0, "high": 1}

    assert timezone.now() - now < timedelta(days=29)  # on the page's 30 days
    html = admin_client.get(reverse("admin:newsrec_readerrisk_changelist")).content.decode()
    assert "Readers per band over time" in html
    assert re.search(r"<td>1</td><td>0</td><td>1</td>", html)


# --- The at-risk webhook ------------------------------------------------------------------------


class Hook(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []
    answers: list[int] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers), body))
        status = type(self).answers.pop(0) if type(self).answers else 200
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[str]:
    Hook.received, Hook.answers = [], []
    server = HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks/at-risk"
    server.shutdown()
    server.server_close()


def risen(name: str, catalogue: list[Article], *, rose_at: Any, **fields: Any) -> Reader:
    reader = cast(Reader, readers.reader_for_client_id(client_id=name))
    for n, article in enumerate(catalogue[:2]):
        Event.objects.create(reader=reader, event_id=f"f{n}", kind="finish", article=article,
                             occurred_at=timezone.now(), read_depth=1.0)  # fmt: skip
    ReaderRisk.objects.create(
        reader=reader, probability=0.7, band=RiskBand.HIGH, previous_band=RiskBand.LOW,
        band_since=rose_at, rose_at=rose_at, reasons=["Not back for 9 days"], computed_at=rose_at,
    )  # fmt: skip
    return reader


def test_nothing_is_sent_by_default(series: list[Article], monkeypatch: Any) -> None:
    sent: list[Any] = []
    monkeypatch.setattr("newsrec.outbox.send_or_record", lambda *a, **k: sent.append(a))
    rose_at = timezone.now()
    risen("a", series, rose_at=rose_at)
    assert services.at_risk_webhook_queue(rose_at=rose_at) is False
    assert webhook.at_risk_webhook_send(rose_at=rose_at) == 0
    assert sent == []


def test_the_webhook_posts_a_signed_payload_of_ids_and_picks(
    series: list[Article],
    hook: str,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
    monkeypatch: Any,
) -> None:
    settings.NEWSREC = {"AT_RISK_WEBHOOK": {"URL": hook, "SECRET": "s3cret", "PICKS": 2}}
    feeds.feeds_rebuild(reader_ids=[], include_default=True)
    rose_at = timezone.now()
    kept = risen("subscriber-1", series, rose_at=rose_at)
    opted_out = risen("subscriber-2", series, rose_at=rose_at)
    personalisation_set(reader=opted_out, enabled=False)
    risen("earlier", series, rose_at=rose_at - timedelta(hours=1))
    queued: list[Any] = []
    monkeypatch.setattr("newsrec.outbox.send_or_record", lambda task, *a: queued.append(a))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.at_risk_webhook_queue(rose_at=rose_at) is True
    assert queued == [(rose_at.isoformat(),)]

    assert at_risk_webhook_deliver.apply(args=(rose_at.isoformat(),)).get() == 1
    ((headers, body),) = Hook.received
    assert webhook.signature_valid(body=body, secret="s3cret",
                                   header=headers["X-Newsrec-Signature"])  # fmt: skip
    assert not webhook.signature_valid(body=body + b" ", secret="s3cret",
                                       header=headers["X-Newsrec-Signature"])  # fmt: skip
    assert not webhook.signature_valid(body=body, secret="other",
                                       header=headers["X-Newsrec-Signature"])  # fmt: skip
    payload = json.loads(body)
    assert payload["event"] == "readers.at_risk"
    assert headers["X-Newsrec-Delivery"] == payload["delivery"] == f"{rose_at.isoformat()}:0"
    (row,) = payload["readers"]
    assert set(row) == {"reader_id", "host_reader_id", "user_id", "band", "previous_band",
                        "picks"}  # fmt: skip
    assert (row["reader_id"], row["host_reader_id"]) == (str(kept.public_id), "subscriber-1")
    assert "Not back" not in body.decode()
    assert "probability" not in body.decode()
    assert len(row["picks"]) == 2
    assert all(p["reason"] for p in row["picks"])

    Hook.received.clear()  # delivered batches are not sent again by a retry
    assert at_risk_webhook_deliver.apply(args=(rose_at.isoformat(),)).get() == 0
    assert Hook.received == []


def test_a_refused_delivery_is_retried_then_given_up(
    series: list[Article], hook: str, settings: Any
) -> None:
    settings.NEWSREC = {"AT_RISK_WEBHOOK": {"URL": hook, "SECRET": "k", "MAX_RETRIES": 2}}
    rose_at = timezone.now()
    risen("a", series, rose_at=rose_at)
    Hook.answers = [500, 503]
    assert at_risk_webhook_deliver.apply(args=(rose_at.isoformat(),)).get() == 1  # third try
    assert len(Hook.received) == 3
    Hook.received.clear()
    cache.clear()
    Hook.answers = [500, 500, 500, 500]
    assert at_risk_webhook_deliver.apply(args=(rose_at.isoformat(),)).get() == 0  # given up
    assert len(Hook.received) == 3  # the first try and MAX_RETRIES retries

    settings.NEWSREC = {"AT_RISK_WEBHOOK": {"URL": "ftp://example.org/x"}}
    with pytest.raises(ValueError, match="must be an http"):
        webhook.at_risk_webhook_send(rose_at=rose_at)
