"""Celery tasks of the editors' app: the scheduled switch of the live rule set (beat)."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from editorial import services
from editorial.audit import audit_actor
from editorial.models import AuditSource


@shared_task(acks_late=True, ignore_result=True, autoretry_for=(OperationalError,), max_retries=3)
def rulesets_switch_due() -> str:
    """Make the set due now live (idempotent: nothing happens when it already is)."""
    with audit_actor(source=AuditSource.SCHEDULE):
        live = services.ruleset_switch()
    services.section_mix_sample_take()
    return str(live or "")
