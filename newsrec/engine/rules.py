"""Compiled editorial rules as plain dataclasses, and their reader-independent evaluation."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from newsrec.engine.errors import EngineInputError
from newsrec.engine.pool import Labels, Pool
from newsrec.engine.types import Context, ReaderState

Field = Literal["section", "tag", "author", "article"]
CapField = Literal["section", "tag", "author"]
HOUR = 3600.0


def _check_window(what: str, valid_from: float | None, valid_until: float | None) -> None:
    if valid_from is not None and valid_until is not None and valid_until <= valid_from:
        raise EngineInputError(f"{what}: the validity window ends before it starts.")


def _in_window(now: float, valid_from: float | None, valid_until: float | None) -> bool:
    """Windows are half-open: [valid_from, valid_until)."""
    return (valid_from is None or now >= valid_from) and (valid_until is None or now < valid_until)


def _positive_hours(what: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise EngineInputError(f"{what} must be a positive number of hours, got {value!r}.")


@dataclass(frozen=True)
class TimedBlock:
    """A block that applies only during its window [valid_from, valid_until)."""

    field: Field
    value: str | int
    valid_from: float | None = None
    valid_until: float | None = None

    def __post_init__(self) -> None:
        if self.field not in ("section", "tag", "author", "article"):
            raise EngineInputError(
                f"Block field must be section, tag, author or article, not {self.field!r}."
            )
        _check_window("Block", self.valid_from, self.valid_until)


@dataclass(frozen=True)
class Filters:
    """Hard filters: blocked articles never appear, not even when pinned.

    ``timed_blocks`` hold only during their windows: evaluate ``filters.at(now)``, which folds
    the active ones into the plain blocklists (``allowed_mask`` does so with ``context.now``).
    """

    blocked_sections: frozenset[str] = frozenset()
    blocked_tags: frozenset[str] = frozenset()
    blocked_authors: frozenset[str] = frozenset()
    blocked_articles: frozenset[int] = frozenset()
    max_age_hours: float | None = None
    max_age_hours_by_section: Mapping[str, float] = field(default_factory=dict)
    timed_blocks: tuple[TimedBlock, ...] = ()

    def __post_init__(self) -> None:
        if self.max_age_hours is not None:
            _positive_hours("max_age_hours", self.max_age_hours)
        for section, hours in self.max_age_hours_by_section.items():
            _positive_hours(f"max age of section {section!r}", hours)

    def at(self, now: float) -> Filters:
        """These filters at ``now``: the timed blocks running then joined to the plain ones."""
        if not self.timed_blocks:
            return self
        active: dict[str, set[str | int]] = {"section": set(), "tag": set(), "author": set(),
                                              "article": set()}  # fmt: skip
        for block in self.timed_blocks:
            if _in_window(now, block.valid_from, block.valid_until):
                active[block.field].add(block.value)
        return replace(
            self,
            blocked_sections=self.blocked_sections | {str(v) for v in active["section"]},
            blocked_tags=self.blocked_tags | {str(v) for v in active["tag"]},
            blocked_authors=self.blocked_authors | {str(v) for v in active["author"]},
            blocked_articles=self.blocked_articles | {int(v) for v in active["article"]},
            timed_blocks=(),
        )

    def excludes(
        self,
        *,
        article_id: int,
        section: str,
        published_at: float | None,
        now: float,
        tags: Iterable[str] = (),
        authors: Iterable[str] = (),
    ) -> bool:
        """Whether these filters at ``now`` remove one article: ``allowed_mask`` for a single
        article known by its fields (stored feed items, a page's cards)."""
        active = self.at(now)
        if article_id in active.blocked_articles or section in active.blocked_sections:
            return True
        if not active.blocked_tags.isdisjoint(tags):
            return True
        if not active.blocked_authors.isdisjoint(authors):
            return True
        hours = active.max_age_hours_by_section.get(section, active.max_age_hours)
        return hours is not None and published_at is not None and now - published_at > hours * HOUR


@dataclass(frozen=True)
class Boost:
    """A boost (factor > 1) or bury (0 < factor < 1) of matching articles, optionally windowed."""

    field: Field
    value: str | int
    factor: float
    valid_from: float | None = None
    valid_until: float | None = None
    rule_id: int | None = None

    def __post_init__(self) -> None:
        if self.field not in ("section", "tag", "author", "article"):
            raise EngineInputError(
                f"Boost field must be section, tag, author or article, not {self.field!r}."
            )
        if not (math.isfinite(self.factor) and self.factor > 0):
            raise EngineInputError(
                f"Boost factor must be > 0 (a blocklist removes articles), got {self.factor!r}."
            )
        _check_window("Boost", self.valid_from, self.valid_until)


@dataclass(frozen=True)
class Segment:
    """Who a pin is for: device classes (empty = all) and new/returning visitors."""

    devices: frozenset[str] = frozenset()
    visitors: Literal["all", "new", "returning"] = "all"

    def __post_init__(self) -> None:
        if self.visitors not in ("all", "new", "returning"):
            raise EngineInputError(
                f"Segment visitors must be all, new or returning, not {self.visitors!r}."
            )

    def matches(self, reader: ReaderState, context: Context) -> bool:
        if self.devices and context.device not in self.devices:
            return False
        if self.visitors == "new":
            return reader.is_new
        if self.visitors == "returning":
            return not reader.is_new
        return True


@dataclass(frozen=True)
class Pin:
    """Article at ``slot`` (1 = top) for a segment during a window.

    Between pins competing for one slot or one article, the higher ``priority`` wins, then the
    later ``created_at``, then the one later in ``Rules.pins``.
    """

    article_id: int
    slot: int
    priority: int = 0
    created_at: float = 0.0
    segment: Segment = field(default_factory=Segment)
    valid_from: float | None = None
    valid_until: float | None = None
    rule_id: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.slot, int) or self.slot < 1:
            raise EngineInputError(f"Pin slot must be an integer >= 1, got {self.slot!r}.")
        _check_window("Pin", self.valid_from, self.valid_until)


@dataclass(frozen=True)
class Pick:
    """An editors' pick: the article becomes a candidate for every reader ("Editor's pick")
    during its window; editorial compiles a pick with a boost of the article too."""

    article_id: int
    valid_from: float | None = None
    valid_until: float | None = None
    rule_id: int | None = None

    def __post_init__(self) -> None:
        _check_window("Pick", self.valid_from, self.valid_until)


@dataclass(frozen=True)
class Freshness:
    """Freshness half-life in hours, globally and per section."""

    half_life_hours: float = 24.0
    by_section: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _positive_hours("half_life_hours", self.half_life_hours)
        for section, hours in self.by_section.items():
            _positive_hours(f"half-life of section {section!r}", hours)


@dataclass(frozen=True)
class Cap:
    """At most ``max_per_value`` articles per section/tag/author in the top ``top_k``.

    ``values`` limits the cap to some values (e.g. only "Politics"); empty means every value.
    """

    field: CapField
    max_per_value: int
    top_k: int
    values: frozenset[str] = frozenset()
    rule_id: int | None = None

    def __post_init__(self) -> None:
        if self.field not in ("section", "tag", "author"):
            raise EngineInputError(f"Cap field must be section, tag or author, not {self.field!r}.")
        if self.max_per_value < 0 or self.top_k < 1:
            raise EngineInputError("Cap needs max_per_value >= 0 and top_k >= 1.")

    def describe(self) -> str:
        scope = ", ".join(sorted(self.values)) if self.values else f"any {self.field}"
        return f"at most {self.max_per_value} per {self.field} ({scope}) in the top {self.top_k}"


@dataclass(frozen=True)
class Diversity:
    """Caps and MMR (``mmr_lambda`` 1 = pure score, 0 = pure novelty) on the top ``candidates``."""

    caps: tuple[Cap, ...] = ()
    mmr_lambda: float = 1.0
    candidates: int = 100  # 50 slots from the best 100: as good as 200 at half the cost

    def __post_init__(self) -> None:
        if not 0.0 <= self.mmr_lambda <= 1.0:
            raise EngineInputError(f"mmr_lambda must be between 0 and 1, got {self.mmr_lambda!r}.")
        if self.candidates < 1:
            raise EngineInputError("Diversity.candidates must be >= 1.")


@dataclass(frozen=True)
class Rules:
    """One compiled, versioned rule set, applied in the order documented in ``newsrec.engine``."""

    version: int = 0
    filters: Filters = field(default_factory=Filters)
    boosts: tuple[Boost, ...] = ()
    pins: tuple[Pin, ...] = ()
    freshness: Freshness = field(default_factory=Freshness)
    picks: tuple[Pick, ...] = ()
    diversity: Diversity = field(default_factory=Diversity)


def labels_for(pool: Pool, name: str) -> Labels:
    return {"section": pool.sections, "tag": pool.tags, "author": pool.authors}[name]


def live_mask(pool: Pool, context: Context) -> np.ndarray:
    """Articles that are out: published, not embargoed, not retracted (the pool's own filter)."""
    embargoed = np.nan_to_num(pool.embargo_until, nan=-np.inf) > context.now
    return ~pool.retracted & ~embargoed & (pool.published_at <= context.now)


def age_hours(pool: Pool, context: Context) -> np.ndarray:
    return np.maximum(context.now - pool.published_at, 0.0) / HOUR


def allowed_mask(pool: Pool, filters: Filters, context: Context) -> np.ndarray:
    """Step 1: live articles that pass every blocklist (timed ones at ``context.now``) and
    max age."""
    filters = filters.at(context.now)
    mask = live_mask(pool, context)
    mask &= ~pool.sections.mask_any(filters.blocked_sections)
    mask &= ~pool.tags.mask_any(filters.blocked_tags)
    mask &= ~pool.authors.mask_any(filters.blocked_authors)
    mask[pool.indices_of(filters.blocked_articles)] = False
    if filters.max_age_hours is not None or filters.max_age_hours_by_section:
        limit = np.full(
            len(pool), np.inf if filters.max_age_hours is None else filters.max_age_hours
        )
        for section, hours in filters.max_age_hours_by_section.items():
            limit[pool.sections.mask_any((section,))] = hours
        mask &= age_hours(pool, context) <= limit
    return mask


def boost_multiplier(pool: Pool, boosts: tuple[Boost, ...], context: Context) -> np.ndarray:
    """Step 2: product of every active boost/bury matching each article."""
    multiplier = np.ones(len(pool), dtype=np.float64)
    for boost in boosts:
        if not _in_window(context.now, boost.valid_from, boost.valid_until):
            continue
        if boost.field == "article":
            try:
                rows = pool.indices_of((int(boost.value),))
            except (TypeError, ValueError):
                continue  # a non-numeric article id matches nothing
            multiplier[rows] *= boost.factor
        else:
            multiplier[labels_for(pool, boost.field).mask_any((str(boost.value),))] *= boost.factor
    return multiplier


def freshness_decay(pool: Pool, freshness: Freshness, context: Context) -> np.ndarray:
    """Step 3: 0.5 ** (age / half-life), with per-section half-lives."""
    half_life = np.full(len(pool), freshness.half_life_hours, dtype=np.float64)
    for section, hours in freshness.by_section.items():
        half_life[pool.sections.mask_any((section,))] = hours
    return np.power(0.5, age_hours(pool, context) / half_life)


def picked_mask(pool: Pool, picks: tuple[Pick, ...], context: Context) -> np.ndarray:
    """The pool's editors' picks at ``context.now``: the pool's own flags and active picks."""
    mask = pool.editor_pick.copy()
    active = [p.article_id for p in picks if _in_window(context.now, p.valid_from, p.valid_until)]
    if active:
        mask[pool.indices_of(active)] = True
    return mask


def pin_active(pin: Pin, context: Context) -> bool:
    return _in_window(context.now, pin.valid_from, pin.valid_until)


def diversity_with_defaults(
    caps: tuple[Cap, ...],
    mmr_lambda: float | None,
    *,
    default_mmr_lambda: float | None,
    default_section_cap: tuple[int, int] | None,
) -> Diversity:
    """Diversity from the editors' caps and MMR lambda (None: they set none), with the site's
    defaults where they are silent: the default lambda, and a section cap (max per section,
    top k) unless they cap every section themselves."""
    if default_section_cap is not None and not any(
        c.field == "section" and not c.values for c in caps
    ):
        most, top = default_section_cap
        caps = (*caps, Cap(field="section", max_per_value=most, top_k=top))
    if mmr_lambda is None:
        mmr_lambda = 1.0 if default_mmr_lambda is None else default_mmr_lambda
    return Diversity(caps=caps, mmr_lambda=mmr_lambda)
