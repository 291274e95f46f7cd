"""One JSON error shape for the whole API: {"code", "message", "errors"}."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
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
    response.data = {"code": code, "message": message, "errors": field_errors}
    if response.status_code == status.HTTP_429_TOO_MANY_REQUESTS:
        response.data["code"] = "throttled"
    return response
