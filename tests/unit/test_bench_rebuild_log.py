"""bench/rebuild.py reads the chunk run times from its worker's log, in either log format."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1].parent / "bench"))

from rebuild import task_seconds_in


def test_json_task_lines_give_the_run_times() -> None:
    log = "\n".join([
        '{"level": "INFO", "logger": "celery.apps.worker", "message": "w@vm ready."}',
        '{"level": "INFO", "logger": "newsrec.tasks", "message": "task newsrec.tasks.'
        'feeds_rebuild_readers SUCCESS", "task": "newsrec.tasks.feeds_rebuild_readers", '
        '"task_id": "e6", "state": "SUCCESS", "runtime_ms": 1601.9}',
        '{"level": "INFO", "logger": "newsrec.tasks", "message": "task newsrec.tasks.'
        'feeds_rebuild_readers FAILURE", "task": "newsrec.tasks.feeds_rebuild_readers", '
        '"task_id": "e7", "state": "FAILURE", "runtime_ms": 12.0}',
        '{"level": "INFO", "logger": "newsrec.tasks", "message": "task newsrec.tasks.'
        'profile_update SUCCESS", "task": "newsrec.tasks.profile_update", '
        '"task_id": "e8", "state": "SUCCESS", "runtime_ms": 3.0}',
    ])  # fmt: skip
    assert task_seconds_in(log) == [1.6019]


def test_celery_plain_lines_still_count() -> None:
    log = (
        "[INFO] Task newsrec.tasks.feeds_rebuild_readers[ab-1] succeeded in 0.52s: None\n"
        "[INFO] Task newsrec.tasks.feeds_rebuild_readers[ab-2] succeeded in 0.61s: None\n"
    )
    assert task_seconds_in(log) == [0.52, 0.61]
