"""Structured logs: a JSON formatter, one line per request and one per Celery task.

Use the formatter in ``LOGGING`` (``{"()": "newsrec.logs.JsonFormatter"}``). Request lines come
from ``newsrec.middleware.RequestTelemetryMiddleware``, task lines from the Celery signals
connected by ``connect_signals()``. The lines carry no personal data: no paths or query strings,
no addresses, no reader or user ids; only the fields in ``FIELDS`` are copied from a record.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

request_logger = logging.getLogger("newsrec.requests")
task_logger = logging.getLogger("newsrec.tasks")

# Structured fields a record may carry (``extra=``); anything else on a record is left out.
FIELDS = (
    "method", "view", "status", "duration_ms", "request_id",
    "task", "task_id", "state", "runtime_ms",
)  # fmt: skip
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, structured fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def request_id_from(header: str | None) -> str:
    """The caller's X-Request-ID when it is a plain token, else a new one."""
    if header and _REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def request_log(*, method: str, view: str, status: int, seconds: float, request_id: str) -> None:
    duration_ms = round(seconds * 1000, 1)
    request_logger.info(
        "%s %s %s %.1fms",
        method,
        view,
        status,
        duration_ms,
        extra={
            "method": method,
            "view": view,
            "status": status,
            "duration_ms": duration_ms,
            "request_id": request_id,
        },
    )


_task_started: dict[str, float] = {}


def _task_prerun(task_id: str | None = None, **kwargs: Any) -> None:
    if task_id:
        _task_started[task_id] = time.perf_counter()


def _task_postrun(
    sender: Any = None, task_id: str | None = None, state: str | None = None, **kwargs: Any
) -> None:
    started = _task_started.pop(task_id or "", None)
    runtime_ms = round((time.perf_counter() - started) * 1000, 1) if started else None
    name = getattr(sender, "name", None) or "unknown"
    task_logger.info(
        "task %s %s",
        name,
        state,
        extra={"task": name, "task_id": task_id, "state": state, "runtime_ms": runtime_ms},
    )


def connect_signals() -> None:
    from celery.signals import task_postrun, task_prerun

    task_prerun.connect(_task_prerun, weak=False, dispatch_uid="newsrec-logs-prerun")
    task_postrun.connect(_task_postrun, weak=False, dispatch_uid="newsrec-logs-postrun")
