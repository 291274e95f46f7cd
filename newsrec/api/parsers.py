"""The API's JSON parser: bounded in size (a 413) and in how deeply a body may nest (a 400)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from rest_framework import renderers, status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import BaseParser
from rest_framework.settings import api_settings
from rest_framework.utils.json import strict_constant

# No request of this API nests deeper than 3 levels (a batch of objects holding lists); deep
# bodies only exhaust the parser's recursion (a RecursionError, so a 500) or code walking them.
MAX_JSON_DEPTH = 32


class RequestTooLarge(APIException):
    """The request body is larger than the endpoint accepts."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "too_large"


def json_depth_exceeds(value: Any, limit: int) -> bool:
    """Whether lists and objects nest more than ``limit`` levels in ``value`` (no recursion)."""
    stack = [(value, 1)] if isinstance(value, (list, dict)) else []
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        # Most containers hold only scalars (an event's fields): one C-level pass over the
        # types skips them, instead of a Python-level test per value.
        if _CONTAINER_TYPES.isdisjoint(map(type, children)):
            continue
        stack.extend((child, depth + 1) for child in children if isinstance(child, (list, dict)))
    return False


_CONTAINER_TYPES = frozenset({list, dict})  # what json.loads makes of arrays and objects


def body_limit(view: Any) -> int | None:
    """Largest body (bytes) ``view`` takes: its ``max_body_bytes``, else Django's upload limit."""
    limit = getattr(view, "max_body_bytes", None)
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE if limit is None else int(limit)


class BoundedJSONParser(BaseParser):
    """JSON bodies up to the view's size limit and MAX_JSON_DEPTH levels deep.

    A view sets ``max_body_bytes`` for its own limit; others get DATA_UPLOAD_MAX_MEMORY_SIZE.
    Not a subclass of DRF's JSONParser on purpose: DRF reads the whole body through
    ``request.body`` for those, which answers any body beyond DATA_UPLOAD_MAX_MEMORY_SIZE with
    a bare 400 whatever the endpoint documents.
    """

    media_type = "application/json"
    renderer_class = renderers.JSONRenderer
    strict = api_settings.STRICT_JSON

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        context = parser_context or {}
        limit = body_limit(context.get("view"))
        if limit is not None:
            too_large = RequestTooLarge(f"The body exceeds {limit} bytes.")
            request = context.get("request")
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0) if request else 0
            except ValueError:
                length = 0
            if length > limit:
                raise too_large
            raw = stream.read(limit + 1)
            if len(raw) > limit:
                raise too_large
        else:
            raw = stream.read()
        encoding = context.get("encoding", settings.DEFAULT_CHARSET)
        too_deep = ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels.")
        try:
            text = raw.decode(encoding)
            data = json.loads(text, parse_constant=strict_constant if self.strict else None)
        except RecursionError:
            raise too_deep from None
        except ValueError as exc:  # also UnicodeDecodeError
            raise ParseError(f"JSON parse error - {exc}") from None
        if json_depth_exceeds(data, MAX_JSON_DEPTH):
            raise too_deep
        return data
