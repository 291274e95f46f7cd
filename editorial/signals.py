"""Rule changes: audit every save and delete; bump the rules version only when the live set moves.

Drafts are edited and previewed freely: their changes reach no feed, so they cost no rebuild.
"""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction

from editorial.audit import audit_record, changed_fields, model_values
from editorial.models import Rule, RuleSet, RulesState


def rules_changed_commit(*, rebuild_feeds: bool = True) -> None:
    """Bump the rules version now and queue one fan-out when the transaction commits.

    Sets scoped to a section page, device class or experiment variant apply when feeds are
    read: a change to one bumps the version (readers' ETags change) but rebuilds nothing.
    """
    from editorial import services
    from editorial.compiler import rules_version_publish

    RulesState.bump()
    transaction.on_commit(rules_version_publish)
    if not rebuild_feeds:
        return
    # Several rows saved in one transaction (an admin form with inlines) cost one fan-out.
    if connection.in_atomic_block and any(
        entry[1] is services.rules_fanout_enqueue for entry in connection.run_on_commit
    ):
        return
    transaction.on_commit(services.rules_fanout_enqueue)


def _stored(sender: type[Rule] | type[RuleSet], pk: Any) -> Rule | RuleSet | None:
    return sender.objects.filter(pk=pk).first() if pk is not None else None


def before_save(sender: type[Rule] | type[RuleSet], instance: Any, **kwargs: Any) -> None:
    if kwargs.get("raw"):
        return
    stored = _stored(sender, instance.pk)
    instance._audit_before = model_values(stored) if stored is not None else None
    instance._was_live = bool(getattr(stored, "is_live", False))


def _live_set(rule: Rule) -> RuleSet | None:
    return RuleSet.objects.filter(pk=rule.rule_set_id, is_live=True).first()


def after_save(
    sender: type[Rule] | type[RuleSet], instance: Any, created: bool, **kwargs: Any
) -> None:
    if kwargs.get("raw"):
        return
    before = getattr(instance, "_audit_before", None)
    after = model_values(instance)
    changed = changed_fields(before, after)
    if created or changed:
        label = "rule" if isinstance(instance, Rule) else "rule set"
        what = f"{label} {instance}" + ("" if created else f": {', '.join(changed)}")
        audit_record(
            action="create" if created else "update",
            obj=instance,
            summary=f"{'Created' if created else 'Changed'} {what}",
            before=before,
            after=after,
        )
    if isinstance(instance, Rule):
        rule_set = _live_set(instance)
    else:
        live = instance.is_live or getattr(instance, "_was_live", False)
        rule_set = instance if live else None
    if rule_set is not None and (created or changed or isinstance(instance, RuleSet)):
        rules_changed_commit(rebuild_feeds=rule_set.is_site_wide)


def after_delete(sender: type[Rule] | type[RuleSet], instance: Any, **kwargs: Any) -> None:
    label = "rule" if isinstance(instance, Rule) else "rule set"
    audit_record(
        action="delete", obj=instance, summary=f"Deleted {label} {instance}",
        before=model_values(instance),
    )  # fmt: skip
    rule_set = _live_set(instance) if isinstance(instance, Rule) else instance
    if rule_set is not None and rule_set.is_live:
        rules_changed_commit(rebuild_feeds=rule_set.is_site_wide)
