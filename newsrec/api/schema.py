"""OpenAPI extras: security schemes of newsrec's authenticators and the shared error responses."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension

from newsrec.readers import COOKIE_NAME


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """``Authorization: Api-Key <key>`` for server-to-server integrations."""

    target_class = "newsrec.api.authentication.ApiKeyAuthentication"
    name = "apiKeyAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": (
                "`Authorization: Api-Key <key>` (or `X-Api-Key: <key>`). Keys are created in the "
                "admin, stored hashed and carry scopes: read-feeds, write-events, "
                "manage-articles, manage-rules, manage-readers, read-retention."
            ),
        }


class BeaconSessionScheme(OpenApiAuthenticationExtension):
    """The browser's own cookies at the events endpoint, where sendBeacon cannot send a token."""

    target_class = "newsrec.api.events.BeaconSessionAuthentication"
    name = "beaconCookie"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": COOKIE_NAME,
            "description": (
                "The browser's session login or its anonymous reader cookie, without a CSRF token "
                "(navigator.sendBeacon cannot send one); cross-site posts are refused by their "
                "Origin and Sec-Fetch-Site headers."
            ),
        }


ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The body of every error response.",
    "properties": {
        "code": {"type": "string", "description": "Stable machine-readable code."},
        "message": {"type": "string", "description": "What went wrong, in words."},
        "errors": {
            "type": "object",
            "additionalProperties": {},
            "description": "Field name to messages, for invalid input; empty otherwise.",
        },
    },
    "required": ["code", "message", "errors"],
}

ERRORS: dict[str, tuple[str, str, str, dict[str, Any]]] = {
    "400": ("Invalid input", "invalid", "Invalid input.", {"limit": ["Must be 1 to 50."]}),
    "401": ("Bad credentials", "authentication_failed", "Invalid or revoked API key.", {}),
    "403": (
        "Not allowed",
        "permission_denied",
        "You do not have permission to perform this action.",
        {},
    ),
    "404": ("Not found", "not_found", "Not found.", {}),
    "413": ("Body too large", "too_large", "The body exceeds 33554432 bytes.", {}),
    "429": (
        "Too many requests",
        "throttled",
        "Request was throttled. Expected available in 12 seconds.",
        {},
    ),
}


def _error_response(status: str) -> dict[str, Any]:
    summary, code, message, errors = ERRORS[status]
    response: dict[str, Any] = {
        "description": summary,
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/Error"},
                "examples": {code: {"value": {"code": code, "message": message, "errors": errors}}},
            }
        },
    }
    if status == "429":
        response["headers"] = {
            "Retry-After": {
                "schema": {"type": "integer"},
                "description": "Seconds to wait before the next request.",
            }
        }
    return response


def add_error_responses(result: dict[str, Any], generator: Any, **kwargs: Any) -> dict[str, Any]:
    """Document the error shape on every operation: the statuses it can answer besides success.

    401 (bad credentials), 403 and 429 apply everywhere; 400 where the caller sends parameters
    or a body, 413 where it sends a body; 404 where the path names an object or takes a page
    cursor. Statuses a view documents itself are kept.
    """
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path, operations in result.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            statuses = ["401", "403", "429"]
            params = operation.get("parameters", [])
            if operation.get("requestBody") or any(p.get("in") == "query" for p in params):
                statuses.append("400")
            if operation.get("requestBody"):
                statuses.append("413")  # the endpoint's body limit, see newsrec.api.parsers
            if "{" in path or any(p.get("name") == "cursor" for p in params):
                statuses.append("404")  # no such object, or a cursor that is not ours
            for status in statuses:
                responses.setdefault(status, _error_response(status))
            operation["responses"] = dict(sorted(responses.items()))
    return result
