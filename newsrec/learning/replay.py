"""Replay a MIND-format click log through the product's own code, in memory.

The catalogue is isolated: articles are parsed by the product's MIND importer and validated by
its ingest, embedded by the configured embedder, and held in memory (never the live database).
Each impression is scored at its own time, through the same steps as a live feed build:
the reader's events up to that time fold into a profile (``profiles.profile_compute``) and a
reader state (``feeds.reader_state_build``), the pool carries the clicks and impressions of the
7 days before (as ``feeds.pool_load`` does), co-visitation comes from the same pairs
(``feeds.covisits_from_engaged``), and the candidates are scored by
:meth:`newsrec.engine.Ranker.score_candidates` under the given rules.

Timeline. A log with MIND's time column is replayed at those times. A log without one (NeMig)
gets a documented one: the newest article date plus a day is ``start``; the history column of
each reader happened 8 days before ``start`` (in the reader's 30-day history, out of the pool's
7-day popularity window, so history clicks shape the reader but not "popular"); the ``--train``
log's impressions and clicks happen at ``start``; impressions scored later (``--fit``,
``--behaviors``) happen a day after ``start`` and see the state ``--train`` left, never each other.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from newsrec.engine.pool import ArticleMeta, Pool
from newsrec.engine.scoring import trending_score
from newsrec.engine.types import ReaderState
from newsrec.feeds import HistoryEvent, covisits_from_engaged, reader_state_build
from newsrec.importers.base import ImportFormatError, ImportOptions
from newsrec.importers.mind import MindNewsImporter, read_publication_dates
from newsrec.ingest import ArticleData, ArticleRejected, validate_article
from newsrec.models import EventKind
from newsrec.profiles import ArticleFacts, EventSignal, profile_compute

HISTORY_BEFORE = timedelta(days=8)
SCORED_AFTER = timedelta(days=1)
POPULARITY_WINDOW = timedelta(days=7)  # as feeds.pool_load
LONG_WINDOW = timedelta(days=30)  # as feeds.pool_load's clicks_long
HISTORY_WINDOW = timedelta(days=30)  # as feeds.reader_states
COVISIT_WINDOW = timedelta(days=14)  # as feeds.covisits_compute


class LogFormatError(ValueError):
    """A log or news file that cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class Impression:
    impression_id: str
    user: str
    time: datetime | None
    history: tuple[str, ...]
    candidates: tuple[str, ...]
    labels: tuple[int, ...]

    @property
    def scorable(self) -> bool:
        """Both a click and a non-click: the ranking metrics are defined."""
        return 0 < sum(1 for x in self.labels if x > 0) < len(self.labels)


def _time(value: str, where: str) -> datetime:
    for pattern in ("%m/%d/%Y %I:%M:%S %p", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(value.strip(), pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise LogFormatError(f"{where}: unreadable time {value!r} (MIND: 11/15/2019 8:55:22 AM)")


def read_behaviors(path: Path) -> list[Impression]:
    """MIND ``behaviors.tsv`` (impression id, user, time, history, impressions) or the same
    without the time column (NeMig); labels ``newsid-1`` (clicked) or ``newsid-0``."""
    out: list[Impression] = []
    with path.open(encoding="utf-8") as stream:
        for number, line in enumerate(stream, start=1):
            where = f"{path.name} line {number}"
            cells = line.rstrip("\r\n").split("\t")
            if not line.strip():
                continue
            if len(cells) == 5:
                impression_id, user, raw_time, history, shown = cells
                time: datetime | None = _time(raw_time, where)
            elif len(cells) == 4:
                impression_id, user, history, shown = cells
                time = None
            else:
                raise LogFormatError(
                    f"{where}: {len(cells)} tab-separated columns; expected 5 (MIND) or 4"
                )
            candidates, labels = [], []
            for item in shown.split():
                news_id, _, label = item.rpartition("-")
                if not news_id or label not in ("0", "1"):
                    raise LogFormatError(f"{where}: impression {item!r} is not newsid-0/1")
                candidates.append(news_id)
                labels.append(int(label))
            if not candidates:
                raise LogFormatError(f"{where}: no candidates")
            out.append(
                Impression(
                    impression_id, user, time, tuple(history.split()), tuple(candidates),
                    tuple(labels),
                )
            )  # fmt: skip
    return out


def read_dates(path: Path) -> dict[str, datetime]:
    """NeMig's ``news_meta.tsv``: news id -> publication time (the importer's reader)."""
    try:
        with path.open(encoding="utf-8", newline="") as stream:
            return read_publication_dates(stream, name=path.name)
    except ImportFormatError as exc:
        raise LogFormatError(str(exc)) from None


def read_articles(path: Path, dates: dict[str, datetime] | None = None) -> list[ArticleData]:
    """Articles through the product's MIND importer and validation; rejected rows are skipped."""
    articles = []
    with path.open("rb") as stream:
        importer = MindNewsImporter(options=ImportOptions(dates=dates or {}))
        for parsed in importer.read(stream):
            if parsed.problems:
                continue
            try:
                articles.append(validate_article(parsed.article))
            except ArticleRejected:
                continue
    if not articles:
        raise LogFormatError(f"{path.name}: no valid article")
    return articles


def embed_articles(
    articles: Sequence[ArticleData],
    embed: Callable[[Sequence[str]], np.ndarray],
    cache: Path | None = None,
    *,
    batch: int = 256,
    progress: Callable[[int], object] | None = None,
) -> np.ndarray:
    """Every article's vector (of its product embedding text); ``cache`` keeps them between
    runs, keyed by the texts, so a second evaluation does not embed again."""
    texts = [a.embedding_text for a in articles]
    key = hashlib.sha256("\x00".join(texts).encode()).hexdigest()[:16]
    if cache is not None and cache.exists():
        with np.load(cache) as stored:
            if str(stored["key"]) == key:
                return np.asarray(stored["vectors"], np.float32)
    parts = []
    for start in range(0, len(texts), batch):
        parts.append(np.asarray(embed(texts[start : start + batch]), np.float32))
        if progress:
            progress(len(parts[-1]))
    vectors = np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        with cache.open("wb") as out:
            np.savez(out, key=key, vectors=vectors)
    return vectors


@dataclass(frozen=True)
class _Event:
    time: datetime
    user: str
    article: int
    kind: str


@dataclass
class Replay:
    """The isolated catalogue and the events replayed into it so far."""

    articles: Sequence[ArticleData]
    vectors: np.ndarray
    start: datetime
    half_life_days: float = 14.0
    ids: dict[str, int] = field(init=False)
    events: list[_Event] = field(default_factory=list, init=False)
    _by_user: dict[str, list[_Event]] = field(default_factory=lambda: defaultdict(list), init=False)
    _history_added: set[str] = field(default_factory=set, init=False)

    def __post_init__(self) -> None:
        self.ids = {a.external_id: i + 1 for i, a in enumerate(self.articles)}
        self._facts = {
            i + 1: ArticleFacts(
                section=a.section, tags=a.tags, authors=a.authors,
                embedding=tuple(float(x) for x in self.vectors[i]),
            )
            for i, a in enumerate(self.articles)
        }  # fmt: skip

    @classmethod
    def timeline_start(
        cls, articles: Sequence[ArticleData], logs: Iterable[Impression]
    ) -> datetime:
        """The time of the first impression, or (no time column) the newest article + 1 day."""
        times = [i.time for i in logs if i.time is not None]
        if times:
            return min(times)
        dated = [a.published_at for a in articles if a.published_at is not None]
        newest = max(dated) if dated else datetime(2020, 1, 1, tzinfo=UTC)
        return (newest + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)

    def _add(self, time: datetime, user: str, article: int, kind: str) -> None:
        event = _Event(time, user, article, kind)
        self.events.append(event)
        self._by_user[user].append(event)

    def add_history(self, impression: Impression) -> None:
        """The reader's history column, once per reader, as clicks before the first impression."""
        if impression.user in self._history_added:
            return
        self._history_added.add(impression.user)
        at = (impression.time or self.start) - HISTORY_BEFORE
        for news_id in impression.history:
            article = self.ids.get(news_id)
            if article is not None:
                self._add(at, impression.user, article, EventKind.CLICK)

    def add_impressions(self, impressions: Iterable[Impression]) -> None:
        """A log's impressions and clicks as events at their time (``start`` without one)."""
        for imp in impressions:
            self.add_history(imp)
            at = imp.time or self.start
            for news_id, label in zip(imp.candidates, imp.labels, strict=True):
                article = self.ids.get(news_id)
                if article is None:
                    continue
                self._add(at, imp.user, article, EventKind.IMPRESSION)
                if label:
                    self._add(at + timedelta(seconds=1), imp.user, article, EventKind.CLICK)

    def scored_at(self, impression: Impression) -> datetime:
        return impression.time or self.start + SCORED_AFTER

    # -- state at a moment --------------------------------------------------------------------

    def pool_at(self, now: datetime) -> Pool:
        """Every article out by ``now`` (the evaluated candidates are given, so no pool window),
        with the clicks and impressions of the 7 days before (clicks of 30 days too) and
        co-visitation of 14 days."""
        clicks: dict[int, float] = defaultdict(float)
        clicks_long: dict[int, float] = defaultdict(float)
        shown: dict[int, float] = defaultdict(float)
        engaged: list[tuple[str, int]] = []
        for e in self.events:
            if e.time > now:
                continue
            if e.time >= now - POPULARITY_WINDOW:
                if e.kind == EventKind.CLICK:
                    clicks[e.article] += 1
                elif e.kind == EventKind.IMPRESSION:
                    shown[e.article] += 1
            if e.kind == EventKind.CLICK and e.time >= now - COVISIT_WINDOW:
                engaged.append((e.user, e.article))
            if e.kind == EventKind.CLICK and e.time >= now - LONG_WINDOW:
                clicks_long[e.article] += 1
        now_ts = now.timestamp()
        metas = []
        for i, article in enumerate(self.articles):
            aid = i + 1
            published = (article.published_at or self.start).timestamp()
            if published > now_ts:
                continue
            metas.append(
                ArticleMeta(
                    article_id=aid,
                    title=article.title,
                    embedding=self.vectors[i],
                    published_at=published,
                    section=article.section,
                    authors=article.authors,
                    tags=article.tags,
                    clicks=clicks.get(aid, 0.0),
                    impressions=shown.get(aid, 0.0),
                    clicks_long=clicks_long.get(aid, 0.0),
                    trending=trending_score(clicks.get(aid, 0.0), (now_ts - published) / 3600),
                )
            )
        return Pool.from_articles(metas, covisits=covisits_from_engaged(engaged))

    def reader_at(self, user: str, now: datetime, *, personal: bool = True) -> ReaderState:
        """The reader's profile and state from their events up to ``now`` (30 days)."""
        since = now - HISTORY_WINDOW
        mine = [e for e in self._by_user.get(user, ()) if since <= e.time <= now]
        mine.sort(key=lambda e: e.time)
        if not personal or not mine:
            return ReaderState(reader_id=user)
        signals = [
            EventSignal(event_id=str(n), kind=e.kind, article_id=e.article, occurred_at=e.time)
            for n, e in enumerate(mine)
        ]
        profile = profile_compute(signals, self._facts, half_life_days=self.half_life_days)
        history: list[HistoryEvent] = [(e.article, e.kind, None, None, True) for e in mine]
        return reader_state_build(
            user,
            history,
            interest=(
                np.asarray(profile.interest_vector, np.float32)
                if profile.interest_vector is not None
                else None
            ),
            section_affinity=profile.section_affinity,
            tag_affinity=profile.tag_affinity,
            author_affinity=profile.author_affinity,
        )


def by_moment(
    impressions: Sequence[Impression], replay: Replay
) -> Iterator[tuple[datetime, list[int]]]:
    """Impression positions grouped by the hour they are scored in (one pool per hour)."""
    groups: dict[datetime, list[int]] = defaultdict(list)
    for position, imp in enumerate(impressions):
        at = replay.scored_at(imp)
        groups[at.replace(minute=0, second=0, microsecond=0)].append(position)
    for hour in sorted(groups):
        yield hour, groups[hour]
