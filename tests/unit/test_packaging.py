"""The wheel a host installs: the two apps with every template, static file and migration they
use, and nothing of the demo site (#13.2)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel_files(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    source = tmp_path_factory.mktemp("source")
    tracked = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
        text=True, check=True,
    ).stdout.split()  # fmt: skip
    for name in tracked:
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(source)],
        check=True, capture_output=True,
    )  # fmt: skip
    [wheel] = out.glob("newsrec-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def _app_files(app: str, kind: str) -> set[str]:
    folder = ROOT / app / kind
    return {str(p.relative_to(ROOT)) for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("app", ["newsrec", "editorial"])
def test_the_wheel_holds_every_template_static_file_and_migration(
    wheel_files: set[str], app: str
) -> None:
    for kind in ("templates", "static", "migrations"):
        files = {f for f in _app_files(app, kind) if not f.endswith(".pyc")}
        assert files, f"{app}/{kind} is empty"
        assert files <= wheel_files, sorted(files - wheel_files)[:5]


def test_the_wheel_leaves_the_demo_site_out(wheel_files: set[str]) -> None:
    assert not [
        f for f in wheel_files
        if f.startswith(("config/", "demo/", "templates/", "tests/", "newsrec/demo/"))
        or "_demo" in f.rsplit("/", 1)[-1]
    ]  # fmt: skip
