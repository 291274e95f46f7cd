"""Redis down (#14.9): the cache is a miss, not a 500; tasks the broker refuses wait in the
PostgreSQL outbox and are sent once it is back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from celery.app.task import Task
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client, override_settings
from django.utils import timezone
from kombu.exceptions import OperationalError
from rest_framework.test import APIClient

from editorial import services as editorial_services
from editorial.models import Rule, RuleSet
from newsrec import health, metrics, readers
from newsrec.api.authentication import api_key_create
from newsrec.models import Article, OutboxTask
from newsrec.outbox import outbox_drain, send_or_record
from newsrec.retention.services import nudge_claim
from newsrec.tasks import feeds_rebuild_all
from tests.factories import make_article
from tests.integration.test_editorial_publish import make_user

pytestmark = pytest.mark.django_db

DEAD_REDIS = {
    "default": {
        "BACKEND": "newsrec.cache.FailSafeRedisCache",
        "LOCATION": "redis://127.0.0.1:9/0",  # nothing listens on the discard port
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }
}


@pytest.fixture
def broker_down(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: Task, *args: Any, **kwargs: Any) -> None:
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(Task, "apply_async", refuse)


@pytest.fixture
def redis_down(broker_down: None) -> Iterator[None]:
    """The cache and the broker (one Redis) both unreachable."""
    with override_settings(CACHES=DEAD_REDIS):
        yield


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, list[Any]]]:
    """The broker is back: tasks sent are recorded here instead of reaching a worker."""
    calls: list[tuple[str, list[Any]]] = []

    def record(self: Task, args: Any = None, kwargs: Any = None, **options: Any) -> None:
        calls.append((self.name, list(args or ())))

    monkeypatch.setattr(Task, "apply_async", record)
    return calls


@pytest.fixture
def articles() -> list[Article]:
    now = timezone.now()
    return [
        make_article(title=f"Story {i}", section="Sport", published_at=now - timedelta(hours=i))
        for i in range(1, 4)
    ]


def _names() -> list[str]:
    return list(OutboxTask.objects.values_list("name", flat=True))


def test_the_cache_backend_answers_as_an_empty_cache_and_fast() -> None:
    with override_settings(CACHES=DEAD_REDIS):
        started = time.monotonic()
        assert cache.get("k", "default") == "default"
        assert cache.get_many(["a", "b"]) == {}
        assert cache.add("lock", 1) is True  # the caller proceeds: debounced work is queued
        cache.set("k", 1)
        cache.delete("k")
        with pytest.raises(ValueError, match="not found"):
            cache.incr("counter")
        for _ in range(50):  # after the first failure Redis is not tried again for a while
            cache.get("k")
        assert time.monotonic() - started < 2.0


def test_reads_and_writes_answer_normally_with_redis_down(
    redis_down: None, articles: list[Article], django_capture_on_commit_callbacks: Any
) -> None:
    client = Client()
    assert client.get("/").status_code == 200
    assert client.get(f"/articles/{articles[0].pk}/").status_code == 200
    assert client.get("/api/v1/feeds/me/").status_code == 200

    events = [
        {"event_id": "e1", "kind": "click", "article_id": articles[0].pk,
         "occurred_at": timezone.now().isoformat()},
    ]  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/events/", {"events": events}, content_type="application/json"
        )
    assert response.status_code == 200, response.content
    assert response.json()["results"][0]["status"] == "accepted"
    assert _names() == ["newsrec.tasks.profile_update"]  # the debounce lock could not be kept

    writer = APIClient()
    writer.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key_create(name='CMS', scopes=['manage-articles'])[1]}")  # fmt: skip
    rows = [{"external_id": "cms-9", "title": "Harbour reopens", "lead": "After the storm."}]
    with django_capture_on_commit_callbacks(execute=True):
        upsert = writer.post("/api/v1/articles/", rows, format="json")
    assert upsert.status_code in (200, 201, 207), upsert.content
    assert Article.objects.filter(external_id="cms-9").exists()
    assert "newsrec.tasks.embed_articles" in _names()


@override_settings(NEWSREC={"API_RATES": {"anon": "1/min"}})
def test_throttles_allow_while_the_cache_is_down(redis_down: None, articles: list[Article]) -> None:
    client = APIClient()
    assert [client.get("/api/v1/feeds/me/").status_code for _ in range(3)] == [200, 200, 200]


def test_hide_and_erase_land_and_say_so_with_redis_down(
    redis_down: None, articles: list[Article], django_capture_on_commit_callbacks: Any
) -> None:
    client = Client()
    client.get("/")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/not-interested/", {"article": articles[0].pk, "next": "/"})
    assert response.status_code == 302
    assert sorted(_names()) == [
        "newsrec.tasks.feeds_rebuild_readers",
        "newsrec.tasks.profile_update",
    ]
    reader_id = OutboxTask.objects.get(name="newsrec.tasks.feeds_rebuild_readers").args[0][0]
    response = client.post("/privacy/erase/", {"confirm": "on"})
    assert response.status_code == 302
    assert not readers.Reader.objects.filter(pk=reader_id).exists()


def test_nudges_stop_while_the_cap_cannot_be_counted(redis_down: None) -> None:
    reader = readers.Reader.objects.create()
    assert nudge_claim(reader=reader) is False


def test_a_publish_with_the_broker_down_goes_live_and_its_fanout_waits_in_the_outbox(
    broker_down: None, django_capture_on_commit_callbacks: Any
) -> None:
    senior: User = make_user("senior", "Senior editor")
    rule_set = RuleSet.objects.create(name="Election night")
    Rule.objects.create(rule_set=rule_set, kind="block", target_field="section", target_value="Sport")  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        editorial_services.ruleset_publish(rule_set=rule_set, user=senior, note="outage")
    rule_set.refresh_from_db()
    assert rule_set.is_live
    assert _names() == ["newsrec.tasks.feeds_rebuild_all"]
    assert health.check_outbox() == {"ok": True, "depth": 1}
    [gauge] = list(metrics.ScrapeCollector()._outbox())
    assert gauge.samples[0].value == 1.0


def test_the_drain_sends_each_task_once_and_deletes_it_only_when_sent(
    broker_down: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(3):  # three publishes during the outage: one fan-out is enough
        assert send_or_record(feeds_rebuild_all) is False
    send_or_record(feeds_rebuild_all.app.tasks["newsrec.tasks.feeds_rebuild_readers"], [7])
    assert outbox_drain() == 0  # still down: nothing lost
    assert OutboxTask.objects.count() == 4
    assert OutboxTask.objects.order_by("pk").first().attempts == 1  # type: ignore[union-attr]

    calls: list[tuple[str, list[Any]]] = []
    monkeypatch.setattr(
        Task, "apply_async", lambda self, args=None, kwargs=None, **o: calls.append((self.name, list(args or ())))
    )  # fmt: skip
    assert outbox_drain() == 4
    assert calls == [
        ("newsrec.tasks.feeds_rebuild_all", []),
        ("newsrec.tasks.feeds_rebuild_readers", [[7]]),
    ]
    assert OutboxTask.objects.count() == 0


def test_the_drain_runs_every_minute_and_before_each_refresh(
    sent: list[tuple[str, list[Any]]],
) -> None:
    from django.conf import settings

    entry = settings.CELERY_BEAT_SCHEDULE["newsrec-outbox-drain"]
    assert (entry["task"], entry["schedule"]) == ("newsrec.tasks.outbox_drain", 60.0)
    OutboxTask.objects.create(name="newsrec.tasks.feeds_rebuild_readers", args=[[3]])
    feeds_rebuild_all.run()
    assert ("newsrec.tasks.feeds_rebuild_readers", [[3]]) in sent
    assert not OutboxTask.objects.exists()


def test_the_cache_keeps_one_redis_client_per_server() -> None:
    # Django made a new redis.Redis (and its table of reply callbacks) for every operation.
    from django.core.cache import cache

    backend: Any = cache
    assert backend._cache.get_client(write=True) is backend._cache.get_client(write=True)
    cache.set("reuse-check", 1)
    assert cache.get("reuse-check") == 1
