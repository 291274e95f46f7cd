"""Every rule or rule-set change bumps the rules version (feeds compare against it)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from editorial.models import RulesState


def rules_changed(**kwargs: Any) -> None:
    RulesState.bump()
    from editorial import services

    transaction.on_commit(services.rules_fanout_enqueue)
