"""Site endpoint of the "Before you go" nudge: nudge.js asks here before it shows the nudge."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from newsrec import readers
from newsrec.retention import services


@require_POST
@never_cache
def nudge_shown(request: HttpRequest) -> JsonResponse:
    """Count the nudge against the reader's daily cap; ``{"show": false}`` once it is spent."""
    reader, _token = readers.reader_for_request(request, create=False)
    return JsonResponse({"show": services.nudge_claim(reader=reader)})
