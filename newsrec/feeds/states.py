"""Readers as the engine sees them: stored profile plus recent history, in one query per chunk."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

import numpy as np
from django.utils import timezone

from newsrec.conf import newsrec_settings
from newsrec.engine.types import Interest, ReaderState, Seed, reading_style
from newsrec.feeds.codec import habits_decode, json_value, rows_binary, vector_of
from newsrec.models import Event, EventKind, Reader, ReaderProfile

_READER_STATES = """
SELECT r.id, r.personalisation_enabled, p.reader_id IS NOT NULL, p.interest_vector,
       p.section_affinity, p.tag_affinity, p.author_affinity, p.context_habits,
       p.sessions, p.avg_session_depth, e.articles, e.kinds, e.dwell, e.depth, e.allowed, e.hours
FROM {reader} r
LEFT JOIN {profile} p ON p.reader_id = r.id
LEFT JOIN LATERAL (
    SELECT array_agg(article_id ORDER BY id) AS articles, array_agg(kind ORDER BY id) AS kinds,
           array_agg(dwell_seconds ORDER BY id) AS dwell,
           array_agg(read_depth ORDER BY id) AS depth,
           array_agg(profiling_allowed ORDER BY id) AS allowed,
           array_agg(floor(extract(epoch FROM occurred_at) / 3600)::bigint ORDER BY id) AS hours
    FROM {event} WHERE reader_id = r.id AND occurred_at >= %s AND occurred_at <= %s
) e ON true
WHERE r.id = ANY(%s)
"""
READ_KINDS = frozenset({EventKind.CLICK, EventKind.READ, EventKind.FINISH, EventKind.DWELL})
_PROGRESS_KINDS = frozenset({EventKind.READ, EventKind.FINISH, EventKind.DWELL})
CLICK_SEED_WEIGHT = 0.5  # a click as a "because you read" seed, for sites that send only clicks
# (article id, kind, dwell seconds, read depth, profiling allowed[, hour since the epoch]):
# one event, oldest first
HistoryEvent = (
    tuple[int, str, float | None, float | None, bool]
    | tuple[int, str, float | None, float | None, bool, int]
)


def reader_state_build(
    reader_id: int | str,
    events: Iterable[HistoryEvent],
    *,
    personalisation_enabled: bool = True,
    interest: np.ndarray | Sequence[float] | None = None,
    section_affinity: Mapping[str, float] | None = None,
    tag_affinity: Mapping[str, float] | None = None,
    author_affinity: Mapping[str, float] | None = None,
    context_habits: Mapping[tuple[str, str], Mapping[str, float]] | None = None,
    profiled: bool = True,
    fatigue_before_hour: int | None = None,
    style: str = "",
) -> ReaderState:
    """The engine's view of one reader from the stored profile and recent events (pure).

    Read articles are those clicked, read or finished; well-read ones (finished, 30 s of dwell
    or 60% depth) become "because you read" seeds. A site that sends only clicks (no read
    progress from this reader at all) still gets seeds: each click, at half a seed's weight.

    Fatigue acts over hours, not reloads: with events' hours, an article's unclicked
    impressions count the distinct hours it was shown in before ``fatigue_before_hour`` (the
    current hour): reloading a page, which only adds impressions, never reorders the feed.
    """
    read: set[int] = set()
    hidden: set[int] = set()
    shown: dict[int, int] = {}
    shown_hours: dict[int, set[int]] = {}
    seeds: dict[int, float] = {}
    clicked: dict[int, float] = {}
    progress = False
    for article_id, kind, dwell, depth, ok, *when in events:
        if kind in READ_KINDS:
            read.add(article_id)
            progress = progress or kind in _PROGRESS_KINDS or bool(dwell) or bool(depth)
            if not ok:
                continue
            if kind == EventKind.FINISH or (dwell or 0) >= 30 or (depth or 0) >= 0.6:
                seeds[article_id] = seeds.get(article_id, 0.0) + 1.0
            elif kind == EventKind.CLICK:
                clicked[article_id] = clicked.get(article_id, 0.0) + CLICK_SEED_WEIGHT
        elif kind == EventKind.HIDE:
            hidden.add(article_id)
        elif kind == EventKind.IMPRESSION:
            if not when:
                shown[article_id] = shown.get(article_id, 0) + 1
            elif fatigue_before_hour is None or when[0] < fatigue_before_hour:
                shown_hours.setdefault(article_id, set()).add(when[0])
    for article_id, hours in shown_hours.items():
        shown[article_id] = shown.get(article_id, 0) + len(hours)
    if not progress:
        seeds = clicked
    personal = personalisation_enabled and profiled
    top_seeds = sorted(seeds.items(), key=lambda kv: -kv[1])[:20] if personal else []
    return ReaderState(
        reader_id=reader_id,
        interests=(Interest(vector=interest),) if personal and interest is not None else (),
        seeds=tuple(Seed(article_id=a, weight=w) for a, w in top_seeds),
        read_ids=frozenset(read),
        hidden_ids=frozenset(hidden),
        # "clicked" and "read" are the same set of articles
        unclicked_impressions={a: n for a, n in shown.items() if a not in read},
        section_affinity=dict(section_affinity or {}) if personal else {},
        tag_affinity=dict(tag_affinity or {}) if personal else {},
        author_affinity=dict(author_affinity or {}) if personal else {},
        context_habits=dict(context_habits or {}) if personal else {},
        style=style if personal else "",
        personalisation_enabled=personalisation_enabled,
    )


def reader_states(
    *, reader_ids: Sequence[int], history_days: int = 30, now: datetime | None = None
) -> list[ReaderState]:
    """Engine view of readers: profile vectors and affinities plus recent reading history.

    ``now`` (default: the present) bounds the history on both sides: events up to ``now`` and
    no older than ``history_days``, so a replay or a training set sees no event from its future.

    One query per chunk: readers, profiles and their events aggregated into arrays, which
    costs far less than one ORM row per event. Results come in binary: interest vectors are
    then a byte copy (see :func:`_vectors_load`) instead of parsing 384 numbers of text each.
    """
    if not reader_ids:
        return []
    since = (now or timezone.now()) - timedelta(days=history_days)
    this_hour = int((now or timezone.now()).timestamp() // 3600)
    if now is None:  # events may be stamped a little ahead of the server's clock
        now = timezone.now() + timedelta(seconds=int(newsrec_settings.EVENTS_MAX_FUTURE_SECONDS))
    sql = _READER_STATES.format(
        reader=Reader._meta.db_table,
        profile=ReaderProfile._meta.db_table,
        event=Event._meta.db_table,
    )
    fetched = {row[0]: row for row in rows_binary(sql, [since, now, list(reader_ids)])}
    states = []
    for reader_id in reader_ids:
        row = fetched.get(reader_id)
        if row is None:
            continue
        _, enabled, has_profile, vector, sections, tags, authors, habits, *rest = row
        sessions, depth, *events = rest
        articles, kinds, dwells, depths, allowed, hours = events
        states.append(
            reader_state_build(
                reader_id,
                zip(
                    articles or (),
                    kinds or (),
                    dwells or (),
                    depths or (),
                    allowed or (),
                    hours or (),
                    strict=True,
                ),
                fatigue_before_hour=this_hour,
                personalisation_enabled=enabled,  # with profiled, gates everything personal
                profiled=bool(has_profile),
                interest=vector_of(vector) if vector is not None else None,
                section_affinity=json_value(sections),
                tag_affinity=json_value(tags),
                author_affinity=json_value(authors),
                context_habits=habits_decode(json_value(habits)),
                style=reading_style(sessions=sessions or 0, avg_session_depth=depth or 0.0),
            )
        )
    return states
