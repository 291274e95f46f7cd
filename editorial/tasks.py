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


@shared_task(acks_late=True, ignore_result=True, autoretry_for=(OperationalError,), max_retries=3)
def analytics_rollup_recent() -> int:
    """Every few minutes: the last hours' events into the hourly analytics rows (idempotent)."""
    from editorial.analytics import analytics_rollup_recent as rollup

    return rollup()


@shared_task(acks_late=True, ignore_result=True, autoretry_for=(OperationalError,), max_retries=3)
def analytics_rollup_window() -> int:
    """Daily: redo every hour events may still arrive for (EVENTS_MAX_AGE_DAYS), so late and
    purged events are reflected."""
    from editorial.analytics import analytics_rollup_recent as rollup
    from newsrec.conf import newsrec_settings

    return rollup(hours=int(24 * float(newsrec_settings.EVENTS_MAX_AGE_DAYS)) + 1)
