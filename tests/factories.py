"""factory_boy factories for every model used in tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

import factory
from django.utils import timezone

from newsrec.models import Article, ArticleStatus, Reader


class ArticleFactory(factory.django.DjangoModelFactory[Article]):
    class Meta:
        model = Article

    external_id = factory.Sequence(lambda n: f"test-{n}")
    title = factory.Sequence(lambda n: f"Test article {n}")
    lead = "A short lead."
    section = "News"
    status = ArticleStatus.PUBLISHED
    published_at = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=1))
    content_hash = factory.Sequence(lambda n: f"{n:064d}")


def make_article(**fields: Any) -> Article:
    """Typed shortcut for ``ArticleFactory(**fields)``."""
    return cast(Article, ArticleFactory(**fields))


class ReaderFactory(factory.django.DjangoModelFactory[Reader]):
    class Meta:
        model = Reader

    client_id = factory.Sequence(lambda n: f"api:test-reader-{n}")
