"""The learned ranker from stored impressions and clicks: train, validate, promote, serve, roll
back; and undated articles in the live pool."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from io import StringIO

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import timezone

from newsrec import feeds
from newsrec.learning import serving, training
from newsrec.models import Article, Event, EventKind, Feed, RankerModel, RankerModelStatus
from tests.factories import ReaderFactory, make_article, make_catalogue, topic_vector

pytestmark = pytest.mark.django_db

SETTINGS = {
    "FEED_POOL_DAYS": None,
    "RANKER_TRAINING_DAYS": 12,
    "RANKER_VALIDATION_DAYS": 4,
    "RANKER_MIN_IMPRESSIONS": 30,
}


@pytest.fixture(autouse=True)
def _fresh_serving() -> Iterator[None]:
    serving.serving_clear()
    yield
    serving.serving_clear()


def logged_site(days: int = 12, readers: int = 24, seed: int = 3) -> None:
    """A site whose readers click the old "evergreen" explainers whenever one is shown and
    rarely the fresh stories around them: freshness and popularity-by-age (the hand-weighted
    formula) point the wrong way, the click-through rate the right way."""
    now = timezone.now()
    evergreen = [
        make_article(title=f"Explainer {i}", section="Science", published_at=now - timedelta(days=40),
                     embedding=topic_vector(i, topics=3), embedding_status="ready")
        for i in range(40)  # many: a reader rarely meets one already read (and so left out)
    ]  # fmt: skip
    rng = np.random.default_rng(seed)
    people = [ReaderFactory.create() for _ in range(readers)]
    events = []
    for day in range(days, 0, -1):
        start = now - timedelta(days=day)
        fresh = [
            make_article(title=f"Day {day} story {i}", section=["Politics", "Sport"][i % 2],
                         published_at=start - timedelta(hours=2),
                         embedding=topic_vector(100 * day + i, topics=3), embedding_status="ready")
            for i in range(8)
        ]  # fmt: skip
        for person in people:
            at = start + timedelta(hours=int(rng.integers(1, 20)))
            shown = [fresh[int(i)] for i in rng.choice(len(fresh), 5, replace=False)]
            shown.append(evergreen[int(rng.integers(0, len(evergreen)))])
            clicked = shown[-1] if rng.random() < 0.8 else shown[0]
            for slot, k in enumerate(rng.permutation(len(shown)), start=1):
                events.append(
                    Event(
                        reader=person, event_id=f"i-{day}-{slot}", kind=EventKind.IMPRESSION,
                        article=shown[k], occurred_at=at, feed_slot=slot,
                        recommendation_id=f"reader:{person.pk}:{day}",
                    )
                )  # fmt: skip
            events.append(
                Event(
                    reader=person, event_id=f"c-{day}", kind=EventKind.CLICK, article=clicked,
                    occurred_at=at + timedelta(seconds=20),
                )
            )  # fmt: skip
    Event.objects.bulk_create(events)


@override_settings(NEWSREC=SETTINGS)
def test_a_better_model_is_trained_promoted_and_serves_every_feed() -> None:
    logged_site()
    version = training.train(user="test")
    assert version.training["train_impressions"] >= 30
    assert version.training["validation_impressions"] >= 30
    assert set(version.metrics) == {"model", "hand"}
    assert version.metrics["model"]["auc"] > version.metrics["hand"]["auc"]
    assert version.status == RankerModelStatus.ACTIVE, version.verdict
    assert version.verdict.startswith("Promoted: AUC")
    assert max(version.importances.values()) > 0  # the model card names its signals
    model = serving.serving_model()
    assert model is not None
    assert tuple(model.feature_names) == tuple(version.feature_names)

    reader = ReaderFactory.create()
    feeds.pool_cache_clear()
    feeds.feeds_rebuild(reader_ids=[reader.pk])
    items = Feed.objects.get(key=f"reader:{reader.pk}").items
    # the learned path: freshness is an input of the model, not a multiplier after it
    assert items
    assert all(feeds.breakdown_of(i)["freshness"] == 1.0 for i in items)

    # a second run must beat the active version too; the new one is kept either way
    again = training.train(user="test")
    assert "incumbent" in again.metrics
    assert RankerModel.objects.filter(status=RankerModelStatus.ACTIVE).count() == 1


@override_settings(NEWSREC=SETTINGS)
def test_too_little_data_keeps_the_hand_weights_and_says_so() -> None:
    make_catalogue(["Politics"], 5)
    version = training.train()
    assert version.status == RankerModelStatus.REJECTED
    assert version.verdict.startswith("Too little data: 0 training and 0 validation")
    assert not version.model_text
    assert serving.serving_model() is None


@override_settings(NEWSREC=SETTINGS)
def test_rollback_to_the_hand_weights_and_forward_again_from_the_admin() -> None:
    logged_site(seed=5)
    version = training.train()
    assert version.status == RankerModelStatus.ACTIVE

    out = StringIO()
    call_command("newsrec_train", "--rollback", stdout=out)
    assert "hand-weighted formula again" in out.getvalue()
    assert serving.serving_model() is None

    admin = User.objects.create_superuser("boss", "boss@example.org", "pw")
    client = Client()
    client.force_login(admin)
    page = client.get(f"/admin/newsrec/rankermodel/{version.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "validation slice" in html
    assert "Signals (share of split gain)" in html
    assert f"{version.metrics['model']['auc']:.4f}" in html

    response = client.post(
        "/admin/newsrec/rankermodel/",
        {"action": "make_active", "_selected_action": [version.pk]},
        follow=True,
    )
    assert response.status_code == 200
    version.refresh_from_db()
    assert version.status == RankerModelStatus.ACTIVE
    assert serving.serving_model() is not None


def test_an_undated_article_is_dated_by_when_it_was_first_seen() -> None:
    fresh = make_article(published_at=None, embedding=topic_vector(1, topics=2),
                         embedding_status="ready")  # fmt: skip
    old = make_article(published_at=None, embedding=topic_vector(2, topics=2),
                       embedding_status="ready")  # fmt: skip
    Article.objects.filter(pk=fresh.pk).update(created=timezone.now() - timedelta(days=2))
    Article.objects.filter(pk=old.pk).update(created=timezone.now() - timedelta(days=40))
    pool = feeds.pool_load()
    assert fresh.pk in pool.index  # before: undated articles never entered the pool window
    assert old.pk not in pool.index  # and once they are old they leave it like any other
    age_hours = (timezone.now().timestamp() - pool.published_at[pool.index[fresh.pk]]) / 3600
    assert 47 < age_hours < 49  # before: undated articles were always brand new


@override_settings(NEWSREC=SETTINGS)
def test_an_experiment_arm_keeps_its_readers_on_the_hand_weights() -> None:
    from editorial.experiments import selectors as experiments
    from editorial.experiments.assignment import arm_for
    from editorial.experiments.services import experiment_start
    from editorial.models import Experiment, Variant, VariantKind

    logged_site(seed=7)
    assert training.train().status == RankerModelStatus.ACTIVE
    experiment = Experiment.objects.create(name="Learned vs hand-weighted", salt="s")
    for name, kind in [("learned", VariantKind.PERSONALISED), ("hand", VariantKind.HAND_WEIGHTED),
                       ("holdout", VariantKind.HOLDOUT)]:  # fmt: skip
        Variant.objects.create(experiment=experiment, name=name, kind=kind, weight=40)
    experiment_start(experiment=experiment)
    experiments.running_memo_clear()
    readers = [ReaderFactory.create() for _ in range(30)]
    running = experiments.running_experiment()
    assert running is not None
    arms = {r.pk: arm_for(running, str(r.public_id)).name for r in readers}  # type: ignore[union-attr]
    assert {"learned", "hand"} <= set(arms.values())

    feeds.pool_cache_clear()
    feeds.feeds_rebuild(reader_ids=[r.pk for r in readers])
    for reader in readers:
        items = Feed.objects.get(key=f"reader:{reader.pk}").items
        learned = all(feeds.breakdown_of(i)["freshness"] == 1.0 for i in items)
        assert learned is (arms[reader.pk] != "hand"), arms[reader.pk]
    experiments.running_memo_clear()


def test_state_at_a_moment_sees_no_later_event() -> None:
    [a, b] = make_catalogue(["Politics"], 2)
    Article.objects.update(published_at=timezone.now() - timedelta(days=5))
    reader = ReaderFactory.create()
    then = timezone.now() - timedelta(days=2)
    for n, (article, at) in enumerate(
        [(a, then - timedelta(hours=1)), (b, then + timedelta(hours=1))]
    ):
        Event.objects.create(reader=reader, event_id=f"c{n}", kind=EventKind.CLICK, article=article,
                             occurred_at=at)  # fmt: skip
    pool = feeds.pool_load(now=then.timestamp())
    assert pool.clicks[pool.index[a.pk]] == 1
    assert pool.clicks[pool.index[b.pk]] == 0  # clicked after the moment
    [state] = training.reader_states_at(reader_ids=[reader.pk], now=then)
    assert state.read_ids == {a.pk}
    [stored] = feeds.reader_states(reader_ids=[reader.pk], now=then)
    assert stored.read_ids == {a.pk}
    [today] = feeds.reader_states(reader_ids=[reader.pk])
    assert today.read_ids == {a.pk, b.pk}


@override_settings(NEWSREC=SETTINGS)
def test_with_a_learned_ranker_the_feed_api_and_pages_keep_the_live_rules() -> None:
    from editorial.compiler import live_rules_memo_clear
    from editorial.models import Rule, RuleSet, RulesState
    from tests.integration.test_api_feeds import _token_client

    logged_site(seed=11)
    assert training.train().status == RankerModelStatus.ACTIVE
    pinned = Article.objects.filter(section="Science").order_by("pk").first()
    assert pinned is not None
    rule_set = RuleSet.objects.create(name="Live", status="published", is_live=True)
    Rule.objects.create(rule_set=rule_set, kind="block", target_field="section",
                        target_value="Politics")  # fmt: skip
    Rule.objects.create(rule_set=rule_set, kind="pin", target_field="article",
                        target_value=str(pinned.pk), slot=1)  # fmt: skip
    RulesState.bump()
    client, reader = _token_client("learned-reader")
    feeds.pool_cache_clear()
    feeds.feeds_rebuild(reader_ids=[reader.pk], include_default=True)

    body = client.get("/api/v1/feeds/me/?limit=20").json()
    items = body["items"]
    assert items[0]["article_id"] == pinned.pk
    assert not {i["section"] for i in items} & {"Politics"}
    home = Client().get("/").content.decode()
    assert "Politics" not in home.split("<main", 1)[-1]  # "Latest in ..." blocks too (#12.15)
    sport = Article.objects.filter(section="Sport").order_by("-published_at").first()
    assert sport is not None
    Rule.objects.create(rule_set=rule_set, kind="block", target_field="article",
                        target_value=str(sport.pk))  # fmt: skip
    RulesState.bump()
    live_rules_memo_clear()  # what the commit does (tests run inside one transaction)
    other = Article.objects.filter(section="Sport").exclude(pk=sport.pk).first()
    assert other is not None
    page = Client().get(f"/articles/{other.pk}/").content.decode()
    more = page.split('id="more-heading"', 1)[-1]
    assert f'data-newsrec-article="{sport.pk}"' not in more  # "More from Sport" (#12.15)
