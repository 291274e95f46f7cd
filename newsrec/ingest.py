"""One validation path for every way an article comes in (CMS adapter, REST API, importers).

Pure Python, no ORM: ``validate_article`` turns a loosely typed mapping into an ``ArticleData``
or raises ``ArticleRejected`` with a reason per field.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils.dateparse import parse_datetime

from newsrec.conf import newsrec_settings

STATUSES = ("draft", "published", "retracted")

_url_validator = URLValidator(schemes=["http", "https"])


class ArticleRejected(ValueError):
    """Raised when a row cannot be stored; ``reasons`` maps field name to a message."""

    def __init__(self, reasons: Mapping[str, str]):
        self.reasons = dict(reasons)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.reasons.items()))


@dataclass(frozen=True)
class ArticleData:
    """A validated article, ready to be upserted."""

    external_id: str
    title: str
    url: str = ""
    lead: str = ""
    body: str = ""
    section: str = ""
    tags: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    language: str = "en"
    published_at: datetime | None = None
    updated_at: datetime | None = None
    status: str = "published"
    embargo_until: datetime | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def content_hash(self) -> str:
        """SHA-256 over every stored field: equal hash means the upsert is a no-op."""
        payload = asdict(self)
        payload.pop("extra")
        return hashlib.sha256(
            json.dumps(payload, sort_keys=True, default=str, ensure_ascii=False).encode()
        ).hexdigest()

    @property
    def embedding_text(self) -> str:
        return compose_embedding_text(title=self.title, lead=self.lead, section=self.section)


def compose_embedding_text(*, title: str, lead: str, section: str) -> str:
    """The text that is embedded: title, then lead, then the section as a topical hint."""
    parts = [title.strip()]
    if lead.strip():
        parts.append(lead.strip())
    if section.strip():
        parts.append(f"Section: {section.strip()}")
    return "\n".join(parts)


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def text_problem(value: str) -> str:
    """Why a string cannot be stored in PostgreSQL text ("" when it can)."""
    if "\x00" in value:
        return "contains a NUL byte"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains invalid Unicode (lone surrogate)"
    return ""


def echo_safe(value: str) -> str:
    """``value`` fit to echo in a message: lone surrogates become backslash escapes."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


def _clean_text(
    name: str, value: Any, *, limit: int, required: bool, errors: dict[str, str]
) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        if (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and name == "external_id"
        ):
            if isinstance(value, float) and not math.isfinite(value):
                errors[name] = "must be a string"
                return ""
            value = str(value)
        else:
            errors[name] = "must be a string"
            return ""
    problem = text_problem(value)
    if problem:
        errors[name] = problem
        return ""
    value = value.strip()
    if required and not value:
        errors[name] = "is required"
    elif len(value) > limit:
        errors[name] = f"is too long ({len(value)} characters; the limit is {limit})"
    return value


def _clean_datetime(name: str, value: Any, errors: dict[str, str]) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        parsed: datetime | None = value
    elif isinstance(value, str):
        if "\x00" in value:
            errors[name] = "contains a NUL byte"
            return None
        text = value.strip()
        try:
            parsed = parse_datetime(text)
            if parsed is None and len(text) == 10:  # plain date, e.g. "2022-09-23"
                parsed = datetime.fromisoformat(text)
        except ValueError:
            parsed = None
        if parsed is None:
            errors[name] = f"is not a valid ISO 8601 date/time: {text[:40]!r}"
            return None
    else:
        errors[name] = "must be an ISO 8601 string"
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    problem = datetime_problem(parsed)
    if problem:
        errors[name] = problem
        return None
    return parsed


def datetime_problem(value: datetime) -> str:
    """Why an aware datetime cannot be stored in PostgreSQL timestamptz ("" when it can)."""
    offset = value.utcoffset()
    # Python parses offsets up to ±23:59, PostgreSQL stores at most ±15:59; real ones are -12..+14.
    if offset is not None and abs(offset) > timedelta(hours=14):
        return "has a time zone offset beyond ±14:00"
    try:
        value.astimezone(UTC)  # year 1 at +01:00 is year 0 in UTC: unreadable once stored
    except OverflowError:
        return "is out of range"
    return ""


def _clean_list(
    name: str, value: Any, *, limit: int, max_len: int, errors: dict[str, str]
) -> tuple[str, ...]:
    if value in (None, ""):
        return ()
    if isinstance(value, str):
        value = [part for part in value.split(",")]
    if not isinstance(value, (list, tuple)):
        errors[name] = "must be a list of strings"
        return ()
    items: list[str] = []
    for item in value:
        if not isinstance(item, str):
            errors[name] = "must be a list of strings"
            return ()
        problem = text_problem(item)
        if problem:
            errors[name] = problem
            return ()
        item = item.strip()
        if len(item) > max_len:
            errors[name] = f"has an entry longer than {max_len} characters"
            return ()
        if item and item not in items:
            items.append(item)
    if len(items) > limit:
        errors[name] = f"has {len(items)} entries; the limit is {limit}"
        return ()
    return tuple(items)


def validate_article(raw: Mapping[str, Any]) -> ArticleData:
    """Validate one incoming article; raise ``ArticleRejected`` listing every problem."""
    if not isinstance(raw, Mapping):
        raise ArticleRejected({"row": "must be an object"})
    s = newsrec_settings
    errors: dict[str, str] = {}
    external_id = _clean_text(
        "external_id", raw.get("external_id"), limit=255, required=True, errors=errors
    )
    title = _clean_text(
        "title", raw.get("title"), limit=s.MAX_TITLE_CHARS, required=True, errors=errors
    )
    lead = _clean_text(
        "lead", raw.get("lead"), limit=s.MAX_LEAD_CHARS, required=False, errors=errors
    )
    body = _clean_text(
        "body", raw.get("body"), limit=s.MAX_BODY_CHARS, required=False, errors=errors
    )
    section = _clean_text("section", raw.get("section"), limit=100, required=False, errors=errors)
    language = _clean_text(
        "language", raw.get("language") or "en", limit=16, required=False, errors=errors
    )
    url = _clean_text("url", raw.get("url"), limit=s.MAX_URL_CHARS, required=False, errors=errors)
    if url and "url" not in errors:
        try:
            _url_validator(url)
        except ValidationError:
            errors["url"] = f"is not a valid http(s) URL: {url[:80]!r}"
    status = raw.get("status") or "published"
    if status not in STATUSES:
        errors["status"] = f"must be one of {', '.join(STATUSES)} (got {str(status)[:40]!r})"
    published_at = _clean_datetime("published_at", raw.get("published_at"), errors)
    updated_at = _clean_datetime("updated_at", raw.get("updated_at"), errors)
    embargo_until = _clean_datetime("embargo_until", raw.get("embargo_until"), errors)
    tags = _clean_list("tags", raw.get("tags"), limit=s.MAX_TAGS, max_len=100, errors=errors)
    authors = _clean_list(
        "authors", raw.get("authors"), limit=s.MAX_AUTHORS, max_len=200, errors=errors
    )
    if errors:
        raise ArticleRejected(errors)
    return ArticleData(
        external_id=external_id,
        title=title,
        url=url,
        lead=lead,
        body=body,
        section=section,
        tags=tags,
        authors=authors,
        language=language or "en",
        published_at=published_at,
        updated_at=updated_at,
        status=str(status),
        embargo_until=embargo_until,
    )


@dataclass
class RowRejection:
    """Why one incoming row was not stored."""

    index: int
    external_id: str
    reasons: dict[str, str]


@dataclass
class UpsertReport:
    """Outcome of one batch upsert: counts plus a reason per rejected row."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[RowRejection] = field(default_factory=list)
    dry_run: bool = False

    def merge(self, other: UpsertReport) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.rejected.extend(other.rejected)

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": [
                {"index": r.index, "external_id": r.external_id, "reasons": r.reasons}
                for r in self.rejected
            ],
            "dry_run": self.dry_run,
        }


def validate_rows(
    rows: Iterable[Mapping[str, Any]], *, start: int = 0
) -> tuple[list[ArticleData], list[RowRejection]]:
    """Validate a batch; later duplicates of an external id in the same batch win."""
    valid: dict[str, ArticleData] = {}
    rejected: list[RowRejection] = []
    for offset, raw in enumerate(rows):
        try:
            data = validate_article(raw)
        except ArticleRejected as exc:
            ext = raw.get("external_id") if isinstance(raw, Mapping) else None
            ident = echo_safe(str(ext or "")[:255])
            rejected.append(RowRejection(start + offset, ident, exc.reasons))
            continue
        valid.pop(data.external_id, None)
        valid[data.external_id] = data
    return list(valid.values()), rejected
