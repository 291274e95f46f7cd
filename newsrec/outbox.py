"""Queue Celery tasks, or keep them in PostgreSQL while the broker is down (issue #14.9).

Work that must follow a commit (feed rebuilds, profile updates, embeddings) goes through
``send_or_record``: when the broker cannot be reached the task's name and arguments are stored
as an ``OutboxTask`` row and the request answers normally; ``outbox_drain`` (a beat task every
minute, and the start of every feeds refresh) sends them once the broker is back, deleting each
row only after its task was sent. Every task queued this way is idempotent, so a row sent twice
(a crash between the send and the delete) costs a repeat, never a wrong result.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.db import transaction
from django.db.models import F
from kombu.exceptions import OperationalError as KombuOperationalError

from newsrec.models import OutboxTask

logger = logging.getLogger(__name__)

# What a publish raises when the broker is unreachable (kombu wraps most transport errors).
BROKER_ERRORS: tuple[type[BaseException], ...] = (
    KombuOperationalError,
    ConnectionError,
    TimeoutError,
)


def send_or_record(task: Any, *args: Any, countdown: float | None = None, **kwargs: Any) -> bool:
    """Send ``task`` with these JSON-serialisable arguments; if the broker is down, store it
    in the outbox instead. Returns whether it was sent. A stored task loses its countdown: it is
    sent when the outbox is drained, which is later anyway."""
    options = {} if countdown is None else {"countdown": countdown}
    try:
        task.apply_async(args=args, kwargs=kwargs, **options)
    except BROKER_ERRORS as exc:
        OutboxTask.objects.create(name=task.name, args=list(args), kwargs=kwargs)
        logger.warning(
            "Broker unreachable (%s): %s kept in the outbox", type(exc).__name__, task.name
        )
        return False
    return True


def outbox_depth() -> int:
    """Tasks waiting in the outbox."""
    return OutboxTask.objects.count()


def _send(name: str, args: list[Any], kwargs: dict[str, Any]) -> None:
    from celery import current_app

    if name not in current_app.tasks:  # web processes import tasks modules only when needed
        current_app.loader.import_default_modules()
    task = current_app.tasks.get(name)
    if task is None:  # not registered here: sent by name, for the workers that know it
        current_app.send_task(name, args=args, kwargs=kwargs)
    else:
        task.apply_async(args=tuple(args), kwargs=kwargs)


def outbox_drain(*, batch_size: int = 200) -> int:
    """Send the stored tasks, oldest first; returns how many rows were sent and deleted.

    Rows are locked while sent (``SKIP LOCKED``), so two drains never send the same row.
    Identical rows (the same task and arguments, e.g. fan-outs recorded by several publishes)
    are sent once. Stops at the first broker error: the rest waits for the next drain.
    """
    done = 0
    while True:
        with transaction.atomic():
            rows = list(OutboxTask.objects.select_for_update(skip_locked=True)[:batch_size])
            if not rows:
                return done
            sent: set[str] = set()
            finished: list[int] = []
            for row in rows:
                key = json.dumps([row.name, row.args, row.kwargs], sort_keys=True)
                if key not in sent:
                    try:
                        _send(row.name, row.args, row.kwargs)
                    except BROKER_ERRORS:
                        OutboxTask.objects.filter(pk=row.pk).update(attempts=F("attempts") + 1)
                        OutboxTask.objects.filter(pk__in=finished).delete()
                        return done + len(finished)
                    sent.add(key)
                finished.append(row.pk)
            OutboxTask.objects.filter(pk__in=finished).delete()
            done += len(finished)
        if len(rows) < batch_size:
            return done
