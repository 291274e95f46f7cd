"""Permissions: staff, API keys carrying the needed scope, and readers acting for themselves."""

from __future__ import annotations

from typing import Any

from rest_framework.authentication import CSRFCheck
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from newsrec.models import ApiKey, ApiKeyScope


def has_scope(request: Request, scope: str) -> bool:
    """An API key needs ``scope``; otherwise only a logged-in staff user passes."""
    key = request.auth if isinstance(request.auth, ApiKey) else None
    if key is not None:
        return scope in key.scopes
    user = request.user
    return bool(user and user.is_authenticated and user.is_staff)


def csrf_enforce(request: Request) -> None:
    """Django's CSRF check, for writes that a browser's cookies alone would authorise."""
    check = CSRFCheck(lambda _request: None)  # type: ignore[arg-type, return-value]
    check.process_request(request)
    reason = check.process_view(request, None, (), {})  # type: ignore[arg-type]
    if reason:
        raise PermissionDenied(f"CSRF failed: {reason}.")


class CanManageArticlesOrReadOnly(BasePermission):
    """Anyone may read the catalogue; writes need staff or the manage-articles scope."""

    message = "Writing articles needs a staff login or an API key with the manage-articles scope."

    def has_permission(self, request: Request, view: Any) -> bool:
        return request.method in SAFE_METHODS or has_scope(request, ApiKeyScope.MANAGE_ARTICLES)


class CanReadFeeds(BasePermission):
    """Any reader's feed: staff, or an API key with the read-feeds scope."""

    message = "Reading other readers' feeds needs a staff login or the read-feeds scope."

    def has_permission(self, request: Request, view: Any) -> bool:
        return has_scope(request, ApiKeyScope.READ_FEEDS)


class CanManageRulesOrReadOnly(BasePermission):
    """Rules are internal: reading needs staff or read-feeds/manage-rules; writing manage-rules."""

    message = "Rules need a staff login or an API key with the manage-rules scope."

    def has_permission(self, request: Request, view: Any) -> bool:
        if has_scope(request, ApiKeyScope.MANAGE_RULES):
            return True
        return request.method in SAFE_METHODS and has_scope(request, ApiKeyScope.READ_FEEDS)


class _ReaderDataScope(BasePermission):
    """Other readers' data: an API key with ``scope``, or staff with the reader-data permission."""

    scope: str

    def has_permission(self, request: Request, view: Any) -> bool:
        if isinstance(request.auth, ApiKey):
            return self.scope in request.auth.scopes
        user = request.user
        return bool(
            user
            and user.is_authenticated
            and user.is_staff
            and user.has_perm("newsrec.view_reader_data")
        )


class CanManageReaders(_ReaderDataScope):
    """Any reader's data (export, erase): the manage-readers scope, or staff with reader-data."""

    scope = ApiKeyScope.MANAGE_READERS
    message = (
        "Readers' data needs an API key with the manage-readers scope or a staff login with "
        "the reader-data permission."
    )


class CanReadRetention(_ReaderDataScope):
    """Readers at risk of leaving: the read-retention scope, or staff with reader-data."""

    scope = ApiKeyScope.READ_RETENTION
    message = (
        "Readers at risk need an API key with the read-retention scope or a staff login with "
        "the reader-data permission."
    )


class IsReader(BasePermission):
    """Endpoints about "me": the caller is a reader (browser, or app with a reader token).

    A browser that is not logged in is identified by its cookie, which it sends on its own, so
    its writes need the CSRF token just like a session's (SessionAuthentication only checks
    logged-in sessions). API keys act for servers and have no reader of their own.
    """

    message = "An API key has no reader of its own; use a browser session or a reader token."

    def has_permission(self, request: Request, view: Any) -> bool:
        if isinstance(request.auth, ApiKey):
            return False
        if request.method not in SAFE_METHODS and request.auth is None:
            csrf_enforce(request)
        return True
