"""Behaviour of each rule kind: validation of a rule row and its compilation into engine rules."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from newsrec.engine.rules import Boost, Cap, Pick, Pin, Segment, TimedBlock
from newsrec.engine.types import DEVICES
from newsrec.numbers import ascii_int

if TYPE_CHECKING:
    from editorial.models import Rule


MAX_HOURS = 100 * 365 * 24.0  # a century: beyond it a date overflows, and no rule needs it


def article_id_of(value: str) -> int | None:
    """The article id an editor typed, or None: ASCII digits only ("²" passes isdigit() but
    not int()), within a bigint."""
    return ascii_int(value, low=1)


def _epoch(value: object) -> float | None:
    return value.timestamp() if value is not None else None  # type: ignore[attr-defined]


@dataclass
class RulesBuilder:
    """Mutable accumulator that strategies fill; ``editorial.compiler`` freezes it."""

    blocked: dict[str, set[str]] = field(
        default_factory=lambda: {"section": set(), "tag": set(), "author": set(), "article": set()}
    )
    max_age_hours: float | None = None
    max_age_by_section: dict[str, float] = field(default_factory=dict)
    half_life_hours: float | None = None
    half_life_by_section: dict[str, float] = field(default_factory=dict)
    boosts: list[Boost] = field(default_factory=list)
    pins: list[Pin] = field(default_factory=list)
    caps: list[Cap] = field(default_factory=list)
    mmr_lambda: float | None = None
    timed_blocks: list[TimedBlock] = field(default_factory=list)
    picks: list[Pick] = field(default_factory=list)


class RuleStrategy:
    """Override ``validate`` (field -> message) and ``apply`` (add the rule to the builder).

    ``windowed``: whether the kind honours a rule's valid_from/valid_until; the kinds that
    do not refuse them (``window_problems``) rather than ignore them.
    """

    windowed = False

    def validate(self, rule: Rule) -> dict[str, str]:
        return {}

    def window_problems(self, rule: Rule) -> dict[str, str]:
        if self.windowed or (rule.valid_from is None and rule.valid_until is None):
            return {}
        message = (
            "This kind of rule has no time window of its own: leave the dates empty, or put "
            "the rule in a rule set scheduled for that window."
        )
        field_name = "valid_from" if rule.valid_from is not None else "valid_until"
        return {field_name: message}

    def apply(self, rule: Rule, builder: RulesBuilder) -> None:
        raise NotImplementedError(".apply() must be overridden")


def _needs_target(rule: Rule, errors: dict[str, str], *, fields: tuple[str, ...]) -> None:
    if rule.target_field not in fields:
        errors["target_field"] = f"Choose one of: {', '.join(fields)}."
    if not rule.target_value.strip():
        errors["target_value"] = "Name what the rule applies to."
    elif rule.target_field == "article" and article_id_of(rule.target_value) is None:
        errors["target_value"] = "An article is given by its numeric id."


def _positive(value: float | None) -> bool:
    return value is not None and math.isfinite(value) and value > 0


def _hours(value: float | None) -> bool:
    return _positive(value) and value <= MAX_HOURS  # type: ignore[operator]


class BlockStrategy(RuleStrategy):
    windowed = True

    def validate(self, rule: Rule) -> dict[str, str]:
        errors: dict[str, str] = {}
        _needs_target(rule, errors, fields=("section", "tag", "author", "article"))
        return errors

    def apply(self, rule: Rule, builder: RulesBuilder) -> None:
        value = rule.target_value.strip()
        if rule.valid_from is None and rule.valid_until is None:
            builder.blocked[rule.target_field].add(value)
            return
        builder.timed_blocks.append(
            TimedBlock(
                field=rule.target_field,  # type: ignore[arg-type]
                value=_article_or_raise(value) if rule.target_field == "article" else value,
                valid_from=_epoch(rule.valid_from),
                valid_until=_epoch(rule.valid_until),
            )
        )


class BoostStrategy(RuleStrategy):
    windowed = True

    def validate(self, rule: Rule) -> dict[str, str]:
        errors: dict[str, str] = {}
        _needs_target(rule, errors, fields=("section", "tag", "author", "article"))
        if not _positive(rule.factor) or rule.factor == 1:
            errors["factor"] = "Use a factor above 1 to boost or between 0 and 1 to bury."
        return errors

    def apply(self, rule: Rule, builder: RulesBuilder) -> None:
        value: str | int = rule.target_value.strip()
        if rule.target_field == "article":
            value = _article_or_raise(rule.target_value)
        builder.boosts.append(
            Boost(
                field=rule.target_field,  # type: ignore[arg-type]
                value=value,
                factor=float(rule.factor or 1.0),
                valid_from=_epoch(rule.valid_from),
                valid_until=_epoch(rule.valid_until),
                rule_id=rule.pk,
            )
        )


class PinStrategy(RuleStrategy):
    windowed = True

    def validate(self, rule: Rule) -> dict[str, str]:
        errors: dict[str, str] = {}
        if rule.target_field != "article":
            errors["target_field"] = "A pin is for one article: choose Article."
        elif not rule.target_value.strip():
            errors["target_value"] = "Pick the article to pin."
        elif article_id_of(rule.target_value) is None:
            errors["target_value"] = "An article is given by its numeric id."
        if not rule.slot or rule.slot < 1:
            errors["slot"] = "Choose the slot (1 = top)."
        unknown = set(rule.devices) - set(DEVICES)
        if unknown:
            errors["devices"] = f"Unknown device class: {', '.join(sorted(unknown))}."
        return errors

    def apply(self, rule: Rule, builder: RulesBuilder) -> None:
        builder.pins.append(
            Pin(
                article_id=_article_or_raise(rule.target_value),
                slot=int(rule.slot or 1),
                priority=rule.priority,
                created_at=_epoch(rule.created) or 0.0,
                segment=Segment(devices=frozenset(rule.devices), visitors=rule.visitors),  # type: ignore[arg-type]
                valid_from=_epoch(rule.valid_from),
                valid_until=_epoch(rule.valid_until),
                rule_id=rule.pk,
            )
        )


PICK_BOOST = 1.5  # an editors' pick is also boosted this much while it runs


class PickStrategy(RuleStrategy):
    """An editors' pick: a candidate for every reader, boosted, with the reason "Editor's
    pick", during its window."""

    windowed = True

    def validate(self, rule: Rule) -> dict[str, str]:
        if rule.target_field != "article" or article_id_of(rule.target_value) is None:
            return {"target_value": "Pick an article: start typing its title."}
        return {}

    def apply(self, rule: Rule, builder: RulesBuilder) -> None:
        article = _article_or_raise(rule.target_value)
        start, end = _epoch(rule.valid_from), _epoch(rule.valid_until)
        builder.picks.append(Pick(article, valid_from=start, valid_until=end, rule_id=rule.pk))
        builder.boosts.append(
            Boost(field="article", value=article, factor=PICK_BOOST, valid_from=start,
                  valid_until=end, rule_id=rule.pk)
        )  # fmt: skip


def _article_or_raise(value: str) -> int:
    article = article_id_of(value)
    if article is None:
        raise ValueError(f"not an article id: {value!r}")
    return article


def _hours_or_raise(value: float | None) -> float:
    if not _hours(value):
        raise ValueError(f"hours out of range: {value!r}")
    return float(value)  # type: ignore[arg-type]


class MaxAgeStrategy(RuleStrategy):
    label = "maximum age"  # what the editor chose, named in the messages

    def validate(self, rule: Rule) -> dict[str, str]:
        errors: dict[str, str] = {}
        if not _hours(rule.hours):
            errors["hours"] = f"Give the {self.label} in hours: more than 0, at most 876,000."
        if rule.target_value and rule.target_field != "section":
            errors["target_field"] = f"A {self.label} applies to everything or to one section."
        return errors

    def apply(self, rule: Rule, builder: RulesBuilder) -> None:
        hours = _hours_or_raise(rule.hours)
        if rule.target_value:
            builder.max_age_by_section[rule.target_value.strip()] = hours
        else:
            builder.max_age_hours = hours


class FreshnessStrategy(MaxAgeStrategy):
    label = "freshness half-life"

    def apply(self, rule: Rule, builder: RulesBuilder) -> None:
        hours = _hours_or_raise(rule.hours)
        if rule.target_value:
            builder.half_life_by_section[rule.target_value.strip()] = hours
        else:
            builder.half_life_hours = hours


class CapStrategy(RuleStrategy):
    def validate(self, rule: Rule) -> dict[str, str]:
        errors: dict[str, str] = {}
        if rule.target_field not in ("section", "tag", "author"):
            errors["target_field"] = "A cap applies per section, tag or author."
        if rule.max_per_value is None:
            errors["max_per_value"] = "How many at most per value?"
        if not rule.top_k:
            errors["top_k"] = "Within the top how many?"
        elif rule.max_per_value is not None and rule.max_per_value > rule.top_k:
            errors["max_per_value"] = "The cap is larger than the top K: it would never apply."
        return errors

    def apply(self, rule: Rule, builder: RulesBuilder) -> None:
        values = (
            frozenset({rule.target_value.strip()}) if rule.target_value.strip() else frozenset()
        )
        builder.caps.append(
            Cap(
                field=rule.target_field,  # type: ignore[arg-type]
                max_per_value=int(rule.max_per_value or 0),
                top_k=int(rule.top_k or 1),
                values=values,
                rule_id=rule.pk,
            )
        )


class MmrStrategy(RuleStrategy):
    def validate(self, rule: Rule) -> dict[str, str]:
        if rule.mmr_lambda is None or not 0 <= rule.mmr_lambda <= 1:
            return {"mmr_lambda": "Give a value between 0 (most variety) and 1 (pure relevance)."}
        return {}

    def apply(self, rule: Rule, builder: RulesBuilder) -> None:
        builder.mmr_lambda = float(rule.mmr_lambda if rule.mmr_lambda is not None else 1.0)


STRATEGIES: dict[str, RuleStrategy] = {
    "block": BlockStrategy(),
    "boost": BoostStrategy(),
    "pin": PinStrategy(),
    "pick": PickStrategy(),
    "max_age": MaxAgeStrategy(),
    "freshness": FreshnessStrategy(),
    "cap": CapStrategy(),
    "mmr": MmrStrategy(),
}


def strategy_for(kind: str) -> RuleStrategy:
    try:
        return STRATEGIES[kind]
    except KeyError:
        raise ValueError(f"Unknown rule kind {kind!r}") from None
