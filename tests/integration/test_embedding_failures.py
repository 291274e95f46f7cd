"""An embedding failure marks the article, is retried with backoff, and never blocks others."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from newsrec import services, tasks
from newsrec.embedders.base import Embedder
from newsrec.models import Article, EmbeddingStatus
from tests.factories import make_article

pytestmark = pytest.mark.django_db


class ScriptedEmbedder(Embedder):
    """Returns a good unit vector, except NaN / wrong width for titles that ask for it."""

    dimensions = 384  # type: ignore[assignment]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if any("CRASH" in t for t in texts):
            raise RuntimeError("model exploded")
        rows = []
        for t in texts:
            v = np.ones(384, dtype=np.float32) / np.sqrt(384)
            if "NAN" in t:
                v[3] = np.nan
            rows.append(v)
        out = np.stack(rows)
        if any("WIDE" in t for t in texts):
            return np.ones((len(texts), 385), dtype=np.float32)
        return out


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "get_embedder", lambda: ScriptedEmbedder())


def test_nan_vector_marks_only_that_article(scripted: None) -> None:
    good, bad = make_article(title="fine"), make_article(title="NAN here")
    result = services.articles_embed(article_ids=[good.pk, bad.pk])
    assert result == {"embedded": 1, "failed": 1, "skipped": 0}
    good.refresh_from_db()
    bad.refresh_from_db()
    assert good.embedding_status == EmbeddingStatus.READY
    assert good.embedding is not None
    assert bad.embedding_status == EmbeddingStatus.FAILED
    assert "NaN" in bad.embedding_error
    assert bad.embedding_attempts == 1
    assert Article.objects.published().filter(pk=bad.pk).exists()  # still published


def test_wrong_dimension_is_rejected(scripted: None) -> None:
    article = make_article(title="WIDE")
    services.articles_embed(article_ids=[article.pk])
    article.refresh_from_db()
    assert article.embedding_status == EmbeddingStatus.FAILED
    assert "wrong dimension" in article.embedding_error


def test_model_error_marks_batch_and_task_retries_with_backoff(
    scripted: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    article = make_article(title="CRASH")
    retries: list[int] = []

    class Retry(Exception):
        pass

    def fake_retry(*, exc: Exception, countdown: int) -> Exception:
        retries.append(countdown)
        return Retry()

    monkeypatch.setattr(tasks.embed_articles, "retry", fake_retry)
    with pytest.raises(Retry):
        tasks.embed_articles.run([article.pk])
    article.refresh_from_db()
    assert article.embedding_status == EmbeddingStatus.FAILED
    assert "model exploded" in article.embedding_error
    assert retries == [5]


def test_already_embedded_articles_are_skipped(scripted: None) -> None:
    article = make_article(title="fine")
    services.articles_embed(article_ids=[article.pk])
    assert services.articles_embed(article_ids=[article.pk]) == {
        "embedded": 0,
        "failed": 0,
        "skipped": 1,
    }


def test_embed_missing_sweep_skips_exhausted_failures(monkeypatch: pytest.MonkeyPatch) -> None:
    queued: list[int] = []
    monkeypatch.setattr(
        services, "embed_enqueue", lambda *, article_ids: queued.extend(article_ids)
    )
    pending = make_article()
    retryable = make_article(embedding_status=EmbeddingStatus.FAILED, embedding_attempts=1)
    make_article(embedding_status=EmbeddingStatus.FAILED, embedding_attempts=5)
    make_article(embedding_status=EmbeddingStatus.READY)
    assert tasks.embed_missing.run() == 2
    assert sorted(queued) == sorted([pending.pk, retryable.pk])
