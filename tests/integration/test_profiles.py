"""Profiles from stored events: deterministic rebuilds, debounced updates, the worker, command."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import numpy as np
import pytest
from django.core.management import call_command
from django.utils import timezone

from newsrec import events as events_service
from newsrec import profiles
from newsrec.models import Article, Event, Reader, ReaderProfile
from newsrec.tasks import profile_update
from tests.conftest import wait_for
from tests.factories import ArticleFactory, ReaderFactory


def unit_vector(axis: int) -> list[float]:
    vector = np.zeros(384)
    vector[axis] = 1.0
    return vector.tolist()


def raw(n: int, article: Article, kind: str = "read", minutes: float = 0, **extra: Any) -> dict:
    when = timezone.now() - timedelta(days=2) + timedelta(minutes=minutes)
    return {
        "event_id": f"p{n}",
        "kind": kind,
        "article_id": article.pk,
        "occurred_at": when.isoformat(),
        **extra,
    }


def history(articles: list[Article]) -> list[dict]:
    sport, politics, culture = articles
    return [
        raw(1, sport, "click", 0, session_id="s1", device="mobile", local_hour=7),
        raw(2, sport, "read", 1, dwell_seconds=200, read_depth=0.9, session_id="s1"),
        raw(3, sport, "finish", 2, session_id="s1"),
        raw(4, politics, "hide", 3, session_id="s1"),
        raw(5, culture, "impression", 4, feed_slot=1, session_id="s2"),
        raw(6, culture, "skip", 5, session_id="s2"),
        raw(7, culture, "click", 60 * 30, session_id="s3", device="desktop", local_hour=21),
    ]


@pytest.fixture
def articles() -> list[Article]:
    return [
        ArticleFactory.create(
            section=section, tags=[tag], authors=[author], embedding=unit_vector(i)
        )
        for i, (section, tag, author) in enumerate(
            [("Sport", "football", "Ann"), ("Politics", "vote", "Bo"), ("Culture", "film", "Cy")]
        )
    ]


@pytest.mark.django_db
def test_rebuild_is_deterministic_and_matches_the_pure_fold(
    articles: list[Article], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(profiles, "profile_schedule", lambda **kw: False)
    reader = ReaderFactory.create()
    rows = history(articles)
    events_service.events_ingest(reader=reader, raw_events=rows[::2])
    events_service.events_ingest(reader=reader, raw_events=rows[1::2][::-1])  # late, out of order
    first = profiles.profile_rebuild(reader_id=reader.pk)
    assert first is not None
    snapshot = {
        f: getattr(first, f) for f in ("section_affinity", "tag_affinity", "context_habits")
    }
    vector = np.asarray(first.interest_vector)
    again = profiles.profile_rebuild(reader_id=reader.pk)
    assert again is not None
    assert {f: getattr(again, f) for f in snapshot} == snapshot
    assert np.array_equal(np.asarray(again.interest_vector), vector)
    assert first.events_counted == 7
    assert first.section_affinity["Sport"] == 1.0
    assert first.section_affinity["Politics"] < 0
    assert vector[0] > 0 > vector[1]
    assert first.context_habits == {
        "mobile": {"morning": {"Sport": 1.0}},
        "desktop": {"evening": {"Culture": 1.0}},
    }
    assert (first.sessions, first.completion_rate) == (2, 0.5)


@pytest.mark.django_db
def test_a_burst_of_batches_queues_one_update_after_commit(
    articles: list[Article],
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    queued: list[tuple[Any, ...]] = []
    monkeypatch.setattr(profile_update, "apply_async", lambda **kw: queued.append(kw["args"]))
    reader, off = ReaderFactory.create(), ReaderFactory.create(personalisation_enabled=False)
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(3):
            events_service.events_ingest(reader=reader, raw_events=[raw(n, articles[0])])
            events_service.events_ingest(reader=off, raw_events=[raw(n, articles[0])])
        events_service.events_ingest(reader=reader, raw_events=[raw(0, articles[0])])  # duplicate
    assert queued == [(str(reader.public_id),)]
    assert not Event.objects.filter(reader=off, profiling_allowed=True).exists()
    profile_update(str(reader.public_id))  # the task clears its debounce key first
    with django_capture_on_commit_callbacks(execute=True):
        events_service.events_ingest(reader=reader, raw_events=[raw(9, articles[1])])
    assert len(queued) == 2


@pytest.mark.django_db
def test_a_queued_update_for_an_erased_reader_does_nothing(articles: list[Article]) -> None:
    reader = ReaderFactory.create()
    Event.objects.create(
        reader=reader, event_id="x", kind="click", article=articles[0], occurred_at=timezone.now()
    )
    public_id = str(reader.public_id)
    reader.delete()
    assert profile_update(public_id) is False
    assert not ReaderProfile.objects.exists()


@pytest.mark.django_db
def test_rebuild_command_shows_progress_and_rebuilds(articles: list[Article]) -> None:
    reader = ReaderFactory.create()
    Event.objects.create(
        reader=reader, event_id="x", kind="click", article=articles[2], occurred_at=timezone.now()
    )
    out = StringIO()
    call_command("newsrec_rebuild_profiles", stdout=out, stderr=StringIO())
    assert "Rebuilt 1 reader profile(s)." in out.getvalue()
    assert ReaderProfile.objects.get(reader=reader).section_affinity == {"Culture": 1.0}
    with pytest.raises(Exception, match="UUID"):
        call_command("newsrec_rebuild_profiles", "--reader", "nope", stdout=out)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_worker_builds_the_profile_after_ingestion(
    celery_worker: object, settings: Any
) -> None:
    settings.NEWSREC = {"PROFILE_DEBOUNCE_SECONDS": 1}
    article = ArticleFactory.create(section="Science", embedding=unit_vector(5))
    reader = Reader.objects.create(client_id="api:worker-test")
    report = events_service.events_ingest(
        reader=reader, raw_events=[raw(1, article, "read", dwell_seconds=90)]
    )
    assert report.count("accepted") == 1
    assert wait_for(lambda: ReaderProfile.objects.filter(reader=reader).exists(), timeout=30)
    profile = ReaderProfile.objects.get(reader=reader)
    assert profile.section_affinity == {"Science": 1.0}
    assert profile.interest_vector is not None
