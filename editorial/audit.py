"""Audit trail of rule changes: who (a context variable set by admin, API or schedule) and what."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.db import models

from editorial.models import AuditEntry, AuditSource, Rule, RuleSet

RULE_FIELDS = (
    "kind", "enabled", "target_field", "target_value", "factor", "slot", "hours",
    "max_per_value", "top_k", "mmr_lambda", "devices", "visitors", "priority", "valid_from",
    "valid_until", "note",
)  # fmt: skip
RULE_SET_FIELDS = (
    "name", "description", "status", "scope", "scope_value", "starts_at", "ends_at",
    "replaces_standing",
)  # fmt: skip


@dataclass(frozen=True)
class Actor:
    """Who is changing rules right now, and through which door."""

    user: Any = None
    source: str = AuditSource.SYSTEM


_actor: ContextVar[Actor] = ContextVar("editorial_audit_actor", default=Actor())  # noqa: B039


@contextlib.contextmanager
def audit_actor(*, user: Any = None, source: str) -> Iterator[None]:
    """Attribute every rule change made inside the block (admin views, API views, beat tasks)."""
    token = _actor.set(Actor(user=user if getattr(user, "pk", None) else None, source=source))
    try:
        yield
    finally:
        _actor.reset(token)


def current_actor() -> Actor:
    return _actor.get()


def _jsonable(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def model_values(obj: models.Model) -> dict[str, Any]:
    """The audited fields of a rule or rule set as JSON-ready values."""
    names = RULE_FIELDS if isinstance(obj, Rule) else RULE_SET_FIELDS
    return {name: _jsonable(getattr(obj, name)) for name in names}


def audit_record(
    *,
    action: str,
    obj: Rule | RuleSet,
    summary: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    user: Any = None,
) -> AuditEntry:
    """Append one entry attributed to ``user`` (default: the current actor's)."""
    actor = current_actor()
    if getattr(user, "pk", None):
        actor = Actor(user=user, source=actor.source)
    rule_set = obj if isinstance(obj, RuleSet) else obj.rule_set
    return AuditEntry.objects.create(
        user=actor.user,
        # USERNAME_FIELD's value: a custom user model may have no "username"
        username=actor.user.get_username()[:150] if actor.user is not None else "",
        source=actor.source,
        action=action,
        object_type="rule set" if isinstance(obj, RuleSet) else "rule",
        object_id=obj.pk,
        rule_set_id=rule_set.pk,
        rule_set_name=rule_set.name,
        summary=summary[:300],
        before=before,
        after=after,
    )


def changed_fields(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[str]:
    before, after = before or {}, after or {}
    return [k for k in after if before.get(k) != after.get(k)]
