"""Prometheus metrics at ``/metrics``: request latency per view, reader events, task failures,
and gauges read at scrape time (feed ages, the running fan-out).

Counters and histograms live in each web process; under gunicorn set ``PROMETHEUS_MULTIPROC_DIR``
to an empty folder shared by the workers (docker/README.md) and the view merges them. Task
failures happen in Celery workers, often on other machines: they are counted in the cache
(Redis) and read from there at scrape time. Access: the addresses or networks in
``NEWSREC["METRICS_ALLOWED_IPS"]``, or a logged-in staff user.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from newsrec.conf import newsrec_settings

REQUEST_SECONDS = Histogram(
    "newsrec_request_duration_seconds",
    "Time to answer a request, by resolved view name (not path), method and status.",
    ["view", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
EVENTS = Counter(
    "newsrec_events",
    "Reader events received, by outcome (accepted, duplicate, rejected).",
    ["status"],
)
TASK_FAILURES_KEY = "newsrec:metrics:task-failures"


def request_observe(*, view: str, method: str, status: int, seconds: float) -> None:
    REQUEST_SECONDS.labels(view=view, method=method, status=str(status)).observe(seconds)


def events_count(results: Iterable[Mapping[str, Any]]) -> None:
    """Count one ingested batch's outcomes (one increment per outcome, not per event)."""
    totals: dict[str, int] = {}
    for result in results:
        totals[result["status"]] = totals.get(result["status"], 0) + 1
    for status, n in totals.items():
        EVENTS.labels(status=status).inc(n)


def task_failure_count(*, task_name: str) -> None:
    """Count a failed Celery task in the cache, where every web process can read it."""
    from django.core.cache import cache

    key = f"{TASK_FAILURES_KEY}:{task_name}"
    cache.add(key, 0, timeout=None)
    with contextlib.suppress(ValueError):  # the cache is unreachable: this failure goes uncounted
        cache.incr(key)


def _task_failure_received(sender: Any = None, **kwargs: Any) -> None:
    task_failure_count(task_name=getattr(sender, "name", None) or "unknown")


def connect_signals() -> None:
    from celery.signals import task_failure

    task_failure.connect(_task_failure_received, weak=False, dispatch_uid="newsrec-metrics")


_tasks_imported: list[bool] = []


class ScrapeCollector(Collector):
    """Values computed when Prometheus scrapes, from the database and the cache."""

    def collect(self) -> Iterator[Metric]:
        yield from self._feeds()
        yield from self._fanout()
        yield from self._task_failures()
        yield from self._outbox()

    def _outbox(self) -> Iterator[Metric]:
        from newsrec.outbox import outbox_depth

        try:
            depth = outbox_depth()
        except DatabaseError:
            return
        yield GaugeMetricFamily(
            "newsrec_outbox_tasks",
            "Tasks kept in PostgreSQL while the broker was down, waiting to be sent.",
            value=float(depth),
        )

    def _feeds(self) -> Iterator[Metric]:
        from django.db.models import Max, Min

        from newsrec.models import Feed

        ages = GaugeMetricFamily(
            "newsrec_feed_age_seconds",
            "Seconds since a stored feed was built: the oldest, the newest and the default one.",
            labels=["feed"],
        )
        now = time.time()
        try:
            # Min/Max use the built_at index; the default feed is one row by its unique key.
            span = Feed.objects.aggregate(oldest=Min("built_at"), newest=Max("built_at"))
            default = Feed.objects.filter(key="default").values_list("built_at", flat=True).first()
        except DatabaseError:
            yield _scrape_ok("feeds", False)
            return
        for name, built in [("oldest", span["oldest"]), ("newest", span["newest"])]:
            if built is not None:
                ages.add_metric([name], now - built.timestamp())
        if default is not None:
            ages.add_metric(["default"], now - default.timestamp())
        yield ages
        yield _scrape_ok("feeds", True)

    def _fanout(self) -> Iterator[Metric]:
        from newsrec.feeds import fanout_progress

        progress = fanout_progress()
        if progress is None:
            return
        for name, key, text in [
            ("readers_total", "total", "Readers in the latest feed fan-out."),
            ("readers_done", "done", "Readers of the latest fan-out whose feeds are rebuilt."),
            ("elapsed_seconds", "elapsed_seconds", "Seconds since the latest fan-out started."),
            ("eta_seconds", "eta_seconds", "Estimated seconds until the latest fan-out ends."),
        ]:
            yield GaugeMetricFamily(f"newsrec_fanout_{name}", text, value=float(progress[key]))

    def _task_failures(self) -> Iterator[Metric]:
        from celery import current_app
        from django.core.cache import cache

        if not _tasks_imported:  # web processes import tasks modules only when they send one
            current_app.loader.import_default_modules()
            _tasks_imported.append(True)
        names = sorted(name for name in current_app.tasks if not name.startswith("celery."))
        counts = cache.get_many([f"{TASK_FAILURES_KEY}:{name}" for name in names])
        family = CounterMetricFamily(
            "newsrec_task_failures",
            "Celery tasks that failed (after retries), by task.",
            labels=["task"],
        )
        for name in names:
            family.add_metric([name], float(counts.get(f"{TASK_FAILURES_KEY}:{name}", 0)))
        yield family


def _scrape_ok(part: str, ok: bool) -> Metric:
    family = GaugeMetricFamily(
        "newsrec_scrape_ok",
        "1 when this part of the scrape-time values could be read.",
        labels=["part"],
    )
    family.add_metric([part], 1.0 if ok else 0.0)
    return family


class _ProcessCollector(Collector):
    """This process's own metrics (the default registry), when not in multiprocess mode."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def metrics_registry() -> CollectorRegistry:
    """A registry for one scrape: every process's counters and the scrape-time values."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ProcessCollector())
    registry.register(ScrapeCollector())
    return registry


def metrics_allowed(request: HttpRequest) -> bool:
    """The client's address is in METRICS_ALLOWED_IPS (addresses or networks), or staff."""
    user = getattr(request, "user", None)
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        address = None
    allowed: Sequence[str] = newsrec_settings.METRICS_ALLOWED_IPS
    if address is not None and any(
        address in ipaddress.ip_network(entry, strict=False) for entry in allowed
    ):
        return True
    return bool(user is not None and user.is_active and user.is_staff)


@require_GET
@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    if not metrics_allowed(request):
        return HttpResponse("Forbidden\n", status=403, content_type="text/plain")
    return HttpResponse(generate_latest(metrics_registry()), content_type=CONTENT_TYPE_LATEST)
