"""File importers: stream articles out of JSON Lines, MIND news.tsv, RSS and Atom files.

Parsers only read; ``manage.py newsrec_import`` hands their rows in batches to
``newsrec.services.article_upsert_many``, the single validation and storage path.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO

from newsrec.importers.base import (
    Importer,
    ImportFormatError,
    ImportOptions,
    ParsedRow,
    html_to_text,
    title_case,
)
from newsrec.importers.feeds import ATOM, AtomImporter, RssImporter, root_tag
from newsrec.importers.jsonl import JsonLinesImporter
from newsrec.importers.mind import MindNewsImporter

__all__ = [
    "IMPORTERS",
    "AtomImporter",
    "ImportFormatError",
    "ImportOptions",
    "Importer",
    "JsonLinesImporter",
    "MindNewsImporter",
    "ParsedRow",
    "RssImporter",
    "detect_format",
    "get_importer",
    "html_to_text",
    "title_case",
]

IMPORTERS: dict[str, type[Importer]] = {
    "jsonl": JsonLinesImporter,
    "mind": MindNewsImporter,
    "rss": RssImporter,
    "atom": AtomImporter,
}

_EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".tsv": "mind",
               ".rss": "rss", ".atom": "atom"}  # fmt: skip


def detect_format(path: Path, stream: IO[bytes]) -> str:
    """Guess the format from the extension, else from the first bytes; leaves ``stream`` at 0."""
    try:
        by_extension = _EXTENSIONS.get(path.suffix.lower())
        if by_extension:
            return by_extension
        head = stream.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
        stream.seek(0)
        if head.startswith(b"{"):
            return "jsonl"
        if head.startswith(b"<"):
            tag = root_tag(stream)
            if tag == "rss":
                return "rss"
            if tag == f"{ATOM}feed":
                return "atom"
            raise ImportFormatError(
                f"Unsupported XML document <{tag}>: expected RSS 2.0 (<rss>) or Atom (<feed>)."
            )
        if b"\t" in head.split(b"\n", 1)[0]:
            return "mind"
        raise ImportFormatError(
            f"Cannot tell the format of {path.name}; pass --format ({', '.join(IMPORTERS)})."
        )
    finally:
        stream.seek(0)


def get_importer(name: str, *, options: ImportOptions | None = None) -> Importer:
    """An importer instance for a format name; ``ImportFormatError`` for unknown names."""
    try:
        cls = IMPORTERS[name]
    except KeyError:
        raise ImportFormatError(
            f"Unknown format {name!r}; choose one of {', '.join(IMPORTERS)}."
        ) from None
    return cls(options=options)
