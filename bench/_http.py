"""HTTP load for the benchmarks: a gunicorn server, keep-alive client threads and percentiles."""

from __future__ import annotations

import http.client
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from _common import ROOT, log

HOST = "127.0.0.1"
# Gunicorn's own request time in microseconds, beside the status and the path.
ACCESS_FORMAT = '%(s)s %(D)s "%(U)s"'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def server_env(**overrides: str) -> dict[str, str]:
    """The bench process's environment (database, Redis, queue) for a production-like server.

    DEBUG is off, only 127.0.0.1 is served, and throttling is off so that one API key or one
    address can send the whole load (the rate limits are not what is measured here).
    """
    env = {
        **os.environ,
        "DEBUG": "0",
        "ALLOWED_HOSTS": HOST,
        "API_RATE_API_KEY": "off",
        "API_RATE_READER": "off",
        "API_RATE_ANON": "off",
        "LOG_LEVEL": "WARNING",
    }
    env.update(overrides)
    return env


def collectstatic() -> None:
    """With DEBUG off, pages need the static manifest, exactly as the Docker image builds it."""
    done = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT, env=server_env(), capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode:
        sys.exit(f"collectstatic failed:\n{done.stderr[-2000:]}")


@dataclass(frozen=True)
class ServerConfig:
    """How gunicorn runs: worker count and class (threads apply to gthread only)."""

    workers: int = 2
    worker_class: str = "sync"
    threads: int = 1

    @classmethod
    def parse(cls, text: str) -> ServerConfig:
        """ "2:sync", "4:gthread:4" → workers, class, threads; a clear error otherwise."""
        parts = text.split(":")
        try:
            workers = int(parts[0])
            worker_class = parts[1] if len(parts) > 1 else "sync"
            threads = int(parts[2]) if len(parts) > 2 else (4 if worker_class == "gthread" else 1)
        except ValueError:
            raise ValueError(f"{text!r}: expected WORKERS[:sync|gthread[:THREADS]]") from None
        if worker_class not in {"sync", "gthread"} or not 1 <= workers <= 16 or threads < 1:
            raise ValueError(f"{text!r}: 1-16 workers, class sync or gthread, threads >= 1")
        return cls(workers=workers, worker_class=worker_class, threads=threads)

    def __str__(self) -> str:
        suffix = f":{self.threads}" if self.worker_class == "gthread" else ""
        return f"{self.workers}:{self.worker_class}{suffix}"


class Gunicorn:
    """``gunicorn config.wsgi`` on a free local port; its access log records request times."""

    def __init__(self, config: ServerConfig, *, name: str, access_log: bool = False) -> None:
        self.config = config
        self.port = free_port()
        (ROOT / ".data").mkdir(exist_ok=True)
        self.log_path = ROOT / ".data" / f"bench-{name}-gunicorn.log"
        self.access_path: Path | None = (
            ROOT / ".data" / f"bench-{name}-access.log" if access_log else None
        )
        args = [
            str(Path(sys.executable).parent / "gunicorn"), "config.wsgi",
            "--bind", f"{HOST}:{self.port}", "--workers", str(config.workers),
            "--worker-class", config.worker_class, "--threads", str(config.threads),
            "--keep-alive", "5", "--backlog", "2048", "--log-level", "warning",
        ]  # fmt: skip
        if self.access_path is not None:
            self.access_path.unlink(missing_ok=True)
            args += ["--access-logfile", str(self.access_path)]
            args += ["--access-logformat", ACCESS_FORMAT]
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            args, cwd=ROOT, env=server_env(), stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"gunicorn exited (code {self.proc.returncode}); see {self.log_path}")
            try:
                conn = http.client.HTTPConnection(HOST, self.port, timeout=5)
                conn.request("GET", "/healthz/")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
            except OSError:
                pass
            time.sleep(0.2)
        sys.exit(f"gunicorn did not answer /healthz/ within {timeout:.0f}s; see {self.log_path}")

    def access_times_ms(self, *, path: str) -> list[float]:
        """Server-side request times (ms) of the successful requests of ``path`` (the log
        records paths without their query string)."""
        if self.access_path is None or not self.access_path.exists():
            return []
        path = path.split("?", 1)[0]
        times = []
        for line in self.access_path.read_text(errors="replace").splitlines():
            parts = line.split(" ", 2)
            if len(parts) == 3 and parts[0] == "200" and parts[2].strip('"') == path:
                times.append(int(parts[1]) / 1000.0)
        return times

    def access_log_reset(self) -> None:
        """Drop the log so far (e.g. the warm-up); gunicorn keeps appending to the same file."""
        if self.access_path is not None and self.access_path.exists():
            os.truncate(self.access_path, 0)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()


@dataclass(frozen=True)
class Request:
    """One HTTP request of a load; ``tag`` comes back with its sample."""

    method: str
    path: str
    body: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    tag: Any = None


@dataclass(frozen=True)
class Sample:
    tag: Any
    status: int
    seconds: float
    body: bytes | None


@dataclass
class LoadRun:
    """What a load produced: a sample per answered request, transport errors, wall time."""

    samples: list[Sample]
    errors: list[str]
    seconds: float

    def statuses(self) -> dict[str, int]:
        return {str(k): v for k, v in sorted(Counter(s.status for s in self.samples).items())}

    def rate(self) -> float:
        return len(self.samples) / self.seconds if self.seconds else 0.0

    def latency_ms(self) -> dict[str, float]:
        return percentiles([s.seconds * 1000.0 for s in self.samples])


def percentiles(values: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99 (nearest rank), mean and max, rounded to 0.01."""
    if not values:
        return {}
    ordered = sorted(values)

    def rank(p: float) -> float:
        return ordered[min(len(ordered), max(1, math.ceil(p / 100 * len(ordered)))) - 1]

    return {
        "p50": round(rank(50), 2),
        "p95": round(rank(95), 2),
        "p99": round(rank(99), 2),
        "mean": round(sum(ordered) / len(ordered), 2),
        "max": round(ordered[-1], 2),
    }


def load(
    *,
    port: int,
    clients: int,
    requests: Callable[[int], Iterator[Request]],
    duration: float | None = None,
    interval: float = 0.0,
    keep_bodies: bool = False,
) -> LoadRun:
    """Send ``requests(client)`` from ``clients`` threads, each on its own keep-alive connection.

    A client stops when its iterator ends or after ``duration`` seconds. With ``interval``, a
    client starts a request at most every ``interval`` seconds (paced load); otherwise it sends
    the next as soon as the answer is read (closed loop: the server is saturated). A dropped
    connection (a sync worker closes each one) is reopened and the request sent once more.
    """
    samples: list[Sample] = []
    errors: list[str] = []
    lock = threading.Lock()
    start_line = threading.Barrier(clients + 1)

    def client(index: int) -> None:
        mine: list[Sample] = []
        mine_errors: list[str] = []
        conn = http.client.HTTPConnection(HOST, port, timeout=60)
        start_line.wait()
        stop_at = time.perf_counter() + (duration if duration is not None else float("inf"))
        # Paced clients start spread over one interval, not all at once.
        next_at = time.perf_counter() + (interval * index / clients if interval else 0.0)
        for req in requests(index):
            if interval:
                delay = next_at - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                next_at = max(next_at + interval, time.perf_counter())
            if time.perf_counter() >= stop_at:
                break
            for attempt in (1, 2):
                t0 = time.perf_counter()
                try:
                    conn.request(req.method, req.path, body=req.body, headers=dict(req.headers))
                    response = conn.getresponse()
                    body = response.read()
                except (http.client.HTTPException, OSError) as exc:
                    conn.close()
                    if attempt == 2:
                        mine_errors.append(f"{type(exc).__name__}: {exc}")
                    continue
                mine.append(
                    Sample(req.tag, response.status, time.perf_counter() - t0,
                           body if keep_bodies else None)
                )  # fmt: skip
                break
        conn.close()
        with lock:
            samples.extend(mine)
            errors.extend(mine_errors)

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    start_line.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    if errors:
        log(f"{len(errors)} transport error(s), e.g. {errors[0]}")
    return LoadRun(samples=samples, errors=errors, seconds=seconds)


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (gunicorn's or Celery's workers)."""
    try:
        return [pid, *(child.pid for child in psutil.Process(pid).children(recursive=True))]
    except psutil.Error:
        return []


def postgres_backends() -> list[int]:
    """Server processes of every other connection to this database (gunicorn's, the worker's)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return [pid for (pid,) in cursor.fetchall()]


def _cpu(pids: Iterable[int]) -> dict[int, float]:
    out = {}
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        out[pid] = times.user + times.system
    return out


class CpuMeter:
    """CPU seconds spent by groups of processes between ``start`` and ``stop``.

    Wall-clock figures depend on what else runs on the machine; CPU time per request hardly
    does, so it shows the cost of a request even on a busy machine. A process that appears
    meanwhile (a new database connection) counts in full; one that exits is lost.
    """

    def __init__(self, groups: Mapping[str, Callable[[], list[int]]]) -> None:
        self.groups = groups
        self.before: dict[str, dict[int, float]] = {}

    def start(self) -> None:
        self.before = {name: _cpu(pids()) for name, pids in self.groups.items()}

    def stop(self) -> dict[str, float]:
        spent = {}
        for name, pids in self.groups.items():
            before = self.before.get(name, {})
            after = _cpu(pids())
            spent[name] = sum(t - before.get(pid, 0.0) for pid, t in after.items())
        return spent


def parse_servers(parser: Any, text: str) -> list[ServerConfig]:
    """The --servers option (``WORKERS:CLASS[:THREADS],...``), or a parser error."""
    try:
        configs = [ServerConfig.parse(s.strip()) for s in text.split(",") if s.strip()]
    except ValueError as exc:
        parser.error(str(exc))
    if not configs:
        parser.error("--servers names no set-up")
    return configs
