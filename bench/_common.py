"""Shared set-up for the benchmarks: a dedicated database, Django, torch threads, HuffPost rows."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
HUFFPOST = ROOT.parent / "shared" / "data" / "huffpost" / "news_category_v3_10k.jsonl"
DEFAULT_DATABASE = "newsrec_bench"

if str(ROOT) not in sys.path:  # `python bench/x.py` puts bench/, not the repository, on sys.path
    sys.path.insert(0, str(ROOT))

from config.devstack import Stack, ensure_postgres, ensure_redis  # noqa: E402


def log(message: str) -> None:
    """Progress goes to stderr so that stdout holds only the JSON figures."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def default_threads() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _create_database(server_url: str, name: str) -> None:
    """Create ``name`` on the server of ``server_url`` unless it exists (needs CREATEDB)."""
    import psycopg
    from psycopg import sql

    # libpq reads postgres:// URLs itself, socket directories in the host part included.
    with psycopg.connect(server_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def bench_database_url(stack: Stack, name: str) -> str:
    """URL of database ``name`` on DATABASE_URL's server, or on the embedded PostgreSQL.

    The benchmarks empty tables, so they never run on the database DATABASE_URL names itself.
    """
    configured = os.environ.get("DATABASE_URL")
    if not configured:
        return ensure_postgres(stack, database=name)
    _create_database(configured, name)
    return urlunsplit(urlsplit(configured)._replace(path=f"/{name}"))


def setup(*, database: str, threads: int, eager: bool, queue: str | None = None) -> Stack:
    """Point Django at the benchmark database, migrate it, and fix the torch thread count.

    The thread count goes into the environment before torch is imported, so that a Celery
    worker started from here runs with the very same settings as this process.
    """
    if threads < 1:
        sys.exit("--threads must be at least 1")
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    stack = Stack()
    # Whatever starting the stack prints goes to stderr; stdout keeps the JSON figures.
    with contextlib.redirect_stdout(sys.stderr):
        try:
            url = bench_database_url(stack, database)
        except Exception as exc:  # any connection problem: say what failed, not a traceback
            stack.shutdown()
            sys.exit(f"Cannot prepare the benchmark database {database!r}: {exc}")
        os.environ["DATABASE_URL"] = url
        os.environ["REDIS_URL"] = ensure_redis(stack)
    os.environ.setdefault("CELERY_BROKER_URL", os.environ["REDIS_URL"])
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "1" if eager else "0"
    # The run's queue, cache keys and workers (named after the queue) are its own, and their
    # Redis keys are deleted when the stack shuts down (run_guarded).
    run = queue or f"newsrec-bench-{os.getpid()}"
    if queue:
        os.environ["CELERY_QUEUE"] = queue
    os.environ["CACHE_KEY_PREFIX"] = run
    stack.env["REDIS_URL"] = os.environ["REDIS_URL"]
    stack.env["CELERY_BROKER_URL"] = os.environ["CELERY_BROKER_URL"]
    stack.redis_runs.append(run)
    # The benchmark database is throwaway; DEBUG stays off so that Django keeps no query log.
    os.environ.setdefault("SECRET_KEY", "newsrec-bench-only-not-a-secret")
    os.environ["DEBUG"] = "0"
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"

    import django
    import torch
    from django.core.management import call_command

    torch.set_num_threads(threads)
    django.setup()
    log(f"database {database!r}: migrating")
    call_command("migrate", "--noinput", verbosity=0)
    ensure_hnsw_index()
    return stack


def ensure_hnsw_index() -> None:
    """Recreate the model's HNSW index if an interrupted bench/related.py run left it dropped."""
    from django.db import connection

    from newsrec.models import Article

    index = hnsw_index()
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [index.name])
        (exists,) = cursor.fetchone()
    if not exists:
        log(f"recreating the missing index {index.name}")
        with connection.schema_editor() as editor:
            editor.add_index(Article, index)


def hnsw_index() -> Any:
    """The HNSW index exactly as the Article model defines it."""
    from newsrec.models import Article

    return next(i for i in Article._meta.indexes if i.name == "newsrec_art_embedding_hnsw")


def huffpost_rows(*, limit: int | None) -> list[dict[str, Any]]:
    """Article rows from the HuffPost file through the project's own JSON Lines importer.

    Later duplicates of an external id replace earlier ones (the file has two repeated links),
    so every row is one distinct article.
    """
    from newsrec.importers.jsonl import JsonLinesImporter

    if not HUFFPOST.exists():
        sys.exit(f"HuffPost data not found at {HUFFPOST} (../shared/data beside the repository)")
    if limit is not None and limit < 1:
        sys.exit("--limit must be at least 1")
    rows: dict[str, dict[str, Any]] = {}
    with HUFFPOST.open("rb") as stream:
        for number, parsed in enumerate(JsonLinesImporter().read(stream), start=1):
            if limit is not None and number > limit:
                break
            if parsed.problems:
                log(f"line {parsed.number} skipped: {parsed.problems}")
                continue
            rows.pop(parsed.article["external_id"], None)
            rows[parsed.article["external_id"]] = parsed.article
    return list(rows.values())


def emit(figures: dict[str, Any]) -> None:
    print(json.dumps(figures), flush=True)


# Issue #18: however good the median, no single request (query, batch, page) may take a second;
# one that does is a lock, a cold-cache stampede or a bug, and the bench says so.
TAIL_LIMIT_MS = 1000.0


def tail_check(**latencies: dict[str, float]) -> dict[str, Any]:
    """p99 and max of each named latency distribution (``percentiles`` dicts, in ms) and
    whether any single one went over TAIL_LIMIT_MS: ``{"pass": false, "over_limit": [...]}``."""
    figures = {
        name: {"p99": d.get("p99"), "max": d.get("max")} for name, d in latencies.items() if d
    }
    over = sorted(name for name, f in figures.items() if (f["max"] or 0.0) > TAIL_LIMIT_MS)
    return {"limit_ms": TAIL_LIMIT_MS, **figures, "over_limit": over, "pass": not over}


def target_check(value: float | None, target: float, *, at_least: bool = False) -> dict[str, Any]:
    """One target: the measured value (a figure or a ratio), the target and pass/fail."""
    if value is None:
        return {"value": None, "target": target, "pass": False}
    ok = value >= target if at_least else value <= target
    return {"value": round(value, 3), "target": target, "pass": ok}


def ratio(value: float | None, floor: float | None) -> float | None:
    """``value / floor``, or None when either is missing or the floor is zero."""
    if value is None or not floor:
        return None
    return value / floor


class Timer:
    """Context manager measuring wall-clock seconds into ``.seconds``."""

    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


def run_guarded(stack: Stack, body: Callable[[], None]) -> int:
    """Run a benchmark's body: exit code 0, or 130 on Ctrl-C; the stack is stopped either way."""
    try:
        body()
    except KeyboardInterrupt:
        return 130
    finally:
        stack.shutdown()
    return 0
