"""Celery tasks: take ids, call a service; retries and failure handling live here only."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from newsrec import services
from newsrec.conf import newsrec_settings
from newsrec.models import Article, EmbeddingStatus


@shared_task(bind=True, acks_late=True, max_retries=None, ignore_result=True)
def embed_articles(self: Any, article_ids: list[int]) -> dict[str, int]:
    """Embed a batch of articles; a model error retries with exponential backoff (bounded)."""
    max_retries = int(newsrec_settings.EMBEDDING_MAX_RETRIES)
    try:
        return services.articles_embed(article_ids=article_ids)
    except services.EmbeddingBatchError as exc:
        if self.request.retries >= max_retries:
            return {"embedded": 0, "failed": len(article_ids), "skipped": 0}
        raise self.retry(exc=exc, countdown=min(2 ** self.request.retries * 5, 600)) from exc


@shared_task(acks_late=True, ignore_result=True)
def embed_missing() -> int:
    """Periodic sweep: queue articles without an up-to-date vector (failed ones within retry budget)."""
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
