"""The pure-Python ranking engine: candidate sources, scoring, editorial rules, diversity, reasons.

No Django imports: the Django layer loads articles into a :class:`Pool`, readers into
:class:`ReaderState`, the live rule set into :class:`Rules`, and calls :func:`rank_many`.

Order of the editorial rules (deterministic)
--------------------------------------------
1. **Hard filters**: articles not live at ``context.now`` (retracted, embargoed, published in the
   future), blocked article ids, sections, tags and authors, and the max age (a section's own max
   age replaces the global one). Then the reader's own exclusions: read and hidden articles.
   Nothing removed here comes back later, not even through a pin.
2. **Boosts and buries**: every active (time-windowed) :class:`Boost` matching an article multiplies
   its score; several matching boosts multiply together.
3. **Freshness**: ``0.5 ** (age / half-life)`` with per-section half-lives, blended in by
   ``Weights.freshness`` (see :class:`Weights` for the whole score formula). With a learned
   model (``Ranker(model=...)``, :mod:`newsrec.engine.signals`) the model's score replaces the
   formula: the decay is one of its inputs and the boosts of step 2 multiply its score.
4. **Diversity**: the best ``Diversity.candidates`` articles by score are placed slot by slot; each
   slot takes the best MMR value (``lambda * score - (1 - lambda) * max similarity to the articles
   above``) among articles that keep every cap (at most N per section/tag/author in the top K).
5. **Pins**: placed at their slots. Slots are reserved before step 4 fills the rest, so pinned
   articles count toward the caps and MMR of the articles below them.

Precedence when rules conflict (every conflict is reported in ``FeedResult.conflicts``)
--------------------------------------------------------------------------------------
- hard filters > the reader's read/hidden list > pins: a pin on a blocked, expired, not-live,
  read or hidden article is dropped (``pin_blocked``, ``pin_not_in_pool``, ``pin_excluded``);
- pin vs pin for one slot or one article: higher ``priority``, then later ``created_at``, then
  later in ``Rules.pins`` wins (``pin_slot_taken``, ``pin_duplicate``);
- pins > caps: pins are never moved for a cap (``pin_exceeds_cap``);
- caps > score and MMR; a cap that cannot be kept (too little variety left) is relaxed for that
  slot, which takes the best remaining article (``cap_unmet``);
- a pin beyond the feed length is dropped (``pin_out_of_range``); a pin whose slot cannot be
  reached because too few articles qualify goes to the end of the feed (``pin_moved``).

Blocks may have a time window too (``TimedBlock``): ``Filters.at(now)`` folds the running ones
into the blocklists, and every evaluation of the filters goes through it.

Surfaces that show part of a built feed (after dropping hidden, withdrawn or moved items) keep
every cap for every first K with :func:`newsrec.engine.diversity.caps_keep`. The engine has no
randomness: the same inputs give the same feed.

Pins outside their time window or segment are simply inactive and not reported. Read-time
:func:`context_rerank` moves unpinned items only.
"""

from __future__ import annotations

from newsrec.engine.context import context_rerank
from newsrec.engine.errors import EngineInputError
from newsrec.engine.pool import ArticleMeta, Pool
from newsrec.engine.ranker import Ranker, rank, rank_many
from newsrec.engine.rules import Boost, Cap, Diversity, Filters, Freshness, Pin, Rules, Segment
from newsrec.engine.scoring import Weights
from newsrec.engine.sources import (
    BecauseYouReadSource,
    Candidates,
    CandidateSource,
    ColdStartSource,
    CovisitSource,
    EditorPickSource,
    FreshSource,
    InterestSource,
    Query,
    TrendingSource,
    default_sources,
)
from newsrec.engine.types import (
    Conflict,
    ConflictKind,
    Context,
    FeedItem,
    FeedResult,
    Interest,
    ItemColumns,
    ReaderState,
    Seed,
)

__all__ = [
    "ArticleMeta",
    "BecauseYouReadSource",
    "Boost",
    "CandidateSource",
    "Candidates",
    "Cap",
    "ColdStartSource",
    "Conflict",
    "ConflictKind",
    "Context",
    "CovisitSource",
    "Diversity",
    "EditorPickSource",
    "EngineInputError",
    "FeedItem",
    "FeedResult",
    "Filters",
    "FreshSource",
    "Freshness",
    "Interest",
    "InterestSource",
    "ItemColumns",
    "Pin",
    "Pool",
    "Query",
    "Ranker",
    "ReaderState",
    "Rules",
    "Seed",
    "Segment",
    "TrendingSource",
    "Weights",
    "context_rerank",
    "default_sources",
    "rank",
    "rank_many",
]
