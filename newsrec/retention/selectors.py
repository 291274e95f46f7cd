"""Reads for retention: readers' event histories, the churn model in use, risk listings."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from newsrec.models import Event
from newsrec.retention.features import EventRow
from newsrec.retention.models import ChurnModel


def reader_histories(
    *, since: datetime, until: datetime, reader_ids: Iterable[int] | None = None
) -> dict[int, list[EventRow]]:
    """Each reader's events in [since, until), oldest first, as ``EventRow``s.

    Only events that may be profiled, of readers who have not opted out of personalisation:
    churn risk is a profile of the reader like any other.
    """
    events = Event.objects.filter(
        occurred_at__gte=since,
        occurred_at__lt=until,
        profiling_allowed=True,
        reader__personalisation_enabled=True,
    )
    if reader_ids is not None:
        events = events.filter(reader_id__in=list(reader_ids))
    rows = events.order_by("reader_id", "occurred_at").values_list(
        "reader_id", "occurred_at", "kind", "article_id", "read_depth", "session_id", "local_hour"
    )
    out: dict[int, list[EventRow]] = {}
    for reader_id, at, kind, article_id, depth, session, hour in rows.iterator(chunk_size=5000):
        out.setdefault(reader_id, []).append(
            EventRow(at=at, kind=kind, article_id=article_id, read_depth=depth,
                     session_id=session, local_hour=hour)
        )  # fmt: skip
    return out


def readers_active(*, since: datetime, until: datetime) -> list[int]:
    """Ids of the readers (not opted out) with a profiled event in [since, until)."""
    return list(
        Event.objects.filter(
            occurred_at__gte=since,
            occurred_at__lt=until,
            profiling_allowed=True,
            reader__personalisation_enabled=True,
        )
        .order_by()
        .values_list("reader_id", flat=True)
        .distinct()
    )


def churn_model_latest() -> ChurnModel | None:
    """The churn model that scores readers: the newest training run."""
    return ChurnModel.objects.order_by("-created_at", "-id").first()
