"""Compile live rule sets into the engine's frozen ``Rules``: site-wide, and layered per scope.

The site-wide set shapes the stored feeds (``live_rules``). A set scoped to a section page, a
device class or an experiment variant is layered over it when a feed is read there
(``read_rules``): the rows of the site-wide set come first, then the variant's, the device's
and the section's, so that the most specific set wins where one setting can only have one
value (MMR lambda, a half-life, a max age); blocklists, boosts, caps and pins all add up.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.db import connection

from editorial.models import Rule, RuleSet, RulesState, Scope
from editorial.strategies import RulesBuilder, article_id_of, strategy_for
from newsrec.engine.errors import EngineInputError
from newsrec.engine.rules import Boost, Filters, Freshness, Rules
from newsrec.feeds import site_diversity

log = logging.getLogger(__name__)

# Least to most specific: later layers win single-valued settings.
LAYER_ORDER = (Scope.VARIANT, Scope.DEVICE, Scope.SECTION)
MEMO_SECONDS = 5.0  # feed reads are hot: each process re-reads the live sets at most this often


def _builder(layers: Iterable[Iterable[Rule]]) -> RulesBuilder:
    """Every enabled row applied; a stored row that cannot be applied (saved before today's
    validation, or past it) is skipped and logged, never a failed page or rebuild."""
    builder = RulesBuilder()
    for rows in layers:
        for rule in sorted(rows, key=lambda r: r.pk or 0):
            if not rule.enabled:
                continue
            try:
                strategy_for(rule.kind).apply(rule, builder)
            except (ValueError, TypeError, OverflowError, EngineInputError) as exc:
                log.warning("rule %s (%s) skipped: it cannot be applied (%s)", rule.pk, rule, exc)
    return builder


def rules_compile(*, rules: Iterable[Rule], version: int) -> Rules:
    """Freeze rule rows into engine rules; rows are applied in id order (later rows win)."""
    return rules_compile_layers(layers=[rules], version=version)


def rules_compile_layers(*, layers: Iterable[Iterable[Rule]], version: int) -> Rules:
    """Several sets' rows compiled as one: each set in id order, later sets after earlier ones."""
    builder = _builder(layers)
    freshness = Freshness(
        half_life_hours=builder.half_life_hours or Freshness.half_life_hours,
        by_section=dict(builder.half_life_by_section),
    )
    return Rules(
        version=version,
        filters=Filters(
            blocked_sections=frozenset(builder.blocked["section"]),
            blocked_tags=frozenset(builder.blocked["tag"]),
            blocked_authors=frozenset(builder.blocked["author"]),
            blocked_articles=frozenset(
                a for a in map(article_id_of, builder.blocked["article"]) if a is not None
            ),
            max_age_hours=builder.max_age_hours,
            max_age_hours_by_section=dict(builder.max_age_by_section),
        ),
        boosts=tuple(builder.boosts),
        pins=tuple(builder.pins),
        freshness=freshness,
        diversity=site_diversity(tuple(builder.caps), builder.mmr_lambda),
    )


def live_rules() -> Rules:
    """The live site-wide set compiled at the current rules version (empty rules if none).

    Compiled once per version and process (every change of the live sets bumps the version,
    and compiled rules hold no clock): a call reads the version alone, one query. Inside a
    transaction the database answers, as it may see rows that are never committed.
    """
    version = RulesState.current()
    compiled = _live_compiled.get(version)
    if compiled is None:
        rule_set = RuleSet.objects.live().site().first()
        rows = list(rule_set.rules.all()) if rule_set is not None else []
        compiled = rules_compile(rules=rows, version=version)
        if not connection.in_atomic_block:
            _live_compiled.clear()
            _live_compiled[version] = compiled
    return compiled


_live_compiled: dict[int, Rules] = {}  # the one compiled version live_rules() last saw


@dataclass(frozen=True)
class ReadRules:
    """The rules a feed read in some scopes must obey, beyond the stored feed's own build.

    ``rules``: the site-wide set with the scoped sets layered over it; ``extra_boosts``: the
    scoped sets' boosts alone; ``sets``: the scoped sets applied (empty: site-wide rules only).
    """

    rules: Rules
    extra_boosts: tuple[Boost, ...] = ()
    sets: tuple[RuleSet, ...] = ()

    @property
    def device_pins(self) -> bool:
        """Whether ``rules`` has pins limited to some devices (stored feeds, built without a
        device, cannot hold those: a read on a device must place them)."""
        return any(pin.segment.devices for pin in self.rules.pins)

    @property
    def tag(self) -> str:
        """Names the rules version and the scoped sets, for ETags: "r12" or "r12s3.7"."""
        ids = ".".join(str(s.pk) for s in self.sets)
        return f"r{self.rules.version}" + (f"s{ids}" if ids else "")


@dataclass
class _Snapshot:
    version: int
    site: tuple[Rule, ...]
    scoped: dict[tuple[str, str], tuple[RuleSet, tuple[Rule, ...]]]
    compiled: dict[tuple[tuple[str, str], ...], ReadRules] = field(default_factory=dict)


def _snapshot_load() -> _Snapshot:
    """Every live set with its rows: two queries."""
    site: tuple[Rule, ...] = ()
    scoped: dict[tuple[str, str], tuple[RuleSet, tuple[Rule, ...]]] = {}
    for rule_set in RuleSet.objects.live().prefetch_related("rules"):
        rows = tuple(rule_set.rules.all())
        if rule_set.is_site_wide:
            site = rows
        else:
            scoped[(rule_set.scope, rule_set.scope_value)] = (rule_set, rows)
    return _Snapshot(version=RulesState.current(), site=site, scoped=scoped)


_memo: dict[str, tuple[float, _Snapshot]] = {}


def _snapshot() -> _Snapshot:
    loaded, snapshot = _memo.get("live", (0.0, None))  # type: ignore[arg-type]
    if snapshot is None or time.monotonic() - loaded > MEMO_SECONDS:
        snapshot = _snapshot_load()
        _memo["live"] = (time.monotonic(), snapshot)
    return snapshot


def live_rules_memo_clear() -> None:
    """Forget this process's copy of the live sets (after a change it made itself)."""
    _memo.clear()
    _live_compiled.clear()


def live_rules_cached() -> Rules:
    """The live site-wide rules, reused for a few seconds per process (request-time filters)."""
    return read_rules().rules


def read_rules(*, section: str = "", device: str = "", variant_id: int | None = None) -> ReadRules:
    """The rules of a feed read on ``section``'s page, on ``device``, for a reader in the
    experiment variant ``variant_id``: the site-wide set with every live scoped set that
    applies layered over it. Memoised per process for MEMO_SECONDS."""
    snapshot = _snapshot()
    wanted = {
        Scope.VARIANT: str(variant_id) if variant_id is not None else "",
        Scope.DEVICE: device,
        Scope.SECTION: section,
    }
    keys = tuple(
        (scope, wanted[scope])
        for scope in LAYER_ORDER
        if wanted[scope] and (scope, wanted[scope]) in snapshot.scoped
    )
    found = snapshot.compiled.get(keys)
    if found is None:
        found = _read_rules_compile(snapshot, keys)
        snapshot.compiled[keys] = found
    return found


def _read_rules_compile(snapshot: _Snapshot, keys: Sequence[tuple[str, str]]) -> ReadRules:
    return _layered(snapshot.site, [snapshot.scoped[k] for k in keys], version=snapshot.version)


def _layered(
    site: Sequence[Rule], scoped: Sequence[tuple[RuleSet, Sequence[Rule]]], *, version: int
) -> ReadRules:
    layers = [rows for _, rows in scoped]
    return ReadRules(
        rules=rules_compile_layers(layers=[site, *layers], version=version),
        extra_boosts=tuple(_builder(layers).boosts),
        sets=tuple(rule_set for rule_set, _ in scoped),
    )


def layered_rules(*, rule_set: RuleSet, site: Sequence[Rule], version: int = 0) -> ReadRules:
    """A scoped ``rule_set`` (a draft, say) layered over the given site-wide rows, as a read in
    its scope would see it. For previews."""
    return _layered(site, [(rule_set, list(rule_set.rules.all()))], version=version)
