"""Permissions: staff users, or API keys carrying the needed scope."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from newsrec.models import ApiKey, ApiKeyScope


def has_scope(request: Request, scope: str) -> bool:
    key = request.auth if isinstance(request.auth, ApiKey) else None
    if key is not None:
        return scope in key.scopes
    user = request.user
    return bool(user and user.is_authenticated and user.is_staff)


class CanManageArticlesOrReadOnly(BasePermission):
    """Anyone may read the catalogue; writes need staff or the manage-articles scope."""

    message = "Writing articles needs a staff login or an API key with the manage-articles scope."

    def has_permission(self, request: Request, view: Any) -> bool:
        return request.method in SAFE_METHODS or has_scope(request, ApiKeyScope.MANAGE_ARTICLES)
