"""Embed articles in this process with a progress bar: `newsrec_embed --missing` or `--all`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from newsrec import services
from newsrec.conf import newsrec_settings
from newsrec.models import Article, EmbeddingStatus


class Command(BaseCommand):
    help = (
        "Embed articles now, in this process. --missing (default): articles without an up-to-date "
        "vector; --all: every article again (e.g. after changing the model)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--missing", action="store_true", help="only articles needing a vector")
        group.add_argument("--all", action="store_true", help="re-embed every article")
        parser.add_argument("--batch-size", type=int, default=None, help="texts per batch")

    def handle(self, *args: Any, **options: Any) -> None:
        batch = options["batch_size"] or int(newsrec_settings.EMBEDDING_TASK_SIZE)
        if batch < 1:
            raise CommandError("--batch-size must be at least 1.")
        if options["all"]:
            Article.objects.update(embedding_status=EmbeddingStatus.PENDING, embedding_attempts=0)
        ids = list(Article.objects.needing_embedding().order_by("pk").values_list("pk", flat=True))
        if not ids:
            self.stdout.write("Nothing to embed: every article has an up-to-date vector.")
            return
        totals = {"embedded": 0, "failed": 0}
        with tqdm(
            total=len(ids), unit="article", desc="Embedding", disable=options["verbosity"] == 0
        ) as bar:
            for i in range(0, len(ids), batch):
                chunk = ids[i : i + batch]
                try:
                    result = services.articles_embed(article_ids=chunk)
                except services.EmbeddingBatchError as exc:
                    raise CommandError(f"The embedding model failed: {exc}") from exc
                totals["embedded"] += result["embedded"]
                totals["failed"] += result["failed"]
                bar.update(len(chunk))
        self.stdout.write(
            self.style.SUCCESS(
                f"Embedded {totals['embedded']} article(s); {totals['failed']} failed."
            )
        )
        if totals["failed"]:
            self.stdout.write("See the embedding_error of failed articles in the admin.")
