"""Reader events: the one validation path and the idempotent, append-only ingestion service."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from newsrec.conf import newsrec_settings
from newsrec.ingest import datetime_problem, echo_safe, text_problem
from newsrec.metrics import events_count
from newsrec.models import Article, DeviceClass, Event, EventKind, Reader, ReferrerType
from newsrec.numbers import ascii_int

MAX_EVENT_BYTES = 4_096  # one event's JSON; real events are a few hundred bytes
MAX_DWELL_SECONDS = 86_400.0  # a day on one page is a stuck tab, not reading
_KINDS = {k.value for k in EventKind}
_DEVICES = {d.value for d in DeviceClass}
_REFERRERS = {r.value for r in ReferrerType}
_FIELDS = {
    "event_id", "kind", "article_id", "article_external_id", "occurred_at", "dwell_seconds",
    "read_depth", "feed_slot", "surface", "recommendation_id", "device", "local_hour", "weekday",
    "referrer", "session_id", "reader_id",
}  # fmt: skip
_TABLET_UA = re.compile(r"iPad|Tablet|PlayBook|Silk|Kindle|Android(?!.*Mobile)", re.IGNORECASE)
_MOBILE_UA = re.compile(r"Mobi|iPhone|iPod|Android.*Mobile|Windows Phone|BlackBerry", re.I)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TZ_COOKIE = "newsrec_tz"  # minutes east of UTC, set by the beacon (newsrec.js)


def local_hour_of(request: Any, *, now: datetime | None = None) -> int | None:
    """The reader's local hour from the beacon's time-zone cookie (None when unknown): the
    device and time-of-day re-rank of pages and template tags uses it."""
    raw = request.COOKIES.get(TZ_COOKIE, "") if request is not None else ""
    sign = -1 if raw.startswith("-") else 1
    minutes = ascii_int(raw.removeprefix("-"), low=0, high=14 * 60)
    if minutes is None:
        return None
    moment = (now or timezone.now()) + timedelta(minutes=sign * minutes)
    return moment.astimezone(UTC).hour


def device_from_user_agent(user_agent: str) -> str:
    """Coarse device class from a User-Agent header; unknown agents count as desktop."""
    if not user_agent:
        return ""
    if _TABLET_UA.search(user_agent):
        return DeviceClass.TABLET
    if _MOBILE_UA.search(user_agent):
        return DeviceClass.MOBILE
    return DeviceClass.DESKTOP


@dataclass(frozen=True)
class EventData:
    """A validated event, ready to store (article still named by id or external id)."""

    event_id: str
    kind: str
    article_id: int | None
    article_external_id: str
    occurred_at: datetime
    dwell_seconds: float | None = None
    read_depth: float | None = None
    feed_slot: int | None = None
    surface: str = ""
    recommendation_id: str = ""
    device: str = ""
    local_hour: int | None = None
    weekday: int | None = None
    referrer: str = ""
    session_id: str = ""


class EventRejected(Exception):
    """An event failed validation; ``reasons`` maps field names to messages."""

    def __init__(self, reasons: Mapping[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in reasons.items()))
        self.reasons = dict(reasons)


# How each field is checked: text (length limit after stripping; allowed values or None), integer
# or number (inclusive range). One table and one pass over the fields an event carries: a
# batch of 100 is validated per request, so this is on the hot path (a call per field and
# field-by-field look-ups for absent ones cost more than the checks themselves).
_TEXT, _INT, _NUMBER = 0, 1, 2
_SPECS: dict[str, tuple[int, Any, Any]] = {
    "event_id": (_TEXT, None, 64),
    "kind": (_TEXT, None, 32),
    "article_id": (_INT, 1, 2**63 - 1),
    "article_external_id": (_TEXT, None, 255),
    "dwell_seconds": (_NUMBER, 0.0, MAX_DWELL_SECONDS),
    "occurred_at": (_TEXT, None, 64),
    "read_depth": (_NUMBER, 0.0, 1.0),
    "feed_slot": (_INT, 0, 10_000),
    "surface": (_TEXT, None, 32),
    "recommendation_id": (_TEXT, None, 64),
    "device": (_TEXT, _DEVICES, 32),
    "local_hour": (_INT, 0, 23),
    "weekday": (_INT, 0, 6),
    "referrer": (_TEXT, _REFERRERS, 32),
    "session_id": (_TEXT, None, 64),
}
# Reasons are listed in this order whatever the order of the fields in the event.
_REASON_ORDER = ("event", *_SPECS)


def _checked(name: str, value: Any, errors: dict[str, str]) -> Any:
    """``value`` of field ``name`` cleaned (text stripped, numbers as float), or None with the
    reason in ``errors``."""
    form, low, high = _SPECS[name]
    if form == _TEXT:
        if not isinstance(value, str):
            errors[name] = "must be a string"
            return None
        problem = text_problem(value)
        if problem:
            errors[name] = problem
            return None
        value = value.strip()
        if len(value) > high:
            errors[name] = f"is too long ({len(value)} characters; the limit is {high})"
            return None
        if low is not None and value and value not in low:
            errors[name] = f"must be one of {', '.join(sorted(low))}"
            return None
        return value
    if form == _INT:
        if isinstance(value, bool) or not isinstance(value, int):
            errors[name] = "must be an integer"
            return None
        if not low <= value <= high:
            errors[name] = f"must be between {low} and {high}"
            return None
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        errors[name] = "must be a number"
        return None
    try:
        value = float(value)
    except OverflowError:  # an integer of 400 digits
        value = math.inf
    if not math.isfinite(value):  # 1e400 arrives from the JSON parser as inf
        errors[name] = "must be a finite number"
        return None
    if not low <= value <= high:
        errors[name] = f"must be between {low:g} and {high:g}"
        return None
    return value


def _window(now: datetime) -> tuple[datetime, datetime]:
    """The earliest and latest accepted ``occurred_at`` at ``now`` (computed once per batch)."""
    global _last_window
    last = _last_window  # one read: other threads may replace it meanwhile
    if last[0] is now:
        return last[1]
    future = int(newsrec_settings.EVENTS_MAX_FUTURE_SECONDS)
    max_age = float(newsrec_settings.EVENTS_MAX_AGE_DAYS)
    bounds = (now - timedelta(days=max_age), now + timedelta(seconds=future))
    _last_window = (now, bounds)
    return bounds


_last_window: tuple[datetime | None, tuple[datetime, datetime]] = (None, (_EPOCH, _EPOCH))


def _occurred_at(value: str, now: datetime, errors: dict[str, str]) -> datetime:
    if not value:
        errors["occurred_at"] = "is required (ISO 8601 with time zone)"
        return now
    try:
        parsed = parse_datetime(value)
    except ValueError:
        parsed = None
    if parsed is None:
        errors["occurred_at"] = f"is not a valid ISO 8601 date/time: {value[:40]!r}"
        return now
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    # Only an offset, or a date at the very ends of the calendar, can be unstorable.
    problem = "" if parsed.tzinfo is UTC and 1 < parsed.year < 9999 else datetime_problem(parsed)
    if problem:
        errors["occurred_at"] = problem
        return now
    earliest, latest = _window(now)
    if parsed > latest:
        future = int(newsrec_settings.EVENTS_MAX_FUTURE_SECONDS)
        errors["occurred_at"] = f"is more than {future} seconds in the future"
    elif parsed < earliest:
        max_age = float(newsrec_settings.EVENTS_MAX_AGE_DAYS)
        errors["occurred_at"] = f"is older than the accepted {max_age:g} days"
    return parsed


def validate_event(raw: Any, *, now: datetime, default_device: str = "") -> EventData:
    """Check one incoming event; raises EventRejected with every problem found."""
    if not isinstance(raw, dict):
        raise EventRejected({"event": "must be a JSON object"})
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    unknown: list[str] = []
    for name, value in raw.items():
        if name not in _SPECS:
            if name not in _FIELDS:
                # Echoed back in the response, so lone surrogates are escaped to keep it UTF-8.
                unknown.append(echo_safe(str(name)[:40]))
        elif value is not None:  # null is the same as leaving the field out
            value = _checked(name, value, errors)
            if value is not None:
                clean[name] = value
    if unknown:
        errors["event"] = f"unknown field(s): {', '.join(sorted(unknown))}"
    event_id = clean.get("event_id", "")
    if not event_id and "event_id" not in errors:
        errors["event_id"] = "is required"
    kind = clean.get("kind", "")
    if "kind" not in errors and kind not in _KINDS:
        errors["kind"] = f"must be one of {', '.join(sorted(_KINDS))}"
    article_id = clean.get("article_id")
    external_id = clean.get("article_external_id", "")
    if (
        article_id is None
        and not external_id
        and "article_id" not in errors
        and "article_external_id" not in errors
    ):
        errors["article_id"] = "is required (or article_external_id)"
    dwell = clean.get("dwell_seconds")
    if kind == EventKind.DWELL and dwell is None and "dwell_seconds" not in errors:
        errors["dwell_seconds"] = "is required for dwell events"
    occurred_at = (
        now if "occurred_at" in errors else _occurred_at(clean.get("occurred_at", ""), now, errors)
    )
    if errors:
        raise EventRejected({name: errors[name] for name in _REASON_ORDER if name in errors})
    return EventData(
        event_id=event_id,
        kind=kind,
        article_id=article_id,
        article_external_id=external_id,
        occurred_at=occurred_at,
        dwell_seconds=dwell,
        read_depth=clean.get("read_depth"),
        feed_slot=clean.get("feed_slot"),
        surface=clean.get("surface", ""),
        recommendation_id=clean.get("recommendation_id", ""),
        device=clean.get("device") or default_device,
        local_hour=clean.get("local_hour"),
        weekday=clean.get("weekday"),
        referrer=clean.get("referrer", ""),
        session_id=clean.get("session_id", ""),
    )


@dataclass
class IngestReport:
    """Per-event outcome of one batch, in the order the events were sent."""

    results: list[dict[str, Any]] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r["status"] == status)

    def as_dict(self) -> dict[str, Any]:
        counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
        for result in self.results:
            counts[result["status"]] += 1
        return {**counts, "results": self.results}


# The fast path: an event whose fields are all of the expected JSON type, within their limits
# and free of anything the full check has a message for becomes its stored row in one pass,
# without an EventData, a size check or a reason table; any other event (unknown or null
# fields, a reader_id, text that is not printable or too long before stripping, a value out of
# range, a date outside the window) goes through validate_event, which answers its reasons. So
# the fast path only ever accepts what validate_event accepts, cleaned the same way (tests
# compare the two).
# The longest repr() a fast-path event can have: printable text at most doubles (escaped quotes
# and backslashes) plus its quotes, numbers print in at most 24 characters, and each field adds
# its quoted name and ": ", ", ". Below MAX_EVENT_BYTES, so such an event needs no size check.
FAST_MAX_REPR = 2 + sum(
    len(name) + 6 + (2 * high + 2 if form == _TEXT else 24)
    for name, (form, _l, high) in _SPECS.items()
)


def _fast_row(
    raw: dict[str, Any], earliest: datetime, latest: datetime, default_device: str
) -> dict[str, Any] | None:
    """The stored row of a plainly valid event, or None to let validate_event judge it."""
    row: dict[str, Any] = {}
    for name, value in raw.items():
        spec = _SPECS.get(name)
        if spec is None or value is None:
            return None
        form, low, high = spec
        kind = type(value)
        if form == _TEXT:
            if kind is not str or len(value) > high or not value.isprintable():
                return None
            value = value.strip()
            if low is not None and value and value not in low:
                return None
        elif form == _INT:
            if kind is not int or not low <= value <= high:
                return None
        elif kind is float:
            if not low <= value <= high:  # NaN fails every comparison; inf is out of range
                return None
        elif kind is int and low <= value <= high:
            value = float(value)
        else:
            return None
        row[name] = value
    if not row.get("event_id") or row.get("kind") not in _KINDS:
        return None
    if row.get("article_id") is None and not row.get("article_external_id"):
        return None
    if row["kind"] == EventKind.DWELL and "dwell_seconds" not in row:
        return None
    text = row.get("occurred_at")
    if not text:
        return None
    try:
        parsed = parse_datetime(text)
    except ValueError:
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if not (parsed.tzinfo is UTC and 1 < parsed.year < 9999) and datetime_problem(parsed):
        return None
    if not earliest <= parsed <= latest:
        return None
    row["occurred_at"] = parsed.isoformat()
    if default_device and not row.get("device"):
        row["device"] = default_device
    return row


def _row_of(data: EventData) -> dict[str, Any]:
    """The stored row of a validated event (absent text is stored as "", as _STORE does)."""
    row = {name: value for name, value in vars(data).items() if value is not None}
    row["occurred_at"] = data.occurred_at.isoformat()
    return row


# The whole batch is one statement: the events travel as one JSON document that PostgreSQL turns
# into rows, the article references are resolved by a join, and the insert answers which rows
# were new. The text is the same for every batch, so psycopg reuses its parsed form (a VALUES
# list of 1,700 placeholders was re-parsed for each batch, most of the request's CPU time, and
# quoting one JSON string costs a third of quoting 15 arrays); one round trip replaces the
# former four (article lookup, BEGIN, INSERT, COMMIT).
_BATCH_COLUMNS = (
    ("event_id", "text"), ("kind", "text"), ("article_id", "bigint"),
    ("article_external_id", "text"), ("occurred_at", "timestamptz"), ("dwell_seconds", "float8"),
    ("read_depth", "float8"), ("feed_slot", "int"), ("surface", "text"),
    ("recommendation_id", "text"), ("device", "text"), ("local_hour", "int"), ("weekday", "int"),
    ("referrer", "text"), ("session_id", "text"),
)  # fmt: skip
_STORED_COLUMNS = [name for name, _ in _BATCH_COLUMNS if name != "article_external_id"]
_RECORD = ", ".join(f"{name} {kind}" for name, kind in _BATCH_COLUMNS)
_NAMES = ", ".join(name for name, _ in _BATCH_COLUMNS)
_TARGETS = ", ".join(_STORED_COLUMNS)


def _source(column: str, kind: str) -> str:
    """Where a stored column's value comes from in _STORE: text left out of an event (the rows
    carry only the fields sent) is stored as ""."""
    if column == "article_id":
        return "known.article_pk"
    if kind == "text" and column not in ("event_id", "kind"):
        return f"coalesce(batch.{column}, '')"
    return f"batch.{column}"


_SOURCES = ", ".join(_source(c, kind) for c, kind in _BATCH_COLUMNS if c in _STORED_COLUMNS)
_ARTICLE = Article._meta.db_table
_STORE = f"""
WITH batch AS (
    SELECT * FROM ROWS FROM (json_to_recordset(%s::json) AS ({_RECORD}))
        WITH ORDINALITY AS b({_NAMES}, position)
), known AS (
    SELECT batch.event_id, article.id AS article_pk
    FROM batch JOIN {_ARTICLE} article ON article.id = batch.article_id
    UNION ALL
    SELECT batch.event_id, article.id
    FROM batch JOIN {_ARTICLE} article
        ON batch.article_id IS NULL AND article.external_id = batch.article_external_id
), inserted AS (
    INSERT INTO {Event._meta.db_table} (reader_id, received_at, profiling_allowed, {_TARGETS})
    SELECT %s, %s, %s, {_SOURCES} FROM batch JOIN known USING (event_id)
    ORDER BY batch.position  -- ids in the order sent
    ON CONFLICT (reader_id, event_id) DO NOTHING
    RETURNING event_id
)
SELECT batch.event_id, known.article_pk IS NOT NULL, inserted.event_id IS NOT NULL
FROM batch LEFT JOIN known USING (event_id) LEFT JOIN inserted USING (event_id)
"""


def _store(
    *, reader: Reader, received_at: datetime, rows: Sequence[dict[str, Any]]
) -> dict[str, tuple[bool, bool]]:
    """INSERT … ON CONFLICT DO NOTHING; maps each event id to (article known, newly stored).

    bulk_create(ignore_conflicts=True) cannot say which rows were skipped, and only the database
    can decide that atomically when the same ids arrive concurrently. The event ids of ``rows``
    (cleaned events, as _fast_row makes them) must be distinct.
    """
    if not rows:
        return {}
    document = json.dumps(rows)
    with connection.cursor() as cursor:
        cursor.execute(_STORE, [document, reader.pk, received_at, reader.personalisation_enabled])
        return {event_id: (known, new) for event_id, known, new in cursor.fetchall()}


def events_ingest(
    *,
    reader: Reader,
    raw_events: Sequence[Any],
    default_device: str = "",
    reader_claim: str | None = None,
) -> IngestReport:
    """Validate and store a batch for one reader; valid events are stored even if others fail.

    Each event is answered accepted, duplicate (its event_id was already stored for this reader,
    or sent twice in the batch) or rejected with reasons. ``reader_claim`` is the identity an
    event may name in ``reader_id``; naming anyone else rejects the event. A profile update is
    queued on commit when something new was stored and the reader allows personalisation.
    """
    now = timezone.now()
    earliest, latest = _window(now)
    results: list[dict[str, Any]] = []
    pending: list[tuple[dict[str, Any], dict[str, Any]]] = []  # (result, row)
    seen: set[str] = set()
    for index, raw in enumerate(raw_events):
        row = _fast_row(raw, earliest, latest, default_device) if type(raw) is dict else None
        if row is None:
            try:
                if isinstance(raw, dict) and len(repr(raw)) > MAX_EVENT_BYTES:
                    raise EventRejected({"event": f"is larger than {MAX_EVENT_BYTES} bytes"})
                row = _row_of(validate_event(raw, now=now, default_device=default_device))
                claim = raw.get("reader_id")
                if claim is not None and str(claim) != reader_claim:
                    raise EventRejected({"reader_id": "names another reader than the one sending"})
            except EventRejected as exc:
                event_id = raw.get("event_id") if isinstance(raw, dict) else None
                results.append(
                    {
                        "index": index,
                        "event_id": event_id
                        if isinstance(event_id, str) and "event_id" not in exc.reasons
                        else None,
                        "status": "rejected",
                        "reasons": exc.reasons,
                    }
                )
                continue
        event_id = row["event_id"]
        if event_id in seen:
            results.append({"index": index, "event_id": event_id, "status": "duplicate"})
            continue
        seen.add(event_id)
        result = {"index": index, "event_id": event_id, "status": "pending"}
        results.append(result)
        pending.append((result, row))

    stored = _store(reader=reader, received_at=now, rows=[row for _, row in pending])
    acted_new = False
    for result, row in pending:
        known, new = stored[row["event_id"]]
        if not known:
            name = "article_id" if row.get("article_id") is not None else "article_external_id"
            result["status"] = "rejected"
            result["reasons"] = {name: "unknown article"}
        elif new:
            result["status"] = "accepted"
            # Impressions alone change nothing a reader would want reordered (a reload): the
            # profile and feed are rebuilt for what the reader did (clicks, reads, hides, skips).
            acted_new = acted_new or row["kind"] != EventKind.IMPRESSION
        else:
            result["status"] = "duplicate"
    if acted_new and reader.personalisation_enabled:
        from newsrec.profiles import profile_schedule

        # The statement has committed (or commits with the caller's transaction, after which
        # profile_schedule's on_commit sends the task).
        profile_schedule(reader=reader)
    events_count(results)
    return IngestReport(results)


def event_hide_undo(*, reader: Reader, article_id: int) -> bool:
    """Take back a reader's "Not interested" in an article; False when there was none.

    The one exception to append-only: the hide is the reader's own choice, undone at their
    request, so it is erased rather than countered (pages drop hidden articles at read time,
    and the profile is recomputed from the events that remain).
    """
    deleted, _ = Event.objects.filter(
        reader=reader, kind=EventKind.HIDE, article_id=article_id
    ).delete()
    if deleted and reader.personalisation_enabled:
        from newsrec.profiles import profile_schedule

        profile_schedule(reader=reader)
    return bool(deleted)
