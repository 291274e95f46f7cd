"""Editors' controls of the nudges: each kind's stored setting as newsrec's ``NudgePolicy``."""

from __future__ import annotations

from typing import Any

from editorial.models import NudgeSetting
from newsrec.memo import Memo
from newsrec.providers import NudgePolicy, SettingsNudges

# Pages read the policies on every render: each process reads the table at most this often.
# A save clears this process's copy at once; other processes follow within these seconds.
POLICY_MEMO_SECONDS = 5.0

_policies: Memo[dict[str, NudgePolicy]] = Memo("nudge policies", POLICY_MEMO_SECONDS)


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
    return _policies.get(lambda: {s.kind: policy_of(s) for s in NudgeSetting.objects.all()})


def nudge_policies_clear(**kwargs: Any) -> None:
    """Forget the memo (connected to saves and deletes of NudgeSetting)."""
    _policies.clear()


class EditorialNudges:
    """newsrec's nudges provider: the editors' setting of a kind, else newsrec's defaults."""

    def nudge_policy(self, *, kind: str) -> NudgePolicy:
        stored = nudge_policies().get(kind)
        return stored if stored is not None else SettingsNudges().nudge_policy(kind=kind)
