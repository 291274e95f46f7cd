"""The README's names are real: files, make targets, management commands, snippets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
FENCED = re.compile(r"^ *```[^\n]*\n(.*?)^ *```", re.DOTALL | re.MULTILINE)
CODE_BLOCKS = FENCED.findall(README)
INLINE_CODE = re.findall(r"`([^`\n]+)`", FENCED.sub("", README))
ALL_CODE = [*CODE_BLOCKS, *INLINE_CODE]

# A relative path: one or more "name/" parts, not inside a URL or another path.
PATH = re.compile(r"(?<![\w./:@-])((?:[\w.-]+/)+[\w.-]*)")
# In code blocks (shell lines, Python, templates) only paths from the repository's top level are
# checked; a block may also list paths relative to a folder (the Layout).
TOP_LEVEL = re.compile(r"^(?:\.ci|config|newsrec|editorial|templates|tests|docker|bench|docs)/")
URL_PATTERN = re.compile(r'path\("[^"]*"')  # path("admin/", ...) names a URL, not a folder
# Named in the README but not part of the repository: created at run time, or outside it.
NOT_IN_THE_REPOSITORY = (".data/", ".venv/", "artifacts/", "../", "path/to/")


def _named_paths() -> set[str]:
    inline = {m for code in INLINE_CODE for m in PATH.findall(URL_PATTERN.sub("", code))}
    blocks = {m for code in CODE_BLOCKS for m in PATH.findall(code) if TOP_LEVEL.match(m)}
    return {p for p in inline | blocks if not p.startswith(NOT_IN_THE_REPOSITORY)}


def _exists(name: str) -> bool:
    """A file or folder of the repository, or a template or static file that an app ships."""
    if (ROOT / name).exists():
        return True
    shipped = (*ROOT.glob("*/templates"), ROOT / "templates", *ROOT.glob("*/static"))
    return any((folder / name).exists() for folder in shipped)


def test_the_readme_names_paths() -> None:
    assert {"config/devstack.py", "newsrec/engine/scoring.py", "docs/api.md"} <= _named_paths()


@pytest.mark.parametrize("name", sorted(_named_paths()))
def test_every_path_the_readme_names_exists(name: str) -> None:
    assert _exists(name), f"README.md names {name!r}, which is not in the repository"


def _make_targets() -> set[str]:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([\w-]+):", makefile, re.MULTILINE))


def test_every_make_target_the_readme_names_exists() -> None:
    named = {t for code in ALL_CODE for t in re.findall(r"\bmake ([a-z][\w-]*)", code)}
    assert {"demo", "test", "stop"} <= named
    assert named - _make_targets() == set()


def test_every_management_command_the_readme_names_exists() -> None:
    pattern = re.compile(r"manage\.py ([a-z_]\w*)|make manage ARGS=\"([a-z_]\w*)")
    named = {a or b for code in ALL_CODE for a, b in pattern.findall(code)}
    assert {"newsrec_import", "newsrec_train", "newsrec_evaluate"} <= named
    assert named - set(get_commands()) == set()


@pytest.mark.parametrize("tag", ["newsrec_feed", "newsrec_related"])
def test_a_template_tag_is_shown_the_same_everywhere_and_as_the_library_documents_it(
    tag: str,
) -> None:
    shown = re.findall(r"\{% " + tag + r" [^%]*%\}", README)
    assert len(shown) >= 2, f"{tag} appears once: nothing to compare"
    assert len(set(shown)) == 1, f"{tag} is shown in different forms: {sorted(set(shown))}"
    library = (ROOT / "newsrec" / "templatetags" / "newsrec.py").read_text(encoding="utf-8")
    assert shown[0] in library  # the module's docstring is the reference


def test_the_beacon_snippet_is_the_same_everywhere_and_uses_attributes_the_script_reads() -> None:
    shown = re.findall(
        r"<script src=\"\{% static 'newsrec/newsrec\.js' %\}\"[^>]*></script>", README
    )
    assert len(shown) >= 2
    assert len(set(shown)) == 1, f"the beacon is shown in different forms: {sorted(set(shown))}"
    script = (ROOT / "newsrec" / "static" / "newsrec" / "newsrec.js").read_text(encoding="utf-8")
    for attribute in re.findall(r"data-(\w+)=", shown[0]):
        assert f"data.{attribute}" in script


def test_the_url_patterns_to_include_are_the_demo_sites() -> None:
    [block] = [b for b in CODE_BLOCKS if 'include("newsrec.api.urls")' in b]
    shown = [line.strip() for line in block.splitlines() if line.strip().startswith("path(")]
    assert any("SpectacularAPIView" in line for line in shown)  # the schema and docs routes
    site = {line.strip() for line in (ROOT / "config" / "urls.py").read_text().splitlines()}
    assert [line for line in shown if line not in site] == []
