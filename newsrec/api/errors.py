"""One JSON error shape for the whole API: {"code", "message", "errors"}.

DRF exceptions go through ``exception_handler``; requests under the API's path (``api_prefix``)
that never reach a DRF view (no such URL, a crash, a bad request rejected by Django) get the
same shape from the ``handler*`` views that ``config.urls`` installs, while other paths keep
Django's HTML pages. With DEBUG on Django shows its own pages instead of calling those views:
``newsrec.api.middleware.ApiJsonErrorsMiddleware`` answers JSON under the API's path then too.
"""

from __future__ import annotations

import functools
from http import HTTPStatus
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.core.signals import setting_changed
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import NoReverseMatch, get_script_prefix, reverse
from django.views import defaults
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from newsrec.conf import newsrec_settings


def api_prefix() -> str | None:
    """The path under which errors are JSON: ``NEWSREC["API_PATH_PREFIX"]``, else where the host
    included ``newsrec.api.urls`` ("/api/v1/"); None when it is not included at all."""
    return newsrec_settings.API_PATH_PREFIX or _mounted_prefix()


@functools.cache
def _mounted_prefix() -> str | None:
    try:
        events = reverse("newsrec-api:events")
    except NoReverseMatch:
        return None
    # a path as request.path_info has it: without the script prefix the site may run under
    return "/" + events.removeprefix(get_script_prefix()).removesuffix("events/")


def is_api_path(path: str) -> bool:
    prefix = api_prefix()
    return prefix is not None and path.startswith(prefix)


def _urls_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == "ROOT_URLCONF":
        _mounted_prefix.cache_clear()


setting_changed.connect(_urls_changed)


class ErrorSerializer(serializers.Serializer):
    """The body of every error response."""

    code = serializers.CharField(help_text="Stable machine-readable code, e.g. `not_found`.")
    message = serializers.CharField(help_text="What went wrong, in words.")
    # The metaclass moves declared fields off the class: this does not shadow Serializer.errors.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.JSONField(),
        help_text="Field name to messages, for invalid input; empty otherwise.",
    )


def error_body(code: str, message: str, errors: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "errors": errors or {}}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # not an API exception: a 500, answered by handler500
    code = getattr(exc, "default_code", "error")
    if isinstance(exc, exceptions.ValidationError):
        detail = response.data
        message = "Invalid input."
        field_errors = detail if isinstance(detail, dict) else {"non_field_errors": detail}
    else:
        detail = (
            response.data.get("detail", "") if isinstance(response.data, dict) else response.data
        )
        message = str(detail)
        field_errors = {}
        code = getattr(detail, "code", code)
    response.data = error_body(str(code), message, field_errors)
    if response.status_code == status.HTTP_429_TOO_MANY_REQUESTS:
        response.data["code"] = "throttled"
    return response


def _is_api(request: HttpRequest) -> bool:
    return is_api_path(request.path_info)


def _json(status_code: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status_code)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        # A body read before the API's parser and beyond Django's limit: a 413, as the parser says.
        return api_error_response(request, 413 if isinstance(exception, RequestDataTooBig) else 400)
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return api_error_response(request, 403)
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return api_error_response(request, 404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return api_error_response(request, 500)
    return defaults.server_error(request)


def api_error_response(request: HttpRequest, status_code: int) -> JsonResponse:
    """The JSON answer of a handler* view for ``status_code`` (others: the reason phrase)."""
    if status_code == 400:
        return _json(400, "bad_request", "The request could not be understood.")
    if status_code == 403:
        return _json(403, "permission_denied", "You do not have permission to do this.")
    if status_code == 404:
        return _json(404, "not_found", f"No API endpoint at {request.path}.")
    if status_code == 413:
        return _json(413, "too_large", "The request body is too large.")
    if status_code >= 500:
        return _json(status_code, "server_error", "Internal server error; it has been logged.")
    try:
        phrase = HTTPStatus(status_code).phrase
    except ValueError:  # a status Python does not name
        phrase = "Error"
    return _json(status_code, phrase.lower().replace(" ", "_").replace("-", "_"), f"{phrase}.")
