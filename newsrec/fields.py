"""Model fields of our own."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models.fields.json import JSONExact
from pgvector.django import VectorField
from psycopg.types.json import Json

from newsrec.conf import newsrec_settings


class JSONTextField(models.JSONField):
    """JSON stored as written: PostgreSQL ``json`` rather than ``jsonb``.

    For documents that are written often, read whole and never searched: a feed's items are
    rewritten for every reader on every rebuild, and converting them into ``jsonb`` (a numeric
    per number) cost the database more than the rest of the write. ``json`` only checks the
    syntax. In Python the field behaves like a ``JSONField``; in SQL, use the ``json_*``
    functions (or cast to ``jsonb``). Of the lookups, ``exact`` is supported (it compares as
    ``jsonb``); containment and key lookups are not.
    """

    def db_type(self, connection: Any) -> str:
        return "json"

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if not prepared:
            value = self.get_prep_value(value)
        if value is None:
            return None
        return Json(value, dumps=self.encoder().encode if self.encoder else None)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        # psycopg decodes ``json`` itself (Django only turns that off for ``jsonb``)
        if not isinstance(value, str):
            return value
        return super().from_db_value(value, expression, connection)


@JSONTextField.register_lookup
class JSONTextExact(JSONExact):
    """``json`` has no equality operator: both sides are compared as ``jsonb``."""

    def process_lhs(self, compiler: Any, connection: Any, lhs: Any = None) -> Any:
        sql, params = super().process_lhs(compiler, connection, lhs)
        return f"({sql})::jsonb", params

    def process_rhs(self, compiler: Any, connection: Any) -> Any:
        sql, params = super().process_rhs(compiler, connection)
        return f"({sql})::jsonb", params


class EmbeddingField(VectorField):
    """A pgvector column as wide as ``NEWSREC["EMBEDDING_DIMENSIONS"]``.

    The width is read from the setting whenever the column type is needed (creating the table,
    system checks), and left out of :meth:`deconstruct`, so migrations never record it: a host
    project with another width gets its columns made at that width by the initial migrations,
    and ``makemigrations`` never writes a migration into the installed package. Changing the
    width of existing columns is ``manage.py newsrec_embedding_width`` (system checks
    newsrec.E005/E006 report a column that differs from the setting or the model).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if kwargs.pop("dimensions", None) is not None:
            raise TypeError(
                "EmbeddingField takes its width from NEWSREC['EMBEDDING_DIMENSIONS'], "
                "not from a dimensions argument."
            )
        super().__init__(*args, **kwargs)

    @property  # type: ignore[override]
    def dimensions(self) -> int:
        return int(newsrec_settings.EMBEDDING_DIMENSIONS)

    @dimensions.setter
    def dimensions(self, value: int | None) -> None:
        """VectorField.__init__ assigns None; the width always comes from the setting."""

    def deconstruct(self) -> tuple[Any, Any, Any, Any]:
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("dimensions", None)
        return name, path, args, kwargs
