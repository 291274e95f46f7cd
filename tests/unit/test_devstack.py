"""The local stack's launcher: ``env`` output a shell can evaluate, and ``stop``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from config import devstack

EXPORT = re.compile(r"export [A-Z_][A-Z0-9_]*=\S.*")


@pytest.fixture
def redis_on_6379() -> None:
    if not devstack._redis_answers("127.0.0.1", 6379):
        pytest.skip("no Redis answers on 127.0.0.1:6379")


def _env_without(*names: str, **values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in names}
    return {**env, **values}


@pytest.mark.usefixtures("redis_on_6379")
def test_env_prints_only_exports_that_a_shell_can_evaluate() -> None:
    # A configured database (never started or stopped here) whose URL needs quoting; Redis is
    # found on 6379, which today's launcher reports as it goes.
    url = "postgres://postgres@%2Fnowhere:5432/it's $HOME"
    env = _env_without("REDIS_URL", "CELERY_BROKER_URL", DATABASE_URL=url)
    done = subprocess.run(
        [sys.executable, "-m", "config.devstack", "env"],
        cwd=devstack.ROOT, env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    lines = done.stdout.splitlines()
    assert lines, done.stderr
    assert all(EXPORT.fullmatch(line) for line in lines), done.stdout
    assert "[newsrec]" in done.stderr  # the progress report went to stderr
    shell = subprocess.run(
        ["bash", "-c", 'eval "$1" && printf "%s\\n%s" "$DATABASE_URL" "$REDIS_URL"', "-",
         done.stdout],
        env=env, capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    assert shell.stdout.splitlines() == [url, "redis://127.0.0.1:6379/0"]


def test_env_says_on_stderr_what_keeps_running_and_how_to_stop_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    stack = devstack.Stack(
        env={"DATABASE_URL": "postgres://postgres@%2Fsock:5432/newsrec"},
        stop_postgres=Path("/nonexistent/pg"),
    )
    devstack.print_env(stack)
    out, err = capsys.readouterr()
    assert out == "export DATABASE_URL=postgres://postgres@%2Fsock:5432/newsrec\n"
    assert "PostgreSQL" in err
    assert "keep running" in err
    assert "make stop" in err
    assert stack.stop_postgres is None  # so that the shutdown on exit leaves it running


class FakePostgres:
    """Stands in for the embedded PostgreSQL: the shared one in .data/pg is never stopped here."""

    def __init__(self, *, running: bool) -> None:
        self.running = running
        self.pg_ctl_calls: list[tuple[Path, list[str]]] = []

    def is_running(self, pgdata: Path) -> bool:
        return self.running

    def pg_ctl(self, pgdata: Path, args: list[str]) -> None:
        self.pg_ctl_calls.append((pgdata, args))


@pytest.mark.parametrize("running", [True, False])
def test_stop_stops_the_embedded_postgresql_it_started(
    monkeypatch: pytest.MonkeyPatch, running: bool
) -> None:
    fake = FakePostgres(running=running)
    monkeypatch.setattr(devstack, "_postgres_running", fake.is_running)
    monkeypatch.setattr(devstack, "_pg_ctl", fake.pg_ctl)
    monkeypatch.setattr(devstack, "_our_redis", lambda port: None)
    assert devstack.main(["stop"]) == 0
    expected = [(devstack.DATA / "pg", ["-w", "-m", "fast", "stop"])] if running else []
    assert fake.pg_ctl_calls == expected


def test_stop_shuts_down_only_the_redis_started_here(monkeypatch: pytest.MonkeyPatch) -> None:
    shut: list[dict[str, Any]] = []

    class FakeRedis:
        def shutdown(self, **kwargs: Any) -> None:
            shut.append(kwargs)

    monkeypatch.setattr(devstack, "_postgres_running", lambda pgdata: False)
    monkeypatch.setattr(devstack, "_our_redis", lambda port: FakeRedis())
    assert devstack.main(["stop"]) == 0
    assert shut == [{"nosave": True}]


def test_the_usage_names_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert devstack.main([]) == 2
    usage = capsys.readouterr().err
    for command in ("demo", "test", "manage", "env", "stop"):
        assert f"config.devstack {command}" in usage
