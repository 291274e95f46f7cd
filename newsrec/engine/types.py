"""Reader, context and result types of the engine (small frozen dataclasses)."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import overload

import numpy as np

from newsrec.engine.errors import EngineInputError

DEVICES = ("mobile", "tablet", "desktop")


BINGE_DEPTH = 2.5  # articles per session, on average, from which a reader binges
SAMPLE_DEPTH = 1.3  # ... and up to which a reader samples
STYLE_MIN_SESSIONS = 3


def reading_style(*, sessions: int, avg_session_depth: float) -> str:
    """ "binge", "sample" or "" (too few sessions to say) from a reader's sessions."""
    if sessions < STYLE_MIN_SESSIONS:
        return ""
    if avg_session_depth >= BINGE_DEPTH:
        return "binge"
    return "sample" if avg_session_depth <= SAMPLE_DEPTH else ""


def daypart_of(hour: int) -> str:
    """Morning 5-11, afternoon 12-16, evening 17-21, night 22-4 (local time)."""
    if 5 <= hour < 12:
        return "morning"
    if 12 <= hour < 17:
        return "afternoon"
    if 17 <= hour < 22:
        return "evening"
    return "night"


@dataclass(frozen=True)
class Context:
    """When and where the feed is built or read: epoch seconds, device class, local hour."""

    now: float
    device: str = ""  # "mobile", "tablet", "desktop" or "" when unknown
    local_hour: int | None = None

    def __post_init__(self) -> None:
        if not math.isfinite(self.now):
            raise EngineInputError("Context.now must be a finite epoch timestamp.")
        if self.local_hour is not None and not 0 <= self.local_hour <= 23:
            raise EngineInputError(f"local_hour must be 0-23, got {self.local_hour}.")

    @property
    def daypart(self) -> str:
        return "" if self.local_hour is None else daypart_of(self.local_hour)


@dataclass(frozen=True)
class Interest:
    """One interest vector of a reader with its weight (readers have 0..k of them)."""

    vector: Sequence[float] | np.ndarray
    weight: float = 1.0


@dataclass(frozen=True)
class Seed:
    """A recently well-read article, the "X" of "Because you read X".

    ``title`` and ``vector`` are only needed when the article has left the live pool.
    """

    article_id: int
    weight: float = 1.0
    title: str = ""
    vector: Sequence[float] | np.ndarray | None = None


@dataclass(frozen=True)
class ReaderState:
    """Everything the engine knows about one reader."""

    reader_id: int | str
    interests: tuple[Interest, ...] = ()
    seeds: tuple[Seed, ...] = ()
    read_ids: frozenset[int] = frozenset()
    hidden_ids: frozenset[int] = frozenset()
    unclicked_impressions: Mapping[int, int] = field(default_factory=dict)
    section_affinity: Mapping[str, float] = field(default_factory=dict)
    tag_affinity: Mapping[str, float] = field(default_factory=dict)
    author_affinity: Mapping[str, float] = field(default_factory=dict)
    # (device, daypart) -> section -> affinity in [0, 1]: ("mobile", "morning") -> {"Sport": 0.9}
    context_habits: Mapping[tuple[str, str], Mapping[str, float]] = field(default_factory=dict)
    personalisation_enabled: bool = True
    # "binge" (long sessions: more of what they started), "sample" (one or two stories a
    # visit: the standouts) or "" (not known yet); see ``reading_style``
    style: str = ""
    # Known to have a history even though none is loaded here (a stored feed read at request
    # time): pins for new visitors do not apply, pins for returning readers do.
    returning: bool = False

    def __post_init__(self) -> None:
        for weight in [i.weight for i in self.interests] + [s.weight for s in self.seeds]:
            if not math.isfinite(weight) or weight < 0:
                raise EngineInputError(
                    f"Reader {self.reader_id}: interest and seed weights must be >= 0."
                )

    @property
    def is_new(self) -> bool:
        """No history at all: cold-start sources serve this reader."""
        return not (
            self.returning
            or self.interests
            or self.seeds
            or self.read_ids
            or self.section_affinity
            or self.tag_affinity
            or self.author_affinity
        )

    @property
    def personal(self) -> bool:
        """Whether history may shape this reader's feed."""
        return self.personalisation_enabled and not self.is_new

    @property
    def personal_style(self) -> bool:
        """Whether the reading style may shape this reader's feed (personalisation on)."""
        return self.personalisation_enabled and bool(self.style)

    def habit(self, context: Context) -> Mapping[str, float]:
        """Section affinities for the context's (device, daypart), empty when unknown."""
        if not self.personalisation_enabled:
            return {}
        return self.context_habits.get((context.device, context.daypart), {})


class ConflictKind(StrEnum):
    """Stable codes of the rule conflicts a feed build reports."""

    PIN_NOT_IN_POOL = (
        "pin_not_in_pool"  # pinned article is not live (unknown, embargoed, retracted)
    )
    PIN_BLOCKED = "pin_blocked"  # a hard filter (blocklist, max age) removes the pinned article
    PIN_EXCLUDED = "pin_excluded"  # the reader has read or hidden the pinned article
    PIN_SLOT_TAKEN = "pin_slot_taken"  # a higher-priority pin holds the slot
    PIN_DUPLICATE = "pin_duplicate"  # the article is already pinned at another slot
    PIN_OUT_OF_RANGE = "pin_out_of_range"  # slot beyond the feed length n
    PIN_MOVED = "pin_moved"  # too few articles to reach the slot: placed at the end
    PIN_EXCEEDS_CAP = "pin_exceeds_cap"  # pins alone exceed a diversity cap (pins win)
    CAP_UNMET = "cap_unmet"  # not enough variety in the candidates: filled with the best left


@dataclass(frozen=True)
class Conflict:
    """A rule that could not be fully honoured, and how it was resolved."""

    kind: ConflictKind
    message: str
    article_id: int | None = None
    rule_id: int | None = None


class Breakdown(Mapping[str, float]):
    """A read-only score breakdown: fixed keys over one tuple of values (a feed holds thousands,
    and a dict per item cost more than ranking it)."""

    __slots__ = ("_index", "_keys", "_values")

    def __init__(self, keys: tuple[str, ...], index: Mapping[str, int], values: Sequence[float]):
        self._keys = keys
        self._index = index  # key -> position, shared by every breakdown with these keys
        self._values = tuple(values)

    def __getitem__(self, key: str) -> float:
        return self._values[self._index[key]]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._index

    def values(self) -> tuple[float, ...]:  # type: ignore[override]
        """The values in key order (a tuple: cheaper than a view, and just as read-only)."""
        return self._values

    def __repr__(self) -> str:
        return repr(dict(zip(self._keys, self._values, strict=True)))

    def __reduce__(self) -> tuple[object, ...]:
        return (Breakdown, (self._keys, dict(self._index), self._values))


@dataclass(frozen=True)
class FeedItem:
    """One ranked article with its source, human reason and score breakdown."""

    article_id: int
    score: float
    source: str
    reason: str
    breakdown: Mapping[str, float]
    section: str = ""
    seed_id: int | None = None  # the "X" of "Because you read X", when there is one

    @property
    def pinned(self) -> bool:
        return self.source == "pin"


# (article_id, score, source, reason, section, seed_id, breakdown values): one item, unboxed
ItemRow = tuple[int, float, str, str, str, int | None, Sequence[float]]


class ItemColumns(Sequence[FeedItem]):
    """A feed's items as parallel columns, which is how the ranker builds them and how the feed
    store writes them; each :class:`FeedItem` is made only when it is looked at.

    A full rebuild ranks thousands of readers a second and stores their items without looking
    at one of them: an object per item (and a breakdown per object) cost as much as formatting
    the item for storage. Read-only, and equal to any sequence of the same items.
    """

    __slots__ = ("_items", "article_ids", "breakdowns", "keys", "reasons", "scores", "sections",
                 "seed_ids", "sources")  # fmt: skip

    def __init__(
        self,
        *,
        keys: tuple[str, ...],
        article_ids: list[int],
        scores: list[float],
        sources: list[str],
        reasons: list[str],
        sections: list[str],
        seed_ids: list[int | None],
        breakdowns: list[list[float]],
    ) -> None:
        if not (
            len(article_ids) == len(scores) == len(sources) == len(reasons) == len(sections)
            == len(seed_ids) == len(breakdowns)
        ):  # fmt: skip
            raise EngineInputError("ItemColumns: every column needs one value per item.")
        self.keys = keys  # breakdown keys; each row of ``breakdowns`` holds their values
        self.article_ids = article_ids
        self.scores = scores
        self.sources = sources
        self.reasons = reasons
        self.sections = sections
        self.seed_ids = seed_ids
        self.breakdowns = breakdowns
        self._items: tuple[FeedItem, ...] | None = None

    def rows(self) -> Iterator[ItemRow]:
        """One :data:`ItemRow` per item, without making the item."""
        return zip(
            self.article_ids,
            self.scores,
            self.sources,
            self.reasons,
            self.sections,
            self.seed_ids,
            self.breakdowns,
            strict=True,
        )

    @property
    def items(self) -> tuple[FeedItem, ...]:
        if self._items is None:
            index = {key: i for i, key in enumerate(self.keys)}
            self._items = tuple(
                FeedItem(
                    article_id=article_id,
                    score=score,
                    source=source,
                    reason=reason,
                    breakdown=Breakdown(self.keys, index, values),
                    section=section,
                    seed_id=seed_id,
                )
                for article_id, score, source, reason, section, seed_id, values in self.rows()
            )
        return self._items

    @overload
    def __getitem__(self, index: int) -> FeedItem: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[FeedItem, ...]: ...
    def __getitem__(self, index: int | slice) -> FeedItem | tuple[FeedItem, ...]:
        return self.items[index]

    def __len__(self) -> int:
        return len(self.article_ids)

    def __iter__(self) -> Iterator[FeedItem]:
        return iter(self.items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ItemColumns({list(self.items)!r})"


@dataclass(frozen=True)
class FeedResult:
    """A ranked feed for one reader plus the conflicts met while building it."""

    reader_id: int | str
    items: Sequence[FeedItem]  # a tuple, or the ranker's ItemColumns
    conflicts: tuple[Conflict, ...]
    rules_version: int
    built_at: float

    @property
    def article_ids(self) -> list[int]:
        return [item.article_id for item in self.items]
