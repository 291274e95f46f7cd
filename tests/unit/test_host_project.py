"""#13: a host project installs the two apps with only the README's settings, its own user model
and no `config/`, and runs the smoke flow (tests/host/smoke_host.py) in its own process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(not os.environ.get("DATABASE_URL"), reason="needs the test stack's database")
def test_a_host_project_runs_the_smoke_flow() -> None:
    env = {**os.environ, "TEST_DATABASE_NAME": "test_newsrec_host"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/host/smoke_host.py", "-q", "-p", "no:cacheprovider",
         "--ds=tests.host.settings", "-o", "addopts="],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
