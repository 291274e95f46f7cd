"""Import articles from a JSON Lines, MIND news.tsv, RSS 2.0 or Atom file, in batches."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper
from tqdm import tqdm

from newsrec import services
from newsrec.importers import (
    IMPORTERS,
    Importer,
    ImportFormatError,
    ImportOptions,
    ParsedRow,
    detect_format,
    get_importer,
)
from newsrec.importers.base import parse_problem_reasons
from newsrec.importers.mind import read_publication_dates
from newsrec.ingest import RowRejection, UpsertReport, echo_safe


class _ProgressStream:
    """Lets tqdm draw on the command's stderr without OutputWrapper adding a newline per update."""

    def __init__(self, wrapper: OutputWrapper) -> None:
        self._wrapper = wrapper

    def write(self, text: str) -> None:
        self._wrapper.write(text, ending="")

    def flush(self) -> None:
        self._wrapper.flush()

    def isatty(self) -> bool:
        return self._wrapper.isatty()


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


class Command(BaseCommand):
    help = (
        "Import articles from PATH: JSON Lines (newsrec's format or HuffPost's), MIND/NeMig "
        "news.tsv, RSS 2.0 or Atom. Rows go through the same validation as the API; rejected rows "
        "are listed with their line (or item) number and reasons, and the rest are stored."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="file to import")
        parser.add_argument(
            "--format", choices=["auto", *IMPORTERS], default="auto",
            help="file format; auto (default) goes by the extension, then the content",
        )  # fmt: skip
        parser.add_argument(
            "--dry-run", action="store_true", help="validate and count, but store nothing"
        )
        parser.add_argument(
            "--batch-size", type=_positive, default=500, help="rows per upsert (default 500)"
        )
        parser.add_argument(
            "--language", default="", help="language of rows that name none (default: en)"
        )
        parser.add_argument("--section", default="", help="put every article in this section")
        parser.add_argument(
            "--dates", metavar="PATH",
            help="publication dates for MIND/NeMig rows: NeMig's news_meta.tsv (news_id, "
            "date_published); undated articles are dated by when they are first imported",
        )  # fmt: skip
        parser.add_argument(
            "--section-map", action="append", default=[], metavar="SOURCE=SECTION",
            help="rename a source category (case-insensitive); repeat for several",
        )  # fmt: skip
        parser.add_argument(
            "--show-rejected", type=int, default=20, metavar="N",
            help="list at most N rejected rows (default 20)",
        )  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["path"])
        if not path.exists():
            raise CommandError(f"File not found: {path}")
        if not path.is_file():
            raise CommandError(f"Not a file: {path}")
        import_options = ImportOptions(
            language=options["language"].strip(),
            section=options["section"].strip(),
            section_map=_section_map(options["section_map"]),
            dates=_dates(options["dates"]),
        )
        try:
            with path.open("rb") as stream:
                fmt = options["format"]
                if fmt == "auto":
                    fmt = detect_format(path, stream)
                importer = get_importer(fmt, options=import_options)
                # Refuse a broken file (malformed XML) before any of its rows are stored.
                importer.check(stream)
                stream.seek(0)
                report, read = self._import(
                    importer, stream, size=path.stat().st_size, dry_run=options["dry_run"],
                    batch_size=options["batch_size"], quiet=options["verbosity"] == 0,
                )  # fmt: skip
        except ImportFormatError as exc:
            raise CommandError(f"Cannot import {path}: {exc}") from exc
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror or exc}") from exc
        if options["verbosity"] > 0:  # 0 means no output, as for Django's own commands
            limit = max(0, options["show_rejected"])
            self._summarize(path, fmt, importer.unit, report, read, limit=limit)

    def _import(
        self, importer: Importer, stream: IO[bytes], *, size: int, dry_run: bool,
        batch_size: int, quiet: bool,
    ) -> tuple[UpsertReport, int]:  # fmt: skip
        report = UpsertReport(dry_run=dry_run)
        read = 0
        batch: list[ParsedRow] = []
        desc = "Checking" if dry_run else "Importing"
        with tqdm(
            total=size, unit="B", unit_scale=True, desc=desc, file=_ProgressStream(self.stderr),
            disable=True if quiet else None,  # None: draw only on a terminal
        ) as bar:  # fmt: skip
            for row in importer.read(stream):
                read += 1
                batch.append(row)
                if len(batch) >= batch_size:
                    report.merge(self._upsert(batch, dry_run=dry_run))
                    batch = []
                    bar.update(max(0, stream.tell() - bar.n))
            if batch:
                report.merge(self._upsert(batch, dry_run=dry_run))
            bar.update(max(0, size - bar.n))
        return report, read

    def _upsert(self, batch: list[ParsedRow], *, dry_run: bool) -> UpsertReport:
        """Send the parseable rows of a batch to the one upsert path; report the rest as rejected.

        ``article_upsert_many`` numbers rejections by position in the rows it got; they are
        mapped back to the line (or item) number in the file.
        """
        good = [row for row in batch if not row.problems]
        report = services.article_upsert_many(
            rows=[row.article for row in good], dry_run=dry_run, start=0
        )
        for rejection in report.rejected:
            rejection.index = good[rejection.index].number
        report.rejected.extend(
            RowRejection(row.number, echo_safe(str(row.article.get("external_id") or "")[:255]),
                         parse_problem_reasons(row))
            for row in batch if row.problems
        )  # fmt: skip
        report.rejected.sort(key=lambda rejection: rejection.index)
        return report

    def _summarize(
        self, path: Path, fmt: str, unit: str, report: UpsertReport, read: int, *, limit: int
    ) -> None:
        rejected = len(report.rejected)
        self.stdout.write(
            f"{'Checked' if report.dry_run else 'Imported'} {path.name} ({fmt}): "
            f"{read} row(s) read; "
            f"{report.created} created, {report.updated} updated, {report.unchanged} unchanged, "
            f"{rejected} rejected."
        )
        repeated = read - report.created - report.updated - report.unchanged - rejected
        if repeated > 0:
            # validate_rows keeps the last of several rows with one external id in a batch.
            self.stdout.write(
                f"{repeated} row(s) repeated an external id in the same batch; the last won."
            )
        if report.dry_run:
            self.stdout.write(
                self.style.WARNING(
                    "Dry run: nothing was stored; the counts are what an import would do."
                )
            )
        if rejected and limit:
            shown = report.rejected[:limit]
            more = f" (first {len(shown)} of {rejected})" if rejected > len(shown) else ""
            self.stdout.write(self.style.WARNING(f"Rejected rows{more}:"))
            for rejection in shown:
                ident = f" [{rejection.external_id}]" if rejection.external_id else ""
                reasons = "; ".join(f"{name}: {why}" for name, why in rejection.reasons.items())
                self.stdout.write(f"  {unit} {rejection.index}{ident}: {reasons}")
        if not report.dry_run and (report.created or report.updated):
            self.stdout.write(
                self.style.SUCCESS("New and changed articles are queued for embedding.")
            )


def _section_map(pairs: list[str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for pair in pairs:
        source, sep, section = pair.partition("=")
        if not sep or not source.strip() or not section.strip():
            raise CommandError(f"--section-map expects SOURCE=SECTION, got {pair!r}.")
        mapping[source.strip()] = section.strip()
    return mapping


def _dates(path: str | None) -> dict[str, datetime]:
    if not path:
        return {}
    try:
        with Path(path).open(encoding="utf-8", newline="") as stream:
            return read_publication_dates(stream, name=Path(path).name)
    except OSError as exc:
        raise CommandError(f"{path}: {exc.strerror or exc}") from None
    except (ImportFormatError, UnicodeDecodeError) as exc:
        raise CommandError(f"{path}: {exc}") from None
