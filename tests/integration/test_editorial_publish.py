"""Publish, schedule (time travel), roll back and audit rule sets through the editorial services."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import timezone

from demo.management.commands.newsrec_demo import demo_group_permissions
from editorial import compiler, services
from editorial.audit import audit_actor
from editorial.compiler import live_rules
from editorial.models import (
    AuditEntry,
    Rule,
    RuleSet,
    RuleSetStatus,
    RuleSetVersion,
    RulesState,
)
from editorial.tasks import rulesets_switch_due

pytestmark = pytest.mark.django_db


def make_user(username: str, group_name: str) -> User:
    group, _ = Group.objects.get_or_create(name=group_name)
    group.permissions.set(demo_group_permissions(group_name))
    user = User.objects.create_user(username, f"{username}@example.org", "pw", is_staff=True)
    user.groups.add(group)
    return user


@pytest.fixture
def senior() -> User:
    return make_user("senior", "Senior editor")


@pytest.fixture
def junior() -> User:
    return make_user("junior", "Editor")


def draft(name: str, *rules: dict[str, Any], **fields: Any) -> RuleSet:
    rule_set = RuleSet.objects.create(name=name, **fields)
    for row in rules:
        Rule.objects.create(rule_set=rule_set, **row)
    return rule_set


BLOCK_SPORT = {"kind": "block", "target_field": "section", "target_value": "Sport"}
BOOST_POLITICS = {"kind": "boost", "target_field": "section", "target_value": "Politics",
                  "factor": 3.0}  # fmt: skip


def fanouts(callbacks: list[Callable[[], Any]]) -> int:
    return sum(cb is services.rules_fanout_enqueue for cb in callbacks)


def request_boundary() -> None:
    """Stand-in for the commit between two requests: on-commit work queued so far has gone out.

    (The test transaction never commits, and one transaction queues at most one fan-out.)
    """
    connection.run_on_commit.clear()


def test_drafts_cost_no_bump_and_no_rebuild(
    django_capture_on_commit_callbacks: Any,
) -> None:
    version = RulesState.current()
    with django_capture_on_commit_callbacks() as callbacks:
        rule_set = draft("Election night", BLOCK_SPORT)
        rule = rule_set.rules.get()
        rule.target_value = "Weather"
        rule.save()
        rule.delete()
    assert RulesState.current() == version
    assert fanouts(callbacks) == 0
    assert live_rules().filters.blocked_sections == frozenset()


def test_publish_makes_a_draft_live_with_a_version_a_bump_and_one_fanout(
    senior: User, django_capture_on_commit_callbacks: Any
) -> None:
    rule_set = draft("Default", BLOCK_SPORT, BOOST_POLITICS)
    before = RulesState.current()
    with django_capture_on_commit_callbacks() as callbacks:
        version = services.ruleset_publish(rule_set=rule_set, user=senior, note="first")
    rule_set.refresh_from_db()
    assert (rule_set.status, rule_set.is_live) == (RuleSetStatus.PUBLISHED, True)
    assert fanouts(callbacks) == 1
    assert RulesState.current() > before
    assert version.number == 1
    assert version.published_by == senior
    assert [r["target_value"] for r in version.rules] == ["Sport", "Politics"]
    rules = live_rules()
    assert rules.filters.blocked_sections == {"Sport"}
    assert [(b.value, b.factor) for b in rules.boosts] == [("Politics", 3.0)]
    assert rules.version == RulesState.current()
    entry = AuditEntry.objects.filter(action="publish").get()
    assert (entry.user, entry.rule_set_id, entry.source) == (senior, rule_set.pk, "system")
    assert "version 1" in entry.summary


@pytest.mark.django_db(transaction=True)
def test_live_rules_are_compiled_once_per_version(
    senior: User, django_assert_num_queries: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services, "rules_fanout_enqueue", lambda: None)  # no worker here
    services.ruleset_publish(rule_set=draft("Default", BLOCK_SPORT), user=senior)
    first = live_rules()
    assert first.filters.blocked_sections == {"Sport"}
    with django_assert_num_queries(1):  # the version, nothing else
        assert live_rules() is first
    # as another process sees it: no memo cleared on commit, only the version moved on
    monkeypatch.setattr(compiler, "live_rules_memo_clear", lambda: None)
    services.ruleset_publish(rule_set=draft("Next", BOOST_POLITICS), user=senior)
    after = live_rules()
    assert after.version > first.version
    assert after.filters.blocked_sections == frozenset()
    assert [b.value for b in after.boosts] == ["Politics"]


def test_a_second_publish_retires_the_first_set(senior: User) -> None:
    first = draft("Default", BLOCK_SPORT)
    services.ruleset_publish(rule_set=first, user=senior)
    second = draft("Summer", BOOST_POLITICS)
    services.ruleset_publish(rule_set=second, user=senior)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.is_live) == (RuleSetStatus.RETIRED, False)
    assert (second.status, second.is_live) == (RuleSetStatus.PUBLISHED, True)
    assert RuleSet.objects.live().count() == 1
    assert live_rules().filters.blocked_sections == frozenset()


def test_editing_the_live_set_bumps_and_rebuilds(
    senior: User, django_capture_on_commit_callbacks: Any
) -> None:
    rule_set = draft("Default", BLOCK_SPORT)
    services.ruleset_publish(rule_set=rule_set, user=senior)
    request_boundary()
    before = RulesState.current()
    with django_capture_on_commit_callbacks() as callbacks:
        Rule.objects.create(rule_set=rule_set, **BOOST_POLITICS)
        Rule.objects.create(rule_set=rule_set, **BLOCK_SPORT)
    assert RulesState.current() == before + 2
    assert fanouts(callbacks) == 1  # two rows saved in one transaction: one rebuild


def test_junior_cannot_publish_or_roll_back(junior: User, senior: User) -> None:
    rule_set = draft("Default", BLOCK_SPORT)
    with pytest.raises(PermissionDenied):
        services.ruleset_publish(rule_set=rule_set, user=junior)
    assert RuleSet.objects.live().count() == 0
    version = services.ruleset_publish(rule_set=rule_set, user=senior)
    with pytest.raises(PermissionDenied):
        services.ruleset_rollback(version=version, user=junior)


def test_invalid_rules_are_never_published(senior: User) -> None:
    rule_set = draft(
        "Broken",
        {"kind": "pin", "target_field": "article", "target_value": "5", "slot": 1},
        {"kind": "pin", "target_field": "article", "target_value": "6", "slot": 1},
        {"kind": "boost", "target_field": "section", "target_value": "Sport", "factor": 1.0},
    )
    with pytest.raises(ValidationError) as exc_info:
        services.ruleset_publish(rule_set=rule_set, user=senior)
    text = " ".join(exc_info.value.messages)
    assert "Slot 1 is already taken" in text
    assert "factor" in text
    rule_set.refresh_from_db()
    assert (rule_set.status, rule_set.is_live) == (RuleSetStatus.DRAFT, False)
    assert not RuleSetVersion.objects.exists()


def test_rollback_republishes_an_earlier_version(senior: User) -> None:
    rule_set = draft("Default", BLOCK_SPORT)
    v1 = services.ruleset_publish(rule_set=rule_set, user=senior)
    rule_set.rules.all().delete()
    Rule.objects.create(rule_set=rule_set, **BOOST_POLITICS)
    services.ruleset_publish(rule_set=rule_set, user=senior)
    assert live_rules().filters.blocked_sections == frozenset()
    before = RulesState.current()
    v3 = services.ruleset_rollback(version=v1, user=senior)
    assert v3.number == 3
    assert v3.note == "Rollback to version 1"
    assert [r["target_value"] for r in v3.rules] == ["Sport"]
    assert RulesState.current() > before
    rules = live_rules()
    assert rules.filters.blocked_sections == {"Sport"}
    assert rules.boosts == ()
    assert AuditEntry.objects.filter(action="rollback", rule_set_id=rule_set.pk).exists()


def test_published_versions_are_immutable(senior: User) -> None:
    version = services.ruleset_publish(rule_set=draft("Default", BLOCK_SPORT), user=senior)
    version.note = "rewritten history"
    with pytest.raises(ValidationError):
        version.save()
    entry = AuditEntry.objects.first()
    assert entry is not None
    with pytest.raises(ValidationError):
        entry.save()


def test_schedule_switches_at_start_and_back_at_end(
    senior: User, django_capture_on_commit_callbacks: Any
) -> None:
    t0 = timezone.now().replace(microsecond=0)
    default = draft("Default", BOOST_POLITICS)
    services.ruleset_publish(rule_set=default, user=senior, now=t0)
    election = draft(
        "Election night", BLOCK_SPORT, starts_at=t0 + timedelta(hours=1),
        ends_at=t0 + timedelta(hours=3),
    )  # fmt: skip
    services.ruleset_publish(rule_set=election, user=senior, now=t0)
    election.refresh_from_db()
    assert (election.status, election.is_live) == (RuleSetStatus.SCHEDULED, False)
    assert RuleSet.objects.live().get() == default

    # Nothing changes before the start, and a switch that changes nothing costs nothing.
    request_boundary()
    version = RulesState.current()
    with django_capture_on_commit_callbacks() as callbacks:
        assert services.ruleset_switch(now=t0 + timedelta(minutes=59)) == default
    assert (RulesState.current(), fanouts(callbacks)) == (version, 0)

    with django_capture_on_commit_callbacks() as callbacks:
        assert services.ruleset_switch(now=t0 + timedelta(hours=1)) == election
    assert RulesState.current() == version + 1
    assert fanouts(callbacks) == 1
    assert live_rules().filters.blocked_sections == {"Sport"}
    assert services.ruleset_switch(now=t0 + timedelta(hours=2)) == election
    assert RulesState.current() == version + 1

    assert services.ruleset_switch(now=t0 + timedelta(hours=3)) == default
    election.refresh_from_db()
    assert (election.status, election.is_live) == (RuleSetStatus.RETIRED, False)
    assert live_rules().filters.blocked_sections == frozenset()
    switches = AuditEntry.objects.filter(action="switch").values_list("summary", flat=True)
    assert any("Election night went live" in s for s in switches)


def test_overlapping_schedules_are_refused(senior: User) -> None:
    t0 = timezone.now()
    one = draft("Election night", BLOCK_SPORT, starts_at=t0 + timedelta(hours=1),
                ends_at=t0 + timedelta(hours=3))  # fmt: skip
    services.ruleset_publish(rule_set=one, user=senior, now=t0)
    two = draft("Results day", BOOST_POLITICS, starts_at=t0 + timedelta(hours=2),
                ends_at=t0 + timedelta(hours=5))  # fmt: skip
    with pytest.raises(ValidationError) as exc_info:
        services.ruleset_publish(rule_set=two, user=senior, now=t0)
    assert (
        "overlaps the scheduled set Election night" in exc_info.value.message_dict["starts_at"][0]
    )
    over = draft("Too late", BLOCK_SPORT, starts_at=t0 - timedelta(hours=3),
                 ends_at=t0 - timedelta(hours=1))  # fmt: skip
    with pytest.raises(ValidationError) as exc_info:
        services.ruleset_publish(rule_set=over, user=senior, now=t0)
    assert "already over" in exc_info.value.message_dict["ends_at"][0]


def test_an_open_ended_schedule_becomes_the_standing_set(senior: User) -> None:
    t0 = timezone.now()
    default = draft("Default", BOOST_POLITICS)
    services.ruleset_publish(rule_set=default, user=senior, now=t0)
    autumn = draft("Autumn", BLOCK_SPORT, starts_at=t0 + timedelta(days=1))
    services.ruleset_publish(rule_set=autumn, user=senior, now=t0)
    services.ruleset_switch(now=t0 + timedelta(days=1, seconds=1))
    autumn.refresh_from_db()
    default.refresh_from_db()
    assert (autumn.status, autumn.is_live) == (RuleSetStatus.PUBLISHED, True)
    assert default.status == RuleSetStatus.RETIRED


def test_the_beat_task_switches_and_is_scheduled(senior: User) -> None:
    assert settings.CELERY_BEAT_SCHEDULE["editorial-rulesets-switch"]["task"] == (
        "editorial.tasks.rulesets_switch_due"
    )
    t0 = timezone.now()
    now_set = draft("Breaking", BLOCK_SPORT, starts_at=t0 - timedelta(minutes=1),
                    ends_at=t0 + timedelta(hours=1))  # fmt: skip
    services.ruleset_publish(rule_set=now_set, user=senior, now=t0 - timedelta(minutes=2))
    assert not RuleSet.objects.live().exists() or RuleSet.objects.live().get() == now_set
    RuleSet.objects.update(is_live=False)  # as if the window had just opened
    assert rulesets_switch_due.run() == "Breaking"
    entry = AuditEntry.objects.filter(action="switch").first()
    assert entry is not None
    assert entry.source == "schedule"
    assert rulesets_switch_due.run() == "Breaking"  # idempotent


def test_audit_records_who_what_before_after_and_where(senior: User) -> None:
    rule_set = draft("Default")
    with audit_actor(user=senior, source="api"):
        rule = Rule.objects.create(rule_set=rule_set, **BOOST_POLITICS)
        rule.factor = 1.5
        rule.save()
        rule.save()  # no change: no entry
        rule.delete()
    entries = list(AuditEntry.objects.filter(object_type="rule").order_by("id"))
    assert [e.action for e in entries] == ["create", "update", "delete"]
    assert {e.source for e in entries} == {"api"}
    assert {e.username for e in entries} == {"senior"}
    update = entries[1]
    assert update.before is not None
    assert update.after is not None
    assert (update.before["factor"], update.after["factor"]) == (3.0, 1.5)
    assert "factor" in update.summary
    assert entries[2].before is not None
    assert entries[2].after is None
    rule_set.delete()
    gone = AuditEntry.objects.filter(object_type="rule set", action="delete").get()
    assert gone.rule_set_name == "Default"
