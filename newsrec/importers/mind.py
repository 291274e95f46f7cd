"""MIND-style ``news.tsv`` (8 columns) and NeMig's 6-column ``news.tsv``, one article per line."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import IO, Any

from newsrec.importers.base import Importer, ImportFormatError, ParsedRow

MIND_COLUMNS = 8  # news_id, category, subcategory, title, abstract, url, title_ent., abstract_ent.
NEMIG_COLUMNS = 6  # news_id, sub-topic label, title, abstract, title_entities, abstract_entities


class MindNewsImporter(Importer):
    """Tab-separated news files in the MIND layout, without a header.

    ``news_id`` is kept as the external id unchanged (``N12345``, ``news_0``), so that MIND/NeMig
    behaviour logs refer to the imported articles directly. Category -> section (title case),
    subcategory -> the single tag, abstract -> lead. The entity columns are not imported.
    NeMig's 6-column ``news.tsv`` (no subcategory, no url) is accepted as well.
    """

    format_name = "mind"
    unit = "line"

    def read(self, stream: IO[bytes]) -> Iterator[ParsedRow]:
        for number, raw_line in enumerate(stream, start=1):
            try:
                line = raw_line.decode("utf-8-sig" if number == 1 else "utf-8").rstrip("\r\n")
            except UnicodeDecodeError as exc:
                yield ParsedRow(number, {}, {"row": f"is not valid UTF-8 ({exc.reason})"})
                continue
            if not line.strip() and "\t" not in line:
                continue  # a blank line; a line of empty cells is a row (and is rejected)
            cells = line.split("\t")
            if number == 1 and cells[0].strip().lower() in ("news_id", "newsid", "id"):
                continue  # a header row, which MIND files do not have but hand-made ones may
            if len(cells) == MIND_COLUMNS:
                yield ParsedRow(number, self._dated(self._from_mind(cells)))
            elif len(cells) == NEMIG_COLUMNS:
                yield ParsedRow(number, self._dated(self._from_nemig(cells)))
            else:
                yield ParsedRow(
                    number,
                    {"external_id": cells[0].strip()},
                    {"row": f"has {len(cells)} tab-separated columns; expected {MIND_COLUMNS} "
                            f"(MIND news.tsv) or {NEMIG_COLUMNS} (NeMig news.tsv)"},
                )  # fmt: skip

    def _dated(self, article: dict[str, Any]) -> dict[str, Any]:
        """The publication time from ``ImportOptions.dates`` (MIND files carry none)."""
        when = self.options.dates.get(article["external_id"].strip())
        if when is not None:
            article["published_at"] = when
        return article

    def _from_mind(self, cells: list[str]) -> dict[str, Any]:
        news_id, category, subcategory, title, abstract, url = cells[:6]
        return {
            "external_id": news_id,
            "title": title,
            "lead": abstract,
            "url": url,
            "section": self.section_for(category),
            "tags": [subcategory] if subcategory.strip() else [],
            "language": self.language_for(None),
        }

    def _from_nemig(self, cells: list[str]) -> dict[str, Any]:
        news_id, topic, title, abstract = cells[:4]
        return {
            "external_id": news_id,
            "title": title,
            "lead": abstract,
            "section": self.section_for(topic),
            "language": self.language_for(None),
        }


def read_publication_dates(stream: IO[str], *, name: str = "dates") -> dict[str, datetime]:
    """NeMig's ``news_meta.tsv`` (a header row naming ``news_id`` and ``date_published``, ISO
    dates): news id -> publication time (UTC). Rows without a readable date are left out: those
    articles are dated by when newsrec first sees them."""
    reader = csv.DictReader(stream, delimiter="\t")
    if not reader.fieldnames or not {"news_id", "date_published"} <= set(reader.fieldnames):
        raise ImportFormatError(f"{name}: expected a header row with news_id and date_published")
    dates: dict[str, datetime] = {}
    for row in reader:
        raw = (row.get("date_published") or "").strip()
        if not row.get("news_id") or not raw:
            continue
        try:
            when = datetime.fromisoformat(raw)
        except ValueError:
            continue
        dates[row["news_id"].strip()] = when if when.tzinfo else when.replace(tzinfo=UTC)
    return dates
