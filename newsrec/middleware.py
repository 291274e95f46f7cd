"""Middleware of newsrec: request metrics, and a fast 503 while the database is unreachable.

``RequestTelemetryMiddleware`` (first in ``MIDDLEWARE``) times every request by resolved view
and logs one line for it (newsrec.logs).
``DatabaseUnavailableMiddleware`` answers a 503 with Retry-After when the database is down:
requests under the API's path get the API's JSON error shape; other pages get the
``newsrec/unavailable.html`` template (override it by path), rendered without context
processors, which would query the database again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from newsrec import logs, metrics
from newsrec.api.errors import error_body, is_api_path
from newsrec.conf import newsrec_settings

logger = logging.getLogger(__name__)

DATABASE_DOWN = (OperationalError, InterfaceError)


def database_unavailable_response(request: HttpRequest) -> HttpResponse:
    """The 503 answered while the database is unreachable."""
    response: HttpResponse
    if is_api_path(request.path_info):
        response = JsonResponse(
            error_body("service_unavailable", "The database is unavailable; try again shortly."),
            status=503,
        )
    else:
        response = HttpResponse(render_to_string("newsrec/unavailable.html"), status=503)
    response["Retry-After"] = str(int(newsrec_settings.UNAVAILABLE_RETRY_AFTER))
    response["Cache-Control"] = "no-store"
    return response


class DatabaseUnavailableMiddleware:
    """Turn a lost or refused database connection into a 503 instead of a 500 page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, DATABASE_DOWN):
            return None
        # One line, no traceback: an outage would otherwise flood the logs with identical ones.
        logger.warning("database unavailable: %s", type(exception).__name__)
        return database_unavailable_response(request)


def view_label(request: HttpRequest) -> str:
    """The resolved view's name ("newsrec:home"), never the raw path (unbounded labels)."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unresolved"
    return match.view_name or match._func_path


_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def method_label(request: HttpRequest) -> str:
    """The HTTP method, or "other": a client must not be able to invent label values."""
    method = (request.method or "").upper()
    return method if method in _METHODS else "other"


class RequestTelemetryMiddleware:
    """Per request: its duration in the latency histogram and one structured log line.

    The request id is the caller's ``X-Request-ID`` when it is a plain token, else a new one;
    it is set on ``request.request_id`` and sent back in the response's ``X-Request-ID``.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        start = time.perf_counter()
        request_id = logs.request_id_from(request.headers.get("X-Request-ID"))
        request.request_id = request_id  # type: ignore[attr-defined]
        response = self.get_response(request)
        seconds = time.perf_counter() - start
        view, method = view_label(request), method_label(request)
        metrics.request_observe(
            view=view, method=method, status=response.status_code, seconds=seconds
        )
        logs.request_log(
            method=method,
            view=view,
            status=response.status_code,
            seconds=seconds,
            request_id=request_id,
        )
        response["X-Request-ID"] = request_id
        return response
