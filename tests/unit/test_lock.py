"""requirements.lock and requirements-dev.lock match pyproject.toml: every package pinned, with
hashes (#14.15).

Offline checks, run with the unit tests; `make lock-check` (in `.ci/run`) re-resolves both locks
against the package indexes and compares the whole files.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "newsrec (pyproject.toml)"
CONSTRAINT = "-c requirements.lock"  # the dev lock follows the run-time one


@dataclass
class Pin:
    """One package of the lock: its version, hashes and the packages that need it."""

    version: Version
    hashes: list[str] = field(default_factory=list)
    via: set[str] = field(default_factory=set)


def parse_lock(text: str) -> dict[str, Pin]:
    """The pins of a pip-compile file, keyed by normalised name; raises on any other line."""
    pins: dict[str, Pin] = {}
    current: Pin | None = None
    in_via = False
    for line in text.replace("\\\n", " ").splitlines():
        stripped = line.strip()
        if not stripped:  # a blank line ends a "via" list (a section comment may follow)
            in_via = False
            continue
        if stripped.startswith("#"):
            comment = stripped.lstrip("#").strip()
            if current is not None and comment.startswith("via"):
                rest = comment.removeprefix("via").strip()
                if rest:
                    current.via.add(rest)
                in_via = not rest
            elif current is not None and in_via and comment:
                current.via.add(comment)
            continue
        in_via = False
        head, *options = stripped.split(" --")
        match = re.fullmatch(r"([A-Za-z0-9._-]+)==(\S+)", head.strip())
        if match is None:
            raise ValueError(f"not a pinned requirement: {stripped[:80]!r}")
        current = Pin(Version(match[2]))
        for option in options:
            name, _, value = option.strip().partition("=")
            if name != "hash":
                raise ValueError(f"unexpected option --{name} on {head.strip()}")
            current.hashes.append(value)
        pins[canonicalize_name(match[1])] = current
    return pins


def project_requirements(pyproject: dict, *, dev: bool) -> list[Requirement]:
    project = pyproject["project"]
    names = project["dependencies"] + (project["optional-dependencies"]["dev"] if dev else [])
    return [Requirement(r) for r in names]


LOCKS = [pytest.param("requirements.lock", False, id="run-time"),
         pytest.param("requirements-dev.lock", True, id="dev")]  # fmt: skip


@pytest.fixture(scope="module")
def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def read_lock(name: str) -> dict[str, Pin]:
    return parse_lock((ROOT / name).read_text())


@pytest.mark.parametrize(("lock", "dev"), LOCKS)
def test_every_pin_has_sha256_hashes(lock: str, dev: bool) -> None:
    pins = read_lock(lock)
    assert len(pins) > 50
    unhashed = [name for name, pin in pins.items() if not pin.hashes]
    assert not unhashed
    assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for pin in pins.values() for h in pin.hashes)


@pytest.mark.parametrize(("lock", "dev"), LOCKS)
def test_every_dependency_of_pyproject_is_locked_at_a_version_it_allows(
    lock: str, dev: bool, pyproject: dict
) -> None:
    pins = read_lock(lock)
    for requirement in project_requirements(pyproject, dev=dev):
        pin = pins.get(canonicalize_name(requirement.name))
        assert pin is not None, f"{requirement} is not in {lock}: run make lock"
        assert requirement.specifier.contains(pin.version, prereleases=True), (
            f"{requirement} but {lock} has {pin.version}: run make lock"
        )


@pytest.mark.parametrize(("lock", "dev"), LOCKS)
def test_the_lock_pins_what_pyproject_asks_for_and_nothing_left_over(
    lock: str, dev: bool, pyproject: dict
) -> None:
    # pip-compile notes who needs each pin: the project's own list must be exactly pyproject's,
    # and every other pin must be needed by a locked package (nothing left from a removed one).
    pins = read_lock(lock)
    direct = {canonicalize_name(r.name) for r in project_requirements(pyproject, dev=dev)}
    assert {name for name, pin in pins.items() if PROJECT in pin.via} == direct
    for name, pin in pins.items():
        parents = pin.via - {PROJECT, CONSTRAINT}
        assert parents or PROJECT in pin.via, f"{name} is needed by nothing"
        assert {canonicalize_name(p.split()[0]) for p in parents} <= set(pins), name


def test_the_dev_lock_holds_the_run_time_lock_at_the_same_versions_and_hashes() -> None:
    run_time, dev = read_lock("requirements.lock"), read_lock("requirements-dev.lock")
    assert set(run_time) < set(dev)
    for name, pin in run_time.items():
        assert (dev[name].version, dev[name].hashes) == (pin.version, pin.hashes), name


def test_the_build_backend_is_locked_too(pyproject: dict) -> None:
    # `make install` and the Docker image build the project without build isolation, from the
    # locked setuptools.
    pins = read_lock("requirements.lock")
    for requirement in map(Requirement, pyproject["build-system"]["requires"]):
        pin = pins[canonicalize_name(requirement.name)]
        assert requirement.specifier.contains(pin.version)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("django>=5\n", "not a pinned requirement"),
        ("-e .\n", "not a pinned requirement"),
        ("--index-url https://example.org/simple\n", "not a pinned requirement"),
        ("django==5.2 --index-url=x\n", "unexpected option"),
    ],
)
def test_the_parser_refuses_what_a_lock_must_not_hold(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        parse_lock(text)


def test_the_parser_reads_continuations_and_via_lists() -> None:
    text = (
        "a==1.0 \\\n    --hash=sha256:" + "0" * 64 + " \\\n    --hash=sha256:" + "1" * 64 + "\n"
        "    # via\n    #   b\n    #   newsrec (pyproject.toml)\n"
        "b==2 \\\n    --hash=sha256:" + "2" * 64 + "\n    # via\n    #   newsrec (pyproject.toml)\n"
        "\n# The following packages are considered to be unsafe in a requirements file:\n"
    )
    pins = parse_lock(text)
    assert pins["a"].via == {"b", PROJECT}
    assert len(pins["a"].hashes) == 2
    assert pins["b"].version == Version("2")
    assert pins["b"].via == {PROJECT}
