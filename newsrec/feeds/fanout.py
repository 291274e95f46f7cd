"""Fan-out of a full rebuild in chunks, its progress (visible to staff) and its resumption."""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime
from typing import Any

from django.db.models import Q

from newsrec.conf import newsrec_settings
from newsrec.feeds.rebuild import readers_kept, readers_to_refresh
from newsrec.models import Feed
from newsrec.providers import rules_provider

PROGRESS_KEY = "newsrec:feeds:fanout"


def fanout_start(*, enqueue: Any) -> str:
    """Split every kept feed into chunks and enqueue them; returns the run id."""
    import uuid

    from django.core.cache import cache

    run_id = uuid.uuid4().hex[:12]
    size = int(newsrec_settings.FEED_CHUNK_SIZE)
    chunk: list[int] = []
    total = 0
    chunks: list[list[int]] = []
    for reader_id in readers_to_refresh():
        chunk.append(reader_id)
        if len(chunk) == size:
            chunks.append(chunk)
            chunk = []
    if chunk or not chunks:
        chunks.append(chunk)
    total = sum(len(c) for c in chunks)
    cache.set(
        PROGRESS_KEY,
        {"run_id": run_id, "total": total, "started": time.time()},
        timeout=7 * 86400,
    )
    cache.set(f"{PROGRESS_KEY}:{run_id}:done", 0, timeout=7 * 86400)
    for i, ids in enumerate(chunks):
        enqueue(ids, run_id, i == 0)
    return run_id


def fanout_progress_add(*, run_id: str, done: int) -> None:
    from django.core.cache import cache

    with contextlib.suppress(ValueError):  # progress of an expired run
        now_done = cache.incr(f"{PROGRESS_KEY}:{run_id}:done", done)
        cache.set(f"{PROGRESS_KEY}:{run_id}:moved", time.time(), timeout=7 * 86400)
        run = cache.get(PROGRESS_KEY)
        if run and run.get("run_id") == run_id and now_done >= run["total"]:
            # the first chunk to complete the run records when it finished (add: only once)
            cache.add(f"{PROGRESS_KEY}:{run_id}:finished", time.time(), timeout=7 * 86400)


def fanout_resume(*, enqueue: Any, now: float | None = None) -> int:
    """Re-queue what an interrupted fan-out left undone; returns how many readers were queued.

    A chunk lost with its worker waits for the broker's redelivery (an hour on Redis). Once no
    chunk of the latest run has finished for FANOUT_STALL_SECONDS (and the run is not done),
    the feeds it covers that are still older than the live rules are queued again, under the
    same run, in chunks. Idempotent; nothing at all while the run progresses or once it is
    done, else one indexed query. Each resume of a run waits twice as long as the one before,
    so that workers all down do not flood the queue.
    """
    from django.core.cache import cache

    now = time.time() if now is None else now
    run = cache.get(PROGRESS_KEY)
    if not run:
        return 0
    base = f"{PROGRESS_KEY}:{run['run_id']}"
    marks = cache.get_many([f"{base}:finished", f"{base}:moved", f"{base}:resumes"])
    if f"{base}:finished" in marks:
        return 0
    resumes = int(marks.get(f"{base}:resumes", 0))
    quiet = now - float(marks.get(f"{base}:moved", run["started"]))
    if quiet < int(newsrec_settings.FANOUT_STALL_SECONDS) * 2 ** min(resumes, 5):
        return 0
    stale = list(
        Feed.objects.filter(rules_version__lt=rules_provider().version())  # rules_version index
        .filter(Q(reader__isnull=True) | Q(reader__in=readers_kept()))
        .order_by("reader_id")
        .values_list("reader_id", flat=True)
    )
    if not stale:
        # Every kept feed follows the live rules: the run is done, whatever its counter says
        # (a chunk whose worker died after its commit but before counting itself).
        cache.add(f"{base}:finished", now, timeout=7 * 86400)
        return 0
    cache.set_many({f"{base}:moved": now, f"{base}:resumes": resumes + 1}, timeout=7 * 86400)
    ids = [r for r in stale if r is not None]
    size = int(newsrec_settings.FEED_CHUNK_SIZE)
    chunks = [ids[i : i + size] for i in range(0, len(ids), size)] or [[]]
    for i, chunk in enumerate(chunks):
        enqueue(chunk, run["run_id"], i == 0 and None in stale)
    return len(ids)


def fanout_progress() -> dict[str, Any] | None:
    """Latest fan-out: readers done / total, elapsed seconds and ETA."""
    from django.core.cache import cache

    run = cache.get(PROGRESS_KEY)
    if not run:
        return None
    done = int(cache.get(f"{PROGRESS_KEY}:{run['run_id']}:done") or 0)
    finished = cache.get(f"{PROGRESS_KEY}:{run['run_id']}:finished")
    elapsed = time.time() - run["started"]
    rate = done / elapsed if elapsed > 0 else 0.0
    remaining = max(run["total"] - done, 0)
    return {
        **run,
        "done": run["total"] if finished else min(done, run["total"]),
        "elapsed_seconds": round(elapsed, 1),
        # how long the run took (not the time since it started), once it is done
        "duration_seconds": round((finished or time.time()) - run["started"], 1),
        "finished": finished is not None,
        "finished_at": datetime.fromtimestamp(finished, tz=UTC) if finished else None,
        "eta_seconds": round(remaining / rate, 1) if rate > 0 and remaining else 0.0,
    }
