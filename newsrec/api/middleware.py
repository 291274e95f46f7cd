"""JSON errors under the API's path (``newsrec.api.errors.api_prefix``), whatever Django
would render, including its DEBUG pages."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from rest_framework.response import Response

from newsrec.api.errors import api_error_response, is_api_path


class ApiJsonErrorsMiddleware:
    """Replace the HTML (or plain text) error pages Django answers under the API's path with JSON.

    The ``handler*`` views of ``newsrec.api.errors`` already do so with DEBUG off; with DEBUG on
    Django renders its technical 404 and 500 pages (and 400s as 500 pages) without calling
    them. List it before any middleware that can refuse a request (it should see every answer,
    e.g. CommonMiddleware's 400 for a disallowed host). DRF's own responses pass unchanged.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code >= 400
            and is_api_path(request.path_info)
            and not isinstance(response, Response)
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            return api_error_response(request, response.status_code)
        return response
