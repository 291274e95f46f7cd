"""Co-visitation ("readers of this also read"): periodic SQL, in memory for replays."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone

from newsrec.models import EventKind

COVISITS_KEY = "newsrec:covisits"
_COVISITS_SQL = """
WITH engaged AS (
    SELECT DISTINCT reader_id, article_id FROM newsrec_event
    WHERE occurred_at >= %s AND occurred_at <= %s AND profiling_allowed AND kind = ANY(%s)
), pairs AS (
    SELECT a.article_id AS article, b.article_id AS other, count(*) AS readers
    FROM engaged a JOIN engaged b ON a.reader_id = b.reader_id AND a.article_id <> b.article_id
    GROUP BY 1, 2 HAVING count(*) >= %s
), ranked AS (
    SELECT article, other, readers,
           row_number() OVER (PARTITION BY article ORDER BY readers DESC, other) AS position
    FROM pairs
)
SELECT article, other, readers FROM ranked WHERE position <= %s ORDER BY article, position
"""


def covisits_compute(
    *, days: int = 14, min_readers: int = 2, per_article: int = 20, now: datetime | None = None
) -> dict[int, list[tuple[int, float]]]:
    """For each article, the articles most often read by the same readers (last ``days``
    before ``now``, default the present)."""
    engaged = (EventKind.CLICK, EventKind.READ, EventKind.DWELL, EventKind.FINISH, EventKind.SHARE)
    until = timezone.now() + timedelta(days=1) if now is None else now
    since = (timezone.now() if now is None else now) - timedelta(days=days)
    out: dict[int, list[tuple[int, float]]] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            _COVISITS_SQL, [since, until, [str(k) for k in engaged], min_readers, per_article]
        )
        for article, other, readers in cursor.fetchall():
            out.setdefault(article, []).append((other, float(readers)))
    return out


def covisits_from_engaged(
    engaged: Iterable[tuple[int | str, int]], *, min_readers: int = 2, per_article: int = 20
) -> dict[int, list[tuple[int, float]]]:
    """:func:`covisits_compute` over (reader, article) pairs in memory (replays, tests): for
    each article, the ``per_article`` articles most often read by the same readers (at least
    ``min_readers``), most readers first, ties by article id."""
    by_reader: dict[int | str, set[int]] = {}
    for reader, article in engaged:
        by_reader.setdefault(reader, set()).add(article)
    pairs: dict[int, dict[int, int]] = {}
    for articles in by_reader.values():
        for a in articles:
            row = pairs.setdefault(a, {})
            for b in articles:
                if a != b:
                    row[b] = row.get(b, 0) + 1
    out: dict[int, list[tuple[int, float]]] = {}
    for article in sorted(pairs):
        ranked = sorted(
            ((b, n) for b, n in pairs[article].items() if n >= min_readers),
            key=lambda kv: (-kv[1], kv[0]),
        )[:per_article]
        if ranked:
            out[article] = [(b, float(n)) for b, n in ranked]
    return out


def covisits_refresh() -> int:
    """Recompute co-visitation (a periodic task) and share it with every worker through the cache;
    pools loaded afterwards use it. Returns the number of articles with neighbours."""
    from django.core.cache import cache

    covisits = covisits_compute()
    cache.set(COVISITS_KEY, covisits, timeout=2 * 86400)
    return len(covisits)


def covisits_cached() -> dict[int, list[tuple[int, float]]]:
    from django.core.cache import cache

    return cache.get(COVISITS_KEY) or {}
