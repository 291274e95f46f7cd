"""The vector width is NEWSREC["EMBEDDING_DIMENSIONS"]: models, migrations, and changing it."""

from __future__ import annotations

from collections.abc import Sequence
from io import StringIO

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings

from newsrec import services
from newsrec.embedders.base import Embedder
from newsrec.models import Article, EmbeddingStatus, ReaderProfile
from newsrec.vectors import vector_column_widths
from tests.factories import ReaderFactory, make_article

pytestmark = pytest.mark.django_db

WIDTHS_384 = {"newsrec_article.embedding": 384, "newsrec_readerprofile.interest_vector": 384}


@pytest.mark.parametrize("width", [384, 768])
def test_the_models_follow_the_setting_and_makemigrations_finds_nothing(width: int) -> None:
    out = StringIO()
    with override_settings(NEWSREC={"EMBEDDING_DIMENSIONS": width}):
        assert Article._meta.get_field("embedding").db_type(connection) == f"vector({width})"
        field = ReaderProfile._meta.get_field("interest_vector")
        assert field.db_type(connection) == f"vector({width})"
        call_command("makemigrations", "newsrec", check=True, dry_run=True, stdout=out)
        # the initial migrations make the columns at the configured width
        initial = StringIO()
        call_command("sqlmigrate", "newsrec", "0001", stdout=initial)
        profiles = StringIO()
        call_command("sqlmigrate", "newsrec", "0002", stdout=profiles)
    assert "No changes detected" in out.getvalue()
    assert f'"embedding" vector({width}) NULL' in initial.getvalue()
    assert f'"interest_vector" vector({width}) NULL' in profiles.getvalue()


def test_the_test_database_has_the_configured_width() -> None:
    assert vector_column_widths() == WIDTHS_384


class EightWide(Embedder):
    """A model of 8 dimensions."""

    dimensions = 8  # type: ignore[assignment]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return np.ones((len(texts), 8), dtype=np.float32) / np.sqrt(8)


def _hnsw_index_definition() -> str | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'newsrec_art_embedding_hnsw'"
        )
        row = cursor.fetchone()
    return None if row is None else str(row[0])


def test_command_changes_the_width_and_marks_articles_for_embedding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    embedded = make_article(embedding=np.ones(384), embedding_status=EmbeddingStatus.READY)
    failed = make_article(embedding_status=EmbeddingStatus.FAILED, embedding_attempts=5)
    profile = ReaderProfile.objects.create(
        reader=ReaderFactory.create(), interest_vector=np.ones(384), sessions=3
    )
    out = StringIO()
    with override_settings(NEWSREC={"EMBEDDING_DIMENSIONS": 8}):
        with pytest.raises(CommandError, match="run again with --yes"):
            call_command("newsrec_embedding_width", "--dimensions", "8", stdout=out)
        assert "newsrec_article.embedding from vector(384) to vector(8)" in out.getvalue()
        assert "clearing its 1 stored vector(s)" in out.getvalue()
        assert "mark all 2 article(s) for embedding again" in out.getvalue()
        assert vector_column_widths() == WIDTHS_384  # nothing changed without --yes

        out = StringIO()
        call_command("newsrec_embedding_width", "--dimensions", "8", "--yes", stdout=out)
        assert "The vector columns are 8 wide; 2 article(s) wait for embedding." in out.getvalue()
        assert vector_column_widths() == {
            "newsrec_article.embedding": 8,
            "newsrec_readerprofile.interest_vector": 8,
        }
        for article in (embedded, failed):
            article.refresh_from_db()
            assert article.embedding is None
            assert article.embedding_status == EmbeddingStatus.PENDING
            assert article.embedding_attempts == 0
        profile.refresh_from_db()
        assert profile.interest_vector is None
        assert profile.sessions == 3  # the rest of the profile stays
        index = _hnsw_index_definition()
        assert index is not None
        assert "USING hnsw (embedding vector_cosine_ops)" in index

        # the new model's vectors fit; the old width no longer does
        monkeypatch.setattr(services, "get_embedder", lambda: EightWide())
        result = services.articles_embed(article_ids=[embedded.pk, failed.pk])
        assert result == {"embedded": 2, "failed": 0, "skipped": 0}
        embedded.refresh_from_db()
        assert embedded.embedding is not None
        assert len(embedded.embedding) == 8

        out = StringIO()
        call_command("newsrec_embedding_width", "--yes", stdout=out)
        assert "already 8 wide; nothing to do" in out.getvalue()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dimensions", "8", "--yes"], "EMBEDDING_DIMENSIONS'] is 384, not 8: set it"),
        (["--dimensions", "0", "--yes"], "--dimensions must be from 1 to 2000"),
        (["--dimensions", "eight"], "invalid int value: 'eight'"),
    ],
)
def test_command_refuses_bad_input(args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("newsrec_embedding_width", *args, stdout=StringIO())
    assert vector_column_widths() == WIDTHS_384


def test_command_refuses_an_unusable_setting() -> None:
    with (
        override_settings(NEWSREC={"EMBEDDING_DIMENSIONS": "768"}),
        pytest.raises(CommandError, match="must be an integer from 1 to 2000"),
    ):
        call_command("newsrec_embedding_width", "--yes", stdout=StringIO())
