"""Compile the live rule set into the engine's frozen ``Rules``."""

from __future__ import annotations

from collections.abc import Iterable

from editorial.models import Rule, RuleSet, RulesState
from editorial.strategies import RulesBuilder, strategy_for
from newsrec.engine.rules import Diversity, Filters, Freshness, Rules


def rules_compile(*, rules: Iterable[Rule], version: int) -> Rules:
    """Freeze rule rows into engine rules; rows are applied in id order (later rows win)."""
    builder = RulesBuilder()
    for rule in sorted(rules, key=lambda r: r.pk or 0):
        if rule.enabled:
            strategy_for(rule.kind).apply(rule, builder)
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
            blocked_articles=frozenset(int(v) for v in builder.blocked["article"] if v.isdigit()),
            max_age_hours=builder.max_age_hours,
            max_age_hours_by_section=dict(builder.max_age_by_section),
        ),
        boosts=tuple(builder.boosts),
        pins=tuple(builder.pins),
        freshness=freshness,
        diversity=Diversity(
            caps=tuple(builder.caps),
            mmr_lambda=1.0 if builder.mmr_lambda is None else builder.mmr_lambda,
        ),
    )


def live_rules() -> Rules:
    """The live rule set compiled at the current rules version (empty rules if none is live)."""
    version = RulesState.current()
    rule_set = RuleSet.objects.live().first()
    rows = list(rule_set.rules.all()) if rule_set is not None else []
    return rules_compile(rules=rows, version=version)


_live_cache: dict[str, tuple[float, Rules]] = {}


def live_rules_cached(*, max_age_seconds: float = 5.0) -> Rules:
    """``live_rules()`` reused for a few seconds per process, for request-time filtering."""
    import time

    checked, rules = _live_cache.get("rules", (0.0, Rules()))
    if time.monotonic() - checked > max_age_seconds or "rules" not in _live_cache:
        rules = live_rules()
        _live_cache["rules"] = (time.monotonic(), rules)
    return rules
