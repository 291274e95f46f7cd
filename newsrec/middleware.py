"""Middleware of newsrec: a fast 503 with Retry-After while the database is unreachable.

Add ``"newsrec.middleware.DatabaseUnavailableMiddleware"`` to ``MIDDLEWARE``. Requests under
``/api/`` get the API's JSON error shape; other pages get the ``newsrec/unavailable.html``
template (override it by path), rendered without context processors, which would query the
database again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from newsrec.api.errors import API_PREFIX, error_body
from newsrec.conf import newsrec_settings

logger = logging.getLogger(__name__)

DATABASE_DOWN = (OperationalError, InterfaceError)


def database_unavailable_response(request: HttpRequest) -> HttpResponse:
    """The 503 answered while the database is unreachable."""
    response: HttpResponse
    if request.path_info.startswith(API_PREFIX):
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
