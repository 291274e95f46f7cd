"""Migrate the vector columns to a new width: `newsrec_embedding_width --dimensions N --yes`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from newsrec.checks import MAX_INDEXED_DIMENSIONS, configured_dimensions
from newsrec.conf import newsrec_settings
from newsrec.vectors import (
    WidthChange,
    vector_column_widths,
    vector_width_change,
    vector_width_plan,
)


class Command(BaseCommand):
    help = (
        "Change the width of newsrec's vector columns to NEWSREC['EMBEDDING_DIMENSIONS'] after "
        "changing the embedding model. Stored vectors cannot be converted: they are cleared, "
        "every article is marked for embedding again and readers' interest vectors are cleared; "
        "the HNSW index is made again. One transaction. Without --yes, only says what it would do."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dimensions",
            type=int,
            default=None,
            metavar="N",
            help="the new width; must equal NEWSREC['EMBEDDING_DIMENSIONS'] (the default)",
        )
        parser.add_argument("--yes", action="store_true", help="make the change")
        parser.add_argument("--database", default="default", help="database alias")

    def handle(self, *args: Any, **options: Any) -> None:
        configured = configured_dimensions()
        if configured is None:
            raise CommandError(
                f"NEWSREC['EMBEDDING_DIMENSIONS'] is {newsrec_settings.EMBEDDING_DIMENSIONS!r}; "
                f"it must be an integer from 1 to {MAX_INDEXED_DIMENSIONS}."
            )
        dimensions = options["dimensions"] if options["dimensions"] is not None else configured
        if not 1 <= dimensions <= MAX_INDEXED_DIMENSIONS:
            raise CommandError(
                f"--dimensions must be from 1 to {MAX_INDEXED_DIMENSIONS} (the HNSW index's "
                f"limit), not {dimensions}."
            )
        if dimensions != configured:
            raise CommandError(
                f"NEWSREC['EMBEDDING_DIMENSIONS'] is {configured}, not {dimensions}: set it (and "
                "NEWSREC['EMBEDDING_MODEL'] to a model of that width) first, so that what is "
                "embedded next fits the new columns; then run this command again."
            )
        using = options["database"]
        try:
            widths = vector_column_widths(using=using)
            missing = [column for column, width in widths.items() if width is None]
            if missing:
                raise CommandError(
                    f"No column {', '.join(missing)} in database {using!r}: run `manage.py "
                    "migrate` first (it makes the columns at the configured width)."
                )
            plan = vector_width_plan(dimensions=dimensions, using=using)
        except DatabaseError as exc:
            raise CommandError(f"Cannot read the vector columns: {exc}".strip()) from exc
        if not plan.needed:
            self.stdout.write(f"Every vector column is already {dimensions} wide; nothing to do.")
            return
        self._describe(plan)
        if not options["yes"]:
            raise CommandError("Nothing changed: run again with --yes to make this change.")
        try:
            done = vector_width_change(dimensions=dimensions, using=using)
        except DatabaseError as exc:
            raise CommandError(f"Nothing changed, the database refused: {exc}".strip()) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"The vector columns are {dimensions} wide; {done.articles_marked} article(s) "
                "wait for embedding."
            )
        )
        self.stdout.write(
            "Next: let the Celery workers (started with the new settings) embed them, or run "
            "`manage.py newsrec_embed --missing`; then `manage.py newsrec_rebuild_profiles` "
            "gives readers their interest vectors back."
        )

    def _describe(self, plan: WidthChange) -> None:
        self.stdout.write("This will, in one transaction (the tables are locked meanwhile):")
        for column, width in plan.widths.items():
            was = "vector" if width is None or width < 0 else f"vector({width})"
            self.stdout.write(
                f"- change {column} from {was} to vector({plan.dimensions}), clearing its "
                f"{plan.vectors_cleared.get(column, 0)} stored vector(s);"
            )
        self.stdout.write(
            f"- mark all {plan.articles_marked} article(s) for embedding again (pending);"
        )
        if plan.indexes:
            self.stdout.write(f"- drop and make again the index(es) {', '.join(plan.indexes)}.")
