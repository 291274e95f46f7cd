"""JSON Lines: newsrec's own article format and the HuffPost "News Category" format, per line."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import IO, Any

from newsrec.importers.base import Importer, ParsedRow

# The keys of newsrec's own format (those validate_article reads); other keys are ignored.
ARTICLE_KEYS = (
    "external_id", "title", "url", "lead", "body", "section", "tags", "authors", "language",
    "published_at", "updated_at", "status", "embargo_until",
)  # fmt: skip


def huffpost_external_id(link: str) -> str:
    """A stable id for a HuffPost row: the dataset has no id, so hash the article link."""
    return "huffpost:" + hashlib.sha1(link.strip().encode()).hexdigest()


class JsonLinesImporter(Importer):
    """One JSON object per line; the flavour (own or HuffPost) is chosen per line by its keys.

    HuffPost rows (``headline``, ``link``, ``category``, ``short_description``, ``authors``,
    ``date``) become: title, url, section (title case), lead, authors (split at commas) and
    published_at, with ``external_id = "huffpost:" + sha1(link)``.
    """

    format_name = "jsonl"
    unit = "line"

    def read(self, stream: IO[bytes]) -> Iterator[ParsedRow]:
        for number, raw_line in enumerate(stream, start=1):
            try:
                line = raw_line.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                yield ParsedRow(number, {}, {"row": f"is not valid UTF-8 ({exc.reason})"})
                continue
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                yield ParsedRow(
                    number, {}, {"row": f"is not valid JSON ({exc.msg}, column {exc.colno})"}
                )
                continue
            except RecursionError:
                yield ParsedRow(number, {}, {"row": "is not valid JSON (nested too deeply)"})
                continue
            if not isinstance(obj, dict):
                yield ParsedRow(
                    number, {}, {"row": f"must be a JSON object, not {type(obj).__name__}"}
                )
                continue
            yield ParsedRow(number, self._convert(obj))

    def _convert(self, obj: dict[str, Any]) -> dict[str, Any]:
        if "headline" in obj and "external_id" not in obj:
            return self._from_huffpost(obj)
        article = {key: obj.get(key) for key in ARTICLE_KEYS if key in obj}
        article["language"] = self.language_for(obj.get("language"))
        if self.options.section or isinstance(obj.get("section"), str):
            article["section"] = self.section_for(obj.get("section") or "", titlecase=False)
        return article

    def _from_huffpost(self, obj: dict[str, Any]) -> dict[str, Any]:
        link = obj.get("link")
        category = obj.get("category")
        authors = obj.get("authors")
        return {
            # A missing link leaves the id empty, which validation reports as required.
            "external_id": huffpost_external_id(link)
            if isinstance(link, str) and link.strip()
            else "",
            "title": obj.get("headline"),
            "url": link,
            "lead": obj.get("short_description"),
            "section": self.section_for(category) if isinstance(category, str) else category,
            "authors": authors.split(",") if isinstance(authors, str) else authors,
            "published_at": obj.get("date"),
            "language": self.language_for(None),
        }
