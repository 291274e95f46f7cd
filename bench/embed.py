"""Embedding throughput: the project's Celery path (task batches, DB writes) beside plain encode.

    .venv/bin/python bench/embed.py [--limit N] [--threads T] [--database newsrec_bench]

Prints one JSON object on stdout; see bench/README.md. The benchmark database is emptied first.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time
from typing import Any

from _common import (
    DEFAULT_DATABASE,
    ROOT,
    Timer,
    default_threads,
    emit,
    huffpost_rows,
    log,
    run_guarded,
    setup,
    target_check,
)

TARGET_RATIO = 0.9  # issue #2: the project's path at least 0.9x plain encode
PREFIX = "huffpost:"  # external ids of the HuffPost rows (newsrec.importers.jsonl)


def plain_encode(texts: list[str], *, batch_size: int) -> tuple[float, float]:
    """Wall and CPU seconds of a bare SentenceTransformer.encode of ``texts`` (no model load)."""
    from sentence_transformers import SentenceTransformer

    from newsrec.embedders.sentence_transformers import packaged_model_path

    model = SentenceTransformer(packaged_model_path(), device="cpu")
    # The first call pays one-off set-up costs; the project's worker is warmed up likewise.
    model.encode(texts[:batch_size], batch_size=batch_size, show_progress_bar=False)
    cpu = time.process_time()
    with Timer() as timer:
        model.encode(texts, batch_size=batch_size, show_progress_bar=False)
    return timer.seconds, time.process_time() - cpu


class Worker:
    """One real Celery worker (prefork, ``concurrency`` processes) on this run's own queue.

    Each process gets ``threads // concurrency`` torch threads (NEWSREC_TORCH_THREADS), as the
    project's own workers do, so the worker uses exactly the CPUs that plain encode uses.
    """

    def __init__(self, queue: str, *, concurrency: int = 1, threads: int = 1) -> None:
        self.queue = queue
        self.name = f"{queue}@{os.uname().nodename}"  # its keys go with the queue's
        (ROOT / ".data").mkdir(exist_ok=True)
        self.log_path = ROOT / ".data" / "bench-worker.log"
        self._log = self.log_path.open("wb")
        each = str(max(1, threads // concurrency))
        per_process = {"NEWSREC_TORCH_THREADS": each, "OMP_NUM_THREADS": each}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue,
             "-c", str(concurrency),
             "--pool", "prefork", "-l", "WARNING", "-n", f"{queue}@%h",
             "--without-heartbeat", "--without-mingle", "--without-gossip"],
            cwd=ROOT, env={**os.environ, "DB_CONN_MAX_AGE": "60", **per_process},
            stdout=self._log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def cpu_seconds(self) -> float:
        """User + system CPU time of the worker and its pool processes so far."""
        import psutil

        total = 0.0
        root = psutil.Process(self.proc.pid)
        for process in [root, *root.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                times = process.cpu_times()
                total += times.user + times.system
        return total

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            sys.exit(f"The Celery worker exited (code {self.proc.returncode}); see {self.log_path}")

    def wait_ready(self, timeout: float = 120) -> None:
        from config.celery import app

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if app.control.ping(timeout=0.5, destination=[self.name]):
                return
        sys.exit(f"The Celery worker did not answer within {timeout:.0f}s; see {self.log_path}")

    def consume(self, on: bool) -> None:
        """Stop or resume taking tasks, so that the upsert's tasks queue up untouched meanwhile."""
        from config.celery import app

        control = app.control.add_consumer if on else app.control.cancel_consumer
        if not control(self.queue, destination=[self.name], reply=True, timeout=10):
            sys.exit(f"The Celery worker did not confirm {'add' if on else 'cancel'}_consumer")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def wait_embedded(worker: Worker, *, expected: int, timeout: float) -> tuple[float, dict[str, int]]:
    """Poll until ``expected`` HuffPost articles are READY; return (seconds, status counts)."""
    from django.db.models import Count

    from newsrec.models import Article, EmbeddingStatus

    start = time.perf_counter()
    counts: dict[str, int] = {}
    while time.perf_counter() - start < timeout:
        worker.check_alive()
        counts = {
            row["embedding_status"]: row["n"]
            for row in Article.objects.filter(external_id__startswith=PREFIX)
            .values("embedding_status")
            .annotate(n=Count("id"))
            .order_by()
        }
        if counts.get(EmbeddingStatus.READY, 0) >= expected:
            return time.perf_counter() - start, counts
        time.sleep(0.25)
    sys.exit(f"Not all articles were embedded within {timeout:.0f}s: {counts}")


def run(args: argparse.Namespace) -> dict[str, Any]:
    from django.db import connection

    from newsrec import services
    from newsrec.conf import newsrec_settings
    from newsrec.ingest import validate_rows
    from newsrec.models import Article, EmbeddingStatus

    batch_size = int(newsrec_settings.EMBEDDING_BATCH_SIZE)
    rows = huffpost_rows(limit=args.limit)
    valid, rejected = validate_rows(rows)
    for rejection in rejected:
        log(f"row {rejection.index} is rejected by validation: {rejection.reasons}")
    texts = [data.embedding_text for data in valid]
    n = len(texts)
    log(f"{n} articles; plain encode with batch_size={batch_size}, {args.threads} thread(s)")
    plain_s, plain_cpu_s = plain_encode(texts, batch_size=batch_size)
    log(f"plain encode: {n / plain_s:.1f} articles/s")

    with connection.cursor() as cursor:  # a throwaway database: start from an empty catalogue
        cursor.execute(f"TRUNCATE {Article._meta.db_table} RESTART IDENTITY CASCADE")
    worker = Worker(os.environ["CELERY_QUEUE"], concurrency=args.concurrency, threads=args.threads)
    try:
        worker.wait_ready()
        # Warm-up through the same path, so that the model load is not counted below.
        services.article_upsert_many(rows=[{"external_id": "bench:warm-up", "title": texts[0]}])
        while not Article.objects.filter(
            external_id="bench:warm-up", embedding_status=EmbeddingStatus.READY
        ).exists():
            worker.check_alive()
            time.sleep(0.2)
        log("worker warm; upserting with the worker paused")
        worker.consume(False)
        created = 0
        with Timer() as upsert:
            for i in range(0, len(rows), args.upsert_batch):
                report = services.article_upsert_many(rows=rows[i : i + args.upsert_batch])
                created += report.created
        log(f"upsert: {created / upsert.seconds:.0f} articles/s; embedding through the worker")
        cpu_before = worker.cpu_seconds()
        worker.consume(True)
        embed_s, counts = wait_embedded(worker, expected=created, timeout=args.timeout)
        worker_cpu_s = worker.cpu_seconds() - cpu_before
        Article.objects.filter(external_id="bench:warm-up").delete()  # not a HuffPost vector
    finally:
        worker.stop()
    project_per_s = created / embed_s
    plain_per_s = n / plain_s
    ratio_check = target_check(project_per_s / plain_per_s, TARGET_RATIO, at_least=True)
    return {
        "articles": created,
        "plain_encode_per_s": round(plain_per_s, 2),
        "project_path_per_s": round(project_per_s, 2),
        "ratio": round(project_per_s / plain_per_s, 3),
        "upsert_per_s": round(created / upsert.seconds, 1),
        "target_ratio": TARGET_RATIO,
        # no single request here (a throughput bench): the one target is the ratio
        "targets": {"ratio": ratio_check},
        "pass": ratio_check["pass"],
        "plain_encode_s": round(plain_s, 2),
        "project_path_s": round(embed_s, 2),
        "upsert_s": round(upsert.seconds, 2),
        # CPU seconds are less sensitive to other load than wall time (PostgreSQL's share of
        # the writes is not in worker_cpu_s).
        "plain_encode_cpu_s": round(plain_cpu_s, 2),
        "worker_cpu_s": round(worker_cpu_s, 2),
        "cpu_ratio": round(plain_cpu_s / n * created / worker_cpu_s, 3),
        "embedding_status": counts,
        "embedding_batch_size": batch_size,
        "upsert_batch": args.upsert_batch,
        "threads": args.threads,
        "worker_processes": args.concurrency,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--limit", type=int, help="read only the first N lines of the file")
    add("--threads", type=int, default=default_threads(),
        help="torch threads of plain encode, shared by the worker processes")  # fmt: skip
    add("--concurrency", type=int, default=default_threads(),
        help="worker processes, as the demo's worker runs (default: one per CPU)")  # fmt: skip
    add("--database", default=DEFAULT_DATABASE,
        help=f"benchmark database, emptied first (default {DEFAULT_DATABASE})")  # fmt: skip
    add("--upsert-batch", type=int, default=500,
        help="rows per article_upsert_many call, as newsrec_import (default 500)")  # fmt: skip
    add("--timeout", type=float, default=3600, help="seconds to wait for the worker")
    args = parser.parse_args(argv)
    if args.upsert_batch < 1:
        parser.error("--upsert-batch must be at least 1")
    stack = setup(
        database=args.database, threads=args.threads, eager=False,
        queue=f"newsrec-bench-{os.getpid()}",
    )  # fmt: skip
    return run_guarded(stack, lambda: emit(run(args)))


if __name__ == "__main__":
    sys.exit(main())
