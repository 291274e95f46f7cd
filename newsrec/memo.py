"""Values a process keeps for a few seconds instead of asking the database (or Redis) again.

Hot reads (every feed read asks for the live rules, the running experiment, the withdrawn
articles, the front page's shared blocks) use one kind of memo with one expiry policy: a value
is kept for ``seconds`` after it was loaded, on the monotonic clock, or until ``clear()``.
Whoever changes the underlying rows clears this process's memo at once (a signal, a service);
other processes follow within ``seconds``. Every memo is listed, so ``memos_clear()`` forgets
them all (tests; after bulk changes in this process).

Caches keyed by what they hold (the pool, by the catalogue's change counter; the learned model,
by its version) are not memos: they are never stale, only replaced.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")

_ALL: list[Memo[object]] = []
_lock = threading.Lock()


class Memo(Generic[T]):
    """A value per key, kept for ``seconds`` after it was loaded."""

    def __init__(self, name: str, seconds: float) -> None:
        self.name = name
        self.seconds = seconds
        self._values: dict[Hashable, tuple[float, T]] = {}
        with _lock:
            _ALL.append(self)  # type: ignore[arg-type]

    def get(self, load: Callable[[], T], key: Hashable = None) -> T:
        """The memoised value of ``key``, or ``load()`` (then kept) when none is fresh.

        Threads may race to reload one key: both load the same rows, the last one is kept.
        """
        now = time.monotonic()
        hit = self._values.get(key)
        if hit is not None and now - hit[0] <= self.seconds:
            return hit[1]
        value = load()
        self._values[key] = (time.monotonic(), value)
        return value

    def clear(self) -> None:
        self._values.clear()

    def __repr__(self) -> str:
        return f"Memo({self.name!r}, seconds={self.seconds})"


def memos_clear() -> None:
    """Forget every memo of this process."""
    for memo in list(_ALL):
        memo.clear()
