"""Mixed traffic for minutes against gunicorn and real Celery workers, with a rule publish and a
worker killed in the middle (#14.19).

    .venv/bin/python bench/load.py                 # 10 minutes of load (+ ~2 min set-up)
    .venv/bin/python bench/load.py --seconds 120   # a short run

gunicorn (config.wsgi, DEBUG=0, 2 gthread workers x 4 threads) serves a throwaway database
(default newsrec_bench_load, emptied first): ``--articles`` live articles (random unit vectors;
quality is not measured), ``--readers`` readers with histories and profiles, and their feeds,
built by two real Celery workers (one process each, as on 2 cores) with celery beat running the
project's schedule (the fan-out resumer every 30 s among it), all on a queue of this run's own.

For ``--seconds`` keep-alive clients in this process send, paced:

- feed reads: ``/api/v1/feeds/me/`` and the home page, each client as its own reader (cookie);
- event batches of ``--batch`` events for host-identified readers, 10 % of them re-sent;
- article upserts of 10 HuffPost rows (new ones, and earlier ones with a new title), which the
  workers embed;
- ``/healthz/``, the floor of the stack, measured beside them under the same load.

Halfway, a senior publishes a site-wide rule set blocking a section; once its fan-out has
started, one of the two workers is SIGKILLed (its process group: the chunk it held is lost until
the resumer re-queues it). The surviving worker and beat are left to finish.

Printed (one JSON object): p50/p95 per endpoint beside the floor, statuses, rebuild lag (publish
to the last feed on the new rules), and pass/fail for the targets: no 5xx and no transport
error, events stored = unique events accepted = the answers' accepted count, no feed read after
the publish (past the web processes' few seconds of rules memo) shows the blocked section,
the fan-out completed, and no rule violation at the end
(``editorial.compliance.feeds_check``, as ``manage.py newsrec_check_feeds``). The load client,
gunicorn, the workers and PostgreSQL share the machine's CPUs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from _common import ROOT, Timer, emit, huffpost_rows, log, run_guarded, setup, target_check
from _http import Gunicorn, LoadRun, Request, ServerConfig, load, percentiles

DEFAULT_DATABASE = "newsrec_bench_load"
BLOCKED = "Sport"  # a catalogue section (bench/events.py SECTIONS) the mid-run publish blocks
SINGLE_THREADED = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
HOST_READERS = 300  # host-identified readers the event batches are spread over
ARTICLE_BATCH = 10


class Process:
    """A Celery worker or beat of this run, in a process group of its own (kill takes it all)."""

    def __init__(self, name: str, args: list[str]) -> None:
        (ROOT / ".data").mkdir(exist_ok=True)
        self.name = name
        self.log_path = ROOT / ".data" / f"bench-load-{name}.log"
        self._log = self.log_path.open("wb")
        env = {**os.environ, **SINGLE_THREADED, "NEWSREC_TORCH_THREADS": "1",
               "DB_CONN_MAX_AGE": "600"}  # fmt: skip
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", *args], cwd=ROOT, env=env,
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    @classmethod
    def worker(cls, queue: str, index: int) -> Process:
        node = f"{queue}-w{index}"
        process = cls(
            f"worker{index}",
            ["worker", "-Q", queue, "-c", "1", "--pool", "prefork", "-l", "INFO",
             "-n", f"{node}@%h", "--without-mingle", "--without-gossip"],
        )  # fmt: skip
        process.node = f"{node}@{os.uname().nodename}"
        return process

    @classmethod
    def beat(cls) -> Process:
        schedule = ROOT / ".data" / "bench-load-beat-schedule"
        for leftover in ROOT.joinpath(".data").glob("bench-load-beat-schedule*"):
            leftover.unlink()
        return cls("beat", ["beat", "-l", "WARNING", "--schedule", str(schedule)])

    node = ""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole process group: the worker and its pool, mid-task."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.alive():
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()


def workers_ready(workers: list[Process], timeout: float = 120) -> None:
    from config.celery import app

    deadline = time.monotonic() + timeout
    waiting = {w.node for w in workers}
    while waiting and time.monotonic() < deadline:
        for w in workers:
            if not w.alive():
                sys.exit(f"Celery {w.name} exited (code {w.proc.returncode}); see {w.log_path}")
        for reply in app.control.ping(timeout=1.0, destination=sorted(waiting)) or []:
            waiting -= set(reply)
    if waiting:
        sys.exit(f"Celery workers {sorted(waiting)} did not answer within {timeout:.0f}s")


# --- Data ------------------------------------------------------------------------------------


def prepare(args: argparse.Namespace) -> dict[str, Any]:
    """Catalogue, readers with profiles, cookies of the feed clients, the API key, the rules."""
    from events import catalogue_create
    from rebuild import readers_generate

    from editorial.models import RuleSet
    from newsrec.api.authentication import api_key_create
    from newsrec.models import ApiKeyScope, Event, Reader

    RuleSet.objects.all().delete()
    article_ids = catalogue_create(args.articles, seed=0)  # empties articles and readers
    readers_generate(args.readers)  # readers with ~10 events and a profile each
    Event.objects.filter(reader__client_id__startswith="api:").delete()
    cookies = []
    for reader in Reader.objects.order_by("pk")[: args.feed_clients + args.home_clients]:
        token = f"bench-load-{reader.pk}"
        reader.client_id = f"cookie:{token}"
        reader.save(update_fields=["client_id"])
        cookies.append(reader_cookie(token))
    _key, raw = api_key_create(
        name="bench load", scopes=[ApiKeyScope.WRITE_EVENTS, ApiKeyScope.MANAGE_ARTICLES]
    )
    return {"article_ids": article_ids, "cookies": cookies, "api_key": raw}


def reader_cookie(token: str) -> str:
    """The reader cookie's value, signed exactly as the site signs it."""
    from django.http import HttpResponse

    from newsrec import readers

    response = HttpResponse()
    readers.cookie_set(response, token)
    return response.cookies[readers.COOKIE_NAME].value


def rules_publish(name: str, rows: list[dict[str, Any]]) -> int:
    """Publish a site-wide rule set (it replaces the standing one); returns the rules version.

    The publish queues the fan-out of every feed on commit, as the admin's publish does."""
    from editorial import services
    from editorial.models import Rule, RuleSet
    from newsrec.providers import rules_provider

    rule_set = RuleSet.objects.create(name=name)
    for row in rows:
        Rule.objects.create(rule_set=rule_set, **row)
    services.ruleset_publish(rule_set=rule_set, note="bench/load.py")
    return int(rules_provider().version())


STANDING: list[dict[str, Any]] = [
    {"kind": "boost", "target_field": "section", "target_value": "Politics", "factor": 1.3},
    {"kind": "cap", "target_field": "section", "max_per_value": 3, "top_k": 10},
    {"kind": "freshness", "hours": 48},
]
MID_RUN: list[dict[str, Any]] = [
    {"kind": "block", "target_field": "section", "target_value": BLOCKED},
    *STANDING,
]


def stale_feeds() -> int:
    """Kept feeds (and the default one) built under older rules than the live ones."""
    from django.db.models import Q

    from newsrec.feeds import readers_kept
    from newsrec.models import Feed
    from newsrec.providers import rules_provider

    return (
        Feed.objects.filter(rules_version__lt=rules_provider().version())
        .filter(Q(reader__isnull=True) | Q(reader__in=readers_kept()))
        .count()
    )


def wait_fanout(*, since: float, timeout: float) -> float | None:
    """Seconds from ``since`` (epoch) until a fan-out started after it and no kept feed is older
    than the live rules (polled every second); None on timeout.

    Not the progress counter's "finished": when a lost chunk's feeds were rebuilt by other means
    (a profile update, a chunk's retry), the resumer finds nothing stale and the counter stays
    short of the total, although every feed follows the live rules."""
    from newsrec import feeds

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        progress = feeds.fanout_progress() or {}
        if progress.get("started", 0) >= since and not stale_feeds():
            return time.time() - since
        time.sleep(1.0)
    return None


# --- Traffic ---------------------------------------------------------------------------------


class Mix:
    """What each client sends; feed reads are tagged with the time they were made."""

    def __init__(self, args: argparse.Namespace, data: dict[str, Any]) -> None:
        from events import plan_batches

        self.args = args
        self.api_headers = {
            "Authorization": f"Api-Key {data['api_key']}", "Content-Type": "application/json"
        }  # fmt: skip
        batches = int(args.event_clients * args.seconds / args.event_interval) + 10
        self.events = plan_batches(
            prefix=f"bench-load-{os.getpid()}", batches=batches, size=args.batch,
            readers=HOST_READERS, duplicates=0.1, article_ids=data["article_ids"], seed=3,
        )  # fmt: skip
        self.rows = huffpost_rows(limit=args.upsert_rows)
        self.cookies: list[str] = data["cookies"]
        self._lock = threading.Lock()
        self._next_batch = 0
        self.roles: list[str] = (
            ["api_feed"] * args.feed_clients + ["home"] * args.home_clients
            + ["events"] * args.event_clients + ["articles"] + ["floor_healthz"]
        )  # fmt: skip

    def interval(self, role: str) -> float:
        return {
            "api_feed": self.args.feed_interval, "home": self.args.feed_interval * 2,
            "events": self.args.event_interval, "articles": self.args.upsert_interval,
            "floor_healthz": 0.5,
        }[role]  # fmt: skip

    def requests(self, client: int) -> Iterator[Request]:
        role = self.roles[client]
        if role in ("api_feed", "home"):
            cookie = {"Cookie": f"newsrec_rid={self.cookies[client]}"}
            path = "/api/v1/feeds/me/?limit=20" if role == "api_feed" else "/"
            while True:
                yield Request("GET", path, headers=cookie, tag=(role, time.time()))
        elif role == "events":
            while True:
                with self._lock:
                    index, self._next_batch = self._next_batch, self._next_batch + 1
                if index >= len(self.events.requests):
                    return
                req = self.events.requests[index]
                yield Request("POST", req.path, req.body, self.api_headers, ("events", index))
        elif role == "articles":
            yield from self._upserts()
        else:
            while True:
                yield Request("GET", "/healthz/", tag=(role, None))

    def _upserts(self) -> Iterator[Request]:
        """New HuffPost rows, and one in three batches re-sends earlier rows with a new title."""
        from django.utils import timezone

        rng = random.Random(5)
        sent: list[dict[str, Any]] = []
        position = 0
        for n in range(10**9):
            now = timezone.now()
            if sent and n % 3 == 2:
                batch = [dict(r, title=f"{r['title']} (update {n})")
                         for r in rng.sample(sent, min(ARTICLE_BATCH, len(sent)))]  # fmt: skip
            else:
                batch = []
                for row in self.rows[position : position + ARTICLE_BATCH]:
                    at = now - timedelta(minutes=rng.uniform(1, 600))
                    batch.append({**row, "published_at": at.isoformat()})
                position += ARTICLE_BATCH
                sent.extend(batch)
                if not batch:
                    return
            body = json.dumps(batch, default=str).encode()
            yield Request("POST", "/api/v1/articles/", body, self.api_headers, ("articles", n))


class Scenario(threading.Thread):
    """Halfway: publish the blocking rule set; once its fan-out runs, SIGKILL one worker."""

    def __init__(
        self, mix: Mix, workers: list[Process], *, at: float, kill_after: float, settle: float
    ) -> None:
        super().__init__(daemon=True)
        self.mix, self.workers, self.at, self.kill_after = mix, workers, at, kill_after
        self.figures: dict[str, Any] = {}
        self.lag: float | None = None  # publish to every kept feed on the new rules
        self.settle = settle
        self.published_at = 0.0
        self.error: BaseException | None = None

    def run(self) -> None:
        from django.db import connection

        from newsrec import feeds

        try:
            time.sleep(self.at)
            self.published_at = time.time()
            version = rules_publish("bench-load election night", MID_RUN)
            self.figures["publish_s"] = round(time.time() - self.published_at, 3)
            self.figures["rules_version"] = version
            log(f"published rules version {version} (blocks section {BLOCKED!r})")
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:  # the fan-out of this publish has started
                progress = feeds.fanout_progress() or {}
                if progress.get("started", 0) >= self.published_at:
                    break
                time.sleep(0.2)
            else:
                self.figures["fanout_started"] = False
                return
            self.figures["fanout_started"] = True
            time.sleep(self.kill_after)
            victim, task = self._victim()
            progress = feeds.fanout_progress() or {}
            victim.kill()
            self.figures["killed"] = {
                "worker": victim.node,
                "task_in_flight": task,
                "seconds_after_publish": round(time.time() - self.published_at, 2),
                "fanout_done_then": f"{progress.get('done', 0)}/{progress.get('total', 0)}",
            }
            log(f"SIGKILLed {victim.node} at fan-out {self.figures['killed']['fanout_done_then']}")
            self.lag = wait_fanout(since=self.published_at, timeout=self.settle)
            progress = feeds.fanout_progress() or {}
            self.figures["progress_when_rebuilt"] = (
                f"{progress.get('done')}/{progress.get('total')}"
            )
        except BaseException as exc:  # reported in the figures, not lost in a thread
            self.error = exc
        finally:
            connection.close()

    def _victim(self, timeout: float = 30) -> tuple[Process, str | None]:
        """The worker running a chunk of the fan-out (else, after ``timeout``, the first one)
        and its task name: the kill must lose a chunk, not an idle worker."""
        from config.celery import app

        nodes = {w.node: w for w in self.workers if w.alive()}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            active = app.control.inspect(destination=list(nodes), timeout=1.0).active() or {}
            for node, tasks in active.items():
                for task in tasks:
                    if task.get("name") == "newsrec.tasks.feeds_rebuild_readers":
                        return nodes[node], task["name"]
            time.sleep(0.2)
        return self.workers[0], None


def paced_load(port: int, mix: Mix, seconds: float) -> LoadRun:
    """Every role at its own pace, all at once: one paced ``load`` per role, merged."""
    runs: list[LoadRun] = []
    threads = []
    offset = 0
    for role in dict.fromkeys(mix.roles):
        count = mix.roles.count(role)

        def requests(client: int, first: int = offset) -> Iterator[Request]:
            return mix.requests(first + client)

        def one(count: int = count, role: str = role, requests: Any = requests) -> None:
            runs.append(load(port=port, clients=count, requests=requests, duration=seconds,
                             interval=mix.interval(role), keep_bodies=True))  # fmt: skip

        threads.append(threading.Thread(target=one, daemon=True))
        offset += count
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return LoadRun(
        samples=[s for r in runs for s in r.samples],
        errors=[e for r in runs for e in r.errors],
        seconds=max((r.seconds for r in runs), default=0.0),
    )


# --- Figures ---------------------------------------------------------------------------------


def endpoint_figures(run: LoadRun) -> dict[str, Any]:
    by_role: dict[str, list[float]] = {}
    statuses: dict[str, Counter[int]] = {}
    for sample in run.samples:
        role = sample.tag[0]
        by_role.setdefault(role, []).append(sample.seconds * 1000.0)
        statuses.setdefault(role, Counter())[sample.status] += 1
    return {
        role: {
            "requests": len(times),
            "requests_per_s": round(len(times) / run.seconds, 2) if run.seconds else 0.0,
            "latency_ms": percentiles(times),
            "statuses": {str(k): v for k, v in sorted(statuses[role].items())},
        }
        for role, times in sorted(by_role.items())
    }


def blocked_after_publish(run: LoadRun, published_at: float) -> dict[str, int]:
    """Items of the blocked section in feed reads sent after the publish committed: within
    MEMO_SECONDS of it (each web process re-reads the live rules at most that often, by
    design) and after that window (none allowed). A tag's time precedes the request's send."""
    from editorial.compiler import MEMO_SECONDS

    out = {"reads_in_memo_window": 0, "blocked_in_memo_window": 0,
           "reads_after_memo_window": 0, "blocked_after_memo_window": 0}  # fmt: skip
    for sample in run.samples:
        if sample.tag[0] != "api_feed" or sample.status != 200 or not published_at:
            continue
        if sample.tag[1] < published_at:
            continue
        window = "in" if sample.tag[1] < published_at + MEMO_SECONDS else "after"
        body = json.loads(sample.body or b"{}")
        out[f"reads_{window}_memo_window"] += 1
        out[f"blocked_{window}_memo_window"] += sum(
            1 for item in body.get("items", []) if item.get("section") == BLOCKED
        )
    return {"memo_seconds": int(MEMO_SECONDS), **out}


def events_figures(mix: Mix, run: LoadRun) -> dict[str, Any]:
    """Unique events of the answered batches, the answers' counts and what the database holds."""
    from events import stored_counts

    totals = {"accepted": 0, "duplicate": 0, "rejected": 0}
    answered: set[int] = set()
    for sample in run.samples:
        if sample.tag[0] == "events" and sample.status == 200 and sample.body:
            answered.add(sample.tag[1])
            body = json.loads(sample.body)
            for key in totals:
                totals[key] += body[key]
    unique = sum(len(ids) for ids in mix.events.unique_of(answered).values())
    stored = sum(stored_counts(list(mix.events.unique)).values())
    return {
        "batches_answered": len(answered),
        "answers": totals,
        "unique_accepted": unique,
        "stored": stored,
    }


def articles_figures(run: LoadRun, started: Any) -> dict[str, Any]:
    from newsrec.models import Article, EmbeddingStatus

    rows = {"stored": 0, "rejected": 0}
    for sample in run.samples:
        if sample.tag[0] == "articles" and sample.status == 200 and sample.body:
            body = json.loads(sample.body)
            rows["stored"] += body["created"] + body["updated"] + body["unchanged"]
            rows["rejected"] += len(body["rejected"])
    upserted = Article.objects.filter(modified__gte=started)
    return {
        "rows": rows,
        "articles_touched": upserted.count(),
        "embedded_by_now": upserted.filter(embedding_status=EmbeddingStatus.READY).count(),
    }


def compliance() -> dict[str, Any]:
    from editorial.compliance import feeds_check

    with Timer() as timer:
        try:
            report = feeds_check(sample=20, sections=5)
        except Exception as exc:  # a page that raises: a failed target, and the figures kept
            log(f"the compliance check raised {exc!r}")
            return {"violations": None, "error": f"{type(exc).__name__}: {exc}"[:500]}
    return {
        "violations": len(report.violations),
        "examples": [str(v) for v in report.violations[:5]],
        "surfaces": report.surfaces,
        "stored_feeds_checked": report.feeds,
        "stale_feeds": report.stale_feeds,
        "seconds": round(timer.seconds, 1),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    from django.utils import timezone

    data = prepare(args)
    log(f"{len(data['article_ids'])} articles, {args.readers} readers")
    queue = os.environ["CELERY_QUEUE"]
    workers = [Process.worker(queue, 0), Process.worker(queue, 1)]
    beat = Process.beat()
    server = Gunicorn(ServerConfig(2, "gthread", 4), name="load")
    try:
        workers_ready(workers)
        server.wait_ready()
        with Timer() as warm:
            since = time.time()
            rules_publish("bench-load standing", STANDING)
            if wait_fanout(since=since, timeout=args.settle) is None:
                sys.exit("the initial fan-out did not finish; see .data/bench-load-worker*.log")
        log(
            f"initial feeds built by the workers in {warm.seconds:.0f}s; load for {args.seconds:g}s"
        )
        mix = Mix(args, data)
        scenario = Scenario(
            mix, workers, at=args.seconds / 2, kill_after=args.kill_after, settle=args.settle
        )
        started = timezone.now()
        scenario.start()
        traffic = paced_load(server.port, mix, args.seconds)
        log("load over; waiting for the fan-out of the publish")
        scenario.join(timeout=args.settle + 180)
        if scenario.error is not None:
            raise scenario.error
        lag = scenario.lag
        log(f"rebuild lag {lag}s; checking compliance")
        checked = compliance()
        survivors = [w.node for w in workers if w.alive()]
    finally:
        server.stop()
        beat.stop()
        for worker in workers:
            worker.stop()
    endpoints = endpoint_figures(traffic)
    events = events_figures(mix, traffic)
    blocked = blocked_after_publish(traffic, scenario.published_at)
    errors_5xx = sum(1 for s in traffic.samples if s.status >= 500)
    targets = {
        "no_5xx": target_check(errors_5xx, 0),
        "no_transport_errors": target_check(len(traffic.errors), 0),
        "events_stored_equal_unique_accepted": {
            "stored": events["stored"],
            "unique_accepted": events["unique_accepted"],
            "answers_accepted": events["answers"]["accepted"],
            "pass": events["stored"] == events["unique_accepted"] == events["answers"]["accepted"]
            and events["stored"] > 0,
        },
        "blocked_section_not_served_after_memo_window": target_check(
            blocked["blocked_after_memo_window"], 0
        ),
        "fanout_completed_after_kill": {"value": lag, "pass": lag is not None},
        "no_rule_violation_at_end": target_check(checked["violations"], 0),
    }
    return {
        "seconds": args.seconds,
        "endpoints": endpoints,
        "floor": "floor_healthz: /healthz/ (no query) under the same load, the stack's floor",
        "server_errors_5xx": errors_5xx,
        "transport_errors": len(traffic.errors),
        "events": events,
        "articles": articles_figures(traffic, started),
        "scenario": scenario.figures,
        "rebuild_lag_s": round(lag, 1) if lag is not None else None,
        "feed_reads_after_publish": blocked,
        "compliance": checked,
        "surviving_workers": survivors,
        "warm_up_fanout_s": round(warm.seconds, 1),
        "articles_at_start": len(data["article_ids"]),
        "readers": args.readers,
        "cpus": len(os.sched_getaffinity(0)),
        "targets": targets,
        "pass": all(t["pass"] for t in targets.values()),
        "note": (
            "one machine: the load client, gunicorn (2x4 gthread), two single-process Celery "
            "workers (one SIGKILLed), beat and PostgreSQL share its CPUs; latencies include "
            "that contention"
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--seconds", type=float, default=600.0, help="seconds of load (default 600)")
    add("--articles", type=int, default=1000, help="articles in the catalogue (default 1000)")
    add("--readers", type=int, default=5000, help="readers with stored feeds (default 5000)")
    add("--feed-clients", type=int, default=6, help="feed API readers (default 6)")
    add("--home-clients", type=int, default=2, help="home page readers (default 2)")
    add("--feed-interval", type=float, default=0.5,
        help="seconds between a feed client's reads (0.5; home pages twice that)")  # fmt: skip
    add("--event-clients", type=int, default=2, help="event batch senders (default 2)")
    add("--event-interval", type=float, default=1.0, help="seconds between batches (default 1)")
    add("--batch", type=int, default=50, help="events per batch (default 50)")
    add("--upsert-interval", type=float, default=5.0,
        help="seconds between article batches of 10 (default 5)")  # fmt: skip
    add("--upsert-rows", type=int, default=2000, help="HuffPost rows to upsert at most")
    add("--kill-after", type=float, default=2.0,
        help="seconds after the publish's fan-out starts to SIGKILL a worker (2)")  # fmt: skip
    add("--settle", type=float, default=300.0,
        help="seconds to wait for a fan-out to finish (default 300)")  # fmt: skip
    add("--database", default=DEFAULT_DATABASE,
        help=f"benchmark database, emptied first (default {DEFAULT_DATABASE})")  # fmt: skip
    args = parser.parse_args(argv)
    counts = (args.articles, args.readers, args.feed_clients, args.home_clients,
              args.event_clients)  # fmt: skip
    if args.seconds < 20 or min(counts) < 1 or args.feed_clients + args.home_clients > args.readers:
        parser.error("--seconds >= 20; counts >= 1; feed and home clients at most --readers")
    if min(args.feed_interval, args.event_interval, args.upsert_interval) <= 0:
        parser.error("intervals must be positive")
    if not 1 <= args.batch <= 100 or args.kill_after < 0 or args.settle <= 0:
        parser.error("--batch 1-100, --kill-after >= 0, --settle > 0")
    os.environ["LOG_LEVEL"] = "WARNING"  # no request lines from the compliance check's reads
    stack = setup(database=args.database, threads=1, eager=False,
                  queue=f"newsrec-bench-{os.getpid()}")  # fmt: skip
    return run_guarded(stack, lambda: emit(run(args)))


if __name__ == "__main__":
    sys.exit(main())
