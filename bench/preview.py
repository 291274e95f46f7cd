"""Preview latency: one reader under live and draft rules (< 300 ms) and 1,000 readers (< 5 s).

    .venv/bin/python bench/preview.py [--readers 1000] [--single 30] [--baseline-readers 200]

Runs on the benchmark database (see bench/README.md) with the HuffPost articles' own vectors
(embedded by bench/embed.py or bench/related.py, else here). It adds ``--readers`` bench readers
with profiles and reading history (kept for later runs), a live and a draft rule set, and prints
one JSON line: the project's preview path next to a naive baseline measured in the same run.

- single reader: ``editorial.preview.preview_reader`` (reader loaded from the database, both rule
  sets compiled, two engine runs on the cached pool; the pool itself is reloaded at most once a
  minute per process, its load time is reported apart). Baseline: the same with the pool loaded
  from the database for the request (no cache).
- aggregate: ``editorial.preview.preview_aggregate`` (one ``reader_states`` query batch and two
  ``Ranker.rank_many`` over the sample). Baseline: one ``reader_states`` and two ``Ranker.rank``
  calls per reader, measured on ``--baseline-readers`` readers and scaled to the sample size.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any

import numpy as np
from _common import (
    DEFAULT_DATABASE,
    Timer,
    default_threads,
    emit,
    log,
    setup,
    tail_check,
    target_check,
)
from _http import percentiles

CLIENT = "bench-preview:"
TARGET_SINGLE_MS = 300.0
TARGET_AGGREGATE_S = 5.0


def ensure_articles() -> None:
    from newsrec.models import Article

    if Article.objects.embedded().count() >= 1000:
        return
    log("fewer than 1,000 embedded articles: embedding HuffPost rows first (slow)")
    from related import ensure_real_embedded

    ensure_real_embedded(limit=10_000)


def ensure_readers(count: int) -> list[int]:
    """``count`` bench readers, each fond of one or two sections, with 8 finished reads."""
    from datetime import timedelta

    from django.utils import timezone

    from newsrec.models import Article, Event, EventKind, Reader, ReaderProfile

    existing = list(
        Reader.objects.filter(client_id__startswith=CLIENT)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    Reader.objects.filter(pk__in=existing).update(last_seen=timezone.now())
    if len(existing) >= count:
        return existing[:count]
    rng = np.random.default_rng(7)
    rows = list(Article.objects.embedded().values_list("pk", "section", "embedding"))
    by_section: dict[str, list[int]] = {}
    for i, (_pk, section, _e) in enumerate(rows):
        by_section.setdefault(section, []).append(i)
    sections = sorted(by_section, key=lambda s: -len(by_section[s]))[:12]
    now = timezone.now()
    start = len(existing)
    log(f"creating {count - start} bench readers")
    readers = Reader.objects.bulk_create(
        [Reader(client_id=f"{CLIENT}{n}", last_seen=now) for n in range(start, count)]
    )
    profiles, events = [], []
    for reader in readers:
        liked = list(rng.choice(sections, size=2, replace=False))
        picks = [int(rng.choice(by_section[s])) for s in liked for _ in range(4)]
        vector = np.mean([np.asarray(rows[i][2], dtype=np.float32) for i in picks], axis=0)
        profiles.append(
            ReaderProfile(
                reader=reader, interest_vector=vector / np.linalg.norm(vector),
                section_affinity={liked[0]: 0.8, liked[1]: 0.4}, events_counted=len(picks),
            )
        )  # fmt: skip
        events += [
            Event(reader=reader, event_id=f"b{k}", kind=EventKind.FINISH, article_id=rows[i][0],
                  occurred_at=now - timedelta(hours=k), dwell_seconds=90, read_depth=1.0)
            for k, i in enumerate(picks)
        ]  # fmt: skip
    ReaderProfile.objects.bulk_create(profiles)
    Event.objects.bulk_create(events, batch_size=5000)
    return existing + [r.pk for r in readers]


def ensure_rule_sets(scope: str = "site") -> Any:
    """A live set (freshness, one cap) and a draft adding a boost, a pin and MMR: site-wide, or
    with ``scope="section"`` a draft for one section's page (layered over the live set,
    previewed as that page's feed)."""
    from editorial import services
    from editorial.models import Rule, RuleSet
    from newsrec.models import Article

    services.rules_fanout_enqueue = lambda: None  # type: ignore[assignment]  # no worker here
    RuleSet.objects.filter(name__in=["bench-live", "bench-draft"]).delete()
    top = list(
        Article.objects.embedded().values_list("section", flat=True).order_by().distinct()[:3]
    )
    # An article well down the newest 3,000 (in any pool the bench uses) but not a top story.
    pinned = Article.objects.embedded().order_by("-published_at").values_list("pk", flat=True)[2500]
    live = RuleSet.objects.create(name="bench-live")
    Rule.objects.create(rule_set=live, kind="freshness", hours=48)
    Rule.objects.create(
        rule_set=live, kind="cap", target_field="section", max_per_value=4, top_k=10
    )
    services.ruleset_publish(rule_set=live)
    if scope == "section":
        draft = RuleSet.objects.create(name="bench-draft", scope="section", scope_value=top[0])
    else:
        draft = RuleSet.objects.create(name="bench-draft")
        for rule in live.rules.all():
            rule.pk, rule.rule_set = None, draft
            rule.save()
    Rule.objects.create(rule_set=draft, kind="boost", target_field="section",
                        target_value=top[0], factor=3.0)  # fmt: skip
    Rule.objects.create(rule_set=draft, kind="pin", target_field="article",
                        target_value=str(pinned), slot=1)  # fmt: skip
    Rule.objects.create(rule_set=draft, kind="mmr", mmr_lambda=0.8)
    return draft


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=DEFAULT_DATABASE)
    parser.add_argument("--readers", type=int, default=1000)
    parser.add_argument("--single", type=int, default=30, help="single-reader previews timed")
    parser.add_argument("--baseline-readers", type=int, default=200)
    parser.add_argument(
        "--pool-max", type=int, default=None,
        help="cap the live pool (NEWSREC FEED_POOL_MAX), e.g. 3000 for a 14-day newsroom pool",
    )  # fmt: skip
    parser.add_argument(
        "--scope", choices=["site", "section"], default="site",
        help="preview a site-wide draft, or a draft for one section page",
    )  # fmt: skip
    parser.add_argument("--threads", type=int, default=default_threads())
    args = parser.parse_args(argv)
    if args.readers < 1 or args.single < 1 or args.baseline_readers < 1:
        sys.exit("--readers, --single and --baseline-readers must be at least 1")
    stack = setup(database=args.database, threads=args.threads, eager=True)
    try:
        from django.test import override_settings

        # HuffPost articles are years old: no pool age limit, or the pool would be empty.
        pool_settings: dict[str, Any] = {"FEED_POOL_DAYS": None}
        if args.pool_max:
            pool_settings["FEED_POOL_MAX"] = args.pool_max
        with override_settings(NEWSREC=pool_settings):
            run(args)
    finally:
        stack.shutdown()


def run(args: argparse.Namespace) -> None:
    from editorial import preview
    from editorial.compiler import live_rules
    from newsrec import feeds
    from newsrec.engine.ranker import Ranker
    from newsrec.engine.types import Context

    ensure_articles()
    reader_ids = ensure_readers(args.readers)
    draft = ensure_rule_sets(args.scope)
    with Timer() as load:
        feeds.pool_cache_clear()
        pool = feeds.pool_cached(max_age_seconds=3600)
    log(f"pool of {len(pool)} articles loaded in {load.seconds:.2f}s; warming up")
    state = feeds.reader_states(reader_ids=reader_ids[:1])[0]
    preview.preview_reader(rule_set=draft, state=state)

    single: list[float] = []
    for reader_id in reader_ids[: args.single]:
        with Timer() as t:
            state = feeds.reader_states(reader_ids=[reader_id])[0]
            preview.preview_reader(rule_set=draft, state=state, pool=pool)
        single.append(t.seconds * 1000)
    naive_single: list[float] = []
    for reader_id in reader_ids[: min(args.single, 10)]:
        with Timer() as t:
            state = feeds.reader_states(reader_ids=[reader_id])[0]
            preview.preview_reader(rule_set=draft, state=state, pool=feeds.pool_load())
        naive_single.append(t.seconds * 1000)

    log(f"aggregate over {len(reader_ids)} readers")
    with Timer() as agg:
        result = preview.preview_aggregate(rule_set=draft, reader_ids=reader_ids, pool=pool)
    sample = reader_ids[: args.baseline_readers]
    live, draft_rules = live_rules(), preview.draft_rules(draft)
    ranker = Ranker()
    with Timer() as naive:
        for reader_id in sample:
            state = feeds.reader_states(reader_ids=[reader_id])[0]
            context = Context(now=time.time())
            ranker.rank(pool, state, context, live, 10)
            ranker.rank(pool, state, context, draft_rules, 10)
    naive_scaled = naive.seconds * len(reader_ids) / len(sample)
    single_p95 = sorted(single)[int(0.95 * (len(single) - 1))]
    targets = {
        "single_reader_p95_ms": target_check(single_p95, TARGET_SINGLE_MS),
        "aggregate_s": target_check(agg.seconds, TARGET_AGGREGATE_S),
        # one reader's preview is a request an editor waits for: none may take a second
        "single_reader_tail_under_1s": tail_check(single_reader=percentiles(single)),
    }
    emit({
        "pool_articles": len(pool),
        "pool_load_s": round(load.seconds, 3),
        "single_reader_ms": {"median": round(statistics.median(single), 1),
                             "p95": round(sorted(single)[int(0.95 * (len(single) - 1))], 1),
                             "max": round(max(single), 1), "runs": len(single)},
        "single_reader_baseline_uncached_pool_ms": round(statistics.median(naive_single), 1),
        "single_reader_speedup": round(statistics.median(naive_single)
                                       / statistics.median(single), 1),
        "single_target_ms": TARGET_SINGLE_MS,
        "aggregate_readers": result.readers,
        "aggregate_s": round(agg.seconds, 3),
        "aggregate_baseline_per_reader_rank_s": round(naive_scaled, 3),
        "aggregate_baseline_measured_on": len(sample),
        "aggregate_speedup": round(naive_scaled / agg.seconds, 1) if agg.seconds else None,
        "aggregate_target_s": TARGET_AGGREGATE_S,
        "mean_sections_live": round(result.live.mean_sections, 2),
        "mean_sections_draft": round(result.draft.mean_sections, 2),
        "pinned_reach_draft": sum(result.draft.reach.values()),
        "draft_scope": draft.scope_label,
        "threads": args.threads,
        "targets": targets,
        "pass": all(t["pass"] for t in targets.values()),
    })  # fmt: skip


if __name__ == "__main__":
    main()
