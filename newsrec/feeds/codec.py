"""How feeds are stored: keys, item JSON, context habits, and pgvector values in binary."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from json.encoder import encode_basestring_ascii as _string
from typing import Any

import numpy as np
import psycopg
from django.db import connection

from newsrec.engine.pool import Pool
from newsrec.engine.ranker import BREAKDOWN_KEYS
from newsrec.engine.types import FeedItem, ItemColumns, ItemRow

DEFAULT_FEED_KEY = "default"  # the non-personalised feed: new visitors and opted-out readers


def feed_key(reader_id: int | None) -> str:
    return DEFAULT_FEED_KEY if reader_id is None else f"reader:{reader_id}"


STYLE_KEY = "_style"  # a feed's context_habits also carry the reader's style under this key


def habits_decode(raw: dict[str, Any]) -> dict[tuple[str, str], dict[str, float]]:
    return {
        (device, daypart): {k: float(v) for k, v in sections.items()}
        for device, by_part in (raw or {}).items()
        if device != STYLE_KEY
        for daypart, sections in (by_part or {}).items()
    }


def rows_binary(sql: str, params: Any) -> list[tuple[Any, ...]]:
    """The rows of ``sql`` in PostgreSQL's binary format: a vector is then a byte copy (see
    :func:`vector_of`) instead of 384 numbers of text to parse. Django's cursors bind
    client-side, which rules out binary results, so this asks through a plain psycopg one."""
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, binary=True)
        return cursor.fetchall()


def vector_of(data: bytes) -> np.ndarray:
    """A pgvector value in binary: int16 dimensions, int16 unused, big-endian float4s."""
    return np.frombuffer(data, dtype=">f4", offset=4).astype(np.float32)


def json_value(value: Any) -> Any:
    """jsonb from a raw cursor: Django's psycopg setup returns it as text."""
    return json.loads(value) if isinstance(value, str | bytes) else (value or {})


def items_json(items: Sequence[FeedItem], pool: Pool, strings: dict[str, str] | None = None) -> str:
    """A feed's items as stored JSON (title and publication time from the pool).

    Written with format strings rather than dicts through json.dumps: a chunk stores thousands
    of items with a dozen numbers each, and this is several times faster. Each pool row's
    article id, title and publication time are written once per pool (:func:`_rows_json`); the
    ranker's :class:`ItemColumns` are read column-wise, without an item object each. Scores
    keep 6 decimals, breakdown values 4 significant digits; the other strings go through
    json's own escaping, memoised in ``strings`` (a chunk's feeds share most sections and
    reasons). A breakdown of the usual width is formatted by the item's own format string, in
    the same operation as the rest of the item.
    """
    index, heads = pool.index, _rows_json(pool)
    memo: dict[str, str] = {} if strings is None else strings
    if isinstance(items, ItemColumns):
        rows: Iterable[ItemRow] = items.rows()
    else:
        rows = (
            (i.article_id, i.score, i.source, i.reason, i.section, i.seed_id,
             tuple(i.breakdown.values()))
            for i in items
        )  # fmt: skip
    parts = []
    for article_id, score, source, reason, section, seed_id, values in rows:
        head = (
            heads[index[article_id]],
            memo.get(section) or memo.setdefault(section, _string(section)),
            score,
            memo.get(source) or memo.setdefault(source, _string(source)),
            memo.get(reason) or memo.setdefault(reason, _string(reason)),
            "null" if seed_id is None else int(seed_id),
        )
        if len(values) == _WIDTH:
            parts.append(_ITEM_FIXED % (*head, *values))
        else:
            parts.append(_ITEM % (*head, ",".join(map(_NUMBER.__mod__, values))))
    return "[" + ",".join(parts) + "]"


_ITEM = '{%s"section":%s,"score":%.6f,"source":%s,"reason":%s,"seed_id":%s,"breakdown":[%s]}'
_NUMBER = "%.4g"
_WIDTH = len(BREAKDOWN_KEYS)  # the engine's breakdowns
_ITEM_FIXED = _ITEM.replace("%s]}", ",".join([_NUMBER] * _WIDTH) + "]}")


def _rows_json(pool: Pool) -> list[str]:
    """Per pool row, the start of its stored items: article id, title and publication time
    (``repr`` of the epoch seconds). Made once per pool, which every chunk shares."""
    return pool.derived(
        "rows_json",
        lambda: [
            f'"article_id":{article_id},"title":{_string(title)},"published_at":{published!r},'
            for article_id, title, published in zip(
                pool.ids.tolist(), pool.titles, pool.published_at.tolist(), strict=True
            )
        ],
    )


def breakdown_of(item: dict[str, Any]) -> dict[str, float]:
    """A stored item's score breakdown by name (stored as a bare list, in BREAKDOWN_KEYS order,
    to keep feed rows small: they are written for every reader on every rebuild)."""
    return dict(zip(BREAKDOWN_KEYS, item.get("breakdown") or (), strict=False))


JSON_ENCODER = json.JSONEncoder(check_circular=False, separators=(",", ":"))
