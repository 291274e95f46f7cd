"""Celery tasks: take ids, call a service; retries and failure handling live here only."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.db import OperationalError

from newsrec import services
from newsrec.conf import newsrec_settings
from newsrec.models import Article, EmbeddingStatus, Reader


@shared_task(bind=True, acks_late=True, max_retries=None, ignore_result=True)
def embed_articles(self: Any, article_ids: list[int]) -> dict[str, int]:
    """Embed a batch of articles; a model error retries with exponential backoff (bounded)."""
    max_retries = int(newsrec_settings.EMBEDDING_MAX_RETRIES)
    try:
        return services.articles_embed(article_ids=article_ids)
    except services.EmbeddingBatchError as exc:
        if self.request.retries >= max_retries:
            return {"embedded": 0, "failed": len(article_ids), "skipped": 0}
        raise self.retry(exc=exc, countdown=min(2**self.request.retries * 5, 600)) from exc


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
    return profile_rebuild(reader_id=reader_id) is not None


@shared_task(acks_late=True, ignore_result=True)
def events_purge_expired() -> int:
    """Periodic: delete events older than NEWSREC['EVENT_RETENTION_DAYS'] and refresh profiles."""
    from newsrec.readers import events_purge_expired as purge

    return purge()
