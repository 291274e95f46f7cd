"""Rate limits per API key, per logged-in reader and per anonymous address (counted in Redis)."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from newsrec.conf import newsrec_settings
from newsrec.models import ApiKey


class _LiveRateThrottle(SimpleRateThrottle):
    """Reads its rate from ``NEWSREC["API_RATES"]`` on every request (not from the host's
    ``REST_FRAMEWORK`` rates, which DRF binds at import): a deployment or a test changes it
    without a restart."""

    def get_rate(self) -> str | None:
        rate = (newsrec_settings.API_RATES or {}).get(str(self.scope))
        return None if rate is None else str(rate)

    def key_for(self, request: Request, view: Any) -> str | None:
        raise NotImplementedError(".key_for() must be overridden")

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        ident = self.key_for(request, view)
        return None if ident is None else self.cache_format % {"scope": self.scope, "ident": ident}


class ApiKeyRateThrottle(_LiveRateThrottle):
    """Requests per API key (by its public prefix)."""

    scope = "api_key"

    def key_for(self, request: Request, view: Any) -> str | None:
        return request.auth.prefix if isinstance(request.auth, ApiKey) else None


class ReaderRateThrottle(_LiveRateThrottle):
    """Requests per logged-in user (session or reader token)."""

    scope = "reader"

    def key_for(self, request: Request, view: Any) -> str | None:
        if isinstance(request.auth, ApiKey) or not request.user.is_authenticated:
            return None
        return str(request.user.pk)


class AnonymousRateThrottle(_LiveRateThrottle):
    """Requests per client address from visitors who are not logged in (cookie readers too).

    The address, not the reader cookie, is counted: dropping the cookie must not reset the limit.
    """

    scope = "anon"

    def key_for(self, request: Request, view: Any) -> str | None:
        if request.user.is_authenticated:
            return None
        return self.get_ident(request)


class PasswordRateThrottle(_LiveRateThrottle):
    """Password attempts at the token endpoint, per client address."""

    scope = "auth"

    def key_for(self, request: Request, view: Any) -> str | None:
        return self.get_ident(request) if request.method == "POST" else None
