"""Shared parts of the file importers: the row shape, options, base class and text helpers."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from html import unescape
from html.parser import HTMLParser
from typing import IO, Any, ClassVar


class ImportFormatError(ValueError):
    """The file as a whole cannot be read in the chosen format (not a per-row problem)."""


@dataclass(frozen=True)
class ParsedRow:
    """One source record: where it was, the article fields, and why it could not be read if so.

    ``article`` has the keys ``newsrec.ingest.validate_article`` expects. A non-empty
    ``problems`` means the parser already knows the row is unusable (bad JSON, bad RFC 822
    date); such rows are reported as rejected and never reach the upsert.
    """

    number: int
    article: dict[str, Any]
    problems: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ImportOptions:
    """Per-run choices that apply to every row a parser yields."""

    # Language for rows that carry none of their own (validation defaults to "en").
    language: str = ""
    # One section for every row, overriding what the source says.
    section: str = ""
    # Source category (case-insensitive) -> section name, for renaming sections on import.
    section_map: Mapping[str, str] = field(default_factory=dict)
    # External id -> publication time, for formats that carry none (MIND, NeMig news.tsv).
    dates: Mapping[str, datetime] = field(default_factory=dict)


class Importer:
    """Base class of the file parsers; subclasses override ``read()`` (and ``check()`` if needed).

    ``read()`` gets the file opened in binary mode and must stream: yield one ``ParsedRow``
    per record without reading the whole file into memory first.
    """

    format_name: ClassVar[str] = ""
    # What ``ParsedRow.number`` counts, for messages: "line" or "item".
    unit: ClassVar[str] = "line"

    def __init__(self, *, options: ImportOptions | None = None) -> None:
        self.options = options or ImportOptions()
        self._section_map = {k.strip().casefold(): v for k, v in self.options.section_map.items()}

    def check(self, stream: IO[bytes]) -> None:
        """Raise ``ImportFormatError`` if the whole file is unusable; the default accepts it."""

    def read(self, stream: IO[bytes]) -> Iterator[ParsedRow]:
        raise NotImplementedError(".read() must be overridden")

    def section_for(self, raw: str, *, titlecase: bool = True) -> str:
        """The section for a source category: --section, else the section map, else the category."""
        if self.options.section:
            return self.options.section
        raw = (raw or "").strip()
        derived = title_case(raw) if titlecase else raw
        for key in (raw.casefold(), derived.casefold()):
            if key in self._section_map:
                return self._section_map[key]
        return derived

    def language_for(self, own: Any) -> Any:
        """The row's own language if it has one, else the --language option."""
        return own if own not in (None, "") else (self.options.language or None)


_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)?")


def title_case(category: str) -> str:
    """ "U.S. NEWS" -> "U.S. News", "food_and_drink" -> "Food And Drink", "women's" -> "Women's"."""
    text = " ".join(category.replace("_", " ").split())
    return _WORD.sub(lambda m: m.group(0)[:1].upper() + m.group(0)[1:].lower(), text)


class _TextExtractor(HTMLParser):
    """Collects the visible text of an HTML fragment, with breaks where block elements end."""

    _BLOCKS = frozenset(
        {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
         "tr", "table", "section", "article", "figure", "figcaption", "pre", "hr"}
    )  # fmt: skip
    _SKIP = frozenset({"script", "style", "template", "noscript"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(fragment: str | None) -> str:
    """Plain text of an HTML fragment: tags dropped, entities decoded, paragraphs kept apart."""
    if not fragment:
        return ""
    if "<" not in fragment:
        # Plain text, possibly with entities (feeds often escape twice).
        return " ".join(unescape(fragment).split())
    extractor = _TextExtractor()
    extractor.feed(fragment)
    extractor.close()
    lines = (" ".join(line.split()) for line in "".join(extractor.parts).split("\n"))
    return "\n".join(line for line in lines if line)


def parse_problem_reasons(row: ParsedRow) -> dict[str, str]:
    """All reasons a row the parser flagged is rejected: the parser's own, plus those that
    validation finds in the rest of its fields (so one report lists every problem)."""
    from newsrec.ingest import ArticleRejected, validate_article

    reasons = dict(row.problems)
    if row.article.keys() - {"external_id"}:
        rest = {key: value for key, value in row.article.items() if key not in reasons}
        try:
            validate_article(rest)
        except ArticleRejected as exc:
            reasons = {**exc.reasons, **reasons}
    return reasons
