"""Simulated readers: seeded synthetic readers who read the live catalogue through the real paths.

Each simulated reader has latent interests (sections, tags, authors), a device, a favourite time
of day, a binge or sample style, a visit frequency and a propensity to lapse. Over the last
``days`` days (events older than ``EVENTS_MAX_AGE_DAYS`` are refused, so simulated time ends now)
they fetch their feed through ``selectors.reader_feed_cards`` (the site's read pipeline, with
experiments and rules), send impressions, clicks, reads, dwell, finishes, skips and hides
through ``events.events_ingest`` (the same validation and idempotency as the API), and at the end
of each simulated day their profiles and feeds are rebuilt by ``profiles.profile_rebuild`` and
``feeds.feeds_rebuild``, the code the Celery tasks run. What they click depends on what they are
shown (position, interest match, freshness), so better recommendations change what they do.

Simulated readers are ordinary readers whose ``client_id`` starts with ``sim:``; nothing here
reads or writes any other reader. Their events do count in site-wide aggregates (trending,
"readers also read", experiment results): run it on demo and staging sites, not on a live one.
"""

from __future__ import annotations

import hashlib
import math
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from newsrec import feeds, profiles, readers, selectors
from newsrec.conf import newsrec_settings
from newsrec.events import events_ingest
from newsrec.models import Article, DeviceClass, Event, EventKind, Reader

SIM_PREFIX = "sim:"  # client ids of simulated readers; "cookie:" and "api:" are real ones
START_MARGIN = timedelta(minutes=10)  # keeps the first events inside the accepted age
PAGE_SIZE = {DeviceClass.MOBILE: 6, DeviceClass.TABLET: 9, DeviceClass.DESKTOP: 12}
DEVICE_MIX = ((DeviceClass.MOBILE, 0.55), (DeviceClass.DESKTOP, 0.33), (DeviceClass.TABLET, 0.12))
SCAN_ON = 0.88  # chance to look at the next card: the position bias of a scrolled list
SECTION_PAGE_SHARE = 0.2  # visits that start on a favourite section's page
READ_SECONDS = (90.0, 420.0)  # a whole article's reading time, fixed per article
REFERRER_MIX = (("direct", 0.55), ("search", 0.15), ("social", 0.15), ("email", 0.15))
REFERRERS = [r for r, _ in REFERRER_MIX]
# Nudges. An ASSUMPTION of this simulation, not evidence about real readers: a reader shown a
# "Before you go" nudge (through the product's own offer: policy, cap, opt-out, experiment arm,
# editorial rules) that holds a story they care about (interest >= NUDGE_RELEVANT) is less
# likely to drift away the next day and more likely to come back for one more visit. The lift
# a study measures here is this assumption passed through the real pipeline, nothing more.
NUDGE_RELEVANT = 0.3
NUDGE_LAPSE_FACTOR = 0.5  # the next day's chance of lapsing is multiplied by this
NUDGE_EXTRA_VISIT = 0.35  # chance of one extra visit the next day


@dataclass(frozen=True)
class Persona:
    """A simulated reader's latent traits (what the recommender has to discover)."""

    index: int
    sections: dict[str, float]  # interest 0..1 per section
    tags: frozenset[str]
    authors: frozenset[str]
    device: str
    peak_hour: int  # visits cluster around this hour (UTC)
    binge: bool  # binge readers go back to the list after a read; samplers mostly leave
    visits_per_day: float
    lapse: float  # chance per day of stopping for good (doubled after a disappointing day)

    def interest(self, article: Article) -> float:
        """How much the article appeals to this reader, 0..1."""
        tags = set(article.tags or ())
        score = 0.6 * self.sections.get(article.section, 0.0)
        score += 0.25 * min(1.0, len(tags & self.tags) / 2)
        score += 0.15 * bool(set(article.authors or ()) & self.authors)
        return score


@dataclass
class SimulationReport:
    """What a run sent and how ingestion answered, event by event."""

    readers: int = 0
    days: int = 0
    visits: int = 0
    lapsed: int = 0
    sent: int = 0
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    kinds: Counter[str] = field(default_factory=Counter)  # accepted events by kind
    rejections: list[dict[str, Any]] = field(default_factory=list)  # the first few, for errors
    seconds: float = 0.0


def simulated_readers() -> QuerySet[Reader]:
    """Every simulated reader (of any seed)."""
    return Reader.objects.filter(client_id__startswith=SIM_PREFIX)


def simulated_readers_purge() -> tuple[int, int]:
    """Delete every simulated reader with their events, profiles and feeds; (readers, events)."""
    sim = simulated_readers()
    events = Event.objects.filter(reader__in=sim).count()
    count = sim.count()
    with transaction.atomic():
        sim.delete()  # events, profiles and feeds cascade
    return count, events


def _draw_personas(*, seed: int, count: int) -> list[Persona]:
    """Personas from the live catalogue's sections, tags and authors (sorted: seed-stable)."""
    live = Article.objects.published()
    sections = sorted(set(live.exclude(section="").values_list("section", flat=True)))
    tag_counts: Counter[str] = Counter()
    author_set: set[str] = set()
    for tags, authors in live.values_list("tags", "authors"):
        tag_counts.update(tags or ())
        author_set.update(authors or ())
    tags = sorted(tag_counts, key=lambda t: (-tag_counts[t], t))[:60]
    authors = sorted(author_set)
    personas = []
    for index in range(count):
        rng = random.Random(f"newsrec-sim:{seed}:{index}:persona")
        liked = rng.sample(sections, k=min(len(sections), rng.choice((1, 2, 2, 3))))
        interests = {s: rng.uniform(0.0, 0.15) for s in sections}
        for rank, section in enumerate(liked):
            interests[section] = 1.0 - 0.25 * rank
        personas.append(
            Persona(
                index=index,
                sections=interests,
                tags=frozenset(rng.sample(tags, k=min(len(tags), 4))),
                authors=frozenset(rng.sample(authors, k=min(len(authors), 2))),
                device=rng.choices([d for d, _ in DEVICE_MIX], [w for _, w in DEVICE_MIX])[0],
                peak_hour=rng.choice((7, 8, 12, 13, 18, 20, 21, 22)),
                binge=rng.random() < 0.35,
                visits_per_day=rng.choice((0.4, 0.8, 1.2, 1.8, 2.5)),
                lapse=rng.choice((0.0, 0.02, 0.05, 0.1)),
            )
        )
    return personas


def _reader_for(*, seed: int, index: int) -> Reader:
    """The simulated reader of (seed, index), created if missing; its public id (and with it
    its experiment arm) is fixed by the seed."""
    client_id = f"{SIM_PREFIX}{seed}:{index}"
    digest = hashlib.blake2b(f"newsrec-sim:{seed}:{index}".encode(), digest_size=16).digest()
    public_id = uuid.UUID(bytes=digest, version=4)
    try:
        with transaction.atomic():
            reader, _ = Reader.objects.get_or_create(
                client_id=client_id, defaults={"public_id": public_id}
            )
    except IntegrityError:  # a concurrent run created it first
        reader = Reader.objects.get(client_id=client_id)
    return reader


def _poisson(rng: random.Random, mean: float) -> int:
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _read_seconds(article_id: int) -> float:
    """How long reading the whole article takes: fixed per article, the same in every run."""
    digest = hashlib.blake2b(str(article_id).encode(), digest_size=4).digest()
    low, high = READ_SECONDS
    return low + (high - low) * int.from_bytes(digest, "big") / 2**32


class _Visitor:
    """One simulated reader's state across days: their reader row, random stream and clock."""

    def __init__(self, persona: Persona, reader: Reader, seed: int):
        self.persona = persona
        self.reader = reader
        self.rng = random.Random(f"newsrec-sim:{seed}:{persona.index}:behaviour")
        self.prefix = f"sim{seed}-{persona.index}-"
        self.counter = 0
        self.read: set[int] = set()
        self.lapsed = False
        self.satisfied = True  # whether the last day's visits led to a read
        self.nudged = False  # shown a relevant nudge today (see NUDGE_RELEVANT)
        self.nudges = False  # whether the run models nudges at all

    def event(
        self, kind: str, card: selectors.FeedCard, at: datetime, **extra: Any
    ) -> dict[str, Any]:
        self.counter += 1
        return {
            "event_id": f"{self.prefix}{self.counter}",
            "kind": kind,
            "article_id": card.article.pk,
            "occurred_at": at.isoformat(),
            "local_hour": at.hour,
            "weekday": at.weekday(),
            **extra,
        }


def _visit(visitor: _Visitor, at: datetime, session: str, now: datetime) -> list[dict[str, Any]]:
    """One visit: read a page of the feed as served, scan it from the top, click, read, leave
    (at the latest ``now``: simulated time does not run past the real one)."""
    persona, rng = visitor.persona, visitor.rng
    device = persona.device if rng.random() < 0.9 else rng.choice([d for d, _ in DEVICE_MIX])
    section, surface = "", "home"
    favourites = [s for s, w in persona.sections.items() if w >= 0.5]
    if favourites and rng.random() < SECTION_PAGE_SHARE:
        section, surface = rng.choice(sorted(favourites)), "section"
    feed = selectors.reader_feed_cards(
        reader=visitor.reader, device=device, section=section or None,
        limit=PAGE_SIZE[DeviceClass(device)] * 2,
    )  # fmt: skip
    # Articles published after the simulated moment were not there yet.
    shown = [
        c for c in feed.cards
        if c.article.published_at is None or c.article.published_at <= at
    ][: PAGE_SIZE[DeviceClass(device)]]  # fmt: skip
    referrer = rng.choices(REFERRERS, [w for _, w in REFERRER_MIX])[0]
    common = {"surface": surface, "device": device, "session_id": session, "referrer": referrer}
    events: list[dict[str, Any]] = []
    clock, read_any = at, False
    for card in shown:
        clock += timedelta(seconds=rng.uniform(1.0, 4.0))
        if clock + timedelta(seconds=READ_SECONDS[1] * 1.3) > now:
            break
        served = {**common, "feed_slot": card.slot, "recommendation_id": card.recommendation_id}
        events.append(visitor.event(EventKind.IMPRESSION, card, clock, **served))
        interest = persona.interest(card.article)
        age_hours = (
            max(0.0, (at - card.article.published_at).total_seconds() / 3600)
            if (card.article.published_at)
            else 24.0
        )
        appeal = -3.0 + 3.6 * interest + 0.8 * math.exp(-age_hours / 24)
        seen_before = card.article.pk in visitor.read
        p_click = (0.25 if seen_before else 1.0) / (1 + math.exp(-appeal))
        if rng.random() < p_click:
            events.append(visitor.event(EventKind.CLICK, card, clock, **served))
            depth = min(1.0, rng.betavariate(1.0 + 4.0 * interest, 1.6))
            dwell = round(depth * _read_seconds(card.article.pk) * rng.uniform(0.7, 1.3), 1)
            clock += timedelta(seconds=dwell)
            events.append(
                visitor.event(EventKind.READ, card, clock, read_depth=round(depth, 3), **common)
            )
            events.append(
                visitor.event(EventKind.DWELL, card, clock, dwell_seconds=dwell, **common)
            )
            if depth >= 0.9:
                events.append(
                    visitor.event(EventKind.FINISH, card, clock, read_depth=1.0, **common)
                )
            visitor.read.add(card.article.pk)
            read_any = True
            if rng.random() > (0.75 if persona.binge else 0.3):
                break
        elif interest < 0.1 and rng.random() < 0.03:
            events.append(visitor.event(EventKind.HIDE, card, clock, **common))
        elif interest < 0.2 and rng.random() < 0.2:
            events.append(visitor.event(EventKind.SKIP, card, clock, **served))
        if rng.random() > SCAN_ON:
            break
    visitor.satisfied = visitor.satisfied or read_any
    if visitor.nudges and clock + timedelta(seconds=5) < now:
        events += _nudge(visitor, clock + timedelta(seconds=2), common, device)
    return events


def _nudge(
    visitor: _Visitor, at: datetime, common: dict[str, Any], device: str
) -> list[dict[str, Any]]:
    """Leaving: the "Before you go" nudge, if the product offers one (and counts it against
    the cap); the reader looks at it and may click the story they like best."""
    from newsrec.providers import NUDGE_BEFORE_YOU_GO
    from newsrec.retention.nudges import nudge_offer

    offer = nudge_offer(
        reader=visitor.reader, kind=NUDGE_BEFORE_YOU_GO, surface="article", device=device,
        local_hour=at.hour, claim=True,
    )  # fmt: skip
    if offer is None:
        return []
    _policy, cards = offer
    shown = {**common, "surface": "nudge"}
    events = [
        visitor.event(EventKind.IMPRESSION, card, at, feed_slot=n,
                      recommendation_id=card.recommendation_id, **shown)
        for n, card in enumerate(cards, start=1)
    ]  # fmt: skip
    best = max(cards, key=lambda c: visitor.persona.interest(c.article))
    interest = visitor.persona.interest(best.article)
    if interest >= NUDGE_RELEVANT:
        visitor.nudged = True
        if visitor.rng.random() < interest:
            served = {**shown, "recommendation_id": best.recommendation_id}
            events.append(visitor.event(EventKind.CLICK, best, at, **served))
            visitor.read.add(best.article.pk)
    return events


def _ingest(visitor: _Visitor, events: Sequence[dict[str, Any]], report: SimulationReport) -> None:
    """Send a visit's events as the beacon would: batches of at most EVENTS_MAX_BATCH."""
    size = int(newsrec_settings.EVENTS_MAX_BATCH)
    readers.reader_touch(reader=visitor.reader)
    for start in range(0, len(events), size):
        batch = events[start : start + size]
        result = events_ingest(reader=visitor.reader, raw_events=batch)
        report.sent += len(batch)
        for sent, answer in zip(batch, result.results, strict=True):
            status = answer["status"]
            if status == "accepted":
                report.accepted += 1
                report.kinds[sent["kind"]] += 1
            elif status == "duplicate":
                report.duplicate += 1
            else:
                report.rejected += 1
                if len(report.rejections) < 5:
                    report.rejections.append(answer)


def _day_end(visitors: Sequence[_Visitor]) -> None:
    """What the Celery tasks do between visits: profiles, co-visitation, then feeds."""
    for visitor in visitors:
        profiles.profile_rebuild(reader_id=visitor.reader.pk)
    feeds.covisits_refresh()
    feeds.pool_cache_clear()  # the next pool loads the fresh co-visitation
    feeds.feeds_rebuild(reader_ids=[v.reader.pk for v in visitors])


def _visit_times(visitor: _Visitor, start: datetime, end: datetime) -> list[datetime]:
    """Today's visit moments in [start, end), around the reader's favourite hour (one more,
    by chance, after a relevant nudge yesterday: see NUDGE_EXTRA_VISIT)."""
    persona, rng = visitor.persona, visitor.rng
    moments = []
    visits = _poisson(rng, persona.visits_per_day)
    if visitor.nudged and rng.random() < NUDGE_EXTRA_VISIT:
        visits += 1
    for _ in range(visits):
        hour = (persona.peak_hour + round(rng.gauss(0, 2))) % 24
        offset = timedelta(hours=(hour - start.hour) % 24, minutes=rng.uniform(0, 59))
        moment = start.replace(minute=0, second=0, microsecond=0) + offset
        moments.append(min(max(moment, start), end - timedelta(minutes=20)))
    return sorted(moments)


def _nudge_day_start(visitor: _Visitor) -> None:
    """A new simulated day: the reader's nudge counts start again. Simulated days all fall
    on today's (real) date, where the product counts nudges per reader and day."""
    from django.core.cache import cache

    from newsrec.providers import NUDGE_KINDS
    from newsrec.retention.nudges import nudge_count_key, nudge_dismissed_key

    today = timezone.now().date()
    for kind in NUDGE_KINDS:
        cache.delete(nudge_count_key(reader_id=visitor.reader.pk, day=today, kind=kind))
        cache.delete(nudge_dismissed_key(reader_id=visitor.reader.pk, day=today, kind=kind))


def simulation_run(
    *,
    readers: int,
    days: int,
    seed: int = 0,
    now: datetime | None = None,
    progress: Callable[[int], object] | None = None,
    nudges: bool = False,
) -> SimulationReport:
    """Simulate ``readers`` readers over the ``days`` days ending ``now`` (at most
    EVENTS_MAX_AGE_DAYS); ``progress`` is called with 1 per reader-day done. With ``nudges``,
    readers leaving a visit meet the "Before you go" nudge as the product offers it (see
    NUDGE_RELEVANT for what the simulation assumes it does)."""
    max_days = int(float(newsrec_settings.EVENTS_MAX_AGE_DAYS))
    if not 1 <= days <= max_days:
        raise ValueError(f"days must be between 1 and {max_days} (older events are refused)")
    started = time.perf_counter()
    now = now or timezone.now()
    report = SimulationReport(readers=readers, days=days)
    personas = _draw_personas(seed=seed, count=readers)
    visitors = [_Visitor(p, _reader_for(seed=seed, index=p.index), seed) for p in personas]
    for visitor in visitors:
        visitor.nudges = nudges
    start = now - timedelta(days=days) + START_MARGIN
    for day in range(days):
        day_start = start + timedelta(days=day)
        day_end = min(now, day_start + timedelta(days=1))
        active = []
        for visitor in visitors:
            if not visitor.lapsed:
                lapse = visitor.persona.lapse * (1 if visitor.satisfied else 2)
                lapse *= NUDGE_LAPSE_FACTOR if visitor.nudged else 1.0
                visitor.lapsed = day > 0 and visitor.rng.random() < lapse
                report.lapsed += visitor.lapsed
            if not visitor.lapsed:
                visitor.satisfied = False
                if visitor.nudges:
                    _nudge_day_start(visitor)
                moments = _visit_times(visitor, day_start, day_end)
                visitor.nudged = False
                for n, moment in enumerate(moments):
                    session = f"{visitor.prefix}d{day}s{n}"
                    _ingest(visitor, _visit(visitor, moment, session, now), report)
                    report.visits += 1
                active.append(visitor)
            if progress is not None:
                progress(1)
        if active:
            _day_end(active)
    report.seconds = time.perf_counter() - started
    return report
