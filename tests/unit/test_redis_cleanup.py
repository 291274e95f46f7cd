"""A run's Redis keys go at its end: queues, cache entries, kombu bindings, killed workers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest
import redis

from config.devstack import _KOMBU_SEP, belongs_to_run, redis_forget_run

URL = os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def client() -> redis.Redis:
    client = redis.Redis.from_url(URL, decode_responses=True)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip(f"no Redis answers at {URL}")
    return client


KILLED_CONSUMER = """
import os, sys
from kombu import Connection, Exchange, Queue

url, run = sys.argv[1:]
conn = Connection(url)
channel = conn.channel()
queue = Queue(run, Exchange(run, type="direct"), routing_key=run, channel=channel)
queue.declare()
producer = conn.Producer(channel)
for n in range(2):
    producer.publish({"n": n}, exchange=queue.exchange, routing_key=run, declare=[queue])
assert queue.get(no_ack=False) is not None  # taken, never acknowledged
Queue(f"{run}-worker@host.celery.pidbox", Exchange("celery.pidbox", "fanout"), channel=channel,
      expires=10.0).declare()
os._exit(0)  # as SIGKILL leaves things: no restore, no clean-up
"""


def _leave_keys_as_a_run_does(run: str) -> None:
    """Through kombu's Redis transport, as Celery uses it, in a process that dies mid-task: a
    queue with a message taken and never acknowledged, a worker's pidbox binding; a cache key."""
    subprocess.run([sys.executable, "-c", KILLED_CONSUMER, URL, run], check=True, timeout=60)
    redis.Redis.from_url(URL).set(f"{run}:1:rules-version", 7)


def _traces(client: redis.Redis, run: str) -> list[str]:
    """Every key, binding member or unacked message of ``run`` still in Redis."""
    found = [k for k in client.scan_iter(match=f"*{run}*", count=1000) if run in k]
    tables: list[str] = list(client.scan_iter(match="_kombu.binding*", count=1000, _type="SET"))
    for table in tables:
        found += [f"{table} {m!r}" for m in client.sscan_iter(table) if run in m]
    unacked = (json.loads(entry)[2] for _tag, entry in client.hscan_iter("unacked"))
    found += [f"unacked {queue}" for queue in unacked if run in queue]
    deadlines: list[str] = client.zrange("_kombu.binding_deadlines", 0, -1)  # type: ignore[assignment]
    found += [f"deadline {m}" for m in deadlines if run in m]
    return found


@pytest.fixture
def runs(client: redis.Redis) -> Iterator[tuple[str, str]]:
    """Two run names, one a prefix of the other (as pids 12 and 123 are)."""
    run = f"newsrec-cleanup-test-{uuid.uuid4().hex[:12]}"
    neighbour = f"{run}0"
    yield run, neighbour
    for name in (run, neighbour):
        redis_forget_run(URL, name)


def test_redis_forget_run_deletes_everything_the_run_left(
    client: redis.Redis, runs: tuple[str, str]
) -> None:
    run, neighbour = runs
    _leave_keys_as_a_run_does(run)
    _leave_keys_as_a_run_does(neighbour)
    left = _traces(client, run)
    assert f"_kombu.binding.{run}" in left
    assert f"_kombu.binding_permanent.{run}" in left
    assert any("celery.pidbox" in t and f"{run}-worker@host" in t for t in left)
    assert any(t.startswith("unacked") for t in left)

    redis_forget_run(URL, run)

    assert [t for t in _traces(client, run) if neighbour not in t] == []
    # Another run whose name merely starts with this one's keeps everything.
    assert f"_kombu.binding.{neighbour}" in _traces(client, neighbour)
    assert client.get(f"{neighbour}:1:rules-version") == "7"
    assert any(t.startswith("unacked") for t in _traces(client, neighbour))


@pytest.mark.parametrize(
    ("name", "owned"),
    [
        ("newsrec-test-12", True),
        ("newsrec-test-12:1:key", True),
        (f"newsrec-test-12{_KOMBU_SEP}3", True),
        ("newsrec-test-12-kill-99", True),
        ("newsrec-test-12@host.celery.pidbox", True),
        ("newsrec-test-123", False),
        ("newsrec", False),
    ],
)
def test_a_run_owns_its_name_and_what_extends_it(name: str, owned: bool) -> None:
    assert belongs_to_run(name, "newsrec-test-12") is owned
