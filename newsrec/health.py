"""Probes for load balancers and orchestrators: ``/healthz/`` (liveness), ``/readyz/`` (readiness).

``healthz`` answers 200 while the process runs and touches nothing else, so a database outage
does not get healthy web processes restarted. ``readyz`` runs cheap checks of what serving needs
and answers 200 with their details when all pass, 503 otherwise. Failures name the exception
class only: the body holds no host names, paths or credentials.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from newsrec.conf import newsrec_settings

Check = Callable[[], dict[str, Any]]


@require_GET
@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness: the process answers. Readiness (database, broker, workers) is ``readyz``."""
    return HttpResponse("ok", content_type="text/plain")


def check_database() -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"ok": True}


def check_pgvector() -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        row = cursor.fetchone()
    return {"ok": row is not None, "version": row[0] if row else None}


def check_broker() -> dict[str, Any]:
    """The Celery broker answers: a Redis PING, or a kombu connection for other transports."""
    from celery import current_app

    url = current_app.conf.broker_url or ""
    timeout = float(newsrec_settings.READY_TIMEOUT)
    if url.startswith(("redis://", "rediss://", "unix://")):
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        try:
            client.ping()
        finally:
            client.close()
    else:
        with current_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=max(1, round(timeout)))
    return {"ok": True}


def check_embedding_model() -> dict[str, Any]:
    """The configured model's folder is on disk (the model itself is not loaded)."""
    from newsrec.checks import resolve_model_path
    from newsrec.embedders.sentence_transformers import SentenceTransformerEmbedder

    if not issubclass(newsrec_settings.EMBEDDER, SentenceTransformerEmbedder):
        return {"ok": True, "detail": "custom embedder, not checked"}
    path = resolve_model_path(newsrec_settings.EMBEDDING_MODEL)
    return {"ok": path is not None and (path / "config.json").exists()}


def check_workers() -> dict[str, Any]:
    """At least one Celery worker answers a control ping within READY_TIMEOUT seconds."""
    from celery import current_app

    replies = current_app.control.ping(timeout=float(newsrec_settings.READY_TIMEOUT), limit=1)
    return {"ok": bool(replies)}


def check_rules() -> dict[str, Any]:
    """Stored feeds against the live rules version.

    Not ready when the non-personalised feed (rebuilt by every fan-out) still follows older
    rules and was built more than READY_FEED_LAG_SECONDS ago: the fan-outs have stalled. The
    oldest feed is reported only: feeds of readers gone quiet are kept but no longer rebuilt.
    """
    from django.db.models import Min

    from newsrec.models import Feed
    from newsrec.providers import rules_provider

    live = rules_provider().version()
    oldest = Feed.objects.aggregate(version=Min("rules_version"))["version"]
    default = Feed.objects.filter(key="default").values("rules_version", "built_at").first()
    result: dict[str, Any] = {
        "live_rules_version": live,
        "oldest_feed_rules_version": oldest,
        "default_feed_rules_version": default["rules_version"] if default else None,
    }
    lagging = default is not None and default["rules_version"] < live
    age = time.time() - default["built_at"].timestamp() if default else 0.0
    result["ok"] = not (lagging and age > float(newsrec_settings.READY_FEED_LAG_SECONDS))
    return result


def check_outbox() -> dict[str, Any]:
    """Tasks kept in PostgreSQL while the broker was down; reported, never a reason to fail."""
    from newsrec.outbox import outbox_depth

    return {"ok": True, "depth": outbox_depth()}


CHECKS: dict[str, Check] = {
    "database": check_database,
    "pgvector": check_pgvector,
    "broker": check_broker,
    "embedding_model": check_embedding_model,
    "celery_workers": check_workers,
    "rules": check_rules,
    "outbox": check_outbox,
}
# Checks that mean nothing when another has failed: they are reported as skipped, not run.
NEEDS = {
    "pgvector": "database",
    "rules": "database",
    "outbox": "database",
    "celery_workers": "broker",
}


def readiness() -> dict[str, dict[str, Any]]:
    """Run every check; a check that raises is failed with the exception's class name."""
    results: dict[str, dict[str, Any]] = {}
    for name, check in CHECKS.items():
        needed = NEEDS.get(name)
        if needed and not results[needed]["ok"]:
            results[name] = {"ok": False, "error": f"{needed} unavailable"}
            continue
        try:
            results[name] = check()
        except Exception as exc:
            results[name] = {"ok": False, "error": type(exc).__name__}
    return results


@require_GET
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness with details: 200 when every check passes, 503 otherwise."""
    checks = readiness()
    ready = all(result["ok"] for result in checks.values())
    return JsonResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status=200 if ready else 503,
    )
