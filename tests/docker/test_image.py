"""The Docker image builds and its stack becomes ready (#14.20): docker/smoke.sh under pytest.

Runs where a Docker engine answers and `docker compose` exists (CI machines with Docker);
skipped elsewhere, with the reason. Building the image downloads the locked dependencies
(several minutes the first time); ``-m "not docker"`` leaves it out.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.conftest import ROOT

SMOKE = ROOT / "docker" / "smoke.sh"
SMOKE_TIMEOUT_S = 1800  # a cold build (PyTorch's CPU wheel among the rest) plus the start


def docker_unavailable() -> str | None:
    """Why the smoke test cannot run here, or None when it can."""
    if shutil.which("docker") is None:
        return "no docker client on the PATH"
    for args, what in (
        (["docker", "info"], "engine"),
        (["docker", "compose", "version"], "compose"),
    ):
        try:
            done = subprocess.run(args, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"docker {what}: {exc}"
        if done.returncode:
            lines = (done.stderr or done.stdout).strip().splitlines()
            return f"docker {what} unavailable: {lines[-1] if lines else done.returncode}"
    return None


pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(bool(reason := docker_unavailable()), reason=str(reason)),
]


def test_the_image_builds_and_readyz_reports_every_check_passing() -> None:
    done = subprocess.run(
        ["sh", str(SMOKE)], capture_output=True, text=True, timeout=SMOKE_TIMEOUT_S
    )
    assert done.returncode == 0, done.stderr[-4000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["http_status"] == 200
    assert answer["status"] == "ready"
    assert answer["checks"]
    assert all(check["ok"] for check in answer["checks"].values())
