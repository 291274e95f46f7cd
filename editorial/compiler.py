"""Compile live rule sets into the engine's frozen ``Rules``: site-wide, and layered per scope.

The site-wide set shapes the stored feeds (``live_rules``). A set scoped to a section page, a
device class or an experiment variant is layered over it when a feed is read there
(``read_rules``): the rows of the site-wide set come first, then the variant's, the device's
and the section's, so that the most specific set wins where one setting can only have one
value (MMR lambda, a half-life, a max age); blocklists, boosts, caps and pins all add up.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.db.models import Q

from editorial.models import Rule, RuleSet, RuleSetStatus, RulesState, Scope
from editorial.strategies import RulesBuilder, article_id_of, strategy_for
from newsrec.engine.errors import EngineInputError
from newsrec.engine.rules import Filters, Freshness, Rules
from newsrec.feeds import site_diversity
from newsrec.memo import Memo
from newsrec.providers import ReadRules

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


def rules_unapplied(rules: Iterable[Rule]) -> list[str]:
    """The enabled rows the compiler skips (stored before today's validation, or past it), in
    editors' words: the dashboard lists them, since readers' pages silently go without them."""
    problems = []
    for rule in rules:
        if not rule.enabled:
            continue
        try:
            strategy_for(rule.kind).apply(rule, RulesBuilder())
        except (ValueError, TypeError, OverflowError, EngineInputError) as exc:
            problems.append(f"{rule} (rule #{rule.pk} of “{rule.rule_set}”) is not applied: {exc}")
    return problems


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
            timed_blocks=tuple(builder.timed_blocks),
        ),
        boosts=tuple(builder.boosts),
        pins=tuple(builder.pins),
        picks=tuple(builder.picks),
        freshness=freshness,
        diversity=site_diversity(tuple(builder.caps), builder.mmr_lambda),
    )


Layers = tuple[tuple[Rule, ...], ...]


def layers_over_standing(rule_set: RuleSet) -> bool:
    """Whether ``rule_set``, while live, adds its rules on top of its scope's standing set
    (the default for a set scheduled for a window) rather than replacing it.

    A set with an end is a layer for its window; one without an end becomes the standing set
    when it starts, and an editor may tick "replaces the standing set" to switch it off.
    """
    return (
        rule_set.ends_at is not None
        and rule_set.status != RuleSetStatus.PUBLISHED
        and not rule_set.replaces_standing
    )


def set_layers(
    rule_set: RuleSet, *, standing: RuleSet | bool | None = True, rows: Sequence[Rule] | None = None
) -> Layers:
    """The rows ``rule_set`` applies when live, as layers: its scope's standing set's rows
    under its own where it layers over them (``layers_over_standing``).

    ``standing``: the standing set if already loaded (None: there is none); True: look it up.
    """
    own = tuple(rule_set.rules.all() if rows is None else rows)
    if not layers_over_standing(rule_set):
        return (own,)
    if standing is True:
        standing = (
            RuleSet.objects.standing()
            .in_scope(rule_set.scope, rule_set.scope_value)
            .exclude(pk=rule_set.pk)
            .first()
        )
    if not isinstance(standing, RuleSet) or standing.pk == rule_set.pk:
        return (own,)
    return (tuple(standing.rules.all()), own)


def _live_sets(queryset: Any) -> dict[tuple[str, str], Layers]:
    """Per scope, the layers of its live set; loads live and standing sets with their rows."""
    loaded = list(
        queryset.filter(Q(is_live=True) | Q(status=RuleSetStatus.PUBLISHED)).prefetch_related(
            "rules"
        )
    )
    standing = {(s.scope, s.scope_value): s for s in loaded if s.status == RuleSetStatus.PUBLISHED}
    return {
        (s.scope, s.scope_value): set_layers(s, standing=standing.get((s.scope, s.scope_value)))
        for s in loaded
        if s.is_live
    }


def live_rules() -> Rules:
    """The live site-wide set compiled at the current rules version (empty rules if none).

    Compiled once per version and process (every change of the live sets bumps the version,
    and compiled rules hold no clock): a call reads the version alone, one query. Inside a
    transaction the database answers, as it may see rows that are never committed.
    """
    version = RulesState.current()
    compiled = _live_compiled.get(version)
    if compiled is None:
        layers = _live_sets(RuleSet.objects.site()).get((Scope.SITE, ""), ())
        compiled = rules_compile_layers(layers=layers, version=version)
        if not connection.in_atomic_block:
            _live_compiled.clear()
            _live_compiled[version] = compiled
    return compiled


def live_site_layers() -> Layers:
    """The rows the live site-wide rules are compiled from, as layers (for previews)."""
    return _live_sets(RuleSet.objects.site()).get((Scope.SITE, ""), ())


_live_compiled: dict[int, Rules] = {}  # the one compiled version live_rules() last saw


@dataclass
class _Snapshot:
    version: int
    site: Layers
    scoped: dict[tuple[str, str], tuple[RuleSet, Layers]]
    compiled: dict[tuple[tuple[str, str], ...], ReadRules] = field(default_factory=dict)


def _snapshot_load() -> _Snapshot:
    """Every live set (and standing set) with its rows: two queries."""
    layers = _live_sets(RuleSet.objects.all())
    sets = {(s.scope, s.scope_value): s for s in RuleSet.objects.live()}
    return _Snapshot(
        version=RulesState.current(),
        site=layers.get((Scope.SITE, ""), ()),
        scoped={key: (sets[key], rows) for key, rows in layers.items() if key[0] != Scope.SITE},
    )


_snapshots: Memo[_Snapshot] = Memo("live rule sets", MEMO_SECONDS)
# The rules version the last change published through the shared cache: each process looks at
# it at most this often, so a block reaches every process within a second, not MEMO_SECONDS.
RULES_VERSION_KEY = "editorial:rules:version"
VERSION_CHECK_SECONDS = 0.5
_shared_version: Memo[int | None] = Memo("published rules version", VERSION_CHECK_SECONDS)


def _snapshot() -> _Snapshot:
    snapshot = _snapshots.get(_snapshot_load)
    published = _shared_version.get(lambda: cache.get(RULES_VERSION_KEY))
    if published is not None and published > snapshot.version:  # another process changed them
        _snapshots.clear()
        snapshot = _snapshots.get(_snapshot_load)
    return snapshot


def rules_version_publish() -> None:
    """After a committed change: forget this process's copy and tell the others (through the
    cache; while it is down they follow within MEMO_SECONDS all the same)."""
    live_rules_memo_clear()
    cache.set(RULES_VERSION_KEY, RulesState.current(), timeout=None)


def live_rules_memo_clear() -> None:
    """Forget this process's copy of the live sets (after a change it made itself)."""
    _snapshots.clear()
    _shared_version.clear()
    _live_compiled.clear()


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


def _layered(site: Layers, scoped: Sequence[tuple[RuleSet, Layers]], *, version: int) -> ReadRules:
    layers = [rows for _, set_rows in scoped for rows in set_rows]
    section = [rows for s, set_rows in scoped if s.scope == Scope.SECTION for rows in set_rows]
    return ReadRules(
        rules=rules_compile_layers(layers=[*site, *layers], version=version),
        extra_boosts=tuple(_builder(layers).boosts),
        section_pins=tuple(_builder(section).pins),
        set_ids=tuple(rule_set.pk for rule_set, _ in scoped),
    )


def layered_rules(*, rule_set: RuleSet, site: Layers, version: int = 0) -> ReadRules:
    """A scoped ``rule_set`` (a draft, say) layered over the given site-wide layers, as a read
    in its scope would see it. For previews."""
    return _layered(site, [(rule_set, set_layers(rule_set))], version=version)
