"""factory_boy factories for every model used in tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any, cast

import factory
import numpy as np
from django.utils import timezone

from newsrec.conf import newsrec_settings
from newsrec.models import Article, ArticleStatus, Event, EventKind, Reader


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


def topic_vector(seed: int, *, topics: int, base_seed: int = 1000) -> np.ndarray:
    """A unit vector near one of ``topics`` shared directions, as embeddings of a topic are."""
    width = int(newsrec_settings.EMBEDDING_DIMENSIONS)
    base = np.random.default_rng(base_seed + seed % topics).normal(size=width)
    v = (base + 0.8 * np.random.default_rng(seed).normal(size=width)).astype(np.float32)
    return v / np.linalg.norm(v)


def make_catalogue(
    sections: list[str], count: int, *, hours_apart: float = 1.0, with_authors: bool = False
) -> list[Article]:
    """``count`` embedded live articles cycling through ``sections``, newest first."""
    now = timezone.now()
    return [
        make_article(
            title=f"{sections[i % len(sections)]} story {i}",
            section=sections[i % len(sections)],
            authors=[f"Author {i % 7}"] if with_authors else [],
            embedding=topic_vector(i, topics=len(sections)),
            embedding_status="ready",
            published_at=now - timedelta(hours=hours_apart * i + 1),
        )
        for i in range(count)
    ]


def make_reader_who_finished(articles: Sequence[Article], *, seen: bool = False) -> Reader:
    """A reader with one "finish" event per article (newest first), seen now if ``seen``."""
    reader = ReaderFactory.create(last_seen=timezone.now() if seen else None)
    for n, article in enumerate(articles):
        Event.objects.create(
            reader=reader, event_id=f"finish-{n}", kind=EventKind.FINISH, article=article,
            occurred_at=timezone.now() - timedelta(minutes=n), dwell_seconds=120, read_depth=1.0,
        )  # fmt: skip
    return reader
