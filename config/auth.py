"""Authentication backends of the site: admin logins lock out after repeated wrong passwords."""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.http import HttpRequest


class LoginLockoutBackend(AxesStandaloneBackend):
    """django-axes' lockout check, for logins that come with a request.

    Axes refuses ``authenticate()`` calls without one (``manage.py`` code, the test client's
    ``login()``); those have no address to lock and go on to the next backend.
    """

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)


def client_ip(request: HttpRequest) -> str | None:
    """The address logins are locked by: the one the API throttles use (NUM_PROXIES trusted
    proxies' X-Forwarded-For, else the peer address)."""
    from rest_framework.throttling import BaseThrottle

    return BaseThrottle().get_ident(request)  # type: ignore[arg-type]
