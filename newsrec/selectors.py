"""Reads: related articles and catalogue listings, shared by templates and the API."""

from __future__ import annotations

from django.db import connection, transaction
from django.db.models import QuerySet
from pgvector.django import CosineDistance

from newsrec.conf import newsrec_settings
from newsrec.models import Article


def article_list(*, section: str | None = None) -> QuerySet[Article]:
    """Live articles, newest first, optionally in one section."""
    qs = Article.objects.published().defer("body", "embedding")
    if section:
        qs = qs.filter(section=section)
    return qs.order_by("-published_at", "-id")


def article_related(*, article: Article, limit: int | None = None) -> list[Article]:
    """Nearest live neighbours of ``article`` by cosine distance over the HNSW index.

    pgvector's iterative index scan keeps returning neighbours until ``limit`` rows pass the
    filters (published, not embargoed, not retracted), so filtering never starves the result.
    """
    if article.embedding is None:
        return []
    limit = limit or int(newsrec_settings.RELATED_LIMIT)
    qs = (
        Article.objects.published()
        .exclude(pk=article.pk)
        .filter(embedding__isnull=False)
        .defer("body", "embedding")
        .annotate(distance=CosineDistance("embedding", article.embedding))
        .order_by("distance")[:limit]
    )
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL hnsw.ef_search = %s", [int(newsrec_settings.HNSW_EF_SEARCH)])
            cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
        return list(qs)


def section_names() -> list[str]:
    """Sections that have live articles, alphabetically."""
    return sorted(
        s for s in Article.objects.published().values_list("section", flat=True).distinct() if s
    )


def article_with_embedding(*, pk: int) -> Article | None:
    return Article.objects.only("id", "embedding").filter(pk=pk).first()
