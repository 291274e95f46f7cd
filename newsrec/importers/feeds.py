"""RSS 2.0 and Atom files, parsed incrementally with defusedxml (no entities, no DTD fetch)."""

from __future__ import annotations

from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from typing import IO, Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from newsrec.importers.base import Importer, ImportFormatError, ParsedRow, html_to_text

ATOM = "{http://www.w3.org/2005/Atom}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}"
DC = "{http://purl.org/dc/elements/1.1/}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def _events(stream: IO[bytes]) -> Iterator[tuple[str, Element]]:
    """iterparse's start/end events, with XML and defusedxml errors as ``ImportFormatError``."""
    try:
        yield from iterparse(stream, events=("start", "end"))
    except ParseError as exc:
        raise ImportFormatError(f"The file is not well-formed XML: {exc}") from exc
    except DefusedXmlException as exc:
        # Entity declarations and external references are refused (billion laughs, XXE).
        raise ImportFormatError(f"The XML uses a forbidden construct: {exc}") from exc


def root_tag(stream: IO[bytes]) -> str:
    """The tag of the document element (``rss``, ``{...Atom}feed``); reads only the file's start."""
    for event, elem in _events(stream):
        if event == "start":
            return elem.tag
    raise ImportFormatError("The file contains no XML element.")


def _text(elem: Element | None) -> str:
    return (elem.text or "").strip() if elem is not None else ""


class _FeedImporter(Importer):
    """Common parts of the feed importers: the root check and a full well-formedness pass."""

    unit = "item"
    expected_root = ""

    def check(self, stream: IO[bytes]) -> None:
        """Parse the whole file once (elements are dropped as they end) so that a broken file is
        refused before any of its items are stored."""
        root = ""
        for event, elem in _events(stream):
            if event == "start" and not root:
                root = elem.tag
                self._check_root(root)
            elif event == "end":
                elem.clear()
        if not root:
            raise ImportFormatError("The file contains no XML element.")

    def _check_root(self, tag: str) -> None:
        if tag != self.expected_root:
            found, wanted = tag.replace(ATOM, "atom:"), self.expected_root.replace(ATOM, "atom:")
            raise ImportFormatError(
                f"Expected a {self.format_name.upper()} document (<{wanted}> root element), "
                f"found <{found}>."
            )

    def _categories_and_section(self, labels: list[str]) -> dict[str, Any]:
        labels = [label for label in labels if label]
        return {
            "tags": labels,
            "section": self.section_for(labels[0] if labels else "", titlecase=False),
        }


class RssImporter(_FeedImporter):
    """RSS 2.0: each ``<item>`` is one article.

    guid (else link) -> external_id; description -> lead and content:encoded -> body, both as
    plain text; categories -> tags, the first also -> section (unless --section); pubDate
    (RFC 822) or dc:date -> published_at; author / dc:creator -> authors; the channel's
    ``<language>`` -> language.
    """

    format_name = "rss"
    expected_root = "rss"

    def read(self, stream: IO[bytes]) -> Iterator[ParsedRow]:
        number = 0
        language = ""
        started = False
        for event, elem in _events(stream):
            if event == "start":
                if not started:
                    self._check_root(elem.tag)
                    started = True
                continue
            if elem.tag == "language" and not language:
                language = _text(elem)
            elif elem.tag == "item":
                number += 1
                yield self._item(number, elem, language)
                elem.clear()  # items are done with; keep memory flat on big feeds

    def _item(self, number: int, item: Element, language: str) -> ParsedRow:
        problems: dict[str, str] = {}
        published: Any = None
        pub_date = _text(item.find("pubDate"))
        if pub_date:
            try:
                published = parsedate_to_datetime(pub_date)
            except (TypeError, ValueError, IndexError):
                problems["published_at"] = f"is not a valid RFC 822 date: {pub_date[:40]!r}"
        else:
            published = _text(item.find(f"{DC}date")) or None  # ISO 8601, checked by validation
        link = _text(item.find("link"))
        authors = [_author_name(_text(a)) for a in item.findall("author")]
        authors += [_text(a) for a in item.findall(f"{DC}creator")]
        article: dict[str, Any] = {
            "external_id": _text(item.find("guid")) or link,
            "title": html_to_text(_text(item.find("title"))),
            "url": link,
            "lead": html_to_text(_text(item.find("description"))),
            "body": html_to_text(_text(item.find(f"{CONTENT}encoded"))),
            "authors": [a for a in authors if a],
            "published_at": published,
            "language": self.language_for(language),
            **self._categories_and_section([_text(c) for c in item.findall("category")]),
        }
        return ParsedRow(number, article, problems)


def _author_name(value: str) -> str:
    """RSS ``<author>`` is "email (Name)"; keep the name when there is one."""
    if value.endswith(")") and "(" in value:
        return value[value.index("(") + 1 : -1].strip()
    return value


def _atom_text(elem: Element | None) -> str:
    """Text of an Atom text construct (type text, html or xhtml)."""
    if elem is None:
        return ""
    kind = elem.get("type", "text")
    if kind == "xhtml":
        return "\n".join(" ".join(t.split()) for t in elem.itertext() if t.strip())
    if kind == "html" or kind.endswith("/html"):
        return html_to_text(elem.text)
    if elem.get("src"):  # out-of-line content is not fetched
        return ""
    return (elem.text or "").strip()


class AtomImporter(_FeedImporter):
    """Atom (RFC 4287): each ``<entry>`` is one article.

    id (else the alternate link) -> external_id; summary -> lead and content -> body as plain
    text; category label/term -> tags, the first also -> section (unless --section);
    published (else updated) -> published_at, updated -> updated_at; author names (the
    feed's when the entry has none) -> authors; xml:lang -> language.
    """

    format_name = "atom"
    expected_root = f"{ATOM}feed"

    def read(self, stream: IO[bytes]) -> Iterator[ParsedRow]:
        number = 0
        stack: list[Element] = []
        feed_authors: list[str] = []
        for event, elem in _events(stream):
            if event == "start":
                if not stack:
                    self._check_root(elem.tag)
                stack.append(elem)
                continue
            stack.pop()
            if elem.tag == f"{ATOM}author" and len(stack) == 1:
                feed_authors.append(_text(elem.find(f"{ATOM}name")))
            elif elem.tag == f"{ATOM}entry":
                number += 1
                feed_language = stack[0].get(XML_LANG) if stack else None
                language = elem.get(XML_LANG) or feed_language or ""
                yield self._entry(number, elem, language, feed_authors)
                elem.clear()

    def _entry(
        self, number: int, entry: Element, language: str, feed_authors: list[str]
    ) -> ParsedRow:
        link = ""
        for candidate in entry.findall(f"{ATOM}link"):
            if candidate.get("rel", "alternate") == "alternate":
                link = (candidate.get("href") or "").strip()
                break
        authors = [_text(a.find(f"{ATOM}name")) for a in entry.findall(f"{ATOM}author")]
        published = _text(entry.find(f"{ATOM}published"))
        updated = _text(entry.find(f"{ATOM}updated"))
        categories = [
            (c.get("label") or c.get("term") or "").strip()
            for c in entry.findall(f"{ATOM}category")
        ]
        article: dict[str, Any] = {
            "external_id": _text(entry.find(f"{ATOM}id")) or link,
            "title": _atom_text(entry.find(f"{ATOM}title")),
            "url": link,
            "lead": _atom_text(entry.find(f"{ATOM}summary")),
            "body": _atom_text(entry.find(f"{ATOM}content")),
            "authors": [a for a in (authors or feed_authors) if a],
            "published_at": published or updated or None,
            "updated_at": updated or None,
            "language": self.language_for(language),
            **self._categories_and_section(categories),
        }
        return ParsedRow(number, article)
