"""Editors' analytics with a million events: the roll-up's rate and the analytics page's server
time, against the same figures scanned from the raw events in the same run.

    .venv/bin/python bench/analytics.py                  # 1,000,000 events over 30 days (~3 min)
    .venv/bin/python bench/analytics.py --events 100000  # quick check

A throwaway database (default newsrec_bench_analytics, emptied first) gets articles published
over the period, readers, and events written straight into the event table in SQL (impressions,
clicks, reads, dwells, finishes, hides, skips on five surfaces and 20 slots; each moment's
articles are the ones published in the two days before, the newest most shown). Then:

1. the whole period is rolled up a day at a time (``editorial_analytics_rollup``'s path), and
   the frequent beat task's window (the last three hours) is timed too;
2. the analytics page (``/admin/editorial/articlehourstats/``, Django's test client in this
   process, so no network: server time) is fetched ``--repeat`` times for the last day, week
   and 30 days, and its CSV export once per table;
3. baseline: the page's figures (per surface, slot and section, the top 50 articles, and per
   day) computed by scanning the raw events of the same window (the last 24 hours; else whole
   UTC days up to now, as the page counts them) with plain SQL aggregates —
   what the page would cost without the roll-up (a lower bound: no read attribution, no
   medians). Floor: the admin index page.

Target (issue #15): every analytics page p95 under 300 ms with >= 1,000,000 events rolled up.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from _common import Timer, emit, log, ratio, run_guarded, setup, target_check
from _http import collectstatic

DEFAULT_DATABASE = "newsrec_bench_analytics"
TARGET_PAGE_MS = 300.0
DAYS = 30
SURFACES = ("home", "section", "rail", "related", "api")
SECTIONS = ("Politics", "Business", "Sport", "Culture", "Science", "Travel", "Food", "Local")
PAGE = "/admin/editorial/articlehourstats/"

_EVENTS = """
INSERT INTO newsrec_event (reader_id, event_id, kind, article_id, occurred_at, received_at,
    dwell_seconds, feed_slot, surface, recommendation_id, device, referrer, session_id,
    profiling_allowed)
SELECT r.ids[1 + (g %% r.n)], 'b' || g, k.kind, a.ids[greatest(1, least(a.n,
           a.n - floor(t.age / %(article_every)s)::int - floor(power(x.pick, 3) * %(live)s)::int))],
       now() - t.age * interval '1 second', now(),
       CASE WHEN k.kind = 'dwell' THEN round((5 + power(x.dwell, 2) * 600)::numeric, 1) END,
       CASE WHEN k.kind IN ('impression', 'click', 'skip')
            THEN 1 + floor(power(x.slot, 1.5) * 20)::int END,
       (ARRAY['home', 'home', 'home', 'section', 'section', 'rail', 'rail', 'related', 'api',
              'home'])[1 + floor(x.surface * 10)::int],
       '', '', '', '', true
FROM generate_series(%(first)s, %(last)s) g
CROSS JOIN (SELECT array_agg(id ORDER BY id) AS ids, count(*)::int AS n FROM newsrec_reader) r
CROSS JOIN (SELECT array_agg(id ORDER BY published_at, id) AS ids, count(*)::int AS n
            FROM newsrec_article) a
CROSS JOIN LATERAL (SELECT random() AS kind, random() AS pick, random() AS dwell,
                           random() AS slot, random() AS surface, g AS tie) x
CROSS JOIN LATERAL (SELECT random() * %(seconds)s AS age, g AS tie) t
CROSS JOIN LATERAL (SELECT CASE
    WHEN x.kind < 0.60 THEN 'impression' WHEN x.kind < 0.72 THEN 'click'
    WHEN x.kind < 0.82 THEN 'read' WHEN x.kind < 0.92 THEN 'dwell'
    WHEN x.kind < 0.96 THEN 'finish' WHEN x.kind < 0.98 THEN 'skip' ELSE 'hide' END AS kind) k
"""

# The baseline: the page's tables straight from the raw events of the window.
_RAW = {
    "surfaces": """SELECT surface, count(*) FILTER (WHERE kind = 'impression'),
        count(*) FILTER (WHERE kind = 'click'), count(DISTINCT (reader_id, article_id))
        FILTER (WHERE kind IN ('read', 'dwell', 'finish'))
        FROM newsrec_event WHERE occurred_at >= %(since)s GROUP BY 1""",
    "slots": """SELECT feed_slot, count(*) FILTER (WHERE kind = 'impression'),
        count(*) FILTER (WHERE kind = 'click') FROM newsrec_event
        WHERE occurred_at >= %(since)s GROUP BY 1""",
    "sections": """SELECT a.section, count(*) FILTER (WHERE e.kind = 'impression'),
        count(*) FILTER (WHERE e.kind = 'click'), avg(e.dwell_seconds)
        FROM newsrec_event e JOIN newsrec_article a ON a.id = e.article_id
        WHERE e.occurred_at >= %(since)s GROUP BY 1""",
    "articles": """SELECT article_id, count(*) FILTER (WHERE kind = 'impression') AS shown,
        count(*) FILTER (WHERE kind = 'click') FROM newsrec_event
        WHERE occurred_at >= %(since)s GROUP BY 1 ORDER BY shown DESC LIMIT 50""",
    "series": """SELECT date_trunc('day', occurred_at), count(*) FILTER (WHERE kind =
        'impression'), count(*) FILTER (WHERE kind = 'click') FROM newsrec_event
        WHERE occurred_at >= %(since)s GROUP BY 1""",
}


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "p50": round(statistics.median(ordered), 1), "p95": round(p95, 1),
        "max": round(ordered[-1], 1),
    }  # fmt: skip


def timed(call: Callable[[], Any], repeat: int) -> list[float]:
    call()  # warm-up: the first run pays for cold caches and template compilation
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        out.append(1000 * (time.perf_counter() - start))
    return out


def populate(events: int, readers: int, articles: int) -> None:
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from newsrec.models import Article, Reader

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE newsrec_event, editorial_articlehourstats, editorial_facethourstats, "
            "editorial_articledaystats, editorial_facetdaystats, newsrec_reader, "
            "newsrec_article RESTART IDENTITY CASCADE"
        )
    now = timezone.now()
    every = DAYS * 86400 / articles
    Article.objects.bulk_create(
        Article(
            external_id=f"bench-{n}",
            title=f"Bench story {n}",
            section=SECTIONS[n % 8],
            published_at=now - timedelta(seconds=every * (articles - n)),
            content_hash="0" * 64,
        )
        for n in range(articles)
    )
    Reader.objects.bulk_create(Reader(client_id=f"bench:{n}") for n in range(readers))
    chunk = 200_000
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.15)")
        for first in range(1, events + 1, chunk):
            cursor.execute(
                _EVENTS,
                {
                    "first": first, "last": min(events, first + chunk - 1),
                    "seconds": DAYS * 86400, "article_every": every,
                    "live": max(1, round(2 * 86400 / every)),
                },
            )  # fmt: skip
            log(f"events: {min(events, first + chunk - 1):,} written")
        cursor.execute("ANALYZE newsrec_event")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", default=DEFAULT_DATABASE)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--readers", type=int, default=20_000)
    parser.add_argument("--articles", type=int, default=3_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    if args.events < 1000 or args.readers < 1 or args.articles < 10 or args.repeat < 1:
        raise SystemExit("--events >= 1000, --readers >= 1, --articles >= 10, --repeat >= 1")
    stack = setup(database=args.database, threads=1, eager=True)
    run_guarded(stack, lambda: body(args))


def body(args: argparse.Namespace) -> None:
    import logging
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from editorial.analytics import analytics_rollup, analytics_rollup_recent
    from editorial.analytics.rollup import day_floor
    from editorial.models import ArticleDayStats, ArticleHourStats, FacetDayStats, FacetHourStats
    from newsrec.models import Event

    logging.disable(logging.INFO)  # the request log would mix with the JSON on stdout
    log(f"writing {args.events:,} events")
    with Timer() as written:
        populate(args.events, args.readers, args.articles)
    stored = Event.objects.count()
    log(f"rolling up {DAYS} days")
    now = timezone.now().replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    with Timer() as rolled:
        for back in range(DAYS + 1, 0, -1):
            end = now - timedelta(days=back - 1)
            analytics_rollup(start=end - timedelta(days=1), end=end)
    with Timer() as recent:
        analytics_rollup_recent()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE editorial_articlehourstats")
        cursor.execute("ANALYZE editorial_facethourstats")

    log("collectstatic (pages need the static manifest with DEBUG off)")
    collectstatic()
    get_user_model().objects.filter(username="bench-editor").delete()
    user = get_user_model().objects.create_superuser("bench-editor", "", "unused")
    client = Client()
    client.force_login(user)

    def fetch(url: str) -> Callable[[], Any]:
        def go() -> None:
            answer = client.get(url, secure=True)
            if answer.status_code != 200:
                raise SystemExit(f"{url} answered {answer.status_code}")

        return go

    pages: dict[str, dict[str, float]] = {}
    raw: dict[str, dict[str, float]] = {}
    for days in ("1", "7", "30"):
        log(f"timing the page for {days} days")
        pages[f"{days}d"] = percentiles(timed(fetch(f"{PAGE}?days={days}"), args.repeat))
        # the page's window: the last 24 hours, else whole UTC days up to now
        since = timezone.now() - timedelta(days=1)
        if days != "1":
            since = day_floor(timezone.now()) - timedelta(days=int(days) - 1)

        def scan(since: Any = since) -> None:
            with connection.cursor() as cursor:
                for sql in _RAW.values():
                    cursor.execute(sql, {"since": since})
                    cursor.fetchall()

        raw[f"{days}d"] = percentiles(timed(scan, max(3, args.repeat // 4)))
    csv = {
        table: percentiles(timed(fetch(f"{PAGE}?days=30&format=csv&table={table}"), 3))
        for table in ("series", "surfaces", "slots", "sections", "rules", "articles")
    }
    floor = percentiles(timed(fetch("/admin/"), args.repeat))
    worst = max(p["p95"] for p in pages.values())
    emit(
        {
            "events": stored,
            "write_s": round(written.seconds, 1),
            "rollup_s": round(rolled.seconds, 1),
            "rollup_events_per_s": round(stored / rolled.seconds) if rolled.seconds else None,
            "rollup_recent_3h_ms": round(1000 * recent.seconds, 1),
            "hourly_article_rows": ArticleHourStats.objects.count(),
            "hourly_facet_rows": FacetHourStats.objects.count(),
            "daily_article_rows": ArticleDayStats.objects.count(),
            "daily_facet_rows": FacetDayStats.objects.count(),
            "page_ms": pages,
            "baseline_raw_scan_ms": raw,
            "page_vs_raw_scan_p50": {
                k: round(ratio(pages[k]["p50"], raw[k]["p50"]) or 0, 3) for k in pages
            },
            "csv_30d_ms": csv,
            "floor_admin_index_ms": floor,
            "targets": {"page_p95_under_300ms": target_check(worst, TARGET_PAGE_MS)},
            "pass": worst <= TARGET_PAGE_MS and stored >= 1_000_000,
        }
    )


if __name__ == "__main__":
    main()
