"""Offline evaluation on a MIND-format click log: the product's ranking beside baselines."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from newsrec.conf import newsrec_settings
from newsrec.engine.rules import Rules
from newsrec.feeds import site_diversity
from newsrec.learning import evaluate as ev
from newsrec.learning.replay import (
    LogFormatError,
    Replay,
    embed_articles,
    read_articles,
    read_behaviors,
    read_dates,
)
from newsrec.management.commands.newsrec_import import _positive, _ProgressStream
from newsrec.rankers import ranker_build

COLUMNS = ("auc", "mrr", "ndcg5", "ndcg10", "impressions")
LIST_COLUMNS = ("diversity", "coverage", "novelty", "top_section_share")


def _existing(value: str) -> Path:
    path = Path(value)
    if not path.is_file():
        raise CommandError(f"{value}: no such file")
    return path


class Command(BaseCommand):
    help = (
        "Replay a MIND-format log (behaviors.tsv with or without the time column) against an "
        "isolated in-memory catalogue built from --news, score every impression's candidates "
        "through the product's ranker and print AUC, MRR, nDCG@5/10 beside random, popularity and "
        "smoothed-CTR baselines of the same run, plus diversity, coverage and novelty of feeds. "
        "Never reads or writes the live catalogue."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--behaviors", required=True, help="the log to evaluate")
        parser.add_argument("--news", required=True, help="MIND news.tsv (8 or 6 columns)")
        parser.add_argument(
            "--train", help="earlier log: its impressions and clicks are the site's history"
        )
        parser.add_argument(
            "--fit",
            help="log to train the learned ranker on (after --train); when it is --behaviors "
            "itself, the learned scores are out-of-fold (5 reader-disjoint folds)",
        )
        parser.add_argument("--dates", help="NeMig news_meta.tsv: publication dates")
        parser.add_argument("--json", dest="json_out", help="also write every figure here")
        parser.add_argument(
            "--cache", help="file that keeps the article vectors between runs (.npz)"
        )
        parser.add_argument(
            "--ablation", action="store_true",
            help="also train without each signal group in turn (on --fit, out-of-fold)",
        )  # fmt: skip
        parser.add_argument("--limit", type=_positive, help="evaluate only the first N impressions")
        parser.add_argument("--seed", type=int, default=7, help="seed of the random baseline")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        behaviors_path = _existing(options["behaviors"])
        news_path = _existing(options["news"])
        try:
            behaviors = read_behaviors(behaviors_path)
            train = read_behaviors(_existing(options["train"])) if options["train"] else []
            fit_path = _existing(options["fit"]) if options["fit"] else None
            fit_log = read_behaviors(fit_path) if fit_path else []
            dates = read_dates(_existing(options["dates"])) if options["dates"] else None
            articles = read_articles(news_path, dates)
        except (LogFormatError, UnicodeDecodeError) as exc:
            raise CommandError(str(exc)) from None
        if options["limit"]:
            behaviors = behaviors[: options["limit"]]
        progress = _ProgressStream(self.stderr)
        from newsrec.embedders import get_embedder

        with tqdm(total=len(articles), desc="embed", unit="article", file=progress) as bar:
            vectors = embed_articles(
                articles,
                get_embedder().embed,
                Path(options["cache"]) if options["cache"] else None,
                progress=bar.update,
            )
        start = Replay.timeline_start(articles, [*train, *fit_log, *behaviors])
        half_life = float(newsrec_settings.PROFILE_HALF_LIFE_DAYS)
        everyone = [*train, *fit_log, *behaviors]
        replay = ev.build_replay(
            articles, vectors, start=start, events=train, readers=everyone,
            half_life_days=half_life,
        )  # fmt: skip
        rules = Rules(diversity=site_diversity())  # the product's rules when editors set none
        report: dict[str, Any] = {
            "behaviors": behaviors_path.name,
            "train": Path(options["train"]).name if options["train"] else None,
            "fit": fit_path.name if fit_path else None,
            "articles": len(articles),
        }
        model = None
        same = fit_path is not None and fit_path.resolve() == behaviors_path.resolve()
        extra = None
        fitted = None
        if fit_path is not None:
            # rows of the --train log itself, cross-fitted, beside the --fit log's
            with tqdm(total=len(train), desc="train rows", unit="imp", file=progress) as bar:
                extra = ev.cross_fitted(
                    articles, vectors, start=start, train=train, readers=everyone,
                    half_life_days=half_life, rules=rules, progress=bar.update,
                )  # fmt: skip
        if fit_path is not None and not same:
            with tqdm(total=len(fit_log), desc="fit log", unit="imp", file=progress) as bar:
                fitted = ev.score_log(replay, fit_log, rules=rules, progress=bar.update).training
            model, rounds = ev.train_on(fitted.joined(extra) if extra else fitted)
            report["model"] = {"rounds": rounds, "importances": model.importances()}
        with tqdm(total=len(behaviors), desc="score", unit="imp", file=progress) as bar:
            scored = ev.score_log(replay, behaviors, rules=rules, model=model, progress=bar.update)
        if same:
            fitted = scored.training
            oof, _ = ev.cross_fit(fitted, extra=extra)
            scored.methods["learned"] = oof
            model, rounds = ev.train_on(fitted.joined(extra) if extra else fitted)
            report["model"] = {"rounds": rounds, "importances": model.importances(),
                               "note": "learned scores are out-of-fold"}  # fmt: skip
        methods = {name: ev.metrics_of(scored, name) for name in scored.methods}
        report["ranking"] = methods
        rankers = {"hand": ranker_build()}
        if model is not None:
            rankers["learned"] = ranker_build(model=model)
        report["lists"] = ev.list_quality(replay, behaviors, rules=rules, rankers=rankers)
        if options["ablation"] and fitted is not None:
            report["ablation"] = ev.ablation(fitted, extra)
        report["seconds"] = round(time.monotonic() - started, 1)

        self.stdout.write(f"{behaviors_path.name}: {len(behaviors)} impressions, "
                          f"{len(articles)} articles, {report['seconds']} s")  # fmt: skip
        self.stdout.write(ev.format_table(methods, COLUMNS))
        if report["lists"]:
            self.stdout.write("\ntop-10 feeds of up to 500 readers:")
            self.stdout.write(ev.format_table(report["lists"], LIST_COLUMNS))
        if "ablation" in report:
            self.stdout.write("\nablation (out-of-fold on the fit log):")
            self.stdout.write(ev.format_table(report["ablation"], ("auc", "ndcg10", "auc_lost")))
        if "model" in report:
            top = list(report["model"]["importances"].items())[:8]
            self.stdout.write("\nlearned ranker, share of gain: "
                              + ", ".join(f"{k} {v:.2f}" for k, v in top))  # fmt: skip
        if options["json_out"]:
            Path(options["json_out"]).write_text(json.dumps(report, indent=2, default=str))
