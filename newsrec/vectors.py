"""The width of the vector columns: what the database holds, and changing it.

Every :class:`~newsrec.fields.EmbeddingField` is as wide as ``NEWSREC["EMBEDDING_DIMENSIONS"]``
in the models, but a column already in the database keeps the width it was made with. Stored
vectors cannot be converted to another model's width, so a change of width clears them and
marks every article for embedding again (the beat task and ``newsrec_embed --missing`` embed
them with the new model), and clears readers' interest vectors (rebuilt from their events by
``newsrec_rebuild_profiles`` or their next events).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps
from django.db import connections, models, transaction

from newsrec.fields import EmbeddingField

WIDTH_SQL = """
SELECT atttypmod FROM pg_attribute
WHERE attrelid = to_regclass(%s) AND attname = %s AND NOT attisdropped
"""


@dataclass(frozen=True)
class VectorColumn:
    """One vector column of a newsrec model, and the indexes built on it."""

    model: type[models.Model]
    field: EmbeddingField

    @property
    def table(self) -> str:
        return str(self.model._meta.db_table)

    @property
    def column(self) -> str:
        return str(self.field.column)

    @property
    def label(self) -> str:
        return f"{self.table}.{self.column}"

    @property
    def indexes(self) -> list[models.Index]:
        return [i for i in self.model._meta.indexes if self.field.name in (i.fields or [])]


@dataclass(frozen=True)
class WidthChange:
    """What a change of width does (before it is made) or did."""

    dimensions: int
    widths: dict[str, int | None]  # column label -> width in the database (None: no column)
    vectors_cleared: dict[str, int]  # column label -> stored vectors cleared
    articles_marked: int  # articles set back to embedding_status "pending"
    indexes: list[str]  # dropped and made again

    @property
    def needed(self) -> bool:
        return any(width != self.dimensions for width in self.widths.values())


def vector_columns() -> list[VectorColumn]:
    """Every vector column of newsrec's models (the articles' embedding, the readers' interest)."""
    return [
        VectorColumn(model, field)
        for model in apps.get_app_config("newsrec").get_models()
        for field in model._meta.local_fields
        if isinstance(field, EmbeddingField)
    ]


def vector_column_widths(*, using: str = "default") -> dict[str, int | None]:
    """The width of each vector column as the database has it (pgvector keeps it in
    ``atttypmod``; -1 for an unconstrained ``vector``), None where the table is not there."""
    connection = connections[using]
    widths: dict[str, int | None] = {}
    with connection.cursor() as cursor:
        for column in vector_columns():
            cursor.execute(WIDTH_SQL, [connection.ops.quote_name(column.table), column.column])
            row = cursor.fetchone()
            widths[column.label] = None if row is None else int(row[0])
    return widths


def _width_change(*, dimensions: int, using: str) -> WidthChange:
    from newsrec.models import Article

    columns = vector_columns()
    return WidthChange(
        dimensions=dimensions,
        widths=vector_column_widths(using=using),
        vectors_cleared={
            c.label: c.model._default_manager.using(using)
            .filter(**{f"{c.field.name}__isnull": False})
            .count()
            for c in columns
        },
        articles_marked=Article.objects.using(using).count(),
        indexes=[str(i.name) for c in columns for i in c.indexes],
    )


def vector_width_plan(*, dimensions: int, using: str = "default") -> WidthChange:
    """What :func:`vector_width_change` would do now; changes nothing."""
    return _width_change(dimensions=dimensions, using=using)


def vector_width_change(*, dimensions: int, using: str = "default") -> WidthChange:
    """Make every vector column ``dimensions`` wide, in one transaction.

    The tables are locked first (readers of them wait until the commit), stored vectors are
    cleared, every article is marked for embedding, the columns' indexes are dropped, the
    columns altered and the indexes made again (on empty columns: instant; they fill as the
    articles are embedded). The article update advances the catalogue change counter, so
    workers reload their pools.
    """
    from newsrec.models import Article, EmbeddingStatus

    if not 1 <= dimensions <= 16_000:
        raise ValueError(f"A pgvector column holds 1 to 16,000 dimensions, not {dimensions}.")
    connection = connections[using]
    columns = vector_columns()
    quote = connection.ops.quote_name
    with transaction.atomic(using=using), connection.schema_editor(atomic=False) as editor:
        # ALTER TABLE refuses a table with deferred foreign-key checks still pending (rows
        # written earlier in an enclosing transaction): run them now.
        editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        tables = ", ".join(sorted({quote(c.table) for c in columns}))
        editor.execute(f"LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE")
        change = _width_change(dimensions=dimensions, using=using)
        Article.objects.using(using).update(
            embedding=None,
            embedding_status=EmbeddingStatus.PENDING,
            embedding_text_hash="",
            embedding_error="",
            embedding_attempts=0,
        )
        for column in columns:
            for index in column.indexes:
                editor.remove_index(column.model, index)
            editor.execute(
                f"ALTER TABLE {quote(column.table)} "
                f"ALTER COLUMN {quote(column.column)} TYPE vector({int(dimensions)}) "
                "USING NULL"
            )
            for index in column.indexes:
                editor.add_index(column.model, index)
        editor.execute("SET CONSTRAINTS ALL DEFERRED")  # back to Django's foreign keys' default
    return change
