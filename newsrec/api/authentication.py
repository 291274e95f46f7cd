"""API-key authentication: ``Authorization: Api-Key <key>`` (or ``X-Api-Key: <key>``)."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from newsrec.memo import Memo
from newsrec.models import ApiKey

KEY_PREFIX_LENGTH = 8
# A live key's row is kept this long per process (every event batch, feed read and write names
# its key: the look-up cost about as much as storing a batch). Revoking, deleting or changing a
# key clears this process's memo at once (newsrec.receivers); other processes follow within it.
KEY_MEMO_SECONDS = 5.0
_live_keys: Memo[ApiKey] = Memo("api keys", KEY_MEMO_SECONDS)


class _NoLiveKey(Exception):
    """No live key has this hash (never memoised: unknown keys must not fill the memo)."""


def _live_key(key_hash: str) -> ApiKey:
    key = ApiKey.objects.filter(key_hash=key_hash, revoked_at__isnull=True).first()
    if key is None:
        raise _NoLiveKey
    return key


def live_keys_forget() -> None:
    """Forget the memoised keys of this process (a key was revoked, deleted or changed)."""
    _live_keys.clear()


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def api_key_create(*, name: str, scopes: list[str]) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the raw key, which is never stored."""
    raw = f"nr_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(
        name=name, prefix=raw[3 : 3 + KEY_PREFIX_LENGTH], key_hash=hash_key(raw), scopes=scopes
    )
    return key, raw


class ApiKeyUser(AnonymousUser):
    """The request user for an API-key call: authenticated, never staff, scoped by its key."""

    def __init__(self, key: ApiKey) -> None:
        super().__init__()
        self.api_key = key

    @property
    def is_authenticated(self) -> bool:  # type: ignore[override]
        return True

    def __str__(self) -> str:
        return f"api-key:{self.api_key.prefix}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Api-Key"

    def authenticate(self, request: Request) -> tuple[Any, ApiKey] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        raw = ""
        if header.startswith(f"{self.keyword} "):
            raw = header[len(self.keyword) + 1 :].strip()
        elif request.META.get("HTTP_X_API_KEY"):
            raw = request.META["HTTP_X_API_KEY"].strip()
        if not raw:
            return None
        key_hash = hash_key(raw)
        try:
            key = _live_keys.get(lambda: _live_key(key_hash), key_hash)
        except _NoLiveKey:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.") from None
        now = timezone.now()
        if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
            key.last_used_at = now
        return ApiKeyUser(key), key

    def authenticate_header(self, request: Request) -> str:
        return self.keyword
