"""/metrics under gunicorn: counters of several worker processes are merged (multiprocess mode)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SETUP = "import django; django.setup(); from newsrec import metrics; "
OBSERVE = (
    SETUP + "metrics.request_observe(view='newsrec:home', method='GET', status=200, seconds=0.01)"
)
SCRAPE = SETUP + (
    "metrics.ScrapeCollector.collect = lambda self: iter(());"  # no database in this test
    "from prometheus_client import generate_latest;"
    "print(generate_latest(metrics.metrics_registry()).decode())"
)


def run(code: str, multiproc_dir: Path) -> str:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(multiproc_dir),
           "DJANGO_SETTINGS_MODULE": "tests.settings"}  # fmt: skip
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    return result.stdout


def test_requests_of_every_worker_process_are_summed(tmp_path: Path) -> None:
    run(OBSERVE, tmp_path)  # two "workers", each a process of its own
    run(OBSERVE, tmp_path)
    body = run(SCRAPE, tmp_path)
    line = 'newsrec_request_duration_seconds_count{method="GET",status="200",view="newsrec:home"}'
    assert f"{line} 2.0" in body


def test_gunicorn_marks_dead_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from config import gunicorn

    class Worker:
        pid = 4242

    (tmp_path / "gauge_livesum_4242.db").write_bytes(b"")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    gunicorn.child_exit(None, Worker())
    assert not (tmp_path / "gauge_livesum_4242.db").exists()
