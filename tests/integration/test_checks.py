"""System checks: pgvector missing (against the plain PostgreSQL 15 server), model problems."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import override_settings

from newsrec.checks import check_embedding_model
from newsrec.conf import newsrec_settings

ROOT = Path(__file__).resolve().parents[2]
PLAIN_POSTGRES = os.environ.get("PLAIN_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def _plain_postgres_answers() -> bool:
    import psycopg

    try:
        with psycopg.connect(
            PLAIN_POSTGRES.replace("postgres://", "postgresql://"), connect_timeout=2
        ) as conn:
            row = conn.execute(
                "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'"
            ).fetchone()
            return row is None
    except psycopg.Error:
        return False


@pytest.mark.skipif(not _plain_postgres_answers(), reason="no PostgreSQL without pgvector on :5432")
def test_migrate_against_postgres_without_pgvector_gives_a_clear_error() -> None:
    env = {
        **os.environ,
        "DATABASE_URL": PLAIN_POSTGRES,
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode != 0
    assert "newsrec.E001" in result.stderr
    assert "no pgvector extension" in result.stderr
    assert "Traceback" not in result.stderr


def test_default_model_passes() -> None:
    assert check_embedding_model() == []


def test_unloadable_model_is_reported(tmp_path: Path) -> None:
    with override_settings(NEWSREC={"EMBEDDING_MODEL": "someone/not-in-the-local-cache"}):
        ids = [e.id for e in check_embedding_model()]
    newsrec_settings.reload()
    assert ids == ["newsrec.E003"]


def test_model_dimension_mismatch_is_reported(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "modules.json").write_text('[{"path": "1_Pooling"}]')
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text('{"word_embedding_dimension": 768}')
    with override_settings(NEWSREC={"EMBEDDING_MODEL": str(tmp_path)}):
        errors = check_embedding_model()
    assert [e.id for e in errors] == ["newsrec.E002"]
    assert "768" in errors[0].msg


def test_configured_dimension_mismatch_is_reported() -> None:
    with override_settings(NEWSREC={"EMBEDDING_DIMENSIONS": 768}):
        assert [e.id for e in check_embedding_model()] == ["newsrec.E002"]


def _model_dir(tmp_path: Path, width: int) -> Path:
    """A sentence-transformers folder whose files say it outputs ``width`` dimensions."""
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "modules.json").write_text('[{"path": "1_Pooling"}]')
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text(f'{{"word_embedding_dimension": {width}}}')
    return tmp_path


@pytest.mark.parametrize("value", ["384", 0, 4096, None])
def test_unusable_configured_dimension_is_reported(value: object) -> None:
    with override_settings(NEWSREC={"EMBEDDING_DIMENSIONS": value}):
        errors = check_embedding_model()
    assert [e.id for e in errors] == ["newsrec.E002"]
    assert "integer from 1 to 2000" in errors[0].msg


@pytest.mark.django_db
def test_vector_columns_of_the_configured_width_pass() -> None:
    from newsrec.checks import check_vector_columns

    assert check_vector_columns(databases=["default"]) == []


@pytest.mark.django_db
def test_column_narrower_than_the_setting_is_reported() -> None:
    """The test database's columns are 384 wide; a setting of 768 no longer matches them."""
    from newsrec.checks import check_vector_columns

    with override_settings(NEWSREC={"EMBEDDING_DIMENSIONS": 768}):
        errors = check_vector_columns(databases=["default"])
    assert [e.id for e in errors] == ["newsrec.E005", "newsrec.E005"]
    assert "newsrec_article.embedding" in errors[0].msg
    assert "has 384 dimensions but NEWSREC['EMBEDDING_DIMENSIONS'] is 768" in errors[0].msg
    assert "newsrec_readerprofile.interest_vector" in errors[1].msg
    assert "newsrec_embedding_width --dimensions 768 --yes" in (errors[0].hint or "")


@pytest.mark.django_db
def test_column_altered_behind_the_models_back_is_reported() -> None:
    from django.db import connection

    from newsrec.checks import check_vector_columns

    with connection.cursor() as cursor:  # rolled back with the test
        cursor.execute("DROP INDEX newsrec_art_embedding_hnsw")
        cursor.execute(
            "ALTER TABLE newsrec_article ALTER COLUMN embedding TYPE vector(8) USING NULL"
        )
    errors = check_vector_columns(databases=["default"])
    assert [e.id for e in errors] == ["newsrec.E005"]
    assert "newsrec_article.embedding in database 'default' has 8 dimensions" in errors[0].msg


@pytest.mark.django_db
def test_column_narrower_than_the_model_is_reported(tmp_path: Path) -> None:
    from newsrec.checks import check_vector_columns

    model = _model_dir(tmp_path, 768)
    with override_settings(NEWSREC={"EMBEDDING_MODEL": str(model), "EMBEDDING_DIMENSIONS": 16}):
        errors = check_vector_columns(databases=["default"])
    assert sorted({str(e.id) for e in errors}) == ["newsrec.E005", "newsrec.E006"]
    e006 = next(e for e in errors if e.id == "newsrec.E006")
    assert "The embedding model outputs 768 dimensions" in e006.msg
    assert "has 384" in e006.msg
    assert "--dimensions 768" in (e006.hint or "")
