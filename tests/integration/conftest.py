"""Integration fixtures: the test database's vector index kept as a real one would be."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection


@pytest.fixture(autouse=True, scope="module")
def _vector_index_vacuumed(django_db_setup: None, django_db_blocker: Any) -> None:
    """Vacuum the articles once per test module.

    Tests roll back the articles they insert, but their vectors stay in the HNSW index as dead
    entries until a vacuum, and many tests use the same few vectors. Over a whole run those
    dead duplicates crowd the graph until an approximate nearest-neighbour query (a reader's
    nearest articles, related articles) walks past its scan limit and answers nothing; in
    production autovacuum keeps the index clean.
    """
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute("VACUUM newsrec_article")
