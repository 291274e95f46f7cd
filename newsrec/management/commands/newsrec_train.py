"""Train the learned ranker from stored impressions and clicks; promote it if it is better."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from newsrec.learning import training
from newsrec.management.commands.newsrec_import import _ProgressStream


class Command(BaseCommand):
    help = (
        "Train the learned ranker on the impressions and clicks of the last "
        "RANKER_TRAINING_DAYS (point-in-time signals), validate it on the last "
        "RANKER_VALIDATION_DAYS, and make it active only if it beats the hand-weighted formula "
        "and the active model there. Prints the verdict and the figures."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--rollback", action="store_true",
            help="instead of training: serve the hand-weighted formula again",
        )  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        if options["rollback"]:
            count = training.deactivate()
            self.stdout.write(
                "Feeds use the hand-weighted formula again."
                if count
                else "No learned ranker was active; feeds already use the hand-weighted formula."
            )
            return
        with tqdm(desc="impressions", unit="imp", file=_ProgressStream(self.stderr)) as bar:
            version = training.train(user="manage.py", progress=bar.update)
        self.stdout.write(f"ranker v{version.pk}: {version.verdict}")
        for name, figures in version.metrics.items():
            self.stdout.write(
                f"  {name:<10} AUC {figures['auc']:.4f}  MRR {figures['mrr']:.4f}  "
                f"nDCG@5 {figures['ndcg5']:.4f}  nDCG@10 {figures['ndcg10']:.4f}  "
                f"({figures['impressions']} impressions)"
            )
        if version.importances:
            top = sorted(version.importances.items(), key=lambda kv: -kv[1])[:6]
            self.stdout.write("  signals: " + ", ".join(f"{k} {v:.2f}" for k, v in top))
