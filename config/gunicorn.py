"""Gunicorn settings of the web container (docker/entrypoint.sh passes them with --config)."""

from __future__ import annotations

import os
from typing import Any


def child_exit(server: Any, worker: Any) -> None:
    """Drop a dead worker's live Prometheus files; its counters stay summed in /metrics."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
