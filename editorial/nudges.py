"""Editors' controls of the nudges: each kind's stored setting as newsrec's ``NudgePolicy``."""

from __future__ import annotations

import time
from typing import Any

from editorial.models import NudgeSetting
from newsrec.providers import NudgePolicy, SettingsNudges

# Pages read the policies on every render: each process reads the table at most this often.
# A save clears this process's copy at once; other processes follow within these seconds.
POLICY_MEMO_SECONDS = 5.0

_memo: tuple[float, dict[str, NudgePolicy]] = (0.0, {})


def policy_of(setting: NudgeSetting) -> NudgePolicy:
    return NudgePolicy(
        kind=setting.kind,
        enabled=setting.enabled,
        surfaces=frozenset(setting.surfaces),
        max_per_day=int(setting.max_per_day),
        title=setting.title,
        lead=setting.lead,
        bands=frozenset(setting.bands),
    )


def nudge_policies() -> dict[str, NudgePolicy]:
    """The stored policies by kind, memoised per process for POLICY_MEMO_SECONDS."""
    global _memo
    loaded_at, policies = _memo
    now = time.monotonic()
    if loaded_at == 0.0 or now - loaded_at > POLICY_MEMO_SECONDS:
        policies = {s.kind: policy_of(s) for s in NudgeSetting.objects.all()}
        _memo = (now, policies)
    return policies


def nudge_policies_clear(**kwargs: Any) -> None:
    """Forget the memo (connected to saves and deletes of NudgeSetting)."""
    global _memo
    _memo = (0.0, {})


class EditorialNudges:
    """newsrec's nudges provider: the editors' setting of a kind, else newsrec's defaults."""

    def nudge_policy(self, *, kind: str) -> NudgePolicy:
        stored = nudge_policies().get(kind)
        return stored if stored is not None else SettingsNudges().nudge_policy(kind=kind)
