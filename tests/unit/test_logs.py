"""The JSON log formatter: one object per line, structured fields only, and LOG_FORMAT."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from newsrec.logs import JsonFormatter, request_id_from

ROOT = Path(__file__).resolve().parents[2]


def record(**extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("newsrec.requests", logging.INFO, __file__, 1, "GET %s", ("x",), None)
    rec.__dict__.update(extra)
    return rec


def test_a_record_is_one_json_line_with_its_structured_fields() -> None:
    line = JsonFormatter().format(record(method="GET", view="newsrec:home", status=200,
                                         duration_ms=12.5, request_id="abc"))  # fmt: skip
    assert "\n" not in line
    data = json.loads(line)
    assert data["message"] == "GET x"
    assert data["level"] == "INFO"
    assert data["logger"] == "newsrec.requests"
    assert data["time"].endswith("+00:00")
    assert {k: data[k] for k in ("method", "view", "status", "duration_ms", "request_id")} == {
        "method": "GET", "view": "newsrec:home", "status": 200, "duration_ms": 12.5,
        "request_id": "abc",
    }  # fmt: skip


def test_other_attributes_of_a_record_are_left_out() -> None:
    # django.request attaches the request (with the client's address) to its records.
    data = json.loads(JsonFormatter().format(record(request={"REMOTE_ADDR": "203.0.113.9"})))
    assert "request" not in data
    assert "203.0.113.9" not in json.dumps(data)


def test_exceptions_are_kept_inside_the_one_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        rec = record()
        rec.exc_info = sys.exc_info()
    line = JsonFormatter().format(rec)
    assert "\n" not in line
    assert "ValueError: boom" in json.loads(line)["exception"]


@pytest.mark.parametrize(
    ("header", "kept"),
    [
        ("req-42", True),
        ("a" * 64, True),
        ("a" * 65, False),
        ("x y", False),
        ('"}{', False),
        (None, False),
    ],
)
def test_request_ids_from_callers_are_kept_only_when_plain(header: str | None, kept: bool) -> None:
    assert (request_id_from(header) == header) is kept


@pytest.mark.parametrize(
    ("env", "formatter"),
    [
        ({"DEBUG": "0"}, "json"),
        ({"DEBUG": "1"}, "text"),
        ({"DEBUG": "1", "LOG_FORMAT": "json"}, "json"),
        ({"DEBUG": "0", "LOG_FORMAT": "text"}, "text"),
    ],
)
def test_log_format_defaults_to_json_without_debug(env: dict[str, str], formatter: str) -> None:
    environ = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "LOG_FORMAT"}}
    code = "import config.settings as s; print(s.LOGGING['handlers']['console']['formatter'])"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**environ, **env},
                            capture_output=True, text=True, check=True)  # fmt: skip
    assert result.stdout.strip() == formatter
