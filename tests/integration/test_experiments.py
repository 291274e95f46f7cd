"""Experiments with a holdout: assignment, the "recommendations off" feed, results, API, admin."""

from __future__ import annotations

import math
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, cast

import pytest
from django.contrib.auth.models import Permission, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.signing import get_cookie_signer
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from editorial.experiments import selectors, services
from editorial.experiments.assignment import Arm, RunningExperiment, arm_for, bucket
from editorial.experiments.stats import (
    VariantCounts,
    compare,
    two_proportion_z_test,
    variant_figures,
    wilson_interval,
)
from editorial.models import Experiment, ExperimentStatus, Variant, VariantKind
from newsrec import feeds, readers
from newsrec.api.authentication import api_key_create
from newsrec.models import Article, Event, Feed, Reader
from tests.factories import ReaderFactory, make_article
from tests.integration.test_editorial_publish import make_user

# --- Assignment (pure) -------------------------------------------------------------------------


def _running(*weights: int, salt: str = "spring") -> RunningExperiment:
    arms = tuple(
        Arm(experiment_id=1, variant_id=i + 1, name=f"v{i}", kind="personalised", weight=w)
        for i, w in enumerate(weights)
    )
    return RunningExperiment(experiment_id=1, salt=salt, arms=arms)


IDS = [str(uuid.UUID(int=n * 7919 + 13)) for n in range(10_000)]


def test_assignment_is_deterministic_and_depends_on_the_salt() -> None:
    experiment = _running(50, 50)
    first = [arm_for(experiment, i) for i in IDS[:500]]
    assert first == [arm_for(experiment, i) for i in IDS[:500]]  # stable across calls/sessions
    assert all(0.0 <= bucket("spring", i) < 1.0 for i in IDS[:500])
    reshuffled = [arm_for(_running(50, 50, salt="autumn"), i) for i in IDS[:500]]
    same = sum(a == b for a, b in zip(first, reshuffled, strict=True))
    assert 180 < same < 320  # about half: a new salt splits readers independently


@pytest.mark.parametrize("weights", [(90, 10), (50, 30, 20), (1, 1), (1, 3)])
def test_assignment_respects_the_weights(weights: tuple[int, ...]) -> None:
    experiment = _running(*weights)
    counts = Counter(arm_for(experiment, i).variant_id for i in IDS)  # type: ignore[union-attr]
    n, total = len(IDS), sum(weights)
    for variant_id, weight in enumerate(weights, start=1):
        p = weight / total
        tolerance = 4.5 * math.sqrt(n * p * (1 - p))  # 4.5 sd: fails by chance ~1 in 100,000
        assert abs(counts[variant_id] - n * p) < tolerance, (weights, counts)


# --- Statistics (pure) -------------------------------------------------------------------------


def test_wilson_interval_matches_published_values() -> None:
    assert wilson_interval(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson_interval(10, 10)[1] == 1.0
    assert wilson_interval(0, 0) == (0.0, 0.0)


def test_two_proportion_z_test() -> None:
    z, p = two_proportion_z_test(30, 100, 20, 100)
    assert z == pytest.approx(1.6330, abs=1e-4)
    assert p == pytest.approx(0.1025, abs=1e-4)
    assert two_proportion_z_test(0, 0, 3, 10) == (0.0, 1.0)  # no data: no evidence
    assert two_proportion_z_test(0, 10, 0, 10) == (0.0, 1.0)  # nobody clicked anywhere
    z, p = two_proportion_z_test(600, 10_000, 420, 10_000)
    assert z > 5
    assert p < 1e-6


def test_figures_and_comparison_of_empty_variants_do_not_divide_by_zero() -> None:
    empty = variant_figures(VariantCounts())
    assert (empty.ctr, empty.reads_per_reader, empty.mean_dwell_seconds) == (0.0, 0.0, None)
    comparison = compare(empty, empty)
    assert comparison.ctr_lift is None
    assert comparison.reads_per_reader_lift is None
    assert comparison.p_value == 1.0
    assert not comparison.significant


# --- Database fixtures -------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _fresh_memo() -> Iterator[None]:
    # The running experiment is memoised per process; a rolled-back test must not leak it.
    selectors.running_memo_clear()
    yield
    selectors.running_memo_clear()


def make_experiment(
    *variants: tuple[str, str, int], name: str = "Holdout test", start: bool = True
) -> Experiment:
    experiment = Experiment.objects.create(name=name, salt="fixed-salt")
    for variant_name, kind, weight in variants or (
        ("personalised", VariantKind.PERSONALISED, 50),
        ("holdout", VariantKind.HOLDOUT, 50),
    ):
        Variant.objects.create(experiment=experiment, name=variant_name, kind=kind, weight=weight)
    if start:
        services.experiment_start(experiment=experiment)
        experiment.refresh_from_db()
    return experiment


def new_reader(**fields: Any) -> Reader:
    return cast(Reader, ReaderFactory.create(**fields))


def variant_of(experiment: Experiment, kind: str) -> Variant:
    return experiment.variants.get(kind=kind)


def reader_in(kind: str, **fields: Any) -> Reader:
    """A reader whom the running experiment assigns to a variant of ``kind``."""
    for _ in range(200):
        reader = new_reader(**fields)
        arm = selectors.reader_arm(reader=reader)
        if arm is not None and arm.kind == kind:
            return reader
        reader.delete()
    raise AssertionError(f"no {kind} reader in 200 tries")


@pytest.fixture
def catalogue() -> list[Article]:
    now = timezone.now()
    # Newest first: article i was published i + 1 hours ago.
    return [
        make_article(title=f"Story {i}", section=["Sport", "Local"][i % 2],
                     published_at=now - timedelta(hours=i + 1))
        for i in range(8)
    ]  # fmt: skip


def stored_feed(reader: Reader | None, article: Article) -> Feed:
    """An engine-built feed: one item with a score, a source and a reason."""
    item = {
        "article_id": article.pk, "title": article.title, "section": article.section,
        "published_at": 0.0, "score": 0.9, "source": "because_you_read",
        "reason": "Because you read something", "seed_id": None, "breakdown": {},
    }  # fmt: skip
    return Feed.objects.create(
        key=feeds.feed_key(reader.pk if reader else None), reader=reader, items=[item],
        built_at=timezone.now(),
    )  # fmt: skip


# --- Model and services ------------------------------------------------------------------------


@pytest.mark.django_db
def test_only_one_experiment_runs_at_a_time() -> None:
    make_experiment(name="First")
    second = make_experiment(name="Second", start=False)
    with pytest.raises(ValidationError, match="“First” is running: stop it first"):
        services.experiment_start(experiment=second)
    with pytest.raises(IntegrityError), transaction.atomic():
        Experiment.objects.filter(pk=second.pk).update(status=ExperimentStatus.RUNNING)


@pytest.mark.django_db
def test_start_needs_a_holdout_a_personalised_variant_a_draft_and_the_permission() -> None:
    lonely = make_experiment(("all", VariantKind.PERSONALISED, 1), start=False)
    with pytest.raises(ValidationError) as raised:
        services.experiment_start(experiment=lonely)
    assert raised.value.messages == [
        "Add a holdout variant: it measures what recommendations are worth."
    ]
    experiment = make_experiment(name="Good", start=False)
    nobody = User.objects.create_user("nobody", is_staff=True)
    with pytest.raises(PermissionDenied):
        services.experiment_start(experiment=experiment, user=nobody)
    services.experiment_start(experiment=experiment)
    services.experiment_stop(experiment=experiment)
    with pytest.raises(ValidationError, match="only a draft can start"):
        services.experiment_start(experiment=experiment)
    with pytest.raises(ValidationError, match="is not running"):
        services.experiment_stop(experiment=experiment)


# --- The holdout feed --------------------------------------------------------------------------


@pytest.mark.django_db
def test_holdout_readers_get_the_newest_articles_not_the_engine_feed(
    catalogue: list[Article],
) -> None:
    experiment = make_experiment()
    holdout = variant_of(experiment, VariantKind.HOLDOUT)
    reader = reader_in(VariantKind.HOLDOUT)
    stored_feed(reader, catalogue[5])
    stored_feed(None, catalogue[6])
    make_article(title="Embargoed", published_at=timezone.now() - timedelta(minutes=5),
                 embargo_until=timezone.now() + timedelta(hours=1))  # fmt: skip
    make_article(title="Retracted", status="retracted")

    view = feeds.feed_read(reader=reader, limit=5)

    assert [i["article_id"] for i in view.items] == [a.pk for a in catalogue[:5]]
    assert {(i["source"], i["reason"], i["score"]) for i in view.items} == {("latest", "", 0.0)}
    assert set(view.items[0]) >= {"article_id", "title", "section", "published_at", "score"}
    newest = catalogue[0].published_at
    assert newest is not None
    assert view.items[0]["published_at"] == pytest.approx(newest.timestamp())
    assert not view.personalised
    assert view.recommendation_id.endswith(f":{holdout.tag}")
    assert view.recommendation_id.startswith("latest:")


@pytest.mark.django_db
def test_the_holdout_feed_still_obeys_blocklists(catalogue: list[Article]) -> None:
    from editorial.models import Rule, RuleSet

    make_experiment()
    reader = reader_in(VariantKind.HOLDOUT)
    live = RuleSet.objects.create(name="Live", is_live=True)
    Rule.objects.create(rule_set=live, kind="block", target_field="section", target_value="Sport")
    view = feeds.feed_read(reader=reader, limit=8)
    assert [i["section"] for i in view.items] == ["Local"] * 4


@pytest.mark.django_db
def test_personalised_readers_keep_their_feed_tagged_with_the_variant(
    catalogue: list[Article],
) -> None:
    experiment = make_experiment()
    personalised = variant_of(experiment, VariantKind.PERSONALISED)
    reader = reader_in(VariantKind.PERSONALISED)
    feed = stored_feed(reader, catalogue[5])

    view = feeds.feed_read(reader=reader)

    assert [i["article_id"] for i in view.items] == [catalogue[5].pk]
    assert view.recommendation_id == f"reader:{reader.pk}:{feed.version}:{personalised.tag}"


@pytest.mark.django_db
def test_opted_out_readers_and_stopped_experiments_leave_feeds_alone(
    catalogue: list[Article],
) -> None:
    experiment = make_experiment()
    stored_feed(None, catalogue[6])
    opted_out = new_reader(personalisation_enabled=False)
    holdout_reader = reader_in(VariantKind.HOLDOUT)
    view = feeds.feed_read(reader=opted_out)
    assert (view.key, view.experiment) == ("default", "")

    services.experiment_stop(experiment=experiment)
    view = feeds.feed_read(reader=holdout_reader)
    assert [i["article_id"] for i in view.items] == [catalogue[6].pk]
    assert view.recommendation_id == f"default:{view.version}"


@pytest.mark.django_db
def test_holdout_over_the_api_and_its_etag_follows_the_list(catalogue: list[Article]) -> None:
    experiment = make_experiment()
    holdout = variant_of(experiment, VariantKind.HOLDOUT)
    user = User.objects.create_user("holdout-reader")
    reader = readers.reader_for_user(user=user)
    # Move the user's reader into the holdout by choosing a salt that puts it there.
    salt = next(s for s in (f"s{n}" for n in range(200)) if _arm_kind(experiment, s, reader))
    Experiment.objects.filter(pk=experiment.pk).update(salt=salt)
    selectors.running_memo_clear()
    stored_feed(reader, catalogue[5])
    client = APIClient(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")

    response = client.get("/api/v1/feeds/me/?limit=3")

    assert response.status_code == 200, response.content
    body = response.json()
    assert [i["article_id"] for i in body["items"]] == [a.pk for a in catalogue[:3]]
    assert {i["source"] for i in body["items"]} == {"latest"}
    assert body["personalised"] is False
    assert body["recommendation_id"].endswith(f":{holdout.tag}")
    etag = response["ETag"]
    assert client.get("/api/v1/feeds/me/?limit=3", HTTP_IF_NONE_MATCH=etag).status_code == 304
    make_article(title="Breaking", published_at=timezone.now() - timedelta(minutes=1))
    fresh = client.get("/api/v1/feeds/me/?limit=3", HTTP_IF_NONE_MATCH=etag)
    assert fresh.status_code == 200
    assert fresh.json()["items"][0]["title"] == "Breaking"


def _arm_kind(experiment: Experiment, salt: str, reader: Reader) -> bool:
    arms = tuple(
        Arm(experiment.pk, v.pk, v.name, v.kind, v.weight) for v in experiment.variants.all()
    )
    arm = arm_for(RunningExperiment(experiment.pk, salt, arms), str(reader.public_id))
    return arm is not None and arm.holdout


def _cookie_client(kind: str) -> tuple[Client, Reader]:
    """A browser whose anonymous reader the running experiment puts in a variant of ``kind``."""
    for _ in range(200):
        reader, token = readers.reader_for_cookie(token=None, create=True)
        assert reader is not None
        assert token is not None
        arm = selectors.reader_arm(reader=reader)
        if arm is not None and arm.kind == kind:
            client = Client()
            salt = readers.COOKIE_NAME + readers.COOKIE_SALT
            client.cookies[readers.COOKIE_NAME] = get_cookie_signer(salt=salt).sign(token)
            return client, reader
        reader.delete()
    raise AssertionError(f"no {kind} cookie reader in 200 tries")


@pytest.mark.django_db
def test_home_page_of_a_holdout_reader_shows_the_latest_without_reasons(
    catalogue: list[Article],
) -> None:
    experiment = make_experiment()
    holdout = variant_of(experiment, VariantKind.HOLDOUT)
    personalised = variant_of(experiment, VariantKind.PERSONALISED)
    client, reader = _cookie_client(VariantKind.HOLDOUT)
    stored_feed(reader, catalogue[5])
    stored_feed(None, catalogue[6])

    html = client.get("/").content.decode()

    block = html.split('id="for-you-heading"', 1)[1].split("</section>", 1)[0]
    assert "Top stories" in html
    assert f'data-newsrec-article="{catalogue[0].pk}" data-newsrec-slot="1"' in block
    assert f':{holdout.tag}"' in block  # impressions will name the variant
    assert "Because you read" not in html
    assert 'class="reason"' not in block

    other, other_reader = _cookie_client(VariantKind.PERSONALISED)
    stored_feed(other_reader, catalogue[5])
    block = other.get("/").content.decode().split('id="for-you-heading"', 1)[1]
    assert f'data-newsrec-recommendation="reader:{other_reader.pk}:1:{personalised.tag}"' in block


# --- Results -----------------------------------------------------------------------------------


@pytest.fixture
def finished_experiment(catalogue: list[Article]) -> Experiment:
    """Synthetic events with figures worked out by hand (see the test below)."""
    experiment = make_experiment()
    now = timezone.now()
    Experiment.objects.filter(pk=experiment.pk).update(started_at=now - timedelta(hours=2))
    experiment.refresh_from_db()
    p, h = variant_of(experiment, "personalised"), variant_of(experiment, "holdout")
    a, b, c, d = catalogue[:4]
    r1, r2, r3, outsider = (new_reader() for _ in range(4))
    rows: list[tuple[Reader, str, Article, str, float | None, int]] = [
        # reader, kind, article, recommendation id, dwell, minutes ago
        *[(r1, "impression", a, f"reader:1:4:{p.tag}", None, 50) for _ in range(3)],
        *[(r2, "impression", b, f"default:2:{p.tag}", None, 40) for _ in range(2)],
        (r1, "click", a, f"reader:1:4:{p.tag}", None, 49),
        (r2, "click", b, f"default:2:{p.tag}", None, 39),
        (r1, "click", c, "", None, 30),  # not from the feed: not attributed
        (r1, "read", a, "", 30.0, 48),
        (r1, "read", a, "", 50.0, 47),  # the same read, reported again: longest dwell counts
        (r1, "finish", a, "", None, 47),
        (r1, "read", b, "", 10.0, 20),
        (r2, "dwell", c, "", 40.0, 38),
        (r1, "read", d, "", 99.0, 180),  # before the start: outside the window
        *[(r3, "impression", c, f"latest:77:{h.tag}", None, 30) for _ in range(4)],
        (r3, "click", c, f"latest:77:{h.tag}", None, 29),
        (r3, "read", c, "", 20.0, 28),
        (r3, "impression", a, f"latest:77:e999v{h.pk}", None, 28),  # another experiment
        (outsider, "read", a, "", 60.0, 10),  # never exposed
    ]
    Event.objects.bulk_create(
        Event(reader=reader, event_id=f"e{n}", kind=kind, article=article, recommendation_id=rec,
              dwell_seconds=dwell, occurred_at=now - timedelta(minutes=ago))
        for n, (reader, kind, article, rec, dwell, ago) in enumerate(rows)
    )  # fmt: skip
    return experiment


@pytest.mark.django_db
def test_results_match_hand_computed_figures(finished_experiment: Experiment) -> None:
    results = selectors.experiment_results(experiment=finished_experiment)
    assert results.baseline is not None
    assert results.baseline.name == "holdout"
    by_name = {r.variant.name: r for r in results.variants}
    p, h = by_name["personalised"], by_name["holdout"]

    # per reader (impressions, clicks): r1 (3, 1), r2 (2, 1); r3 (4, 1)
    assert p.figures.counts == VariantCounts(
        readers=2, impressions=5, clicks=2, reads=3, finishes=1, dwell_reads=3,
        dwell_seconds=100.0, impressions_sq=13.0, clicks_sq=2.0, clicks_impressions=5.0,
    )  # fmt: skip
    assert h.figures.counts == VariantCounts(
        readers=1, impressions=4, clicks=1, reads=1, finishes=0, dwell_reads=1, dwell_seconds=20.0,
        impressions_sq=16.0, clicks_sq=1.0, clicks_impressions=4.0,
    )  # fmt: skip
    assert p.figures.ctr == 0.4
    assert (p.figures.ctr_low, p.figures.ctr_high) == pytest.approx((0.1176, 0.7693), abs=1e-4)
    assert p.figures.reads_per_reader == 1.5
    assert p.figures.finishes_per_reader == 0.5
    assert p.figures.mean_dwell_seconds == pytest.approx(100 / 3)
    assert h.figures.ctr == 0.25
    assert h.comparison is None
    assert p.comparison is not None
    assert p.comparison.ctr_lift == pytest.approx(0.6)  # (0.40 - 0.25) / 0.25
    assert p.comparison.ctr_difference == pytest.approx(0.15)
    # Readers are the units. Personalised, delta method over its 2 readers: var_i = 0.5,
    # var_c = 0, cov = 0, so var(CTR) = 0.4² * 0.5 / (2 * 2.5²) = 0.0064; the holdout has one
    # reader, so its binomial 0.25 * 0.75 / 4 = 0.046875. z = 0.15 / sqrt(0.053275).
    assert p.comparison.z == pytest.approx(0.15 / math.sqrt(0.053275), abs=1e-6)
    assert p.comparison.p_value == pytest.approx(0.5158, abs=1e-4)
    assert not p.comparison.significant
    assert p.comparison.reads_per_reader_lift == pytest.approx(0.5)


@pytest.mark.django_db
def test_results_of_a_stopped_experiment_keep_its_window(finished_experiment: Experiment) -> None:
    services.experiment_stop(experiment=finished_experiment)
    finished_experiment.refresh_from_db()
    Experiment.objects.filter(pk=finished_experiment.pk).update(
        stopped_at=timezone.now() - timedelta(minutes=45)
    )
    finished_experiment.refresh_from_db()
    results = selectors.experiment_results(experiment=finished_experiment)
    by_name = {r.variant.name: r.figures.counts for r in results.variants}
    # Only the personalised events 50..46 minutes ago fall inside [start, stop).
    assert (by_name["personalised"].impressions, by_name["personalised"].clicks) == (3, 1)
    assert by_name["holdout"] == VariantCounts()


# --- API ---------------------------------------------------------------------------------------


def _key_client(*scopes: str) -> APIClient:
    _key, raw = api_key_create(name="dashboard", scopes=list(scopes))
    return APIClient(HTTP_AUTHORIZATION=f"Api-Key {raw}")


@pytest.mark.django_db
def test_api_lists_experiments_and_serves_results(finished_experiment: Experiment) -> None:
    client = _key_client("read-feeds")
    listed = client.get("/api/v1/experiments/")
    assert listed.status_code == 200, listed.content
    [row] = listed.json()
    assert row["name"] == "Holdout test"
    assert row["status"] == "running"
    assert [v["kind"] for v in row["variants"]] == ["personalised", "holdout"]

    detail = client.get(f"/api/v1/experiments/{finished_experiment.pk}/")
    assert detail.status_code == 200, detail.content
    body = detail.json()
    holdout = variant_of(finished_experiment, "holdout")
    assert body["baseline_variant_id"] == holdout.pk
    personalised, baseline = body["results"]
    assert personalised == {
        **personalised, "readers": 2, "impressions": 5, "clicks": 2, "ctr": 0.4, "reads": 3,
        "finishes": 1, "reads_per_reader": 1.5,
    }  # fmt: skip
    assert personalised["comparison"]["ctr_lift"] == pytest.approx(0.6)
    assert baseline["comparison"] is None
    assert baseline["mean_dwell_seconds"] == 20.0


@pytest.mark.django_db
def test_api_results_need_staff_or_the_read_feeds_scope(finished_experiment: Experiment) -> None:
    url = f"/api/v1/experiments/{finished_experiment.pk}/"
    reader_user = User.objects.create_user("plain-reader")
    reader_client = APIClient(
        HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=reader_user).key}"
    )
    assert APIClient().get(url).status_code in (401, 403)
    assert reader_client.get(url).status_code == 403
    assert _key_client("write-events").get(url).status_code == 403
    assert _key_client("read-feeds").get(url).status_code == 200
    staff = APIClient()
    staff.force_login(User.objects.create_user("staff", is_staff=True))
    assert staff.get(url).status_code == 200
    missing = staff.get("/api/v1/experiments/999999/")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    draft = make_experiment(name="Not yet", start=False)
    body = staff.get(f"/api/v1/experiments/{draft.pk}/").json()
    assert (body["window_start"], body["results"]) == (None, [])


# --- Admin -------------------------------------------------------------------------------------


def _admin(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


EXPERIMENT_FORM = {
    "name": "Spring holdout", "description": "", "salt": "abc",
    "variants-TOTAL_FORMS": 0, "variants-INITIAL_FORMS": 0, "variants-MIN_NUM_FORMS": 0,
    "variants-MAX_NUM_FORMS": 1000,
}  # fmt: skip


@pytest.mark.django_db
def test_admin_creates_starts_shows_results_and_stops(catalogue: list[Article]) -> None:
    client = _admin(make_user("senior", "Senior editor"))
    response = client.post("/admin/editorial/experiment/add/", EXPERIMENT_FORM)
    assert response.status_code == 302, response.content.decode()[:3000]
    experiment = Experiment.objects.get(name="Spring holdout")
    # No variants given: the default 90 / 10 split.
    assert sorted(experiment.variants.values_list("kind", "weight")) == [
        ("holdout", 10), ("personalised", 90)
    ]  # fmt: skip
    change = f"/admin/editorial/experiment/{experiment.pk}/change/"
    page = client.get(change).content.decode()
    assert 'id="experiment-start"' in page
    assert f"/admin/editorial/experiment/{experiment.pk}/results/" in page
    assert client.get(f"/admin/editorial/experiment/{experiment.pk}/start/").status_code == 405

    assert client.post(f"/admin/editorial/experiment/{experiment.pk}/start/").status_code == 302
    experiment.refresh_from_db()
    assert experiment.status == ExperimentStatus.RUNNING
    assert experiment.started_by is not None
    page = client.get(change).content.decode()
    assert 'id="experiment-stop"' in page
    assert 'name="variants-0-weight"' not in page  # frozen while it runs
    assert reader_in(VariantKind.HOLDOUT) is not None  # the site follows at once

    other = make_experiment(name="Second", start=False)
    followed = client.post(f"/admin/editorial/experiment/{other.pk}/start/", follow=True)
    assert "“Spring holdout” is running: stop it first" in followed.content.decode()

    results = client.get(f"/admin/editorial/experiment/{experiment.pk}/results/")
    assert results.status_code == 200
    html = results.content.decode()
    assert 'id="experiment-results"' in html
    for variant in experiment.variants.all():  # one CTR bar with its interval per variant
        assert f'id="ctr-{variant.pk}"' in html
    assert '<script src="http' not in html  # no CDN
    assert client.post(f"/admin/editorial/experiment/{experiment.pk}/stop/").status_code == 302
    experiment.refresh_from_db()
    assert experiment.status == ExperimentStatus.STOPPED
    assert selectors.reader_arm(reader=new_reader()) is None


@pytest.mark.django_db
def test_admin_start_and_stop_need_the_permission() -> None:
    experiment = make_experiment(start=False)
    viewer = User.objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_experiment", "view_variant"])
    )
    client = _admin(viewer)
    page = client.get(f"/admin/editorial/experiment/{experiment.pk}/change/")
    assert page.status_code == 200
    assert 'id="experiment-start"' not in page.content.decode()
    assert client.post(f"/admin/editorial/experiment/{experiment.pk}/start/").status_code == 403
    experiment.refresh_from_db()
    assert experiment.status == ExperimentStatus.DRAFT
    assert client.get(f"/admin/editorial/experiment/{experiment.pk}/results/").status_code == 200
    changelist = client.post(
        "/admin/editorial/experiment/",
        {"action": "start_selected", "_selected_action": [experiment.pk]},
    )
    assert changelist.status_code in (200, 302)
    experiment.refresh_from_db()
    assert experiment.status == ExperimentStatus.DRAFT
