"""Reading feeds under load: the home page and /api/v1/feeds/me/ beside /healthz/ (the floor).

    .venv/bin/python bench/read.py                        # ~1.5 min (first run +30 s: demo)
    .venv/bin/python bench/read.py --servers 2:sync,2:gthread:4,3:gthread:2  # compare set-ups

gunicorn (config.wsgi, DEBUG=0, default 2 gthread workers x 4 threads) serves a benchmark
database (default newsrec_bench_read) holding the demo articles with real embeddings (kept
between runs) and 50 anonymous readers (replaced each run) with reading histories, profiles and
built feeds. 50 clients, each with its own reader's signed cookie, fetch each endpoint: closed
loop (saturation), then paced at half that rate, and the floor paced at that same request rate
(the ratios' baseline). The project has no static JSON endpoint, so the floor is /healthz/
(plain text, no query). Prints one JSON object per gunicorn set-up.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from datetime import timedelta
from typing import Any

from _common import (
    Timer,
    default_threads,
    emit,
    log,
    ratio,
    run_guarded,
    setup,
    tail_check,
    target_check,
)
from _http import (
    CpuMeter,
    Gunicorn,
    LoadRun,
    Request,
    ServerConfig,
    collectstatic,
    load,
    parse_servers,
    percentiles,
    postgres_backends,
    process_tree,
)

DEFAULT_DATABASE = "newsrec_bench_read"
TARGET_P95_MS = {"api_feed": 15.0, "home": 40.0}  # issue #6
# Issue #18: paced p95 (and p99) as a multiple of the floor's, measured in the same run.
TARGET_P95_RATIO = {"api_feed": 2.0, "api_section_feed": 2.0, "home": 5.0, "section_page": 5.0}
TARGET_P99_RATIO = {"api_feed": 5.0, "api_section_feed": 5.0}
READER_PREFIX = "cookie:bench-read-"
SECTION = "Sport"  # a demo section; its page runs under a rule set of its own (issue #5)
ENDPOINTS = {
    # /healthz/ is the floor: the same stack (gunicorn, middleware) with no work, no query.
    # The project has no static JSON endpoint; this one answers plain text.
    "floor_healthz": "/healthz/",
    "api_feed": "/api/v1/feeds/me/",
    "home": "/",
    # A section's feed: stored items of the section plus its newest articles, re-ranked under
    # the section page's live rule set (a pin, a block, a boost, a cap and MMR) at read time.
    "api_section_feed": f"/api/v1/feeds/me/?section={SECTION}",
    "section_page": f"/section/{SECTION}/",
}


def demo_catalogue() -> list[int]:
    """The demo articles with real embeddings, loaded (and embedded, ~20 s) only when missing."""
    from django.core.management import call_command

    from newsrec.models import Article

    if Article.objects.published().embedded().count() < 300:
        log("loading and embedding the demo articles (newsrec_demo)")
        with Timer() as timer:
            # Its report goes to stderr: stdout carries only the figures.
            call_command("newsrec_demo", verbosity=0, stdout=sys.stderr)
        log(f"demo ready in {timer.seconds:.0f}s")
    return list(Article.objects.published().embedded().values_list("pk", flat=True))


def section_set_publish() -> str:
    """A live rule set for the SECTION page, as a newsroom would have one; returns its scope."""
    from editorial import services
    from editorial.models import Rule, RuleSet
    from newsrec.models import Article

    services.rules_fanout_enqueue = lambda: None  # type: ignore[assignment]  # feeds built here
    RuleSet.objects.filter(name="bench-read section desk").delete()
    in_section = list(
        Article.objects.published().filter(section=SECTION).order_by("published_at")
        .values_list("pk", flat=True)
    )  # fmt: skip
    rule_set = RuleSet.objects.create(
        name="bench-read section desk", scope="section", scope_value=SECTION
    )
    rows: list[dict[str, Any]] = [
        {"kind": "pin", "target_field": "article", "target_value": str(in_section[0]), "slot": 2},
        {"kind": "block", "target_field": "article", "target_value": str(in_section[1])},
        {"kind": "boost", "target_field": "article", "target_value": str(in_section[2]),
         "factor": 3.0},
        {"kind": "cap", "target_field": "author", "max_per_value": 2, "top_k": 10},
        {"kind": "mmr", "mmr_lambda": 0.8},
    ]  # fmt: skip
    for row in rows:
        Rule.objects.create(rule_set=rule_set, **row)
    services.ruleset_publish(rule_set=rule_set)
    return rule_set.scope_label


def reader_history(
    rng: random.Random, article_ids: list[int], sections: dict[int, str]
) -> list[dict[str, Any]]:
    """A believable history: a favourite section read to the end, impressions, one hide."""
    from django.utils import timezone

    now = timezone.now()
    favourite = rng.choice(sorted(set(sections.values())))
    liked = [a for a in article_ids if sections[a] == favourite]
    read = rng.sample(liked, min(len(liked), rng.randint(3, 6)))
    read += rng.sample(article_ids, 2)
    events: list[dict[str, Any]] = []

    def add(kind: str, article: int, minutes: float, **extra: Any) -> None:
        at = now - timedelta(minutes=minutes)
        events.append({"event_id": f"e{len(events)}", "kind": kind, "article_id": article,
                       "occurred_at": at.isoformat(), "local_hour": at.hour,
                       "weekday": at.weekday(), "session_id": "s1", **extra})  # fmt: skip

    for n, article in enumerate(read):
        minutes = 600 - 30 * n
        add("impression", article, minutes + 1, feed_slot=n + 1, surface="home")
        add("click", article, minutes)
        add("read", article, minutes - 2, dwell_seconds=rng.uniform(40, 240), read_depth=0.9)
        if rng.random() < 0.5:
            add("finish", article, minutes - 3)
    for article in rng.sample(article_ids, 10):
        add("impression", article, 30, feed_slot=1, surface="home")
    add("hide", rng.choice(article_ids), 20)
    return events


def readers_create(n: int, article_ids: list[int], *, seed: int) -> list[tuple[int, str]]:
    """``n`` anonymous readers with histories, profiles and feeds; (reader id, cookie value).

    The cookie is signed exactly as the site signs it (readers.cookie_set). Ingestion queues
    the profile update, which runs at once (eager Celery): profile, then the reader's feed.
    """
    import secrets

    from django.http import HttpResponse

    from newsrec import feeds, readers
    from newsrec.events import events_ingest
    from newsrec.models import Article, Reader

    Reader.objects.filter(client_id__startswith=READER_PREFIX).delete()
    sections = dict(Article.objects.filter(pk__in=article_ids).values_list("pk", "section"))
    rng = random.Random(seed)
    out = []
    for i in range(n):
        token = f"bench-read-{i}-{secrets.token_urlsafe(8)}"
        reader = Reader.objects.create(client_id=f"cookie:{token}")
        report = events_ingest(reader=reader, raw_events=reader_history(rng, article_ids, sections))
        if report.count("rejected"):
            sys.exit(f"bench reader history rejected: {report.results}")
        response = HttpResponse()
        readers.cookie_set(response, token)
        out.append((reader.pk, response.cookies[readers.COOKIE_NAME].value))
    feeds.feeds_rebuild(reader_ids=[pk for pk, _ in out], include_default=True)
    return out


def check_pages(server: Gunicorn, cookies: list[str]) -> dict[str, Any]:
    """Each reader's feed is personalised and the pages answer 200 (not measured)."""
    run = load(
        port=server.port,
        clients=min(len(cookies), 8),
        keep_bodies=True,
        requests=lambda c: iter(
            [
                Request("GET", path, headers={"Cookie": f"newsrec_rid={cookie}"}, tag=(name, i))
                for i, cookie in enumerate(cookies)
                if i % min(len(cookies), 8) == c
                for name, path in ENDPOINTS.items()
            ]
        ),
    )
    feeds = [json.loads(s.body or b"{}") for s in run.samples if s.tag[0] == "api_feed"]
    personalised = sum(1 for feed in feeds if feed.get("personalised"))
    home = [s for s in run.samples if s.tag[0] == "home" and s.status == 200]
    return {
        "statuses": run.statuses(),
        "personalised_feeds": personalised,
        "home_with_because_you_read": sum(b"Because you read" in (s.body or b"") for s in home),
        "home_kb": round(max((len(s.body or b"") for s in home), default=0) / 1024, 1),
    }


def hammer(
    server: Gunicorn, meter: CpuMeter, path: str, cookies: list[str], *, clients: int,
    seconds: float, interval: float = 0.0,
) -> tuple[LoadRun, dict[str, float]]:  # fmt: skip
    """``clients`` connections, each as its own reader, GET ``path`` for ``seconds``."""

    def requests(client: int) -> Any:
        request = Request("GET", path, headers={"Cookie": f"newsrec_rid={cookies[client]}"})
        while True:
            yield request

    server.access_log_reset()
    meter.start()
    run = load(port=server.port, clients=clients, requests=requests, duration=seconds,
               interval=interval)  # fmt: skip
    return run, meter.stop()


def endpoint_figures(
    name: str, server: Gunicorn, meter: CpuMeter, cookies: list[str], args: argparse.Namespace
) -> dict[str, Any]:
    path = ENDPOINTS[name]
    log(f"{name}: {args.clients} clients, closed loop for {args.seconds:g}s")
    closed, cpu = hammer(server, meter, path, cookies, clients=args.clients, seconds=args.seconds)
    server_ms = percentiles(server.access_times_ms(path=path))
    rate = closed.rate()
    figures: dict[str, Any] = {
        "path": path,
        "requests_per_s": round(rate, 1),
        "latency_ms": closed.latency_ms(),
        "server_ms": server_ms,
        "cpu_ms_per_request": {
            group: round(seconds * 1000 / max(len(closed.samples), 1), 2)
            for group, seconds in cpu.items()
        },
        "statuses": closed.statuses(),
        "transport_errors": len(closed.errors),
    }
    if args.paced > 0 and rate > 0:
        # The same clients, each pausing so that together they ask for a share of capacity:
        # latency without the queue that a saturated server builds up.
        interval = args.clients / (rate * args.paced)
        log(f"{name}: paced at {args.paced:g} x {rate:.0f} req/s for {args.seconds:g}s")
        paced, _ = hammer(server, meter, path, cookies, clients=args.clients,
                          seconds=args.seconds, interval=interval)  # fmt: skip
        figures["paced"] = {
            "requests_per_s": round(paced.rate(), 1),
            "latency_ms": paced.latency_ms(),
            "server_ms": percentiles(server.access_times_ms(path=path)),
            "statuses": paced.statuses(),
        }
        if name != "floor_healthz":
            # The floor at this endpoint's own request rate: the fair baseline of the ratio
            # (the floor paced at half its own, far higher, capacity queues on the CPUs).
            log(f"floor_healthz: paced at {name}'s rate for {args.seconds:g}s")
            floor, _ = hammer(
                server, meter, ENDPOINTS["floor_healthz"], cookies,
                clients=args.clients, seconds=args.seconds, interval=interval,
            )  # fmt: skip
            figures["paced"]["floor_same_rate_latency_ms"] = floor.latency_ms()
    paced_figures = figures.get("paced", {})
    # No request may take a second (issue #18): gunicorn's own times in both modes, and what
    # the paced clients saw (the closed loop's client times are mostly queueing, by design).
    figures["tail"] = tail_check(
        server_closed=server_ms,
        server_paced=paced_figures.get("server_ms", {}),
        client_paced=paced_figures.get("latency_ms", {}),
    )
    # A request's server time lies within its round trip: a server max above the clients'
    # max means gunicorn's wall-clock timing jumped (a clock step), not a slow request.
    figures["tail"]["server_within_client"] = all(
        mode.get("server_ms", {}).get("max", 0.0) <= mode.get("latency_ms", {}).get("max", 0.0)
        for mode in (figures, paced_figures)
        if mode
    )
    if name in TARGET_P95_MS:
        target = TARGET_P95_MS[name]
        figures["target_p95_ms"] = target
        figures["meets_target"] = {
            "saturated": figures["latency_ms"].get("p95", 1e9) < target,
            "paced": figures.get("paced", {}).get("latency_ms", {}).get("p95", 1e9) < target,
            "server_side": server_ms.get("p95", 1e9) < target,
        }
    return figures


def read_targets(endpoints: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Issue #18's targets: paced p95/p99 as ratios to the floor's, and the 1 s tail check."""

    def paced(name: str, at: str) -> float | None:
        return endpoints[name].get("paced", {}).get("latency_ms", {}).get(at)

    def floor(name: str, at: str) -> float | None:
        """The floor paced at ``name``'s own request rate (else at half its own capacity)."""
        same_rate = endpoints[name].get("paced", {}).get("floor_same_rate_latency_ms", {})
        return same_rate.get(at, paced("floor_healthz", at))

    targets: dict[str, Any] = {}
    for name, limit in TARGET_P95_RATIO.items():
        targets[f"{name}_paced_p95_ratio"] = target_check(
            ratio(paced(name, "p95"), floor(name, "p95")), limit
        )
    for name, limit in TARGET_P99_RATIO.items():
        targets[f"{name}_paced_p99_ratio"] = target_check(
            ratio(paced(name, "p99"), floor(name, "p99")), limit
        )
    for name, figures in endpoints.items():
        targets[f"{name}_tail_under_1s"] = {"pass": figures["tail"]["pass"]}
    return {"targets": targets, "pass": all(t["pass"] for t in targets.values())}


def run_server(
    args: argparse.Namespace, config: ServerConfig, cookies: list[str], articles: int
) -> dict[str, Any]:
    server = Gunicorn(config, name="read", access_log=True)
    try:
        server.wait_ready()
        check = check_pages(server, cookies)
        if set(check["statuses"]) != {"200"}:
            sys.exit(f"pages do not answer 200: {check}; see {server.log_path}")
        meter = CpuMeter(
            {"gunicorn": lambda: process_tree(server.proc.pid), "postgres": postgres_backends}
        )
        endpoints = {
            name: endpoint_figures(name, server, meter, cookies, args) for name in ENDPOINTS
        }
    finally:
        server.stop()
    return {
        "server": str(config),
        **endpoints,
        **read_targets(endpoints),
        "check": check,
        "clients": args.clients,
        "readers": len(cookies),
        "articles": articles,
        "seconds": args.seconds,
        "paced_share": args.paced,
        "cpus": len(os.sched_getaffinity(0)),
        "note": (
            "closed loop: each client sends its next request when the answer arrives, so "
            "latency includes the queue; paced: the same clients at a share of that rate; "
            "server_ms: gunicorn's own request time. The load client shares the CPUs."
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--clients", type=int, default=50, help="concurrent clients, one reader each (50)")
    add("--seconds", type=float, default=8.0, help="seconds per endpoint and mode (default 8)")
    add("--paced", type=float, default=0.5,
        help="paced run at this share of the closed-loop rate, 0: none (default 0.5)")  # fmt: skip
    add("--servers", default="2:gthread:4",
        help="gunicorn set-ups to measure, WORKERS:CLASS[:THREADS], comma-separated")  # fmt: skip
    add("--database", default=DEFAULT_DATABASE,
        help=f"benchmark database (default {DEFAULT_DATABASE})")  # fmt: skip
    args = parser.parse_args(argv)
    configs = parse_servers(parser, args.servers)
    if args.clients < 1 or args.seconds <= 0 or not 0 <= args.paced < 1:
        parser.error("--clients >= 1, --seconds > 0 and 0 <= --paced < 1 are required")
    # Eager Celery: the demo's embedding and the readers' profile updates run here, at once.
    stack = setup(database=args.database, threads=default_threads(), eager=True)

    def body() -> None:
        log("collectstatic (pages need the static manifest with DEBUG off)")
        collectstatic()
        article_ids = demo_catalogue()
        scope = section_set_publish()
        log(f"live rule set for {scope}")
        with Timer() as timer:
            made = readers_create(args.clients, article_ids, seed=0)
        log(f"{len(made)} readers with histories, profiles and feeds in {timer.seconds:.1f}s")
        cookies = [cookie for _, cookie in made]
        for config in configs:
            emit(run_server(args, config, cookies, len(article_ids)))

    return run_guarded(stack, body)


if __name__ == "__main__":
    sys.exit(main())
