"""Materialised feeds: load plain objects, run the engine, persist each feed atomically.

A feed row is replaced by one ``INSERT ... ON CONFLICT DO UPDATE`` whose ``WHERE`` refuses to
overwrite a feed built under newer rules or later: a rebuild that started before a rule change
cannot undo it, and a reader always sees a complete feed (the old one until the new one is
committed). The package, from the bottom up:

- ``codec``: feed keys, the stored item JSON, context habits, pgvector values in binary;
- ``covisits``: co-visitation ("readers of this also read");
- ``pool``: the live pool of candidate articles, cached per process;
- ``states``: readers as the engine sees them (profile and recent history);
- ``store``: the guarded upsert;
- ``rebuild``: load, rank and store a chunk of readers; which readers keep a feed;
- ``fanout``: a full rebuild in chunks, its progress and its resumption;
- ``withdrawn``: articles withdrawn since the feeds were built;
- ``read``: the one read pipeline (stored feed or newest articles, read-time rules, context).

The names below are the package's interface; the modules' other names are its own.
"""

from newsrec.feeds.catalogue import catalogue_signature
from newsrec.feeds.codec import DEFAULT_FEED_KEY, breakdown_of, feed_key
from newsrec.feeds.covisits import covisits_compute, covisits_from_engaged, covisits_refresh
from newsrec.feeds.fanout import (
    PROGRESS_KEY,
    fanout_progress,
    fanout_progress_add,
    fanout_resume,
    fanout_start,
)
from newsrec.feeds.pool import (
    pool_cache_clear,
    pool_cached,
    pool_load,
    site_diversity,
)
from newsrec.feeds.read import (
    FRESH_SOURCE,
    LATEST_FEED_KEY,
    FeedView,
    feed_latest,
    feed_read,
    hard_filtered,
    items_capped,
    rails_group,
)
from newsrec.feeds.rebuild import RebuildStats, feeds_rebuild, readers_kept, readers_to_refresh
from newsrec.feeds.states import CLICK_SEED_WEIGHT, HistoryEvent, reader_state_build, reader_states
from newsrec.feeds.store import feeds_store
from newsrec.feeds.withdrawn import articles_withdraw, withdrawn_ids

__all__ = [
    "CLICK_SEED_WEIGHT",
    "DEFAULT_FEED_KEY",
    "FRESH_SOURCE",
    "LATEST_FEED_KEY",
    "PROGRESS_KEY",
    "FeedView",
    "HistoryEvent",
    "RebuildStats",
    "articles_withdraw",
    "breakdown_of",
    "catalogue_signature",
    "covisits_compute",
    "covisits_from_engaged",
    "covisits_refresh",
    "fanout_progress",
    "fanout_progress_add",
    "fanout_resume",
    "fanout_start",
    "feed_key",
    "feed_latest",
    "feed_read",
    "feeds_rebuild",
    "feeds_store",
    "hard_filtered",
    "items_capped",
    "pool_cache_clear",
    "pool_cached",
    "pool_load",
    "rails_group",
    "reader_state_build",
    "reader_states",
    "readers_kept",
    "readers_to_refresh",
    "site_diversity",
    "withdrawn_ids",
]
