"""Site-level views of the demo site: the favicon and the reader site's "page not found"."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponsePermanentRedirect,
    HttpResponseRedirect,
)
from django.templatetags.static import static
from django.urls import is_valid_path
from django.views import defaults


def favicon(request: HttpRequest) -> HttpResponse:
    """``/favicon.ico``, which browsers ask for on pages that link none (the admin, API docs)."""
    return HttpResponseRedirect(static("newsrec/favicon.ico"))


def page_not_found(request: HttpRequest, path: str = "") -> HttpResponse:
    """The site's own 404 page for any URL no other pattern takes, also with DEBUG on.

    Django shows its debug page for unknown URLs while DEBUG is on, and the demo runs with
    DEBUG on; readers should see the site's page. Being a URL pattern, this takes over what
    CommonMiddleware's APPEND_SLASH does for unmatched URLs: ``/privacy`` still goes to
    ``/privacy/``.
    """
    if settings.APPEND_SLASH and not request.path_info.endswith("/"):
        match = is_valid_path(f"{request.path_info}/", getattr(request, "urlconf", None))
        if match and match.func is not page_not_found:
            return HttpResponsePermanentRedirect(request.get_full_path(force_append_slash=True))
    return defaults.page_not_found(request, Http404("No page at this address."))


class ReaderNotFoundMiddleware:
    """A reader page that raises Http404 (an article that does not exist, an unknown section)
    shows the site's 404 page, with DEBUG on too; the API and the admin keep their own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, Http404) or request.path_info.startswith(("/api/", "/admin/")):
            return None
        return defaults.page_not_found(request, exception)
