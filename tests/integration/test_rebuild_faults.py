"""Rebuilds under faults: a reader erased mid-chunk, database errors, an interrupted fan-out."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import InterfaceError, OperationalError, connection, transaction

from newsrec import feeds, tasks
from newsrec.conf import newsrec_settings
from newsrec.engine.rules import Rules
from newsrec.models import Feed, Reader
from newsrec.readers import reader_erase
from tests.factories import make_catalogue, make_reader_who_finished

SECTIONS = ["Sport", "Politics", "Culture", "Science", "Local"]


@pytest.fixture
def catalogue() -> list[Any]:
    feeds.pool_cache_clear()
    return list(make_catalogue(SECTIONS, 30, hours_apart=2))


def _readers_on_version_one(catalogue: list[Any], count: int) -> list[int]:
    ids = [make_reader_who_finished([catalogue[i]], seen=True).pk for i in range(count)]
    feeds.feeds_rebuild(reader_ids=ids, rules=Rules(version=1))
    return ids


def _erase_after_loading(monkeypatch: pytest.MonkeyPatch, erase: Any) -> None:
    """Run ``erase`` once the chunk's readers are loaded and before their feeds are written."""
    loaded = feeds.reader_states

    def states_then_erase(**kwargs: Any) -> Any:
        states = loaded(**kwargs)
        erase()
        return states

    monkeypatch.setattr(feeds.rebuild, "reader_states", states_then_erase)


@pytest.mark.django_db
def test_a_reader_erased_mid_rebuild_leaves_the_rest_of_the_chunk_rebuilt(
    catalogue: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = _readers_on_version_one(catalogue, 5)
    gone = Reader.objects.get(pk=ids[2])
    _erase_after_loading(monkeypatch, lambda: reader_erase(reader=gone))

    stats = feeds.feeds_rebuild(reader_ids=ids, rules=Rules(version=2))

    assert stats.written == 4
    assert not Feed.objects.filter(reader_id=ids[2]).exists()
    kept = [i for i in ids if i != ids[2]]
    assert sorted(
        Feed.objects.filter(rules_version=2).values_list("reader_id", flat=True)
    ) == sorted(kept)


@pytest.mark.django_db(transaction=True)
def test_an_erase_committing_while_the_chunk_writes_does_not_fail_it(
    catalogue: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The erase has deleted the reader but not yet committed when the chunk writes: the write
    waits for it, then leaves that reader out instead of failing on the foreign key."""
    ids = _readers_on_version_one(catalogue, 4)
    deleted, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def erase_slowly() -> None:
        try:
            with transaction.atomic():
                Reader.objects.filter(pk=ids[1]).delete()
                deleted.set()
                release.wait(timeout=30)
        except BaseException as exc:  # pragma: no cover - the assertion reports it
            errors.append(exc)
        finally:
            connection.close()

    eraser = threading.Thread(target=erase_slowly)

    def start_erase() -> None:
        eraser.start()
        assert deleted.wait(timeout=30)
        # Commit once the write has certainly reached the reader rows (or after 1 s at most).
        threading.Timer(1.0, release.set).start()

    _erase_after_loading(monkeypatch, start_erase)
    stats = feeds.feeds_rebuild(reader_ids=ids, rules=Rules(version=2))
    eraser.join(timeout=30)

    assert errors == []
    assert stats.written == 3
    assert not Reader.objects.filter(pk=ids[1]).exists()
    assert Feed.objects.filter(reader_id__in=ids, rules_version=2).count() == 3


@pytest.mark.django_db(transaction=True)
def test_an_erase_during_an_uncommitted_feed_write_deletes_that_feed_too(
    catalogue: list[Any],
) -> None:
    """The other order: a reader's first feed is written but not yet committed when the erase
    starts. The erase waits for it and deletes it with the reader instead of failing."""
    reader = make_reader_who_finished([catalogue[0]], seen=True)
    stored, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def write_slowly() -> None:
        try:
            with transaction.atomic():
                feeds.feeds_rebuild(reader_ids=[reader.pk], rules=Rules(version=2))
                stored.set()
                release.wait(timeout=30)
        except BaseException as exc:  # pragma: no cover - the assertion reports it
            errors.append(exc)
        finally:
            connection.close()

    writer = threading.Thread(target=write_slowly)
    writer.start()
    assert stored.wait(timeout=30)
    threading.Timer(1.0, release.set).start()
    reader_erase(reader=reader)
    writer.join(timeout=30)

    assert errors == []
    assert not Reader.objects.filter(pk=reader.pk).exists()
    assert not Feed.objects.filter(key=feeds.feed_key(reader.pk)).exists()


@pytest.mark.django_db
def test_a_database_error_in_the_fanout_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def flaky_start(*, enqueue: Any) -> str:
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return "run"

    monkeypatch.setattr(feeds, "fanout_start", flaky_start)
    result = tasks.feeds_rebuild_all.apply()
    assert result.successful(), result.traceback
    assert len(calls) == 2


@pytest.mark.django_db
def test_a_lost_connection_in_a_chunk_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    rebuild = feeds.feeds_rebuild

    def flaky_rebuild(**kwargs: Any) -> feeds.RebuildStats:
        calls.append(1)
        if len(calls) == 1:
            raise InterfaceError("connection already closed")
        return rebuild(**kwargs)

    monkeypatch.setattr(feeds, "feeds_rebuild", flaky_rebuild)
    result = tasks.feeds_rebuild_readers.apply(args=([],))
    assert result.successful(), result.traceback
    assert len(calls) == 2


# --- An interrupted fan-out is resumed (#14.7) -------------------------------------------------


@pytest.fixture
def rules_version_two() -> None:
    from editorial.models import RulesState

    RulesState.objects.update_or_create(pk=1, defaults={"version": 2})


@pytest.mark.django_db
def test_an_interrupted_fanout_is_resumed_by_the_sweeper(
    catalogue: list[Any], settings: Any, rules_version_two: None
) -> None:
    settings.NEWSREC = {**getattr(settings, "NEWSREC", {}), "FEED_CHUNK_SIZE": 2}
    ids = _readers_on_version_one(catalogue, 6)
    feeds.feeds_rebuild(reader_ids=[], rules=Rules(version=1), include_default=True)
    chunks: list[tuple[Any, ...]] = []
    run_id = feeds.fanout_start(enqueue=lambda *chunk: chunks.append(chunk))
    assert [len(c[0]) for c in chunks] == [2, 2, 2]
    tasks.feeds_rebuild_readers(*chunks[1])  # the other two chunks die with their worker
    started = time.time()

    resumed: list[tuple[Any, ...]] = []
    # While the run progresses (a chunk finished just now) the sweeper leaves it alone.
    assert feeds.fanout_resume(enqueue=lambda *c: resumed.append(c), now=started + 5) == 0
    assert resumed == []

    stalled = started + int(newsrec_settings.FANOUT_STALL_SECONDS) + 1
    assert feeds.fanout_resume(enqueue=lambda *c: resumed.append(c), now=stalled) == 4
    lost = sorted(chunks[0][0] + chunks[2][0])
    assert sorted(i for c in resumed for i in c[0]) == lost
    assert all(c[1] == run_id and len(c[0]) <= 2 for c in resumed)
    assert [c[2] for c in resumed].count(True) == 1, "the default feed is rebuilt once"
    for chunk in resumed:
        tasks.feeds_rebuild_readers(*chunk)

    assert Feed.objects.filter(reader_id__in=ids, rules_version=2).count() == len(ids)
    assert Feed.objects.get(key=feeds.DEFAULT_FEED_KEY).rules_version == 2
    assert feeds.fanout_progress()["finished"]  # type: ignore[index]


@pytest.mark.django_db
def test_the_sweeper_enqueues_nothing_when_nothing_is_stale(
    catalogue: list[Any], rules_version_two: None, django_assert_max_num_queries: Any
) -> None:
    from django.core.cache import cache

    cache.delete(feeds.PROGRESS_KEY)
    enqueued: list[tuple[Any, ...]] = []
    with django_assert_max_num_queries(0):  # no fan-out ever ran: not even a query
        assert feeds.fanout_resume(enqueue=lambda *c: enqueued.append(c)) == 0

    ids = [make_reader_who_finished([catalogue[i]], seen=True).pk for i in range(3)]
    feeds.fanout_start(enqueue=lambda *c: tasks.feeds_rebuild_readers(*c))
    later = time.time() + int(newsrec_settings.FANOUT_STALL_SECONDS) + 1
    with django_assert_max_num_queries(0):  # the run finished
        assert feeds.fanout_resume(enqueue=lambda *c: enqueued.append(c), now=later) == 0

    # A run that never finished (its chunks lost) whose feeds are all current all the same.
    feeds.fanout_start(enqueue=lambda *c: None)
    later = time.time() + int(newsrec_settings.FANOUT_STALL_SECONDS) + 1
    with django_assert_max_num_queries(2):  # the rules version, then one indexed query
        assert feeds.fanout_resume(enqueue=lambda *c: enqueued.append(c), now=later) == 0
    assert enqueued == []
    assert Feed.objects.filter(reader_id__in=ids, rules_version=2).count() == 3
    # ... is finished: its counter would otherwise stay short of its total for ever
    progress = feeds.fanout_progress()
    assert progress is not None
    assert progress["finished"]
    assert progress["done"] == progress["total"]
    with django_assert_max_num_queries(0):  # and the sweeper leaves it alone from now on
        assert feeds.fanout_resume(enqueue=lambda *c: enqueued.append(c), now=later + 60) == 0


def test_the_sweeper_runs_every_half_minute() -> None:
    entry = django_settings.CELERY_BEAT_SCHEDULE["newsrec-feeds-resume"]
    assert entry["task"] == "newsrec.tasks.feeds_fanout_resume"
    assert float(entry["schedule"]) <= 30  # type: ignore[arg-type]
