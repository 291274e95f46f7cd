"""A Redis cache whose outage is a cache miss, not a site outage (issue #14.9).

Everything newsrec keeps in the cache (throttle counters, memos, debounce locks, progress) can
be recomputed from PostgreSQL or safely forgotten, so an unreachable Redis is treated as an
empty cache that stores nothing:

- ``get`` answers the default, ``get_many`` ``{}``, ``has_key`` ``False``;
- ``set``, ``set_many``, ``delete``, ``delete_many``, ``touch`` and ``clear`` do nothing;
- ``add`` answers ``True``: the caller proceeds as if it had taken the lock, so a debounced
  job (a profile update, a feeds refresh) is queued rather than lost;
- ``incr``/``decr`` raise ``ValueError``, as for a missing key.

After a failure Redis is not tried again for ``RETRY_AFTER`` seconds, so a dead or
unreachable server costs one socket timeout per process every few seconds, not one per call.
One warning is logged per outage per process.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

T = TypeVar("T")

OUTAGE_ERRORS = (RedisConnectionError, RedisTimeoutError)
RETRY_AFTER = 5.0  # seconds during which a failed server is not tried again

_down_until: dict[str, float] = {}  # server list -> monotonic time until which it is skipped
_lock = threading.Lock()


class _ReusedClientRedisCacheClient(RedisCacheClient):
    """Django's client, keeping one ``redis.Redis`` per connection pool.

    Django makes a new ``redis.Redis`` for every operation, and its constructor fills a table of
    some 170 reply callbacks: more CPU than a short command's round trip. A ``redis.Redis`` is
    safe to share between threads (each command takes a connection from the pool).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        django: Any = self  # Django's private attributes, which the stubs do not declare
        index = django._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            pool = django._pools.get(index)
            if pool is None:
                pool = django._pools[index] = django._pool_class.from_url(
                    django._servers[index], **django._pool_options
                )
            client = self._clients[index] = django._client(connection_pool=pool)
        return client


class FailSafeRedisCache(RedisCache):
    """Django's ``RedisCache`` that behaves as an empty cache while Redis is unreachable."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = _ReusedClientRedisCacheClient
        self._outage_key = ",".join(self._servers)  # type: ignore[attr-defined]

    def _guard(self, operation: Callable[[], T], fallback: Callable[[], T]) -> T:
        if _down_until.get(self._outage_key, 0.0) > time.monotonic():
            return fallback()
        try:
            result = operation()
        except OUTAGE_ERRORS as exc:
            with _lock:
                first = self._outage_key not in _down_until
                _down_until[self._outage_key] = time.monotonic() + RETRY_AFTER
            if first:
                logger.warning("Cache unreachable (%s); serving without it", type(exc).__name__)
            return fallback()
        if self._outage_key in _down_until:
            with _lock:
                if _down_until.pop(self._outage_key, None) is not None:
                    logger.warning("Cache reachable again")
        return result

    def add(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None
    ) -> bool:
        return self._guard(
            lambda: super(FailSafeRedisCache, self).add(key, value, timeout, version), lambda: True
        )

    def get(self, key: Any, default: Any = None, version: Any = None) -> Any:
        return self._guard(
            lambda: super(FailSafeRedisCache, self).get(key, default, version), lambda: default
        )

    def set(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None
    ) -> None:
        self._guard(
            lambda: super(FailSafeRedisCache, self).set(key, value, timeout, version), lambda: None
        )

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> bool:
        return self._guard(
            lambda: super(FailSafeRedisCache, self).touch(key, timeout, version), lambda: False
        )

    def delete(self, key: Any, version: Any = None) -> bool:
        return self._guard(
            lambda: super(FailSafeRedisCache, self).delete(key, version), lambda: False
        )

    def get_many(self, keys: Any, version: Any = None) -> dict[str, Any]:
        return self._guard(lambda: super(FailSafeRedisCache, self).get_many(keys, version), dict)

    def has_key(self, key: Any, version: Any = None) -> bool:
        return self._guard(
            lambda: super(FailSafeRedisCache, self).has_key(key, version), lambda: False
        )

    def incr(self, key: Any, delta: int = 1, version: Any = None) -> int:
        def missing() -> int:
            raise ValueError(f"Key '{key}' not found (cache unreachable)")

        return self._guard(
            lambda: super(FailSafeRedisCache, self).incr(key, delta, version), missing
        )

    def set_many(self, data: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> list[Any]:
        return self._guard(
            lambda: super(FailSafeRedisCache, self).set_many(data, timeout, version),
            lambda: list(data),
        )

    def delete_many(self, keys: Any, version: Any = None) -> None:
        self._guard(
            lambda: super(FailSafeRedisCache, self).delete_many(keys, version), lambda: None
        )

    def clear(self) -> None:
        self._guard(lambda: super(FailSafeRedisCache, self).clear(), lambda: None)
