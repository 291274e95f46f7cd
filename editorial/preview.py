"""Preview a rule set against the live rules: one reader or persona, or a sample of readers.

Everything here runs the engine on the cached live pool and returns plain data: it never writes
a feed (``feeds_store`` is not called).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np
from django.contrib.auth import get_user_model
from django.utils import timezone

from editorial.compiler import (
    layered_rules,
    live_rules,
    live_site_layers,
    rules_compile_layers,
    set_layers,
)
from editorial.models import RuleSet, Scope
from newsrec import feeds
from newsrec.conf import newsrec_settings
from newsrec.engine.overlay import OverlayPrepared, overlay, overlay_prepare, with_newest
from newsrec.engine.pool import Pool
from newsrec.engine.rules import Rules
from newsrec.engine.types import Context, FeedItem, FeedResult, Interest, ReaderState, daypart_of
from newsrec.learning.serving import serving_model
from newsrec.models import Event, EventKind, Reader
from newsrec.providers import ReadRules
from newsrec.rankers import ranker_build

# key -> (label, section the persona loves (matched case-insensitively) or "", device)
PERSONAS: dict[str, tuple[str, str, str]] = {
    "new": ("New visitor", "", ""),
    "sport-mobile": ("Sports fan on mobile", "sport", "mobile"),
    "politics-desktop": ("Politics reader on desktop", "politics", "desktop"),
    "culture-tablet": ("Culture lover on tablet", "culture", "tablet"),
}


def persona_choices() -> list[tuple[str, str]]:
    return [(key, label) for key, (label, _s, _d) in PERSONAS.items()]


def _section_in_pool(pool: Pool, wanted: str) -> str | None:
    names = pool.sections.names
    found = [n for n in names if n.lower() == wanted] or [n for n in names if wanted in n.lower()]
    return found[0] if found else None


def persona_state(key: str, pool: Pool, *, now: float) -> tuple[ReaderState, str]:
    """A ReaderState for a persona: section affinity plus the mean embedding of that section."""
    _label, wanted, device = PERSONAS[key]
    if not wanted:
        return ReaderState(reader_id=f"persona:{key}"), device
    section = _section_in_pool(pool, wanted)
    if section is None:
        return ReaderState(reader_id=f"persona:{key}"), device
    rows = np.flatnonzero(pool.sections.mask_any((section,)))
    vector = pool.embeddings[rows].mean(axis=0)
    norm = float(np.linalg.norm(vector))
    interests = (Interest(vector=vector / norm),) if norm > 0 else ()
    hour = time.localtime(now).tm_hour
    return (
        ReaderState(
            reader_id=f"persona:{key}",
            interests=interests,
            section_affinity={section: 0.9},
            context_habits={(device, daypart_of(hour)): {section: 0.9}} if device else {},
        ),
        device,
    )


@dataclass(frozen=True)
class Row:
    """One article in either feed: its positions (1-based, None = absent) and both items."""

    article_id: int
    title: str
    section: str
    live_pos: int | None
    draft_pos: int | None
    live: FeedItem | None
    draft: FeedItem | None

    @property
    def change(self) -> str:
        if self.live_pos is None:
            return "entered"
        if self.draft_pos is None:
            return "left"
        if self.draft_pos < self.live_pos:
            return f"up {self.live_pos - self.draft_pos}"
        if self.draft_pos > self.live_pos:
            return f"down {self.draft_pos - self.live_pos}"
        return "same"


@dataclass(frozen=True)
class ReaderPreview:
    """Live and draft feeds of one reader side by side, with what changed."""

    live: FeedResult
    draft: FeedResult
    rows: list[Row]
    seconds: float

    @property
    def entered(self) -> list[Row]:
        return [r for r in self.rows if r.change == "entered"]

    @property
    def left(self) -> list[Row]:
        return [r for r in self.rows if r.change == "left"]

    @property
    def moved(self) -> list[Row]:
        return [r for r in self.rows if r.change.startswith(("up", "down"))]

    def side_by_side(self) -> list[tuple[Row | None, Row | None]]:
        """(row at slot k in the live feed, row at slot k in the draft feed) for every k."""
        by_live = {r.live_pos: r for r in self.rows if r.live_pos}
        by_draft = {r.draft_pos: r for r in self.rows if r.draft_pos}
        n = max([*by_live, *by_draft, 0])
        return [(by_live.get(k), by_draft.get(k)) for k in range(1, n + 1)]


def draft_rules(rule_set: RuleSet) -> Rules:
    """The set's current rows compiled as they would apply once live, over the standing set
    where it layers over it (version 0: a preview is never stored)."""
    return rules_compile_layers(layers=set_layers(rule_set), version=0)


@dataclass(frozen=True)
class ScopedRules:
    """What a preview of a scoped set compares: feeds built under the live site-wide rules,
    then read in the set's scope under the live scoped set (if any) and under the draft."""

    site: Rules
    live: ReadRules
    draft: ReadRules
    section: str  # the section page previewed ("" unless the set is for one)
    device: str  # the device class previewed ("" unless the set is for one)


def scoped_rules(rule_set: RuleSet) -> ScopedRules:
    site_rows = live_site_layers()
    live_set = RuleSet.objects.live().in_scope(rule_set.scope, rule_set.scope_value).first()
    site = rules_compile_layers(layers=site_rows, version=0)
    live = (
        layered_rules(rule_set=live_set, site=site_rows)
        if live_set is not None
        else ReadRules(rules=site)
    )
    return ScopedRules(
        site=site,
        live=live,
        draft=layered_rules(rule_set=rule_set, site=site_rows),
        section=rule_set.scope_value if rule_set.scope == Scope.SECTION else "",
        device=rule_set.scope_value if rule_set.scope == Scope.DEVICE else "",
    )


def _section_newest(pool: Pool, section: str) -> list[int]:
    """Article ids of the section in the pool, newest first."""
    rows = np.flatnonzero(pool.sections.mask_any((section,)))
    rows = rows[np.argsort(-pool.published_at[rows], kind="stable")]
    return pool.ids[rows].tolist()


def _in_scope(
    prepared: OverlayPrepared,
    built: FeedResult,
    state: ReaderState,
    *,
    section: str,
    newest: Sequence[int],
    n: int,
) -> FeedResult:
    """A built feed as a read in the scope shows it (``newsrec.feeds.feed_read``'s steps)."""
    items = [i for i in built.items if not section or i.section == section]
    if section:
        # as many of the newest as a read asks for (newsrec.feeds.read)
        newest = newest[: n + len(items)]
        items = with_newest(
            prepared.pool, items, newest, source=feeds.FRESH_SOURCE, reason=f"New in {section}"
        )
    return overlay(prepared, items, state, n=n)


def _rows(pool: Pool, live: FeedResult, draft: FeedResult) -> list[Row]:
    live_pos = {item.article_id: (k, item) for k, item in enumerate(live.items, start=1)}
    draft_pos = {item.article_id: (k, item) for k, item in enumerate(draft.items, start=1)}
    rows = []
    for article_id in dict.fromkeys([*draft_pos, *live_pos]):
        lp, li = live_pos.get(article_id, (None, None))
        dp, di = draft_pos.get(article_id, (None, None))
        index = pool.index.get(article_id)
        rows.append(
            Row(
                article_id=article_id,
                title=pool.titles[index] if index is not None else f"#{article_id}",
                section=(di or li).section if (di or li) else "",  # type: ignore[union-attr]
                live_pos=lp,
                draft_pos=dp,
                live=li,
                draft=di,
            )
        )
    return rows


def preview_reader(
    *,
    rule_set: RuleSet,
    state: ReaderState,
    device: str = "",
    n: int | None = None,
    pool: Pool | None = None,
    rules: tuple[Rules, Rules] | None = None,
) -> ReaderPreview:
    """One reader's feed under the live rules and under ``rule_set``."""
    start = time.perf_counter()
    pool = pool or feeds.pool_cached()
    now = time.time()
    ranker = ranker_build(model=serving_model())  # what the feed builds serve
    size = int(n or newsrec_settings.FEED_LENGTH)
    if not rule_set.is_site_wide:
        scoped = scoped_rules(rule_set)
        device = scoped.device or device
        built = ranker.rank(
            pool, state, Context(now=now), scoped.site, int(newsrec_settings.FEED_LENGTH)
        )
        context = Context(now=now, device=device, local_hour=time.localtime(now).tm_hour)
        newest = _section_newest(pool, scoped.section) if scoped.section else []
        live_feed, draft_feed = (
            _in_scope(
                overlay_prepare(pool, context, read.rules, extra_boosts=read.extra_boosts),
                built, state, section=scoped.section, newest=newest, n=size,
            )
            for read in (scoped.live, scoped.draft)
        )  # fmt: skip
    else:
        live, draft = rules or (live_rules(), draft_rules(rule_set))
        context = Context(now=now, device=device, local_hour=time.localtime(now).tm_hour)
        live_feed = ranker.rank(pool, state, context, live, size)
        draft_feed = ranker.rank(pool, state, context, draft, size)
    return ReaderPreview(
        live=live_feed,
        draft=draft_feed,
        rows=_rows(pool, live_feed, draft_feed),
        seconds=time.perf_counter() - start,
    )


def reader_lookup(*, query: str, allow_personal: bool) -> Reader | None:
    """A reader by public id; by e-mail or user name only for staff allowed to see reader data."""
    import uuid

    query = query.strip()
    if not query:
        return None
    try:
        return Reader.objects.filter(public_id=uuid.UUID(query)).first()
    except ValueError:
        pass
    if not allow_personal:
        return None
    user_model = get_user_model()  # the host's own user model: its field names
    email, username = user_model.get_email_field_name(), user_model.USERNAME_FIELD
    return (
        Reader.objects.filter(**{f"user__{email}__iexact": query}).first()
        or Reader.objects.filter(**{f"user__{username}__iexact": query}).first()
    )


@dataclass(frozen=True)
class ReaderChoice:
    """A reader an editor can preview: the public id and what they read, never who they are."""

    public_id: str
    last_seen: Any
    reads: int
    top_section: str


def reader_choices(*, section: str = "", limit: int = 12, days: int = 30) -> list[ReaderChoice]:
    """Recently active readers with personalisation on (optionally those who read most in
    ``section``), for the preview's reader picker: pseudonymous ids and reading counts only."""
    from django.db.models import Count, Max

    since = timezone.now() - timedelta(days=days)
    reads = Event.objects.filter(
        occurred_at__gte=since, kind__in=[EventKind.CLICK, EventKind.READ, EventKind.FINISH],
        reader__personalisation_enabled=True,
    )  # fmt: skip
    if section:
        reads = reads.filter(article__section=section)
    top = list(
        reads.values("reader_id")
        .annotate(n=Count("id"), last=Max("occurred_at"))
        .order_by("-last" if not section else "-n", "-reader_id")[:limit]
    )
    ids = [row["reader_id"] for row in top]
    public = dict(Reader.objects.filter(pk__in=ids).values_list("pk", "public_id"))
    sections: dict[int, str] = {}
    for row in (
        Event.objects.filter(reader_id__in=ids, occurred_at__gte=since, kind=EventKind.CLICK)
        .values("reader_id", "article__section")
        .annotate(n=Count("id"))
        .order_by("reader_id", "-n")
    ):
        sections.setdefault(row["reader_id"], row["article__section"] or "")
    return [
        ReaderChoice(
            public_id=str(public[row["reader_id"]]), last_seen=row["last"], reads=row["n"],
            top_section=sections.get(row["reader_id"], ""),
        )
        for row in top
        if row["reader_id"] in public
    ]  # fmt: skip


# --- Aggregate over a sample of readers --------------------------------------------------------


@dataclass
class Side:
    """Figures of one rule set over the sampled feeds (top ``top`` items of each)."""

    section_share: dict[str, float] = field(default_factory=dict)  # share of feeds showing it
    reach: dict[int, int] = field(default_factory=dict)  # article -> feeds showing it
    mean_sections: float = 0.0


@dataclass(frozen=True)
class AggregatePreview:
    readers: int
    top: int
    live: Side
    draft: Side
    watched: dict[int, str]  # pinned or boosted article -> title
    seconds: float

    def sections(self) -> list[tuple[str, float, float]]:
        names = sorted(
            {*self.live.section_share, *self.draft.section_share},
            key=lambda s: -self.draft.section_share.get(s, 0.0),
        )
        return [
            (s, self.live.section_share.get(s, 0.0), self.draft.section_share.get(s, 0.0))
            for s in names
        ]

    def articles(self) -> list[tuple[int, str, int, int]]:
        return [
            (a, title, self.live.reach.get(a, 0), self.draft.reach.get(a, 0))
            for a, title in self.watched.items()
        ]


def watched_articles(rules: Sequence[Rules], pool: Pool) -> dict[int, str]:
    ids: list[int] = []
    for r in rules:
        ids += [p.article_id for p in r.pins]
        ids += [int(b.value) for b in r.boosts if b.field == "article"]
    out = {}
    for article_id in dict.fromkeys(ids):
        index = pool.index.get(article_id)
        out[article_id] = pool.titles[index] if index is not None else f"#{article_id} (not live)"
    return out


def _side(results: Sequence[FeedResult], top: int, watched: dict[int, str]) -> Side:
    side = Side()
    if not results:
        return side
    sections: Counter[str] = Counter()
    reach: Counter[int] = Counter()
    distinct = 0
    for result in results:
        head = result.items[:top]
        present = {item.section for item in head if item.section}
        sections.update(present)
        distinct += len(present)
        ids = {item.article_id for item in head}
        reach.update(a for a in watched if a in ids)
    side.section_share = {s: c / len(results) for s, c in sections.items()}
    side.reach = dict(reach)
    side.mean_sections = distinct / len(results)
    return side


def sample_reader_ids(*, size: int, seed: int = 0) -> list[int]:
    """Up to ``size`` readers whose feeds are kept, drawn at random (repeatable by seed)."""
    ids = list(feeds.readers_to_refresh())
    if len(ids) <= size:
        return ids
    return sorted(random.Random(seed).sample(ids, size))


def preview_aggregate(
    *,
    rule_set: RuleSet,
    sample: int = 1000,
    top: int = 10,
    reader_ids: Sequence[int] | None = None,
    pool: Pool | None = None,
) -> AggregatePreview:
    """Both rule sets over a sample of readers: section reach, article reach, variety."""
    start = time.perf_counter()
    pool = pool or feeds.pool_cached()
    ids = list(reader_ids) if reader_ids is not None else sample_reader_ids(size=sample)
    states = feeds.reader_states(reader_ids=ids[:sample])
    context = Context(now=time.time())
    ranker = ranker_build(model=serving_model())  # what the feed builds serve
    if rule_set.is_site_wide:
        live, draft = live_rules(), draft_rules(rule_set)
        # Only the top of each feed is measured, so the engine builds no more than that.
        live_results = ranker.rank_many(pool, states, context, live, top)
        draft_results = ranker.rank_many(pool, states, context, draft, top)
    else:
        scoped = scoped_rules(rule_set)
        live, draft = scoped.live.rules, scoped.draft.rules
        built = ranker.rank_many(
            pool, states, context, scoped.site, int(newsrec_settings.FEED_LENGTH)
        )
        newest = _section_newest(pool, scoped.section) if scoped.section else []
        read_context = Context(now=context.now, device=scoped.device)
        live_results, draft_results = (
            [
                _in_scope(prepared, b, st, section=scoped.section, newest=newest, n=top)
                for b, st in zip(built, states, strict=True)
            ]
            for prepared in (
                overlay_prepare(pool, read_context, r.rules, extra_boosts=r.extra_boosts)
                for r in (scoped.live, scoped.draft)
            )
        )
    watched = watched_articles([live, draft], pool)
    return AggregatePreview(
        readers=len(states),
        top=top,
        live=_side(live_results, top, watched),
        draft=_side(draft_results, top, watched),
        watched=watched,
        seconds=time.perf_counter() - start,
    )


def breakdown_text(item: FeedItem | None) -> str:
    if item is None:
        return ""
    return ", ".join(f"{k} {v:.3f}" for k, v in item.breakdown.items())


def as_dict(preview: ReaderPreview) -> dict[str, Any]:
    return {
        "entered": len(preview.entered),
        "left": len(preview.left),
        "moved": len(preview.moved),
        "seconds": round(preview.seconds, 4),
    }
