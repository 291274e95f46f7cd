"""One kind of per-process memo (#13.4): kept for its seconds, per key, all cleared at once."""

from __future__ import annotations

import pytest

from newsrec import memo
from newsrec.memo import Memo, memos_clear


def test_a_value_is_kept_for_its_seconds_then_loaded_again(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr(memo.time, "monotonic", lambda: clock[0])
    loads: list[int] = []
    kept: Memo[int] = Memo("test", 5.0)

    def load() -> int:
        loads.append(1)
        return len(loads)

    assert kept.get(load) == 1
    clock[0] += 5.0
    assert kept.get(load) == 1  # still fresh at exactly its seconds
    clock[0] += 0.1
    assert kept.get(load) == 2
    assert kept.get(load, key="other") == 3  # each key on its own
    assert kept.get(load) == 2


def test_memos_clear_forgets_every_memo() -> None:
    first: Memo[str] = Memo("first", 60.0)
    second: Memo[str] = Memo("second", 60.0)
    first.get(lambda: "a")
    second.get(lambda: "b")
    memos_clear()
    assert first.get(lambda: "a2") == "a2"
    assert second.get(lambda: "b2") == "b2"
