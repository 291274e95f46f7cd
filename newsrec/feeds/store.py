"""Storing feeds: one guarded upsert per chunk that never overwrites a newer feed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from django.db import connection, transaction

from newsrec.engine.pool import Pool
from newsrec.engine.types import FeedResult, ReaderState
from newsrec.feeds.codec import JSON_ENCODER, STYLE_KEY, feed_key, items_json

_UPSERT = """
INSERT INTO newsrec_feed
    (key, reader_id, items, conflicts, context_habits, rules_version, built_at, version)
VALUES {values}
ON CONFLICT (key) DO UPDATE SET
    items = EXCLUDED.items, conflicts = EXCLUDED.conflicts,
    context_habits = EXCLUDED.context_habits,
    rules_version = EXCLUDED.rules_version, built_at = EXCLUDED.built_at,
    version = newsrec_feed.version + 1
WHERE newsrec_feed.rules_version <= EXCLUDED.rules_version
  AND newsrec_feed.built_at <= EXCLUDED.built_at
"""


def feeds_store(*, results: Sequence[tuple[ReaderState | None, FeedResult]], pool: Pool) -> int:
    """Swap in complete new feeds; each row changes in one statement. Returns rows written.

    Readers erased (or opted out) since their state was loaded are left out, never failing the
    others' feeds.
    """
    if not results:
        return 0
    rows: list[tuple[int | None, list[Any]]] = []
    strings: dict[str, str] = {}
    for state, result in results:
        reader_id = None if state is None else int(state.reader_id)
        habits: dict[str, dict[str, dict[str, float]]] = {}
        for (device, daypart), sections in (state.context_habits if state else {}).items():
            habits.setdefault(device, {})[daypart] = dict(sections)
        stored: dict[str, Any] = habits
        if state is not None and state.style:
            stored = {**habits, STYLE_KEY: state.style}
        row = [
            feed_key(reader_id),
            reader_id,
            items_json(result.items, pool, strings),
            JSON_ENCODER.encode(
                [{"kind": str(c.kind), "message": c.message} for c in result.conflicts]
            ),
            JSON_ENCODER.encode(stored),
            result.rules_version,
            datetime.fromtimestamp(result.built_at, tz=UTC),
        ]
        rows.append((reader_id, row))
    # Bound server-side (a plain psycopg cursor, entered once atomic() has connected): Django's
    # cursors would quote a chunk's megabytes of JSON into the SQL text, which costs the client
    # to write and the server to read back.
    with (
        transaction.atomic(),
        connection.wrap_database_errors,
        psycopg.Cursor(connection.connection) as cursor,
    ):
        # Two rebuilds of one reader never interleave: they queue on these locks (in id order).
        keys = sorted(r for r, _ in rows if r is not None)
        if keys:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(7331, r::int) FROM unnest(%s::bigint[]) r", [keys]
            )
            # The readers that still exist and want a personal feed, kept so until this commits:
            # an erase or an opt-out waits for this write and then deletes the feed with the
            # rest (one under way first leaves them out here).
            cursor.execute(
                "SELECT id FROM newsrec_reader WHERE id = ANY(%s) AND personalisation_enabled"
                " ORDER BY id FOR SHARE",
                [keys],
            )
            existing = {row[0] for row in cursor.fetchall()}
            rows = [(r, p) for r, p in rows if r is None or r in existing]
        if not rows:
            return 0
        values = ",".join(["(%s, %s, %s::json, %s::jsonb, %s::jsonb, %s, %s, 1)"] * len(rows))
        cursor.execute(_UPSERT.format(values=values), [v for _, p in rows for v in p])
        return cursor.rowcount
