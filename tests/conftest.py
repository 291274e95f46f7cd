"""Shared fixtures: the real Celery worker process, the real embedding model, factories."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"


def _database_url_for(name: str) -> str:
    parts = urlsplit(os.environ.get("DATABASE_URL", "postgres://postgres@localhost:5432/newsrec"))
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def celery_worker(
    django_db_setup: None, django_db_blocker: object
) -> Iterator[subprocess.Popen[bytes]]:
    """A real Celery worker process on the real Redis, using the test database."""
    from django.conf import settings
    from django.db import connection

    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    env = {
        **os.environ,
        "DATABASE_URL": _database_url_for(connection.settings_dict["NAME"]),
        "CELERY_QUEUE": queue,
        "DB_CONN_MAX_AGE": "0",
        "OPENBLAS_NUM_THREADS": "1",  # as config.devstack.WORKER_ENV: small products, one thread
    }
    log = open(ROOT / ".data" / "test-worker.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue, "-c", "1",
         "--pool", "prefork", "-l", "INFO", "-n", f"{queue}-{os.getpid()}@%h", "--without-heartbeat",
         "--without-mingle", "--without-gossip"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    from config.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        replies = app.control.ping(
            timeout=0.5, destination=[f"{queue}-{os.getpid()}@{os.uname().nodename}"]
        )
        if replies:
            break
        if proc.poll() is not None:
            raise RuntimeError(f"Celery worker exited; see {log.name}")
    else:
        proc.terminate()
        raise RuntimeError(f"Celery worker did not answer within 60s; see {log.name}")
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def wait_for(predicate: object, *, timeout: float = 60.0, interval: float = 0.2) -> bool:
    """Poll ``predicate()`` until it is truthy or the timeout passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(interval)
    return False


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _process_memos() -> Iterator[None]:
    """Per-process memos (live rules, running experiment, nudge policies, withdrawn ids, shared
    page blocks) and the pool cache must not leak between tests."""
    yield
    from django.core.cache import cache

    from editorial.compiler import RULES_VERSION_KEY, live_rules_memo_clear
    from newsrec import feeds
    from newsrec.memo import memos_clear

    memos_clear()
    live_rules_memo_clear()  # also its compiled rules, keyed by version
    feeds.pool_cache_clear()
    # the version a test published: the next test's database starts over at version 1
    cache.delete(RULES_VERSION_KEY)
