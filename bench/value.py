"""The on/off study, shown to work (issue #15.4): a holdout experiment over simulated days, and A/A.

    .venv/bin/python bench/value.py [--readers 1000] [--days 6] [--aa-runs 100] [--seed 0]

Prints one JSON object on stdout (progress on stderr). Uses its own database
(newsrec_bench_value by default), whose articles, readers, events and experiments it replaces
freely. About 6 minutes on 2 cores with the defaults (the first run also embeds the articles).

1. **On/off study.** An experiment with a personalised and a holdout variant (50/50) is created
   and started through ``editorial.experiments.services.experiment_start``; then
   ``newsrec.simulation.simulation_run`` makes ``--readers`` seeded readers read for ``--days``
   days through the real read pipeline (holdout readers get the newest articles) and the real
   events ingestion. The lift of the personalised arm over the holdout comes from the product's
   ``experiment_results`` (CTR lift with its 95 % interval, Katz log risk ratio). The product has
   no interval for reads per reader: the bench adds one (delta method on the log ratio of the two
   means over readers, see ``ratio_lift``).
2. **Known effect.** The simulator's readers click with a probability set by their latent
   persona (interest match, freshness, a re-read damping; ``click_probability`` restates it).
   Replaying every logged impression through that model gives each arm's expected clicks and
   expected new reads with no click noise: the lift the simulator says the served feeds are
   worth. A calibration check compares expected and observed clicks per arm, so the restated
   model cannot silently drift from the simulator's.
3. **A/A.** The same event log, re-split ``--aa-runs`` times: the readers of one arm are assigned
   to two identical arms by the product's own hash (``assignment.arm_for``) with salts
   ``aa:<seed>:<i>``, and each split is judged by the product's ``variant_figures`` and
   ``compare`` (CTR z-test at alpha .05). Done for both populations (personalised, holdout).
   The share flagged significant should be near 5 %; the same splits are also judged by a
   reader-level (clustered) test for comparison, since the product's z-test counts impressions
   as independent while readers, not impressions, are randomised.

The simulator reads feeds as they are now (it only hides articles published after the simulated
moment), so the catalogue is dated before the simulated window: otherwise the holdout's newest
articles would all be "not published yet" on every day but the last. The experiment is started
through the service and its start moved back to the window's start (simulated time ends now).
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from _common import Timer, default_threads, emit, huffpost_rows, log, run_guarded, setup

DEFAULT_DATABASE = "newsrec_bench_value"
PREFIX = "huffpost:"
ALPHA = 0.05
Z_95 = 1.959963984540054
AA_TARGET = (0.01, 0.11)  # share of A/A runs flagged significant: ~5 % expected
CALIBRATION_Z = 4.0  # |observed - expected clicks| / sd beyond this: the model restated drifted


# --- Pure helpers (tests/unit/test_bench_value.py) ------------------------------------------


def click_probability(*, interest: float, age_hours: float, seen_before: bool) -> float:
    """The simulator's click model (``newsrec.simulation._visit``) for one impression."""
    appeal = -3.0 + 3.6 * interest + 0.8 * math.exp(-age_hours / 24)
    return (0.25 if seen_before else 1.0) / (1 + math.exp(-appeal))


@dataclass(frozen=True)
class Lift:
    """A relative lift a / b - 1 with its 95 % interval (None where undefined)."""

    lift: float | None
    low: float | None
    high: float | None

    def excludes_zero(self) -> bool:
        return self.low is not None and self.high is not None and (self.low > 0 or self.high < 0)

    def contains(self, value: float | None) -> bool:
        if self.low is None or self.high is None or value is None:
            return False
        return self.low <= value <= self.high


def _ratio_and_log_variance(num: Sequence[float], den: Sequence[float]) -> tuple[float, float]:
    """sum(num) / sum(den) over independent units, and the variance of its log (delta method,
    clustered: each unit's numerator and denominator move together)."""
    n = len(num)
    total_num, total_den = sum(num), sum(den)
    ratio = total_num / total_den
    residuals = [y - ratio * x for y, x in zip(num, den, strict=True)]
    variance = sum(r * r for r in residuals) / (n - 1) * n / total_den**2
    return ratio, variance / ratio**2


def ratio_lift(
    num_a: Sequence[float],
    den_a: Sequence[float],
    num_b: Sequence[float],
    den_b: Sequence[float],
    *,
    z: float = Z_95,
) -> Lift:
    """Lift of sum(num_a)/sum(den_a) over sum(num_b)/sum(den_b), one entry per reader.

    With ``den`` all ones it is the lift in a per-reader mean (reads per reader); with clicks
    over impressions it is the CTR lift with readers, not impressions, as the independent units.
    The interval is exp(log ratio +- z se) - 1.
    """
    if min(len(num_a), len(num_b)) < 2 or not sum(den_a) or not sum(den_b):
        return Lift(None, None, None)
    if not sum(num_a) or not sum(num_b):
        return Lift(None, None, None)
    ra, va = _ratio_and_log_variance(num_a, den_a)
    rb, vb = _ratio_and_log_variance(num_b, den_b)
    log_ratio, se = math.log(ra / rb), math.sqrt(va + vb)
    return Lift(ra / rb - 1, math.exp(log_ratio - z * se) - 1, math.exp(log_ratio + z * se) - 1)


@dataclass(frozen=True)
class ReaderRow:
    """One exposed reader's events in the experiment's window, counted as ``variant_counts``."""

    public_id: str
    impressions: int
    clicks: int
    reads: int
    finishes: int
    dwell_reads: int
    dwell_seconds: float


def counts_of(rows: Sequence[ReaderRow]) -> Any:
    """The product's ``VariantCounts`` of a group of readers."""
    from editorial.experiments.stats import VariantCounts

    return VariantCounts(
        readers=sum(1 for r in rows if r.impressions),
        impressions=sum(r.impressions for r in rows),
        clicks=sum(r.clicks for r in rows),
        reads=sum(r.reads for r in rows),
        finishes=sum(r.finishes for r in rows),
        dwell_reads=sum(r.dwell_reads for r in rows),
        dwell_seconds=sum(r.dwell_seconds for r in rows),
    )


def counts_match(ours: Any, product: Any) -> bool:
    """Whether two ``VariantCounts`` agree: integers exactly, dwell seconds to rounding."""
    fields = ("readers", "impressions", "clicks", "reads", "finishes", "dwell_reads")
    return all(getattr(ours, f) == getattr(product, f) for f in fields) and math.isclose(
        ours.dwell_seconds, product.dwell_seconds, rel_tol=1e-9, abs_tol=1e-6
    )


def design_effect(rows: Sequence[ReaderRow]) -> float | None:
    """How much wider the reader-level CTR variance is than the binomial one over impressions
    (1: impressions behave as independent; above 1: readers cluster their clicks)."""
    clicks, impressions = sum(r.clicks for r in rows), sum(r.impressions for r in rows)
    if len(rows) < 2 or not clicks or clicks == impressions:
        return None
    _, clustered = _ratio_and_log_variance([r.clicks for r in rows], [r.impressions for r in rows])
    return clustered / (1 / clicks - 1 / impressions)


def aa_split(rows: Sequence[ReaderRow], salt: str) -> tuple[list[ReaderRow], list[ReaderRow]]:
    """Readers re-split 50/50 by the product's assignment hash under ``salt``."""
    from editorial.experiments.assignment import Arm, RunningExperiment, arm_for

    arms = (Arm(0, 1, "A", "personalised", 50), Arm(0, 2, "B", "personalised", 50))
    running = RunningExperiment(experiment_id=0, salt=salt, arms=arms)
    a: list[ReaderRow] = []
    b: list[ReaderRow] = []
    for row in rows:
        arm = arm_for(running, row.public_id)
        (a if arm is not None and arm.variant_id == 1 else b).append(row)
    return a, b


def aa_judge(a: Sequence[ReaderRow], b: Sequence[ReaderRow]) -> dict[str, bool]:
    """One A/A split judged by the product's stats (CTR z-test) and by the clustered tests."""
    from editorial.experiments.stats import compare, variant_figures

    product = compare(variant_figures(counts_of(a)), variant_figures(counts_of(b)), alpha=ALPHA)
    ctr = ratio_lift(
        [r.clicks for r in a],
        [r.impressions for r in a],
        [r.clicks for r in b],
        [r.impressions for r in b],
    )
    reads = ratio_lift([r.reads for r in a], [1] * len(a), [r.reads for r in b], [1] * len(b))
    return {
        "ctr_product": product.significant,
        "ctr_clustered": ctr.excludes_zero(),
        "reads_per_reader": reads.excludes_zero(),
    }


def share_with_interval(flagged: int, runs: int) -> dict[str, Any]:
    """Share of runs flagged, with its 95 % Wilson interval, and whether it is near alpha."""
    from editorial.experiments.stats import wilson_interval

    low, high = wilson_interval(flagged, runs)
    share = flagged / runs if runs else None
    ok = share is not None and AA_TARGET[0] <= share <= AA_TARGET[1]
    return {
        "flagged": flagged,
        "runs": runs,
        "share": share,
        "low": low,
        "high": high,
        "target": list(AA_TARGET),
        "pass": ok,
    }


# --- Data ------------------------------------------------------------------------------------


def catalogue_ready(*, limit: int, window_start: datetime) -> int:
    """``limit`` embedded HuffPost articles (imported and embedded once, kept between runs),
    re-dated each run over the six days before ``window_start``, all published."""
    from django.db import connection

    from newsrec import feeds, services
    from newsrec.models import Article

    have = Article.objects.filter(external_id__startswith=PREFIX, embedding__isnull=False).count()
    if have < limit:
        log(f"importing and embedding {limit} HuffPost articles (once; about a minute per 2,000)")
        rows = huffpost_rows(limit=limit)
        for i in range(0, len(rows), 500):
            services.article_upsert_many(rows=rows[i : i + 500])
        ids = list(Article.objects.needing_embedding().order_by("pk").values_list("pk", flat=True))
        for i in range(0, len(ids), 256):
            services.articles_embed(article_ids=ids[i : i + 256])
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.15)")
        cursor.execute(
            "UPDATE newsrec_article SET status = 'published', embargo_until = NULL, "
            "published_at = %s - interval '5 minutes' - random() * interval '6 days'",
            [window_start],
        )
    # The site's non-personalised feed, which readers get before their own first rebuild, as
    # the periodic rebuild would leave it (one built during the import would be empty).
    feeds.pool_cache_clear()
    feeds.feeds_rebuild(reader_ids=[], include_default=True)
    return Article.objects.published().count()


def state_reset() -> None:
    """Forget earlier runs: simulated readers (events, profiles, feeds cascade), experiments."""
    from editorial.experiments.services import experiment_stop
    from editorial.models import Experiment, ExperimentStatus
    from newsrec import feeds, simulation

    for running in Experiment.objects.filter(status=ExperimentStatus.RUNNING):
        experiment_stop(experiment=running)
    Experiment.objects.all().delete()
    readers, events = simulation.simulated_readers_purge()
    if readers:
        log(f"purged {readers} simulated readers and {events} events of an earlier run")
    feeds.pool_cache_clear()


def experiment_started(*, seed: int, window_start: datetime) -> Any:
    """The on/off experiment, started through the service, its start moved back to the window."""
    from editorial.experiments.services import experiment_start
    from editorial.models import Experiment, Variant, VariantKind

    experiment = Experiment.objects.create(
        name=f"bench value, seed {seed}",
        salt=f"bench-value:{seed}",
        description="Personalised feeds against a recommendations-off holdout (bench/value.py).",
    )
    Variant.objects.create(
        experiment=experiment, name="personalised", weight=50, kind=VariantKind.PERSONALISED
    )
    Variant.objects.create(
        experiment=experiment, name="holdout", weight=50, kind=VariantKind.HOLDOUT
    )
    experiment = experiment_start(experiment=experiment)
    # Simulated time ends now: the experiment has to have been running since the window began.
    Experiment.objects.filter(pk=experiment.pk).update(
        started_at=window_start - timedelta(minutes=1)
    )
    experiment.refresh_from_db()
    return experiment


_READER_ROWS = """
WITH tagged AS (
    SELECT reader_id, count(*) FILTER (WHERE kind = 'impression') AS impressions,
           count(*) FILTER (WHERE kind = 'click') AS clicks
    FROM newsrec_event
    WHERE occurred_at >= %(start)s AND occurred_at < %(end)s
      AND recommendation_id LIKE %(pattern)s
    GROUP BY reader_id
), reads AS (
    SELECT e.reader_id, e.article_id, bool_or(e.kind = 'finish') AS finished,
           max(e.dwell_seconds) AS dwell
    FROM newsrec_event e JOIN tagged t ON t.reader_id = e.reader_id AND t.impressions > 0
    WHERE e.occurred_at >= %(start)s AND e.occurred_at < %(end)s
      AND e.kind IN ('read', 'finish', 'dwell')
    GROUP BY e.reader_id, e.article_id
)
SELECT r.public_id::text, t.impressions, t.clicks, count(x.article_id),
       count(x.article_id) FILTER (WHERE x.finished), count(x.dwell), coalesce(sum(x.dwell), 0)
FROM tagged t JOIN newsrec_reader r ON r.id = t.reader_id
LEFT JOIN reads x ON x.reader_id = t.reader_id
GROUP BY r.public_id, t.impressions, t.clicks
ORDER BY r.public_id
"""


def reader_rows(*, tag: str, start: datetime, end: datetime) -> list[ReaderRow]:
    """Per reader, what ``variant_counts`` adds up for the variant ``tag`` (one query)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(_READER_ROWS, {"start": start, "end": end, "pattern": f"%:{tag}"})
        return [
            ReaderRow(pid, imp, clk, reads, fin, dwell_n, float(dwell_s))
            for pid, imp, clk, reads, fin, dwell_n, dwell_s in cursor.fetchall()
        ]


class FeedReads:
    """Counts the simulator's feed reads per arm, and those that served no card at all.

    A visit to an empty feed sends no event, so the reader is never exposed and silently
    drops out of the experiment: the bench says so rather than report a skewed comparison.
    """

    def __init__(self) -> None:
        self.reads: dict[str, int] = defaultdict(int)
        self.empty: dict[str, int] = defaultdict(int)

    def __enter__(self) -> FeedReads:
        from editorial.experiments.selectors import reader_arm
        from newsrec import selectors

        self.original = original = selectors.reader_feed_cards

        def counted(**kwargs: Any) -> Any:
            feed = original(**kwargs)
            arm = reader_arm(reader=kwargs.get("reader"))
            name = arm.kind if arm is not None else "none"
            self.reads[name] += 1
            self.empty[name] += not feed.cards
            return feed

        selectors.reader_feed_cards = counted  # type: ignore[assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        from newsrec import selectors

        selectors.reader_feed_cards = self.original  # type: ignore[assignment]


# --- The known effect ------------------------------------------------------------------------


def expected_by_arm(*, seed: int, readers: int, tags: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Replay every simulated impression through the simulator's click model.

    Per arm: impressions, expected clicks (sum of click probabilities), its variance, and
    expected new reads (the same over impressions of articles the reader had not read yet: a
    click on those adds one distinct read). Events are replayed in the order each reader sent
    them (their event ids count up), so "read before" is what the simulator knew.
    """
    from newsrec import simulation
    from newsrec.models import Article, Event, EventKind

    personas = simulation._draw_personas(seed=seed, count=readers)  # the same draw as the run
    by_client = {f"{simulation.SIM_PREFIX}{seed}:{p.index}": p for p in personas}
    arm_of_tag = {tag: arm for arm, tag in tags.items()}
    rows = Event.objects.filter(
        reader__client_id__startswith=f"{simulation.SIM_PREFIX}{seed}:",
        kind__in=[EventKind.IMPRESSION, EventKind.CLICK],
    ).values_list(
        "reader__client_id",
        "event_id",
        "kind",
        "article_id",
        "occurred_at",
        "session_id",
        "recommendation_id",
    )
    per_reader: dict[str, list[tuple[int, str, int, datetime, str, str]]] = defaultdict(list)
    for client, event_id, kind, article_id, at, session, rec in rows:
        per_reader[str(client)].append(
            (int(event_id.rsplit("-", 1)[1]), kind, article_id, at, session, rec or "")
        )
    articles = {
        a.pk: a for a in Article.objects.only("id", "section", "tags", "authors", "published_at")
    }
    out = {
        arm: {
            "impressions": 0,
            "clicks": 0,
            "expected_clicks": 0.0,
            "variance": 0.0,
            "expected_new_reads": 0.0,
        }
        for arm in tags
    }
    for client, events in per_reader.items():
        persona = by_client[client]
        read: set[int] = set()
        visit_start: dict[str, datetime] = {}
        for _, kind, article_id, at, session, rec in sorted(events, key=lambda e: e[0]):
            arm = arm_of_tag.get(rec.rsplit(":", 1)[-1])
            if kind == EventKind.CLICK:
                read.add(article_id)
                if arm:
                    out[arm]["clicks"] += 1
                continue
            # The first card is looked at 1-4 s after the visit starts: 2.5 s on average.
            start = visit_start.setdefault(session, at - timedelta(seconds=2.5))
            article = articles[article_id]
            age = (
                max(0.0, (start - article.published_at).total_seconds() / 3600)
                if article.published_at
                else 24.0
            )
            seen = article_id in read
            p = click_probability(
                interest=persona.interest(article), age_hours=age, seen_before=seen
            )
            if arm:
                figures = out[arm]
                figures["impressions"] += 1
                figures["expected_clicks"] += p
                figures["variance"] += p * (1 - p)
                figures["expected_new_reads"] += 0.0 if seen else p
    for figures in out.values():
        sd = math.sqrt(figures.pop("variance")) or 1.0
        figures["calibration_z"] = round((figures["clicks"] - figures["expected_clicks"]) / sd, 2)
    return out


# --- The run ---------------------------------------------------------------------------------


def _lift_json(lift: Lift) -> dict[str, float | None]:
    return {
        k: None if v is None else round(v, 4)
        for k, v in (("lift", lift.lift), ("low", lift.low), ("high", lift.high))
    }


def _figures_json(figures: Any) -> dict[str, Any]:
    c = figures.counts
    return {
        "readers": c.readers,
        "impressions": c.impressions,
        "clicks": c.clicks,
        "reads": c.reads,
        "ctr": round(figures.ctr, 4),
        "ctr_interval": [round(figures.ctr_low, 4), round(figures.ctr_high, 4)],
        "reads_per_reader": round(figures.reads_per_reader, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readers", type=int, default=1000, help="simulated readers (1000)")
    parser.add_argument("--days", type=int, default=6, help="simulated days (6, at most 7)")
    parser.add_argument("--aa-runs", type=int, default=100, help="A/A splits per population")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--articles", type=int, default=2000, help="HuffPost articles (2000)")
    parser.add_argument("--database", default=DEFAULT_DATABASE)
    parser.add_argument("--threads", type=int, default=default_threads())
    args = parser.parse_args()
    if args.readers < 20 or args.aa_runs < 1 or args.articles < 100:
        sys.exit("--readers must be at least 20, --aa-runs at least 1, --articles at least 100")
    # Tasks run inline (eager), as a worker would run them at once: each ingested batch updates
    # the reader's profile. Their one line per task is more than a progress log needs.
    stack = setup(database=args.database, threads=args.threads, eager=True)
    logging.getLogger("newsrec.tasks").setLevel(logging.WARNING)
    sys.exit(run_guarded(stack, lambda: _run(args)))


def _run(args: argparse.Namespace) -> None:
    from django.utils import timezone

    from editorial.experiments.selectors import experiment_results
    from editorial.experiments.services import experiment_stop
    from newsrec import simulation

    started = time.perf_counter()
    now = timezone.now()
    window_start = now - timedelta(days=args.days) + simulation.START_MARGIN
    state_reset()
    with Timer() as prep:
        articles = catalogue_ready(limit=args.articles, window_start=window_start)
    experiment = experiment_started(seed=args.seed, window_start=window_start)
    log(f"{articles} articles; simulating {args.readers} readers over {args.days} days")
    done = [0]

    def progress(step: int) -> None:
        done[0] += step
        if done[0] % max(1, args.readers * args.days // 10) == 0:
            log(f"  {done[0]} / {args.readers * args.days} reader-days")

    with Timer() as simulated, FeedReads() as feed_reads:
        report = simulation.simulation_run(
            readers=args.readers, days=args.days, seed=args.seed, now=now, progress=progress
        )
    experiment = experiment_stop(experiment=experiment)
    log(
        f"simulated in {simulated.seconds:.0f} s: {report.accepted} events accepted, "
        f"{report.rejected} rejected; computing results"
    )

    with Timer() as analysed:
        results = experiment_results(experiment=experiment)
        by_kind = {r.variant.kind: r for r in results.variants}
        on, off = by_kind["personalised"], by_kind["holdout"]
        tags = {"personalised": on.variant.tag, "holdout": off.variant.tag}
        start, end = results.window_start, results.window_end
        assert start is not None  # a started experiment has its window
        assert end is not None
        rows = {arm: reader_rows(tag=tag, start=start, end=end) for arm, tag in tags.items()}
        # The per-reader rows must add up to the product's own counts, or the extra intervals
        # and the A/A splits would be about something else.
        rows_match = all(
            counts_match(counts_of(rows[arm]), by_kind[arm].figures.counts) for arm in tags
        )
        if not rows_match:
            log(
                f"per-reader rows differ from the product's counts: "
                f"{[(counts_of(rows[arm]), by_kind[arm].figures.counts) for arm in tags]}"
            )
        comparison = on.comparison
        assert comparison is not None
        ctr_lift = Lift(comparison.ctr_lift, comparison.ctr_lift_low, comparison.ctr_lift_high)
        a, b = rows["personalised"], rows["holdout"]
        reads_lift = ratio_lift(
            [r.reads for r in a], [1] * len(a), [r.reads for r in b], [1] * len(b)
        )
        ctr_clustered = ratio_lift(
            [r.clicks for r in a],
            [r.impressions for r in a],
            [r.clicks for r in b],
            [r.impressions for r in b],
        )
        expected = expected_by_arm(seed=args.seed, readers=args.readers, tags=tags)
        e_on, e_off = expected["personalised"], expected["holdout"]
        reference_ctr = (e_on["expected_clicks"] / e_on["impressions"]) / (
            e_off["expected_clicks"] / e_off["impressions"]
        ) - 1
        reference_reads = (e_on["expected_new_reads"] / len(a)) / (
            e_off["expected_new_reads"] / len(b)
        ) - 1
        calibrated = all(abs(e["calibration_z"]) <= CALIBRATION_Z for e in expected.values())

    with Timer() as aa_timer:
        flagged: dict[str, dict[str, int]] = {}
        for arm in tags:
            counts: dict[str, int] = defaultdict(int)
            for i in range(args.aa_runs):
                split = aa_split(rows[arm], f"aa:{args.seed}:{i}")
                for name, significant in aa_judge(*split).items():
                    counts[name] += significant
            flagged[arm] = dict(counts)
        aa = {
            arm: {name: share_with_interval(n, args.aa_runs) for name, n in counts.items()}
            for arm, counts in flagged.items()
        }
        pooled = {
            name: share_with_interval(sum(flagged[arm][name] for arm in tags), 2 * args.aa_runs)
            for name in flagged["personalised"]
        }
    total_seconds = time.perf_counter() - started

    sample_ratio_p = None if results.sample_ratio is None else results.sample_ratio.p_value
    targets = {
        "ctr_lift_excludes_zero": {
            "value": _lift_json(ctr_lift),
            "target": "95 % interval above or below 0",
            "pass": ctr_lift.excludes_zero(),
        },
        "ctr_lift_contains_reference": {
            "value": round(reference_ctr, 4),
            "target": "inside the measured CTR lift's 95 % interval",
            "pass": ctr_lift.contains(reference_ctr),
        },
        "reads_per_reader_lift_excludes_zero": {
            "value": _lift_json(reads_lift),
            "target": "95 % interval above or below 0",
            "pass": reads_lift.excludes_zero(),
        },
        "reads_per_reader_lift_contains_reference": {
            "value": round(reference_reads, 4),
            "target": "inside the measured reads-per-reader lift's 95 % interval",
            "pass": reads_lift.contains(reference_reads),
        },
        "no_sample_ratio_mismatch": {
            "value": sample_ratio_p,
            "target": "the product's SRM check does not fire",
            "pass": results.sample_ratio is not None and not results.sample_ratio.mismatch,
        },
        "reference_model_matches_simulator": {
            "value": {arm: e["calibration_z"] for arm, e in expected.items()},
            "target": f"|z| <= {CALIBRATION_Z}",
            "pass": calibrated,
        },
        "no_empty_feed_served": {
            "value": dict(feed_reads.empty),
            "target": "no feed read without a card",
            "pass": not any(feed_reads.empty.values()),
        },
        "reader_rows_match_product_counts": {
            "value": rows_match,
            "target": True,
            "pass": rows_match,
        },
        **{
            f"aa_false_positive_rate_ctr_product_{arm}": {
                "value": aa[arm]["ctr_product"]["share"],
                "target": list(AA_TARGET),
                "pass": aa[arm]["ctr_product"]["pass"],
            }
            for arm in tags
        },
        "aa_false_positive_rate_reads_per_reader": {
            "value": pooled["reads_per_reader"]["share"],
            "target": list(AA_TARGET),
            "pass": pooled["reads_per_reader"]["pass"],
        },
    }
    emit(
        {
            "readers": args.readers,
            "days": args.days,
            "seed": args.seed,
            "articles": articles,
            "simulation": {
                "visits": report.visits,
                "lapsed": report.lapsed,
                "sent": report.sent,
                "accepted": report.accepted,
                "rejected": report.rejected,
                "duplicate": report.duplicate,
                "kinds": dict(report.kinds),
                "feed_reads": dict(feed_reads.reads),
                "empty_feed_reads": dict(feed_reads.empty),
            },
            "on_off": {
                "experiment": "personalised vs holdout (newest articles), 50/50, started through "
                "experiment_start; figures from experiment_results",
                "personalised": _figures_json(on.figures),
                "holdout": _figures_json(off.figures),
                "ctr_lift": {
                    **_lift_json(ctr_lift),
                    "p_value": comparison.p_value,
                    "interval": "product: Katz log risk ratio over impressions",
                },
                "ctr_lift_clustered": {
                    **_lift_json(ctr_clustered),
                    "interval": "bench: delta method, readers as units",
                },
                "reads_per_reader_lift": {
                    **_lift_json(reads_lift),
                    "product_point": comparison.reads_per_reader_lift,
                    "interval": "bench: delta method on the log ratio of means",
                },
                "ctr_design_effect": {
                    arm: None if (d := design_effect(rows[arm])) is None else round(d, 2)
                    for arm in tags
                },
                "sample_ratio_p": sample_ratio_p,
                "warnings": list(results.warnings),
            },
            "reference": {
                "meaning": "the simulator's click model replayed over every logged impression: "
                "expected clicks and new reads per arm, without click noise",
                "ctr_lift": round(reference_ctr, 4),
                "reads_per_reader_lift": round(reference_reads, 4),
                "by_arm": {
                    arm: {k: round(v, 2) if isinstance(v, float) else v for k, v in e.items()}
                    for arm, e in expected.items()
                },
            },
            "aa": {
                "method": f"one event log re-split {args.aa_runs} times per population by "
                "assignment.arm_for with salts aa:<seed>:<i>; judged by the product's "
                "variant_figures + compare (alpha .05) and by reader-level tests",
                "by_population": aa,
                "pooled": pooled,
            },
            "seconds": {
                "total": round(total_seconds, 1),
                "catalogue": round(prep.seconds, 1),
                "simulation": round(simulated.seconds, 1),
                "analysis": round(analysed.seconds, 1),
                "aa": round(aa_timer.seconds, 1),
            },
            "targets": targets,
            "pass": all(t["pass"] for t in targets.values()),
        }
    )


if __name__ == "__main__":
    main()
