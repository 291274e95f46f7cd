"""Writes of the editors' app: publish, schedule, switch, roll back, copy; each one transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Max, Q
from django.utils import timezone

from editorial.audit import RULE_FIELDS, audit_record, model_values
from editorial.models import Rule, RuleSet, RuleSetStatus, RuleSetVersion, RulesState, Scope
from editorial.validation import rules_problems

PUBLISH_PERMISSION = "editorial.publish_ruleset"
_SWITCH_LOCK = 7332  # pg_advisory_xact_lock key: publishes and switches never interleave


def rules_fanout_enqueue() -> None:
    """Queue the rebuild of every feed after a rules change (chunked by the feeds task)."""
    from newsrec.outbox import send_or_record
    from newsrec.tasks import feeds_rebuild_all

    send_or_record(feeds_rebuild_all)  # broker down: kept in the outbox, sent when it is back


def _lock() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_SWITCH_LOCK])


def _require_publisher(user: Any) -> None:
    if user is not None and not user.has_perm(PUBLISH_PERMISSION):
        raise PermissionDenied("Only senior editors can publish or roll back rule sets.")


def ruleset_validate(*, rule_set: RuleSet) -> None:
    """Every rule's own checks plus the set-wide ones; raises one ValidationError listing all."""
    rules = list(rule_set.rules.order_by("pk"))
    messages: list[str] = []
    for number, rule in enumerate(rules, start=1):
        try:
            rule.full_clean(exclude=["rule_set"])
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                messages += [f"Rule {number} ({rule}), {field}: {e}" for e in errors]
    for problem in rules_problems(rules):
        rule = rules[problem.index]
        messages.append(f"Rule {problem.index + 1} ({rule}), {problem.field}: {problem.message}")
    if rule_set.starts_at and rule_set.ends_at and rule_set.ends_at <= rule_set.starts_at:
        messages.append("The set's window ends before it starts.")
    if messages:
        raise ValidationError(messages)


def ruleset_rows(*, rule_set: RuleSet) -> list[dict[str, Any]]:
    return [model_values(rule) for rule in rule_set.rules.order_by("pk")]


def _overlapping_schedule(rule_set: RuleSet) -> RuleSet | None:
    """Another scheduled set of the same scope whose window meets this one's (open ends are
    unbounded)."""
    start, end = rule_set.starts_at, rule_set.ends_at
    others = (
        RuleSet.objects.scheduled()
        .in_scope(rule_set.scope, rule_set.scope_value)
        .exclude(pk=rule_set.pk)
    )
    if end is not None:
        others = others.filter(starts_at__lt=end)
    return others.filter(Q(ends_at__isnull=True) | Q(ends_at__gt=start)).first()


def ruleset_due(*, now: datetime, scope: str = Scope.SITE, value: str = "") -> RuleSet | None:
    """The set that should be live in a scope at ``now``: a running scheduled set, else the
    standing one."""
    in_scope = RuleSet.objects.in_scope(scope, value)
    running = in_scope.running_at(now).order_by("-starts_at").first()
    if running is not None:
        return running
    standing = in_scope.standing().first()
    # Without any standing set (e.g. a live set made directly in the shell) keep what is live.
    return standing or in_scope.live().first()


@transaction.atomic
def ruleset_switch(*, now: datetime | None = None) -> RuleSet | None:
    """Make the due set of every scope live (beat calls this every 30 s); bump the rules version
    only on a change, and rebuild the stored feeds only when the site-wide set changed (scoped
    sets apply when feeds are read). Returns the live site-wide set.

    Open-ended scheduled sets that have started become the standing set; ended ones retire.
    """
    from editorial.signals import rules_changed_commit

    now = now or timezone.now()
    _lock()
    changed, site_changed = False, False
    for ended in RuleSet.objects.scheduled().filter(ends_at__lte=now):
        RuleSet.objects.filter(pk=ended.pk).update(status=RuleSetStatus.RETIRED, is_live=False)
        audit_record(action="switch", obj=ended, summary=f"Scheduled set {ended} ended")
        # a live set that ended changes its scope's rules even when nothing replaces it
        changed = changed or ended.is_live
        site_changed = site_changed or (ended.is_live and ended.is_site_wide)
    for started in RuleSet.objects.scheduled().filter(starts_at__lte=now, ends_at__isnull=True):
        _make_standing(started)
        audit_record(action="switch", obj=started, summary=f"{started} is now the standing set")
    # Scopes with a standing, scheduled or live set.
    scopes = set(
        RuleSet.objects.filter(
            Q(status__in=[RuleSetStatus.PUBLISHED, RuleSetStatus.SCHEDULED]) | Q(is_live=True)
        )
        .values_list("scope", "scope_value")
        .distinct()
    )
    scopes.add((Scope.SITE, ""))
    site_live: RuleSet | None = None
    for scope, value in sorted(scopes):
        due = ruleset_due(now=now, scope=scope, value=value)
        live = RuleSet.objects.in_scope(scope, value).live().first()
        if scope == Scope.SITE:
            site_live = due
        if due == live:
            continue
        changed = True
        site_changed = site_changed or scope == Scope.SITE
        RuleSet.objects.in_scope(scope, value).filter(is_live=True).update(is_live=False)
        if due is not None:
            RuleSet.objects.filter(pk=due.pk).update(is_live=True)
            due.is_live = True
            where = "" if scope == Scope.SITE else f" ({due.scope_label})"
            audit_record(
                action="switch", obj=due,
                summary=f"{due} went live{where}" + (f", replacing {live}" if live else ""),
            )  # fmt: skip
    if changed:
        rules_changed_commit(rebuild_feeds=site_changed)
    return site_live


def _make_standing(rule_set: RuleSet) -> None:
    RuleSet.objects.standing().in_scope(rule_set.scope, rule_set.scope_value).exclude(
        pk=rule_set.pk
    ).update(status=RuleSetStatus.RETIRED)
    RuleSet.objects.filter(pk=rule_set.pk).update(status=RuleSetStatus.PUBLISHED)
    rule_set.status = RuleSetStatus.PUBLISHED


@transaction.atomic
def ruleset_publish(
    *, rule_set: RuleSet, user: Any = None, now: datetime | None = None, note: str = ""
) -> RuleSetVersion:
    """Validate, snapshot and publish: standing at once, or scheduled for the set's window."""
    from editorial.signals import rules_changed_commit

    _require_publisher(user)
    now = now or timezone.now()
    _lock()
    rule_set = RuleSet.objects.select_for_update().get(pk=rule_set.pk)
    ruleset_validate(rule_set=rule_set)
    before = model_values(rule_set)
    if rule_set.ends_at is not None and rule_set.starts_at is None:
        rule_set.starts_at = now  # "until Sunday" means from now until Sunday
        RuleSet.objects.filter(pk=rule_set.pk).update(starts_at=now)
    if rule_set.ends_at is not None and rule_set.ends_at <= now:
        raise ValidationError({"ends_at": "This window is already over: change it to publish."})
    if rule_set.starts_at is not None and (rule_set.starts_at > now or rule_set.ends_at):
        clash = _overlapping_schedule(rule_set)
        if clash is not None:
            raise ValidationError(
                {"starts_at": f"The window overlaps the scheduled set {clash} "
                 f"({clash.starts_at:%Y-%m-%d %H:%M} to "
                 f"{'open end' if clash.ends_at is None else f'{clash.ends_at:%Y-%m-%d %H:%M}'})."}
            )  # fmt: skip
        RuleSet.objects.filter(pk=rule_set.pk).update(status=RuleSetStatus.SCHEDULED)
        rule_set.status = RuleSetStatus.SCHEDULED
    else:
        _make_standing(rule_set)
    number = (rule_set.versions.aggregate(m=Max("number"))["m"] or 0) + 1
    RuleSet.objects.filter(pk=rule_set.pk).update(revision=rule_set.revision + 1)
    was_live = rule_set.is_live
    ruleset_switch(now=now)
    if was_live and RuleSet.objects.filter(pk=rule_set.pk, is_live=True).exists():
        # republished in place: its rows may have changed since
        rules_changed_commit(rebuild_feeds=rule_set.is_site_wide)
    version = RuleSetVersion.objects.create(
        rule_set=rule_set,
        number=number,
        rules=ruleset_rows(rule_set=rule_set),
        header={**model_values(rule_set), "status": rule_set.status},
        published_by=user if getattr(user, "pk", None) else None,
        source=_source(),
        note=note,
        rules_version=RulesState.current(),
    )
    when = (
        f"scheduled from {timezone.localtime(rule_set.starts_at):%Y-%m-%d %H:%M %Z}"
        if rule_set.status == RuleSetStatus.SCHEDULED and rule_set.starts_at
        else "standing set"
    )
    audit_record(
        action="publish", obj=rule_set,
        summary=f"Published {rule_set} as version {number} ({when})"
        + (f": {note}" if note else ""),
        before=before, after={**model_values(rule_set), "version": number}, user=user,
    )  # fmt: skip
    return version


def _source() -> str:
    from editorial.audit import current_actor

    return current_actor().source


@transaction.atomic
def ruleset_rollback(
    *,
    version: RuleSetVersion,
    user: Any = None,
    now: datetime | None = None,
    as_standing: bool = False,
) -> RuleSetVersion:
    """Restore a set's rules to an earlier published version and publish that again (with its
    window, unless ``as_standing``)."""
    _require_publisher(user)
    rule_set = RuleSet.objects.select_for_update().get(pk=version.rule_set_id)
    rule_set.rules.all().delete()
    for row in version.rules:
        Rule.objects.create(rule_set=rule_set, **{k: row.get(k) for k in RULE_FIELDS if k in row})
    header = version.header or {}
    RuleSet.objects.filter(pk=rule_set.pk).update(
        starts_at=None if as_standing else header.get("starts_at"),
        ends_at=None if as_standing else header.get("ends_at"),
        replaces_standing=bool(header.get("replaces_standing", False)),
    )
    rule_set.refresh_from_db()
    audit_record(
        action="rollback", obj=rule_set,
        summary=f"Rolled {rule_set} back to version {version.number}",
        before=None, after={"rules": version.rules}, user=user,
    )  # fmt: skip
    return ruleset_publish(
        rule_set=rule_set, user=user, now=now, note=f"Rollback to version {version.number}"
    )


@transaction.atomic
def ruleset_copy(*, rule_set: RuleSet, name: str = "") -> RuleSet:
    """A new draft with the same rules (how the live set is changed safely)."""
    base = name or f"{rule_set.name} (draft)"
    candidate, n = base, 2
    while RuleSet.objects.filter(name=candidate).exists():
        candidate, n = f"{base} {n}", n + 1
    copy = RuleSet.objects.create(
        name=candidate[:100], description=rule_set.description, status=RuleSetStatus.DRAFT,
        scope=rule_set.scope, scope_value=rule_set.scope_value,
    )  # fmt: skip
    for rule in rule_set.rules.order_by("pk"):
        Rule.objects.create(rule_set=copy, **{k: getattr(rule, k) for k in RULE_FIELDS})
    return copy


def section_mix_sample_take(*, min_interval_seconds: float = 3600) -> bool:
    """Record the feeds' section mix for the dashboard chart, at most once per interval."""
    from editorial.models import SectionMixSample
    from editorial.selectors import section_mix

    last = SectionMixSample.objects.order_by("-taken_at").first()
    if last and (timezone.now() - last.taken_at).total_seconds() < min_interval_seconds:
        return False
    feeds, mix = section_mix()
    if not feeds:
        return False
    SectionMixSample.objects.create(feeds=feeds, mix=mix)
    return True


def ruleset_previous(*, scope: str = Scope.SITE, value: str = "") -> RuleSetVersion | None:
    """The latest version of the set that stood in this scope before the standing one (what
    "back to the previous set" restores); None when there was none."""
    standing = RuleSet.objects.standing().in_scope(scope, value).first()
    return (
        RuleSetVersion.objects.filter(rule_set__scope=scope, rule_set__scope_value=value)
        .exclude(rule_set=standing)
        .exclude(rule_set__status=RuleSetStatus.SCHEDULED)
        .order_by("-published_at", "-pk")
        .first()
    )


@transaction.atomic
def ruleset_restore_previous(
    *, user: Any = None, scope: str = Scope.SITE, value: str = "", now: datetime | None = None
) -> RuleSetVersion:
    """One step back: publish again the set that stood before the standing one, as it was."""
    _require_publisher(user)
    previous = ruleset_previous(scope=scope, value=value)
    if previous is None:
        raise ValidationError("No earlier rule set was published here: nothing to go back to.")
    # as the standing set: with its old window it would be scheduled again
    return ruleset_rollback(version=previous, user=user, now=now, as_standing=True)


@transaction.atomic
def rules_off(*, user: Any = None, scope: str = Scope.SITE, value: str = "") -> RuleSet | None:
    """No rules in this scope: the standing set retires (scheduled sets still go live on their
    schedule). Returns the set that stood, to say so."""
    from editorial.signals import rules_changed_commit

    _require_publisher(user)
    _lock()
    standing = RuleSet.objects.standing().in_scope(scope, value).first()
    live = RuleSet.objects.live().in_scope(scope, value).first()
    if standing is not None:
        RuleSet.objects.filter(pk=standing.pk).update(status=RuleSetStatus.RETIRED)
        audit_record(action="switch", obj=standing, user=user,
                     summary=f"Rules switched off: {standing} retired")  # fmt: skip
    if live is not None and live.status != RuleSetStatus.SCHEDULED:
        RuleSet.objects.filter(pk=live.pk).update(is_live=False)
        rules_changed_commit(rebuild_feeds=scope == Scope.SITE)
    return standing
