"""Rebuilding feeds: load the pool and readers, rank, store; which readers keep a feed."""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from newsrec.conf import newsrec_settings
from newsrec.engine.pool import Pool
from newsrec.engine.ranker import Ranker
from newsrec.engine.rules import Rules
from newsrec.engine.types import Context, FeedResult, ReaderState
from newsrec.feeds.pool import pool_cached
from newsrec.feeds.states import reader_states
from newsrec.feeds.store import feeds_store
from newsrec.learning.serving import readers_on_hand_weights, serving_model
from newsrec.models import Reader
from newsrec.providers import rules_provider
from newsrec.rankers import ranker_build


@dataclass(frozen=True)
class RebuildStats:
    readers: int
    written: int
    seconds: float
    # seconds per stage: "load" (rules, pool, readers, model), the ranker's stages (see
    # Ranker.rank_many) and "store"
    stages: dict[str, float] = field(default_factory=dict)


def feeds_rebuild(
    *, reader_ids: Sequence[int], rules: Rules | None = None, include_default: bool = False
) -> RebuildStats:
    """Rebuild the feeds of ``reader_ids`` (and the non-personalised one) under the live rules."""
    start = time.perf_counter()
    stages: dict[str, float] = {}
    rules = rules_provider().live_rules() if rules is None else rules
    pool = pool_cached()
    context = Context(now=time.time())
    with collector_paused():
        states = reader_states(reader_ids=reader_ids)
        model = serving_model()
        ranker = ranker_build(model=model)
        n = int(newsrec_settings.FEED_LENGTH)
        hand = readers_on_hand_weights(reader_ids) if model is not None else set()
        stages["load"] = time.perf_counter() - start
        if hand:  # an experiment's hand-weighted arm: the same build without the model
            ranked = _rank_split(pool, states, context, rules, n, ranker, hand, stages)
        else:
            ranked = _rank_many(ranker, pool, states, context, rules, n, stages)
        results: list[tuple[ReaderState | None, FeedResult]] = list(
            zip(states, ranked, strict=True)
        )
        if include_default:
            anonymous = ReaderState(reader_id="default")
            results.append((None, ranker.rank(pool, anonymous, context, rules, n)))
        stored = time.perf_counter()
        written = feeds_store(results=results, pool=pool)
        stages["store"] = time.perf_counter() - stored
    return RebuildStats(len(results), written, time.perf_counter() - start, stages)


def _rank_split(
    pool: Pool,
    states: list[ReaderState],
    context: Context,
    rules: Rules,
    n: int,
    ranker: Ranker,
    hand: set[int],
    stages: dict[str, float],
) -> list[FeedResult]:
    """Feeds of ``states`` in their order, readers in ``hand`` ranked by the hand weights."""
    on_hand = [s.reader_id in hand for s in states]
    hand_states = [s for s in states if s.reader_id in hand]
    model_states = [s for s in states if s.reader_id not in hand]
    by_hand = iter(_rank_many(ranker_build(), pool, hand_states, context, rules, n, stages))
    by_model = iter(_rank_many(ranker, pool, model_states, context, rules, n, stages))
    return [next(by_hand) if h else next(by_model) for h in on_hand]


def _rank_many(
    ranker: Ranker,
    pool: Pool,
    states: list[ReaderState],
    context: Context,
    rules: Rules,
    n: int,
    stages: dict[str, float],
) -> list[FeedResult]:
    """``ranker.rank_many`` with its stage times, unless a host's ranker (NEWSREC["RANKER"])
    replaces rank_many itself: its signature may predate ``stages``."""
    if type(ranker).rank_many is Ranker.rank_many:
        return ranker.rank_many(pool, states, context, rules, n, stages=stages)
    return ranker.rank_many(pool, states, context, rules, n)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Hold off Python's cyclic garbage collector while a chunk is built.

    A chunk allocates some hundred thousand short-lived objects (items, breakdowns, strings),
    none of them in reference cycles; each collection they trigger would walk every object of
    the process (the pool, caches, Django) for nothing, about a tenth of the chunk's time.
    Reference counting frees them as usual; the collector resumes afterwards.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def readers_kept(*, active_days: int | None = None) -> QuerySet[Reader]:
    """Readers whose feeds are kept: personalised and seen within FEED_ACTIVE_DAYS."""
    days = active_days or int(newsrec_settings.FEED_ACTIVE_DAYS)
    since = timezone.now() - timedelta(days=days)
    return Reader.objects.filter(
        Q(last_seen__gte=since) | Q(last_seen__isnull=True, created__gte=since)
    ).filter(personalisation_enabled=True)


def readers_to_refresh(*, active_days: int | None = None) -> Iterable[int]:
    """The ids of the readers whose feeds are kept, in id order."""
    return (
        readers_kept(active_days=active_days)
        .order_by("pk")
        .values_list("pk", flat=True)
        .iterator(chunk_size=10_000)
    )
