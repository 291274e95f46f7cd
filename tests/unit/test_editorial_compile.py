"""Rule rows validate per kind and compile into the engine's Rules (no database)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError

from editorial.compiler import rules_compile
from editorial.models import Rule


def rule(**fields: object) -> Rule:
    return Rule(**fields)  # type: ignore[arg-type]


def test_every_kind_compiles_into_engine_rules() -> None:
    rules = rules_compile(
        version=7,
        rules=[
            rule(pk=1, kind="block", target_field="section", target_value="Opinion"),
            rule(pk=2, kind="block", target_field="article", target_value="42"),
            rule(pk=3, kind="boost", target_field="section", target_value="Sport", factor=2.0),
            rule(
                pk=4,
                kind="pin",
                target_field="article",
                target_value="9",
                slot=1,
                devices=["mobile"],
            ),
            rule(pk=5, kind="max_age", hours=72.0),
            rule(pk=6, kind="max_age", target_field="section", target_value="Weather", hours=12.0),
            rule(pk=7, kind="freshness", hours=36.0),
            rule(
                pk=8, kind="freshness", target_field="section", target_value="Culture", hours=96.0
            ),
            rule(pk=9, kind="cap", target_field="section", max_per_value=3, top_k=10),
            rule(pk=10, kind="mmr", mmr_lambda=0.7),
            rule(
                pk=11, kind="boost", target_field="tag", target_value="x", factor=9, enabled=False
            ),
        ],
    )
    assert rules.version == 7
    assert rules.filters.blocked_sections == {"Opinion"}
    assert rules.filters.blocked_articles == {42}
    assert rules.filters.max_age_hours == 72.0
    assert rules.filters.max_age_hours_by_section == {"Weather": 12.0}
    assert [(b.field, b.value, b.factor) for b in rules.boosts] == [("section", "Sport", 2.0)]
    assert [(p.article_id, p.slot, set(p.segment.devices)) for p in rules.pins] == [
        (9, 1, {"mobile"})
    ]
    assert rules.freshness.half_life_hours == 36.0
    assert rules.freshness.by_section == {"Culture": 96.0}
    assert [(c.field, c.max_per_value, c.top_k) for c in rules.diversity.caps] == [
        ("section", 3, 10)
    ]
    assert rules.diversity.mmr_lambda == 0.7


def test_time_windows_become_epoch_seconds() -> None:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    end = datetime(2026, 11, 2, tzinfo=UTC)
    compiled = rules_compile(
        version=1,
        rules=[
            rule(kind="boost", target_field="section", target_value="Politics", factor=3.0,
                 valid_from=start, valid_until=end),
        ],
    )  # fmt: skip
    assert (compiled.boosts[0].valid_from, compiled.boosts[0].valid_until) == (
        start.timestamp(),
        end.timestamp(),
    )


@pytest.mark.parametrize(
    ("fields", "bad_field"),
    [
        ({"kind": "boost", "target_field": "section", "target_value": "Sport", "factor": 1.0}, "factor"),
        ({"kind": "boost", "target_field": "section", "target_value": "Sport", "factor": -2}, "factor"),
        ({"kind": "boost", "target_field": "", "target_value": "Sport", "factor": 2}, "target_field"),
        ({"kind": "pin", "target_field": "article", "target_value": "abc", "slot": 1}, "target_value"),
        ({"kind": "pin", "target_field": "article", "target_value": "3", "slot": 0}, "slot"),
        ({"kind": "pin", "target_field": "article", "target_value": "3", "slot": 2,
          "devices": ["phone"]}, "devices"),
        ({"kind": "max_age", "hours": 0}, "hours"),
        ({"kind": "cap", "target_field": "section", "max_per_value": 5, "top_k": 3}, "max_per_value"),
        ({"kind": "mmr", "mmr_lambda": 1.5}, "mmr_lambda"),
        # issue #12.6: inputs that passed validation and took pages down
        ({"kind": "block", "target_field": "article", "target_value": "²"}, "target_value"),
        ({"kind": "boost", "target_field": "article", "target_value": "\u0661\u0662", "factor": 2},
         "target_value"),
        ({"kind": "pin", "target_field": "article", "target_value": str(10**30), "slot": 1},
         "target_value"),
        ({"kind": "max_age", "hours": 1e308}, "hours"),
        ({"kind": "freshness", "hours": float("inf")}, "hours"),
        ({"kind": "block", "target_field": "section", "target_value": "Sport",
          "valid_from": datetime(2026, 2, 1, tzinfo=UTC),
          "valid_until": datetime(2026, 1, 1, tzinfo=UTC)}, "valid_until"),
    ],
)  # fmt: skip
def test_invalid_rules_are_refused_with_a_field_message(
    fields: dict[str, object], bad_field: str
) -> None:
    with pytest.raises(ValidationError) as exc_info:
        rule(**fields).clean()
    assert bad_field in exc_info.value.message_dict


def test_a_stored_rule_that_cannot_be_applied_is_skipped_not_raised() -> None:
    # saved before today's validation (or past it): the rest of the set still applies
    rules = rules_compile(
        version=3,
        rules=[
            rule(pk=1, kind="block", target_field="article", target_value="²"),
            rule(pk=2, kind="pin", target_field="article", target_value=str(10**30), slot=1),
            rule(pk=3, kind="max_age", hours=1e308),
            rule(pk=4, kind="boost", target_field="article", target_value="²", factor=2.0),
            rule(pk=5, kind="block", target_field="section", target_value="Opinion"),
        ],
    )
    assert rules.filters.blocked_articles == frozenset()
    assert rules.pins == ()
    assert rules.boosts == ()
    assert rules.filters.max_age_hours is None
    assert rules.filters.blocked_sections == {"Opinion"}


def test_without_diversity_rules_the_site_default_applies() -> None:
    rules = rules_compile(version=1, rules=[])
    assert rules.diversity.mmr_lambda == 0.8
    [cap] = rules.diversity.caps
    assert (cap.field, cap.max_per_value, cap.top_k, cap.values) == ("section", 3, 10, frozenset())


def test_the_editors_diversity_rules_replace_the_default() -> None:
    rules = rules_compile(
        version=1,
        rules=[
            rule(pk=1, kind="cap", target_field="section", max_per_value=2, top_k=5),
            rule(pk=2, kind="mmr", mmr_lambda=1.0),
        ],
    )
    assert rules.diversity.mmr_lambda == 1.0
    assert [(c.max_per_value, c.top_k) for c in rules.diversity.caps] == [(2, 5)]


def test_a_cap_on_one_section_keeps_the_default_for_the_others() -> None:
    rules = rules_compile(
        version=1,
        rules=[
            rule(
                pk=1,
                kind="cap",
                target_field="section",
                target_value="Sport",
                max_per_value=1,
                top_k=10,
            )
        ],
    )
    assert sorted((c.values, c.max_per_value) for c in rules.diversity.caps) == [
        (frozenset(), 3),
        (frozenset({"Sport"}), 1),
    ]
