"""Site endpoints of the nudges: nudge.js claims one before showing it; a reader dismisses one."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from newsrec import readers
from newsrec.providers import NUDGE_BEFORE_YOU_GO, NUDGE_KINDS, NUDGE_SURFACES
from newsrec.retention import nudges


def _choice(request: HttpRequest, name: str, allowed: tuple[str, ...], default: str) -> str | None:
    value = request.POST.get(name) or default
    return value if value in allowed else None


def _bad(name: str, allowed: tuple[str, ...]) -> JsonResponse:
    return JsonResponse({"detail": f"{name} must be one of: {', '.join(allowed)}."}, status=400)


@require_POST
@never_cache
def nudge_shown(request: HttpRequest) -> JsonResponse:
    """Count the nudge against the reader's daily cap; ``{"show": false}`` once it is spent."""
    kind = _choice(request, "kind", NUDGE_KINDS, NUDGE_BEFORE_YOU_GO)
    surface = _choice(request, "surface", NUDGE_SURFACES, "article")
    if kind is None:
        return _bad("kind", NUDGE_KINDS)
    if surface is None:
        return _bad("surface", NUDGE_SURFACES)
    reader, _token = readers.reader_for_request(request, create=False)
    return JsonResponse({"show": nudges.nudge_claim(reader=reader, kind=kind, surface=surface)})


@require_POST
@never_cache
def nudge_dismiss(request: HttpRequest) -> HttpResponse:
    """The reader closed a nudge: none of its kind again today. Without JavaScript, back to
    the page (``next``)."""
    from newsrec.views import _safe_next, _wants_json

    kind = _choice(request, "kind", NUDGE_KINDS, "")
    if kind is None:
        return _bad("kind", NUDGE_KINDS)
    reader, _token = readers.reader_for_request(request, create=False)
    dismissed = nudges.nudge_dismiss(reader=reader, kind=kind)
    if _wants_json(request):
        return JsonResponse({"dismissed": dismissed})
    return redirect(_safe_next(request, request.POST.get("next")))
