"""The committed OpenAPI schema (docs/openapi.yaml) is the one the code generates, warning-free."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import call_command

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("schema") / "openapi.yaml"
    # --fail-on-warn: an endpoint whose schema cannot be resolved fails here, not in the docs.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    return out.read_text()


def test_committed_schema_matches_the_code(generated: str) -> None:
    committed = COMMITTED.read_text() if COMMITTED.exists() else ""
    if generated != committed:
        diff = "".join(
            list(
                difflib.unified_diff(
                    committed.splitlines(keepends=True),
                    generated.splitlines(keepends=True),
                    "docs/openapi.yaml (committed)",
                    "generated from the code",
                )
            )[:60]
        )
        pytest.fail(
            "docs/openapi.yaml is out of date: run `make schema` and commit it.\n" + diff,
            pytrace=False,
        )


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, ops in schema["paths"].items()
        for method, op in ops.items()
        if path.startswith("/api/v1/")
    ]


def test_every_operation_has_examples_and_documented_errors(generated: str) -> None:
    schema = yaml.safe_load(generated)
    missing = []
    for path, method, op in _operations(schema):
        successes = {code: r for code, r in op["responses"].items() if code.startswith("2")}
        with_body = [r for r in successes.values() if "content" in r]
        if with_body and not any(
            m.get("examples") for r in with_body for m in r["content"].values()
        ):
            missing.append(f"{method.upper()} {path}: response example")
        body = op.get("requestBody", {}).get("content", {})
        if body and not any(m.get("examples") for m in body.values()):
            missing.append(f"{method.upper()} {path}: request example")
        for code in ("401", "403", "429"):
            error = op["responses"].get(code, {}).get("content", {}).get("application/json", {})
            if error.get("schema", {}).get("$ref") != "#/components/schemas/Error":
                missing.append(f"{method.upper()} {path}: {code} with the Error shape")
    assert not missing, "\n".join(missing)


def test_security_schemes_cover_every_way_in(generated: str) -> None:
    schemes = yaml.safe_load(generated)["components"]["securitySchemes"]
    assert schemes["apiKeyAuth"] == {
        **schemes["apiKeyAuth"],
        "in": "header",
        "name": "Authorization",
    }
    assert {"apiKeyAuth", "tokenAuth", "cookieAuth", "beaconCookie"} <= set(schemes)
