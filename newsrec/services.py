"""Writes: article upserts and embedding. Views, commands and tasks call these, never the ORM."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from django.db import transaction
from django.utils import timezone

from newsrec.conf import newsrec_settings
from newsrec.embedders import get_embedder
from newsrec.ingest import ArticleData, UpsertReport, text_hash, validate_rows
from newsrec.models import Article, EmbeddingStatus

logger = logging.getLogger(__name__)

ARTICLE_DATA_FIELDS = (
    "url", "title", "lead", "body", "section", "tags", "authors", "language",
    "published_at", "updated_at", "status", "embargo_until",
)  # fmt: skip


def _apply(article: Article, data: ArticleData) -> None:
    for name in ARTICLE_DATA_FIELDS:
        value = getattr(data, name)
        setattr(article, name, list(value) if isinstance(value, tuple) else value)
    article.content_hash = data.content_hash
    if article.embedding_text_hash != text_hash(data.embedding_text):
        article.embedding_status = EmbeddingStatus.PENDING
        article.embedding_error = ""
        article.embedding_attempts = 0


def article_upsert_many(
    *, rows: Iterable[Mapping[str, Any]], dry_run: bool = False, start: int = 0
) -> UpsertReport:
    """Validate and upsert a batch by external id; valid rows are stored even if others fail.

    Articles whose embedding text changed are queued for embedding once the transaction commits.
    """
    valid, rejected = validate_rows(rows, start=start)
    report = UpsertReport(rejected=rejected, dry_run=dry_run)
    if not valid:
        return report
    existing = Article.objects.in_bulk([d.external_id for d in valid], field_name="external_id")
    to_create: list[Article] = []
    to_update: list[Article] = []
    was_live: dict[int, bool] = {}
    for data in valid:
        article = existing.get(data.external_id)
        if article is not None:
            was_live[article.pk] = article.is_live
        if article is None:
            article = Article(external_id=data.external_id)
            _apply(article, data)
            to_create.append(article)
        elif article.content_hash != data.content_hash:
            _apply(article, data)
            to_update.append(article)
        else:
            report.unchanged += 1
    report.created, report.updated = len(to_create), len(to_update)
    if dry_run:
        return report
    now = timezone.now()
    with transaction.atomic():
        Article.objects.bulk_create(to_create)
        for article in to_update:
            article.modified = now
        Article.objects.bulk_update(
            to_update,
            [*ARTICLE_DATA_FIELDS, "content_hash", "embedding_status", "embedding_error",
             "embedding_attempts", "modified"],
            batch_size=500,
        )  # fmt: skip
        # Shortest texts first: each embed task then pads its batches to similar lengths.
        pending = [
            a.pk
            for a in sorted((*to_create, *to_update), key=lambda a: len(a.title) + len(a.lead))
            if a.embedding_status == EmbeddingStatus.PENDING
        ]
        if pending:
            transaction.on_commit(lambda: embed_enqueue(article_ids=pending))
        withdrawn = [a.pk for a in to_update if was_live[a.pk] and not a.is_live]
        if withdrawn:
            transaction.on_commit(lambda: _feeds_withdraw(withdrawn))
        if withdrawn or any(
            a.is_live and a.embedding_status == EmbeddingStatus.READY for a in to_update
        ):
            transaction.on_commit(_feeds_refresh_soon)
    return report


def _feeds_withdraw(article_ids: list[int]) -> None:
    from newsrec import feeds

    feeds.articles_withdraw(article_ids=article_ids)


def _feeds_refresh_soon() -> None:
    from newsrec.tasks import feeds_refresh_soon

    feeds_refresh_soon()


def article_delete(*, external_id: str) -> bool:
    """Remove an article mirrored from the CMS; returns whether one existed."""
    ids = list(Article.objects.filter(external_id=external_id).values_list("pk", flat=True))
    deleted, _ = Article.objects.filter(pk__in=ids).delete()
    if ids:
        transaction.on_commit(lambda: _feeds_withdraw(ids))
    return deleted > 0


def embed_enqueue(*, article_ids: Sequence[int]) -> None:
    """Queue embedding tasks of EMBEDDING_TASK_SIZE articles each, in the given order."""
    from newsrec.outbox import send_or_record
    from newsrec.tasks import embed_articles

    size = int(newsrec_settings.EMBEDDING_TASK_SIZE)
    for i in range(0, len(article_ids), size):
        send_or_record(embed_articles, list(article_ids[i : i + size]))


class EmbeddingBatchError(RuntimeError):
    """The embedder failed for a whole batch (model error); the task retries with backoff."""


def articles_embed(*, article_ids: Sequence[int], final_attempt: bool = True) -> dict[str, int]:
    """Embed the given articles whose text has no up-to-date vector; idempotent.

    Rows with a bad vector (NaN, wrong dimension) are marked failed and do not block the rest.
    A model error for the whole batch raises ``EmbeddingBatchError`` after marking the
    articles (so the task can retry); on the final attempt they stay marked "failed".
    """
    articles = list(
        Article.objects.filter(pk__in=article_ids)
        .needing_embedding()
        .only("id", "title", "lead", "section", "embedding_text_hash", "embedding_attempts")
    )
    if not articles:
        return {"embedded": 0, "failed": 0, "skipped": len(article_ids)}
    texts = [_embedding_text(a) for a in articles]
    try:
        vectors = get_embedder().embed(texts)
    except Exception as exc:
        _mark_failed(articles, f"embedder error: {exc!s}"[:1000])
        raise EmbeddingBatchError(str(exc)) from exc
    dims = int(newsrec_settings.EMBEDDING_DIMENSIONS)
    ok: list[Article] = []
    bad: list[tuple[Article, str]] = []
    for article, text, vector in zip(articles, texts, vectors, strict=True):
        reason = _vector_problem(vector, dims)
        if reason:
            bad.append((article, reason))
            continue
        article.embedding = np.asarray(vector, dtype=np.float32)
        article.embedding_text_hash = text_hash(text)
        article.embedding_status = EmbeddingStatus.READY
        article.embedding_error = ""
        ok.append(article)
    with transaction.atomic():
        Article.objects.bulk_update(
            ok, ["embedding", "embedding_text_hash", "embedding_status", "embedding_error"]
        )
        for article, reason in bad:
            _mark_failed([article], reason)
    if bad:
        logger.warning("Embedding rejected for %d article(s): %s", len(bad), bad[0][1])
    return {"embedded": len(ok), "failed": len(bad), "skipped": len(article_ids) - len(articles)}


def _embedding_text(article: Article) -> str:
    from newsrec.ingest import compose_embedding_text

    return compose_embedding_text(title=article.title, lead=article.lead, section=article.section)


def _vector_problem(vector: Any, dims: int) -> str:
    arr = np.asarray(vector, dtype=np.float64)
    if arr.shape != (dims,):
        return f"wrong dimension: got {arr.shape}, expected ({dims},)"
    if not np.all(np.isfinite(arr)):
        return "vector contains NaN or infinite values"
    if math.isclose(float(np.linalg.norm(arr)), 0.0):
        return "vector is all zeros"
    return ""


def _mark_failed(articles: Sequence[Article], reason: str) -> None:
    for article in articles:
        Article.objects.filter(pk=article.pk).update(
            embedding_status=EmbeddingStatus.FAILED,
            embedding_error=reason,
            embedding_attempts=article.embedding_attempts + 1,
        )
