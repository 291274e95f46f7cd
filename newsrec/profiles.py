"""Reader profiles: a deterministic fold of a reader's events, and the services that store it.

``profile_compute`` is plain Python: it sees the events and the articles they name, nothing else,
and gives the same result for any order of the same events (each article's signals are combined
with order-free operations — max, any, count — and sums run in article-id order).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from django.core.cache import cache
from django.db import transaction

from newsrec.conf import newsrec_settings
from newsrec.engine.types import daypart_of  # one daypart definition for profiles and feeds
from newsrec.models import Article, Event, EventKind, Reader, ReaderProfile

logger = logging.getLogger(__name__)

# Why these weights: a hide is an explicit "no" and outweighs a click; a share is the strongest
# "yes"; dwell counts up to five minutes so one forgotten tab cannot dominate a profile.
CLICK_WEIGHT = 1.0
FINISH_WEIGHT = 2.0
SHARE_WEIGHT = 3.0
SKIP_WEIGHT = -0.5
HIDE_WEIGHT = -3.0
DWELL_CAP_SECONDS = 300.0
DWELL_UNIT_SECONDS = 120.0
AFFINITY_LIMIT = 50  # entries kept per affinity map
ENGAGED_KINDS = {
    EventKind.CLICK,
    EventKind.READ,
    EventKind.DWELL,
    EventKind.FINISH,
    EventKind.SHARE,
}


@dataclass(frozen=True)
class EventSignal:
    """The parts of an Event that profiling reads."""

    event_id: str
    kind: str
    article_id: int
    occurred_at: datetime
    dwell_seconds: float | None = None
    read_depth: float | None = None
    device: str = ""
    local_hour: int | None = None
    session_id: str = ""


@dataclass(frozen=True)
class ArticleFacts:
    """The parts of an Article that profiling reads."""

    section: str = ""
    tags: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    embedding: Sequence[float] | np.ndarray | None = None


@dataclass(frozen=True)
class ProfileData:
    """A computed profile; the same shape as the ReaderProfile row."""

    interest_vector: tuple[float, ...] | None = None
    section_affinity: dict[str, float] = field(default_factory=dict)
    tag_affinity: dict[str, float] = field(default_factory=dict)
    author_affinity: dict[str, float] = field(default_factory=dict)
    context_habits: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    sessions: int = 0
    avg_session_depth: float = 0.0
    completion_rate: float = 0.0
    last_event_at: datetime | None = None
    events_counted: int = 0


@dataclass
class _ArticleSignals:
    clicked: bool = False
    finished: bool = False
    shared: bool = False
    hidden: bool = False
    skips: int = 0
    dwell: float = 0.0
    depth: float = 0.0
    last_at: datetime | None = None

    def score(self) -> float:
        if self.hidden:
            return HIDE_WEIGHT
        engaged = min(self.dwell, DWELL_CAP_SECONDS) / DWELL_UNIT_SECONDS + self.depth
        return (
            CLICK_WEIGHT * self.clicked
            + engaged
            + FINISH_WEIGHT * self.finished
            + SHARE_WEIGHT * self.shared
            + SKIP_WEIGHT * self.skips
        )


def _normalised(weights: Mapping[str, float]) -> dict[str, float]:
    """Scale to -1..1 by the largest magnitude; keep the strongest, ties by name."""
    items = [(k, v) for k, v in weights.items() if k and abs(v) > 1e-9]
    if not items:
        return {}
    top = max(abs(v) for _, v in items)
    items.sort(key=lambda kv: (-abs(kv[1]), kv[0]))
    return {k: round(v / top, 4) for k, v in items[:AFFINITY_LIMIT]}


def profile_compute(
    events: Iterable[EventSignal],
    articles: Mapping[int, ArticleFacts],
    *,
    half_life_days: float,
) -> ProfileData:
    """Fold a reader's events into a profile; any order of the same events gives the same result.

    Interest weights decay with a half-life relative to the reader's latest event, so a profile
    is a function of the events alone (the engine can decay further by ``last_event_at``).
    """
    unique = {e.event_id: e for e in events}  # a duplicate id is the same event
    signals: dict[int, _ArticleSignals] = defaultdict(_ArticleSignals)
    habits: dict[tuple[str, str, str], int] = defaultdict(int)
    session_articles: dict[str, set[int]] = defaultdict(set)
    last_event_at: datetime | None = None
    for e in unique.values():
        last_event_at = (
            e.occurred_at if last_event_at is None else max(last_event_at, e.occurred_at)
        )
        s = signals[e.article_id]
        s.last_at = e.occurred_at if s.last_at is None else max(s.last_at, e.occurred_at)
        if e.kind == EventKind.CLICK:
            s.clicked = True
        elif e.kind == EventKind.FINISH:
            s.finished = True
        elif e.kind == EventKind.SHARE:
            s.shared = True
        elif e.kind == EventKind.HIDE:
            s.hidden = True
        elif e.kind == EventKind.SKIP:
            s.skips += 1
        # Read progress reports are cumulative, so the furthest one counts, not their sum.
        s.dwell = max(s.dwell, e.dwell_seconds or 0.0)
        s.depth = max(s.depth, e.read_depth or 0.0)
        if e.kind in ENGAGED_KINDS:
            if e.session_id:
                session_articles[e.session_id].add(e.article_id)
            section = articles.get(e.article_id, ArticleFacts()).section
            if e.local_hour is not None and section:
                habits[(e.device, daypart_of(e.local_hour), section)] += 1
    if last_event_at is None:
        return ProfileData()

    half_life = max(float(half_life_days), 1e-6) * 86_400.0
    vector: np.ndarray | None = None
    sections: dict[str, float] = defaultdict(float)
    tags: dict[str, float] = defaultdict(float)
    authors: dict[str, float] = defaultdict(float)
    opened = finished = 0
    for article_id in sorted(signals):  # fixed order: float sums do not depend on event order
        s = signals[article_id]
        if s.clicked or s.dwell > 0 or s.depth > 0 or s.finished:
            opened += 1
            finished += s.finished
        age = (last_event_at - (s.last_at or last_event_at)).total_seconds()
        weight = s.score() * 0.5 ** (age / half_life)
        if weight == 0.0:
            continue
        facts = articles.get(article_id, ArticleFacts())
        if facts.section:
            sections[facts.section] += weight
        for tag in facts.tags:
            tags[tag] += weight
        for author in facts.authors:
            authors[author] += weight
        if facts.embedding is not None:
            contribution = weight * np.asarray(facts.embedding, dtype=np.float64)
            vector = contribution if vector is None else vector + contribution

    interest: tuple[float, ...] | None = None
    if vector is not None and float(np.linalg.norm(vector)) > 1e-9:
        interest = tuple(round(float(x), 6) for x in vector / np.linalg.norm(vector))

    context: dict[str, dict[str, dict[str, float]]] = {}
    totals: dict[tuple[str, str], int] = defaultdict(int)
    for (device, part, _section), n in habits.items():
        totals[(device, part)] += n
    for (device, part, section), n in sorted(habits.items()):
        share = round(n / totals[(device, part)], 4)
        context.setdefault(device, {}).setdefault(part, {})[section] = share

    depths = [len(a) for a in session_articles.values()]
    return ProfileData(
        interest_vector=interest,
        section_affinity=_normalised(sections),
        tag_affinity=_normalised(tags),
        author_affinity=_normalised(authors),
        context_habits=context,
        sessions=len(depths),
        avg_session_depth=round(sum(depths) / len(depths), 4) if depths else 0.0,
        completion_rate=round(finished / opened, 4) if opened else 0.0,
        last_event_at=last_event_at,
        events_counted=len(unique),
    )


# --- Services: load, compute, store -------------------------------------------------------


def _article_facts(article_ids: Iterable[int]) -> dict[int, ArticleFacts]:
    """The facts of these articles in one query, vectors in binary: a byte copy each, where
    the ORM parsed 384 numbers of text per article (most of a profile update's time)."""
    from newsrec.feeds.codec import rows_binary, vector_of

    ids = sorted(set(article_ids))
    if not ids:
        return {}
    table = Article._meta.db_table
    sql = f"SELECT id, section, tags, authors, embedding FROM {table} WHERE id = ANY(%s)"
    return {
        pk: ArticleFacts(
            section=section,
            tags=tuple(tags or ()),
            authors=tuple(authors or ()),
            embedding=None if embedding is None else vector_of(embedding),
        )
        for pk, section, tags, authors, embedding in rows_binary(sql, [ids])
    }


def profile_rebuild(*, reader_id: int) -> ReaderProfile | None:
    """Recompute a reader's profile from their events (the source of truth) and store it.

    Returns None, storing nothing, when the reader is gone or has personalisation off.
    """
    reader = Reader.objects.filter(pk=reader_id).first()
    if reader is None:
        return None
    if not reader.personalisation_enabled:
        ReaderProfile.objects.filter(reader_id=reader_id).delete()
        return None
    events = [
        EventSignal(*row)
        for row in Event.objects.filter(reader_id=reader_id, profiling_allowed=True).values_list(
            "event_id", "kind", "article_id", "occurred_at", "dwell_seconds", "read_depth",
            "device", "local_hour", "session_id",
        )
    ]  # fmt: skip
    data = profile_compute(
        events,
        _article_facts(e.article_id for e in events),
        half_life_days=float(newsrec_settings.PROFILE_HALF_LIFE_DAYS),
    )
    values: dict[str, Any] = {
        "interest_vector": None if data.interest_vector is None else list(data.interest_vector),
        "section_affinity": data.section_affinity,
        "tag_affinity": data.tag_affinity,
        "author_affinity": data.author_affinity,
        "context_habits": data.context_habits,
        "sessions": data.sessions,
        "avg_session_depth": data.avg_session_depth,
        "completion_rate": data.completion_rate,
        "last_event_at": data.last_event_at,
        "events_counted": data.events_counted,
    }
    with transaction.atomic():
        # The reader may have been erased meanwhile; creating a profile for it would fail.
        if not Reader.objects.select_for_update().filter(pk=reader_id).exists():
            return None
        profile, _ = ReaderProfile.objects.update_or_create(reader_id=reader_id, defaults=values)
    return profile


def _pending_key(public_id: str) -> str:
    # Keyed by the public UUID, never reused, so sites sharing one Redis cannot collide.
    return f"newsrec:profile-pending:{public_id}"


def profile_schedule(*, reader: Reader) -> bool:
    """Queue one profile update for a reader after commit, unless one is already waiting."""
    debounce = int(newsrec_settings.PROFILE_DEBOUNCE_SECONDS)
    public_id = str(reader.public_id)
    if not cache.add(_pending_key(public_id), 1, timeout=debounce + 300):
        return False
    from newsrec.outbox import send_or_record
    from newsrec.tasks import profile_update

    transaction.on_commit(lambda: send_or_record(profile_update, public_id, countdown=debounce))
    return True


def profile_pending_clear(*, public_id: str) -> None:
    """Let the next event queue a new update (called as a queued update starts)."""
    cache.delete(_pending_key(public_id))


def profiles_rebuild_all(*, reader_ids: Sequence[int]) -> Iterable[int]:
    """Rebuild many profiles, yielding each reader id as it is done (for progress bars)."""
    for reader_id in reader_ids:
        profile_rebuild(reader_id=reader_id)
        yield reader_id
