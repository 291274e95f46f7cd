"""Event ingestion through the real HTTP API: events/s, batch latency, stored counts, profile lag.

    .venv/bin/python bench/events.py                      # ~1.5 min: 800 batches of 100
    .venv/bin/python bench/events.py --servers 2:sync,2:gthread:4,3:gthread:4   # compare set-ups

gunicorn (config.wsgi, DEBUG=0, default 2 gthread workers x 4 threads) serves a throwaway
database (default newsrec_bench_events, emptied first) with a few hundred articles; a real Celery
worker on a queue of its own runs the debounced profile updates. One API key with the
write-events scope sends batches of 100 events for many readers (top-level ``reader_id``), 10%
of the events re-sent, from keep-alive connections in this process. Afterwards the stored count
must equal the unique events sent, and the clock runs until every reader's profile counts all
their events (profile lag). Baselines in the same run: /healthz/ (the floor of the stack) and
the same kind of events sent one per request. Prints one JSON object per gunicorn set-up.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from _common import Timer, emit, log, ratio, setup, tail_check, target_check
from _http import (
    CpuMeter,
    Gunicorn,
    LoadRun,
    Request,
    ServerConfig,
    load,
    parse_servers,
    percentiles,
    postgres_backends,
    process_tree,
)

DEFAULT_DATABASE = "newsrec_bench_events"
TARGET_EVENTS_PER_S = 5_000  # issue #3
TARGET_P95_MS = 100.0
TARGET_EVENTS_PER_S_2 = 20_000  # issue #18.5, through HTTP on 2 cores
URL = "/api/v1/events/"
SECTIONS = ("Politics", "Business", "Sport", "Culture", "Science", "Travel", "Food", "Local")
# Roughly what a feed produces: many impressions, fewer clicks and reads, rare shares and hides.
KINDS = (
    ("impression", 50), ("click", 15), ("read", 15), ("dwell", 10), ("finish", 5), ("skip", 3),
    ("share", 1), ("hide", 1),
)  # fmt: skip


@dataclass
class Plan:
    """Pre-serialised batches (so that the client spends no time building them) and the truth."""

    requests: list[Request] = field(default_factory=list)
    unique: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # reader → ids
    events: int = 0

    def unique_of(self, answered: set[int]) -> dict[str, set[str]]:
        """Unique event ids per reader of the requests that were answered (tags are indexes)."""
        out: dict[str, set[str]] = defaultdict(set)
        for index in answered:
            reader, ids, _acted = self.requests[index].tag
            out[reader] |= ids
        return out

    def profiled_of(self, answered: set[int]) -> dict[str, int]:
        """Per reader, how many unique events their profile must count once it has caught up.

        Impressions alone queue no profile update (#12.9), so a reader's events after their last
        batch with anything else are only counted by a later update, and a reader who was only
        shown articles has no profile: the wait is for the events up to the last batch with an
        action (in the order sent; every batch of the main run has one).
        """
        seen: dict[str, set[str]] = defaultdict(set)
        out: dict[str, int] = {}
        for index in sorted(answered):
            reader, ids, acted = self.requests[index].tag
            seen[reader] |= ids
            if acted:
                out[reader] = len(seen[reader])
        return out


def make_event(
    rng: random.Random, event_id: str, article_ids: list[int], now: Any
) -> dict[str, Any]:
    kind = rng.choices([k for k, _ in KINDS], weights=[w for _, w in KINDS])[0]
    at = now - timedelta(seconds=rng.uniform(0, 3 * 86_400))
    event: dict[str, Any] = {
        "event_id": event_id,
        "kind": kind,
        "article_id": rng.choice(article_ids),
        "occurred_at": at.isoformat(),
        "device": rng.choice(("mobile", "desktop", "tablet")),
        "local_hour": at.hour,
        "weekday": at.weekday(),
        "referrer": rng.choice(("direct", "search", "social", "internal")),
        "session_id": f"s-{event_id[:-3]}",
    }
    if kind == "impression":
        event |= {"feed_slot": rng.randint(1, 20), "surface": "home", "recommendation_id": "r-1"}
    elif kind in ("read", "dwell"):
        event |= {"dwell_seconds": round(rng.uniform(1, 400), 1)}
    if kind in ("read", "finish"):
        event |= {"read_depth": round(rng.uniform(0.1, 1.0), 2)}
    return event


def plan_batches(
    *, prefix: str, batches: int, size: int, readers: int, duplicates: float,
    article_ids: list[int], seed: int,
) -> Plan:  # fmt: skip
    """``batches`` bodies of ``size`` events for ``readers`` readers, round-robin.

    A share ``duplicates`` of the events repeat one sent earlier to the same reader (a client
    retrying), possibly still in flight on another connection, as after a network error.
    """
    from django.utils import timezone

    rng = random.Random(seed)
    now = timezone.now()
    plan = Plan()
    sent: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for b in range(batches):
        reader = f"{prefix}-r{b % readers}"
        events: list[dict[str, Any]] = []
        for n in range(size):
            earlier = sent[reader] or events
            if earlier and rng.random() < duplicates:
                events.append(rng.choice(earlier))
            else:
                events.append(make_event(rng, f"{prefix}-{b}-{n:03d}", article_ids, now))
        sent[reader].extend(events)
        ids = {e["event_id"] for e in events}
        plan.unique[reader] |= ids
        plan.events += len(events)
        body = json.dumps({"reader_id": reader, "events": events}).encode()
        acted = any(e["kind"] != "impression" for e in events)
        plan.requests.append(Request("POST", URL, body, {}, (reader, ids, acted)))
    return plan


def catalogue_create(n: int, *, seed: int) -> list[int]:
    """``n`` live articles with random unit vectors: the feed pool has its real size and work.

    No model runs here; what is measured is ingestion and profiling cost, not recommendation
    quality.
    """
    import numpy as np
    from django.db import connection
    from django.utils import timezone

    from newsrec.conf import newsrec_settings
    from newsrec.models import Article, EmbeddingStatus, Reader

    with connection.cursor() as cursor:  # a throwaway database: start from nothing
        for model in (Article, Reader):
            cursor.execute(f"TRUNCATE {model._meta.db_table} RESTART IDENTITY CASCADE")
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n, int(newsrec_settings.EMBEDDING_DIMENSIONS))).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    now = timezone.now()
    Article.objects.bulk_create(
        Article(
            external_id=f"bench:{i}", title=f"Bench article {i}", lead="A lead.",
            section=SECTIONS[i % len(SECTIONS)], tags=[f"tag{i % 23}", f"tag{i % 7}"],
            authors=[f"Author {i % 11}"], published_at=now - timedelta(minutes=10 * i),
            content_hash="bench", embedding=vectors[i].tolist(),
            embedding_status=EmbeddingStatus.READY,
        )
        for i in range(n)
    )  # fmt: skip
    return list(Article.objects.values_list("pk", flat=True))


def stored_counts(readers: list[str]) -> dict[str, int]:
    from django.db.models import Count

    from newsrec.models import Event

    rows = (
        Event.objects.filter(reader__client_id__in=[f"api:{r}" for r in readers])
        .values("reader__client_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {str(row["reader__client_id"]).removeprefix("api:"): row["n"] for row in rows}


def answered_report(run: LoadRun) -> dict[str, Any]:
    """Sums of the per-event answers, and the answered request indexes."""
    totals = {"accepted": 0, "duplicate": 0, "rejected": 0}
    answered: set[int] = set()
    for sample in run.samples:
        if sample.status != 200 or sample.body is None:
            continue
        answered.add(sample.tag)
        body = json.loads(sample.body)
        for key in totals:
            totals[key] += body[key]
    return {"answers": totals, "answered": answered}


def send(
    server: Gunicorn, plan: Plan, *, headers: dict[str, str], clients: int, duration: float | None
) -> LoadRun:
    """All clients take the next batch from one shared list, in order, until none is left."""
    import threading

    lock = threading.Lock()
    position = [0]

    def requests(_client: int) -> Any:
        while True:
            with lock:
                index = position[0]
                position[0] += 1
            if index >= len(plan.requests):
                return
            req = plan.requests[index]
            yield Request(req.method, req.path, req.body, headers, index)

    return load(port=server.port, clients=clients, requests=requests, duration=duration,
                keep_bodies=True)  # fmt: skip


BASELINE_KEYS = (
    "events_per_s", "latency_ms", "stored_equals_unique", "unique_events",
    "cpu_ms_per_100_events", "cpu_bound_events_per_s",
)  # fmt: skip  # the API key header, set once the key exists


def ingest_figures(plan: Plan, run: LoadRun) -> dict[str, Any]:
    """Events/s accepted and batch latency; the stored count checked against what was sent."""
    report = answered_report(run)
    unique = plan.unique_of(report["answered"])
    expected = {reader: len(ids) for reader, ids in unique.items()}
    stored = stored_counts(list(plan.unique))
    sent_events = sum(len(json.loads(plan.requests[i].body or b"{}")["events"])
                      for i in report["answered"])  # fmt: skip
    unique_total = sum(expected.values())
    return {
        "batches": len(report["answered"]),
        "events_sent": sent_events,
        "unique_events": unique_total,
        "stored": sum(stored.values()),
        "stored_equals_unique": stored == {r: n for r, n in expected.items() if n},
        "answers": report["answers"],
        "events_per_s": round(unique_total / run.seconds, 1),
        "events_sent_per_s": round(sent_events / run.seconds, 1),
        "requests_per_s": round(run.rate(), 1),
        "latency_ms": run.latency_ms(),
        "statuses": run.statuses(),
        "transport_errors": len(run.errors),
        "seconds": round(run.seconds, 2),
        "_expected": plan.profiled_of(report["answered"]),
    }


def cpu_figures(
    during: dict[str, float], after: dict[str, float], *, events: int
) -> dict[str, Any]:
    """CPU per 100 events by process group, and what that allows on otherwise idle CPUs.

    ``during`` is the load itself; ``after`` the wait for the profiles (the worker and its
    queries). The database figures include the worker's queries: connections over a local
    socket cannot be told apart.
    """
    per_100 = {
        name: round((during.get(name, 0.0) + after.get(name, 0.0)) * 1000 * 100 / events, 2)
        for name in during
    }
    server_side = sum(v for k, v in per_100.items() if k != "client")
    cpus = len(os.sched_getaffinity(0))
    return {
        "cpu_ms_per_100_events": per_100,
        # Server-side CPU only (gunicorn, PostgreSQL, the profiling worker): the client would
        # run elsewhere in production.
        "cpu_bound_events_per_s": round(cpus * 100_000 / server_side, 1) if server_side else None,
    }


def profile_lag(expected: dict[str, int], *, since: float, timeout: float) -> dict[str, Any]:
    """Seconds from ``since`` until each reader's profile counts all their unique events."""
    from newsrec.models import ReaderProfile

    waiting = dict(expected)
    caught: dict[str, float] = {}
    while waiting and time.perf_counter() - since < timeout:
        counted = dict(
            ReaderProfile.objects.filter(
                reader__client_id__in=[f"api:{r}" for r in waiting]
            ).values_list("reader__client_id", "events_counted")
        )
        now = time.perf_counter()
        for reader in list(waiting):
            if counted.get(f"api:{reader}", -1) >= waiting[reader]:
                caught[reader] = now - since
                del waiting[reader]
        time.sleep(0.25)
    lags = list(caught.values())
    return {
        "readers": len(expected),
        "caught_up": len(caught),
        "all_s": round(max(lags), 2) if lags and not waiting else None,
        "per_reader_s": percentiles(lags),
    }


def run_server(
    args: argparse.Namespace, config: ServerConfig, article_ids: list[int], worker: Any,
    headers: dict[str, str],
) -> dict[str, Any]:  # fmt: skip
    from newsrec.conf import newsrec_settings

    tag = str(config).replace(":", "-")
    prefix = f"bench-{tag}-{os.getpid()}"
    server = Gunicorn(config, name="events")
    try:
        server.wait_ready()
        warm = plan_batches(prefix=f"{prefix}-warm", batches=4 * config.workers, size=args.size,
                            readers=4, duplicates=0.0, article_ids=article_ids, seed=1)  # fmt: skip
        send(server, warm, headers=headers, clients=config.workers, duration=None)
        log(f"{config}: floor (GET /healthz/) for {args.floor_seconds:g}s")
        floor = load(
            port=server.port, clients=args.clients, duration=args.floor_seconds,
            requests=lambda _c: iter(lambda: Request("GET", "/healthz/"), None),
        )  # fmt: skip
        meter = CpuMeter(
            {
                "gunicorn": lambda: process_tree(server.proc.pid),
                "postgres": postgres_backends,
                "worker": lambda: process_tree(worker.proc.pid),
                "client": lambda: [os.getpid()],
            }
        )
        log(f"{config}: baseline, one event per request, for {args.baseline_seconds:g}s")
        single = plan_batches(
            prefix=f"{prefix}-one", batches=int(args.baseline_seconds * 2000), size=1,
            readers=args.readers, duplicates=args.duplicates, article_ids=article_ids, seed=2,
        )  # fmt: skip
        meter.start()
        single_run = send(
            server, single, headers=headers, clients=args.clients, duration=args.baseline_seconds
        )
        single_during = meter.stop()
        meter.start()
        baseline = ingest_figures(single, single_run)
        # Let the worker finish the baseline's profiles, so that it does not slow the main run.
        profile_lag(baseline.pop("_expected"), since=time.perf_counter(), timeout=args.timeout)
        baseline |= cpu_figures(single_during, meter.stop(), events=baseline["unique_events"])

        plan = plan_batches(
            prefix=prefix, batches=args.batches, size=args.size, readers=args.readers,
            duplicates=args.duplicates, article_ids=article_ids, seed=3,
        )  # fmt: skip
        log(f"{config}: {args.batches} batches of {args.size} from {args.clients} connections")
        meter.start()
        run = send(server, plan, headers=headers, clients=args.clients, duration=None)
        last_sent = time.perf_counter()
        during = meter.stop()
        meter.start()
        figures = ingest_figures(plan, run)
        log(f"{config}: {figures['events_per_s']} events/s; waiting for the profiles")
        worker.check_alive()
        lag = profile_lag(figures.pop("_expected"), since=last_sent, timeout=args.timeout)
        after = meter.stop()
    finally:
        server.stop()
    cpu = cpu_figures(during, after, events=figures["unique_events"])
    targets = {
        "events_per_s": target_check(figures["events_per_s"], TARGET_EVENTS_PER_S_2, at_least=True),
        "batch_p95_ms": target_check(figures["latency_ms"].get("p95"), TARGET_P95_MS),
        "stored_equals_unique": {"pass": bool(figures["stored_equals_unique"])},
        "batch_tail_under_1s": tail_check(batch=figures["latency_ms"]),
    }
    speedup = ratio(figures["events_per_s"], baseline["events_per_s"])
    return {
        "server": str(config),
        **figures,
        "target_events_per_s": TARGET_EVENTS_PER_S,
        "target_p95_ms": TARGET_P95_MS,
        "meets_target": figures["events_per_s"] >= TARGET_EVENTS_PER_S
        and figures["latency_ms"].get("p95", 1e9) < TARGET_P95_MS
        and figures["stored_equals_unique"],
        "targets": targets,
        "pass": all(t["pass"] for t in targets.values()),
        # how many times the batch-of-1 rate the batches reach (informational)
        "ratio_to_batch_of_1": round(speedup, 1) if speedup is not None else None,
        "profile_lag_s": lag,
        **cpu,
        "profile_debounce_s": int(newsrec_settings.PROFILE_DEBOUNCE_SECONDS),
        "baseline_batch_of_1": {k: baseline[k] for k in BASELINE_KEYS},
        "floor_healthz": {
            "requests_per_s": round(floor.rate(), 1),
            "latency_ms": floor.latency_ms(),
            "statuses": floor.statuses(),
        },
        "batch_size": args.size,
        "duplicates": args.duplicates,
        "readers": args.readers,
        "clients": args.clients,
        "articles": len(article_ids),
        "cpus": len(os.sched_getaffinity(0)),
        "note": "the load client and the Celery worker share the machine's CPUs with gunicorn",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--batches", type=int, default=800, help="batches in the main run (default 800)")
    add("--size", type=int, default=100, help="events per batch (default 100, the API's maximum)")
    add("--clients", type=int, default=4, help="concurrent keep-alive connections (default 4)")
    add("--readers", type=int, default=200, help="readers the events are spread over")
    add("--duplicates", type=float, default=0.1, help="share of events sent again (default 0.1)")
    add("--articles", type=int, default=300, help="articles in the catalogue (default 300)")
    add("--servers", default="2:gthread:4",
        help="gunicorn set-ups to measure, WORKERS:CLASS[:THREADS], comma-separated")  # fmt: skip
    add("--floor-seconds", type=float, default=3.0)
    add("--baseline-seconds", type=float, default=5.0)
    add("--timeout", type=float, default=300.0, help="seconds to wait for the profiles")
    add("--database", default=DEFAULT_DATABASE,
        help=f"benchmark database, emptied first (default {DEFAULT_DATABASE})")  # fmt: skip
    args = parser.parse_args(argv)
    configs = parse_servers(parser, args.servers)
    if args.batches < 1 or args.clients < 1 or args.readers < 1 or args.articles < 1:
        parser.error("--batches, --clients, --readers and --articles must be at least 1")
    if not 1 <= args.size <= 100:
        parser.error("--size must be from 1 to 100 (the API's batch limit)")
    if not 0.0 <= args.duplicates < 1.0:
        parser.error("--duplicates must be from 0 to below 1")
    if args.floor_seconds <= 0 or args.baseline_seconds <= 0 or args.timeout <= 0:
        parser.error("--floor-seconds, --baseline-seconds and --timeout must be positive")
    stack = setup(database=args.database, threads=1, eager=False,
                  queue=f"newsrec-bench-{os.getpid()}")  # fmt: skip
    from embed import Worker

    from newsrec.api.authentication import api_key_create
    from newsrec.models import ApiKeyScope

    worker = None
    try:
        with Timer() as prepare:
            article_ids = catalogue_create(args.articles, seed=0)
            _key, raw = api_key_create(name="bench events", scopes=[ApiKeyScope.WRITE_EVENTS])
            headers = {"Authorization": f"Api-Key {raw}", "Content-Type": "application/json"}
        log(f"{len(article_ids)} articles in {prepare.seconds:.1f}s; starting the Celery worker")
        worker = Worker(os.environ["CELERY_QUEUE"])
        worker.wait_ready()
        for config in configs:
            emit(run_server(args, config, article_ids, worker, headers))
    except KeyboardInterrupt:
        return 130
    finally:
        if worker is not None:
            worker.stop()
        stack.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
