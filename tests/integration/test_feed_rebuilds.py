"""Rebuild guarantees: concurrency, a killed worker, and every stored feed obeying its rules."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsrec import feeds
from newsrec.engine.rules import Cap, Diversity, Filters, Pin, Rules
from newsrec.models import Event, Feed
from tests.conftest import ROOT, _database_url_for, wait_for
from tests.factories import make_catalogue, make_reader_who_finished

SECTIONS = ["Sport", "Politics", "Culture", "Science", "Local"]


@pytest.fixture
def catalogue() -> list[Any]:
    feeds.pool_cache_clear()
    return list(make_catalogue(SECTIONS, 60, hours_apart=2, with_authors=True))


@pytest.mark.django_db(transaction=True)
def test_concurrent_rebuilds_of_one_reader_never_interleave(catalogue: list[Any]) -> None:
    reader = make_reader_who_finished(catalogue[:2], seen=True)
    errors: list[BaseException] = []

    def rebuild() -> None:
        try:
            feeds.feeds_rebuild(reader_ids=[reader.pk], rules=Rules(version=3))
        except BaseException as exc:  # pragma: no cover - the assertion reports it
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=rebuild) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    feed = Feed.objects.get(reader=reader)
    assert 1 <= feed.version <= 6
    ids = [item["article_id"] for item in feed.items]
    assert len(ids) == len(set(ids)) >= 20


def _queue_of_this_run(purpose: str) -> str:
    """A queue named after the run's own (``newsrec-test-<pid>`` under ``make test``), so that
    the run's Redis clean-up (config.devstack.redis_forget_run) also deletes its keys."""
    return f"{django_settings.CELERY_TASK_DEFAULT_QUEUE}-{purpose}-{os.getpid()}"


def _spawn_worker(queue: str, name: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": _database_url_for(connection.settings_dict["NAME"]),
        "CELERY_QUEUE": queue,
        "CELERY_VISIBILITY_TIMEOUT": "3",
        "DB_CONN_MAX_AGE": "0",
        "OPENBLAS_NUM_THREADS": "1",
    }
    log = open(Path(ROOT) / ".data" / f"{name}.log", "ab")  # noqa: SIM115
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue, "-c", "1",
         "-l", "INFO", "-n", f"{name}@%h", "--without-mingle", "--without-gossip"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip


def _advisory_lock_awaited() -> bool:
    """Whether another session is waiting for an advisory lock (the worker, on ours)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        return bool(cursor.fetchone()[0])


def _rebuilds_queued(catalogue: list[Any], count: int, queue: str) -> list[int]:
    """``count`` readers with feeds of rules version 1, then version 2 and one rebuild task
    per reader on ``queue``, in order. Returns the readers' ids."""
    from editorial.models import RulesState
    from newsrec.tasks import feeds_rebuild_readers

    readers = [make_reader_who_finished([catalogue[i % 60]], seen=True) for i in range(count)]
    ids = [r.pk for r in readers]
    feeds.feeds_rebuild(reader_ids=ids, rules=Rules(version=1))  # the feeds readers see now
    RulesState.objects.update_or_create(pk=1, defaults={"version": 2})
    for reader_id in ids:
        feeds_rebuild_readers.apply_async(args=([reader_id],), queue=queue)
    return ids


@contextlib.contextmanager
def _rebuild_lock_held(reader_id: int) -> Iterator[None]:
    """Hold the lock a reader's rebuild takes before it writes, so that a worker is certainly
    inside that task (its message taken, not acknowledged) while a test kills it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(7331, %s)", [reader_id])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(7331, %s)", [reader_id])


def _all_rebuilt(ids: list[int]) -> bool:
    return Feed.objects.filter(reader_id__in=ids, rules_version=2).count() == len(ids)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_rebuild_loses_nothing(catalogue: list[Any]) -> None:
    queue = _queue_of_this_run("kill")
    ids = _rebuilds_queued(catalogue, 40, queue)
    # Killed inside the fifth task. (Killed between two tasks instead, a Redis broker can
    # lose the message being fetched.)
    with _rebuild_lock_held(ids[4]):
        first = _spawn_worker(queue, f"{queue}-first")
        try:
            assert wait_for(_advisory_lock_awaited, timeout=90, interval=0.05)
        finally:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait()
    done = Feed.objects.filter(reader_id__in=ids, rules_version=2).count()
    assert done == 4, "the worker was killed in the fifth task"
    # Every reader still has a complete feed: the old one or the new one, never a partial one.
    assert Feed.objects.filter(reader_id__in=ids).count() == len(ids)
    assert not Feed.objects.filter(reader_id__in=ids, items=[]).exists()
    time.sleep(3.5)  # past the visibility timeout: the killed worker's task is redelivered
    second = _spawn_worker(queue, f"{queue}-second")
    try:
        assert wait_for(lambda: _all_rebuilt(ids), timeout=120)
    finally:
        second.terminate()
        second.wait(timeout=30)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_pool_process_killed_mid_rebuild_is_redone_by_its_worker(catalogue: list[Any]) -> None:
    """The kernel's OOM killer takes one pool process, not the worker: the task it was running
    goes back to the queue (task_reject_on_worker_lost) and the same worker redoes it."""
    import psutil

    queue = _queue_of_this_run("oom")
    ids = _rebuilds_queued(catalogue, 12, queue)
    worker = _spawn_worker(queue, queue)
    try:
        with _rebuild_lock_held(ids[4]):
            assert wait_for(_advisory_lock_awaited, timeout=90, interval=0.05)
            [child] = psutil.Process(worker.pid).children()
            child.kill()
            child.wait(timeout=30)
        assert worker.poll() is None, "the worker itself lives on"
        assert wait_for(lambda: _all_rebuilt(ids), timeout=120)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert Feed.objects.filter(reader_id__in=ids).count() == len(ids)


rules_strategy = st.builds(
    lambda blocked, max_age, cap, pins, lam: Rules(
        version=1,
        filters=Filters(blocked_sections=frozenset(blocked), max_age_hours=max_age),
        pins=tuple(Pin(article_id=a, slot=s) for a, s in pins),
        diversity=Diversity(
            caps=(Cap(field="section", max_per_value=cap, top_k=10),) if cap else (), mmr_lambda=lam
        ),
    ),
    st.sets(st.sampled_from(SECTIONS), max_size=2),
    st.one_of(st.none(), st.floats(min_value=6, max_value=200)),
    st.one_of(st.none(), st.integers(min_value=1, max_value=4)),
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=59), st.integers(min_value=1, max_value=8)),
        max_size=2,
    ),
    st.floats(min_value=0.3, max_value=1.0),
)


@pytest.mark.django_db
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rules=rules_strategy,
    histories=st.lists(st.sets(st.integers(0, 59), max_size=6), min_size=1, max_size=4),
)
def test_every_materialised_feed_satisfies_every_active_rule(
    catalogue: list[Any], rules: Rules, histories: list[set[int]]
) -> None:
    by_index = {i: a for i, a in enumerate(catalogue)}
    # Pins name catalogue positions; map them to real ids.
    rules = Rules(
        version=rules.version,
        filters=rules.filters,
        pins=tuple(Pin(article_id=by_index[p.article_id].pk, slot=p.slot) for p in rules.pins),
        diversity=rules.diversity,
    )
    readers = [
        make_reader_who_finished([by_index[i] for i in sorted(h)], seen=True) for h in histories
    ]
    feeds.feeds_rebuild(reader_ids=[r.pk for r in readers], rules=rules, include_default=True)
    now = timezone.now()
    section_of = {a.pk: a.section for a in catalogue}
    age_of = {a.pk: (now - a.published_at).total_seconds() / 3600 for a in catalogue}
    for reader in readers:
        feed = Feed.objects.get(reader=reader)
        ids = [item["article_id"] for item in feed.items]
        read = {e for e in Event.objects.filter(reader=reader).values_list("article_id", flat=True)}
        assert not read & set(ids), "already-read articles are not shown again"
        assert not {section_of[i] for i in ids} & rules.filters.blocked_sections
        if rules.filters.max_age_hours is not None:
            assert all(age_of[i] <= rules.filters.max_age_hours + 0.1 for i in ids)
        reported = {c["kind"] for c in feed.conflicts}
        for cap in rules.diversity.caps:
            top = [section_of[i] for i in ids[: cap.top_k]]
            met = all(top.count(s) <= cap.max_per_value for s in set(top))
            assert met or reported & {"cap_unmet", "pin_exceeds_cap"}, feed.conflicts
        for pin in rules.pins:
            if pin.article_id in ids:
                slot = ids.index(pin.article_id) + 1
                assert slot == pin.slot or reported & {
                    "pin_moved",
                    "pin_slot_taken",
                    "pin_duplicate",
                }
            else:
                assert reported, f"pin {pin} neither placed nor reported"
