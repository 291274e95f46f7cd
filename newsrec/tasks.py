"""Celery tasks: take ids, call a service; retries and failure handling live here only."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.db import InterfaceError, OperationalError

from newsrec import feeds, services
from newsrec.conf import newsrec_settings
from newsrec.models import Article, EmbeddingStatus, Reader

logger = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, max_retries=None, ignore_result=True)
def embed_articles(self: Any, article_ids: list[int]) -> dict[str, int]:
    """Embed a batch of articles; a model error retries with exponential backoff (bounded)."""
    max_retries = int(newsrec_settings.EMBEDDING_MAX_RETRIES)
    try:
        result = services.articles_embed(article_ids=article_ids)
    except services.EmbeddingBatchError as exc:
        if self.request.retries >= max_retries:
            return {"embedded": 0, "failed": len(article_ids), "skipped": 0}
        raise self.retry(exc=exc, countdown=min(2**self.request.retries * 5, 600)) from exc
    if result["embedded"]:
        feeds_refresh_soon()  # new or changed articles enter the live pool of every feed
    return result


@shared_task(acks_late=True, ignore_result=True)
def embed_missing() -> int:
    """Periodic sweep: queue articles lacking an up-to-date vector (failures within budget)."""
    ids = list(
        Article.objects.needing_embedding()
        .exclude(
            embedding_status=EmbeddingStatus.FAILED,
            embedding_attempts__gte=int(newsrec_settings.EMBEDDING_MAX_RETRIES),
        )
        .values_list("pk", flat=True)[:10_000]
    )
    services.embed_enqueue(article_ids=ids)
    return len(ids)


@shared_task(acks_late=True, ignore_result=True, autoretry_for=(OperationalError,), max_retries=3)
def profile_update(reader_public_id: str) -> bool:
    """Debounced profile rebuild; a reader erased since it was queued is simply skipped."""
    from newsrec.profiles import profile_pending_clear, profile_rebuild

    # Clear first: events stored while this runs queue a fresh update instead of being missed.
    profile_pending_clear(public_id=reader_public_id)
    reader_id = (
        Reader.objects.filter(public_id=reader_public_id).values_list("pk", flat=True).first()
    )
    if reader_id is None:
        return False
    rebuilt = profile_rebuild(reader_id=reader_id) is not None
    feeds.feeds_rebuild(reader_ids=[reader_id])  # hides and reads count at once, profile or not
    return rebuilt


@shared_task(acks_late=True, ignore_result=True)
def events_purge_expired() -> int:
    """Periodic: delete events older than NEWSREC['EVENT_RETENTION_DAYS'] and refresh profiles."""
    from newsrec.readers import events_purge_expired as purge

    return purge()


# --- Feeds ---------------------------------------------------------------------------------

FANOUT_LOCK = "newsrec:feeds:fanout-pending"
# A lost connection or a database restart: retried with backoff (5 s, 10 s, 20 s, ... 2 min).
DATABASE_RETRY: dict[str, Any] = {
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": 5,
    "retry_backoff_max": 120,
    "max_retries": 6,
}


@shared_task(acks_late=True, ignore_result=True, **DATABASE_RETRY)
def feeds_rebuild_readers(
    reader_ids: list[int], run_id: str = "", include_default: bool = False
) -> int:
    """Rebuild a chunk of feeds; a killed worker's chunk is redelivered (acks_late) and redone."""
    stats = feeds.feeds_rebuild(reader_ids=reader_ids, include_default=include_default)
    if run_id:
        feeds.fanout_progress_add(run_id=run_id, done=len(reader_ids))
    return stats.written


@shared_task(acks_late=True, ignore_result=True, **DATABASE_RETRY)
def feeds_rebuild_all() -> str:
    """Fan out the rebuild of every kept feed in chunks, with progress visible to staff."""
    from django.core.cache import cache

    from newsrec.outbox import outbox_drain

    cache.delete(FANOUT_LOCK)
    outbox_drain()  # opportunistic: what the broker missed goes out before this fan-out
    return feeds.fanout_start(enqueue=feeds_rebuild_readers.delay)


@shared_task(acks_late=True, ignore_result=True)
def feeds_fanout_resume() -> int:
    """Periodic: re-queue the chunks of a fan-out that stopped progressing (a worker lost)."""
    return feeds.fanout_resume(enqueue=feeds_rebuild_readers.delay)


@shared_task(acks_late=True, ignore_result=True, **DATABASE_RETRY)
def outbox_drain() -> int:
    """Periodic: send the tasks kept in the outbox while the broker was down."""
    from newsrec.outbox import outbox_drain as drain

    return drain()


@shared_task(acks_late=True, ignore_result=True)
def covisits_refresh() -> int:
    """Periodic: recompute "readers of this also read" from recent reading."""
    return feeds.covisits_refresh()


def feeds_refresh_soon(delay_seconds: int = 30) -> None:
    """Debounced global refresh: many article changes within the delay cost one fan-out."""
    from django.core.cache import cache

    from newsrec.outbox import send_or_record

    if cache.add(FANOUT_LOCK, 1, timeout=delay_seconds * 4):
        send_or_record(feeds_rebuild_all, countdown=delay_seconds)


@shared_task(acks_late=True, ignore_result=True)
def ranker_train() -> str:
    """Periodic: train the learned ranker; it is promoted only if it beats the current one."""
    from newsrec.learning.training import train

    return train(user="celery beat").verdict


@shared_task(acks_late=True, ignore_result=True, **DATABASE_RETRY)
def reader_risks_update() -> int:
    """Periodic: retrain the churn model when due, then store every recent reader's risk band."""
    from newsrec.retention.services import reader_risks_update as update

    return update()


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=None)
def at_risk_webhook_deliver(self: Any, rose_at: str) -> int:
    """Post the readers whose risk rose in the run of ``rose_at`` to the host's webhook; a
    refused or failed delivery is retried with a growing delay, AT_RISK_WEBHOOK["MAX_RETRIES"]
    times, then given up (logged). Batches already taken are not sent again."""
    from datetime import datetime

    from newsrec.retention.webhook import WebhookError, at_risk_webhook_send, webhook_settings

    try:
        return at_risk_webhook_send(rose_at=datetime.fromisoformat(rose_at))
    except WebhookError as exc:
        limit = int(webhook_settings().get("MAX_RETRIES", 5))
        if self.request.retries >= limit:
            logger.error("At-risk webhook of %s given up after %d retries: %s", rose_at, limit, exc)
            return 0
        raise self.retry(exc=exc, countdown=min(3600, 30 * 2**self.request.retries)) from exc
