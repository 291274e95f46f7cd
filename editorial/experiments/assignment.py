"""Deterministic assignment of readers to variants: a hash of (salt, reader id), no stored rows.

Pure Python: the same reader lands in the same variant in every process and every session, and
a new salt reshuffles readers independently of earlier experiments.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

HOLDOUT = "holdout"
HAND_WEIGHTED = "hand"
NO_NUDGES = "no-nudges"
_SCALE = float(2**64)


@dataclass(frozen=True)
class Arm:
    """A variant as the feed read sees it."""

    experiment_id: int
    variant_id: int
    name: str
    kind: str
    weight: int

    @property
    def tag(self) -> str:
        """Carried in recommendation ids, so impressions and clicks name their variant."""
        return f"e{self.experiment_id}v{self.variant_id}"

    @property
    def holdout(self) -> bool:
        return self.kind == HOLDOUT

    @property
    def nudges(self) -> bool:
        """Nudges are recommendations: none in a holdout, nor in a nudges-off arm."""
        return self.kind not in (HOLDOUT, NO_NUDGES)

    @property
    def hand_weighted(self) -> bool:
        """Ranked by the hand-weighted formula even while a learned ranker is active."""
        return self.kind == HAND_WEIGHTED


@dataclass(frozen=True)
class RunningExperiment:
    """The running experiment: its salt and arms in a fixed order (variant id)."""

    experiment_id: int
    salt: str
    arms: tuple[Arm, ...]


def bucket(salt: str, reader_key: str) -> float:
    """A uniform number in [0, 1) fixed by ``salt`` and ``reader_key`` (BLAKE2b, 64 bits)."""
    digest = hashlib.blake2b(f"{salt}:{reader_key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


def arm_for(experiment: RunningExperiment, reader_key: str) -> Arm | None:
    """The reader's arm: consecutive slices of [0, 1) sized by weight, in variant order."""
    total = sum(arm.weight for arm in experiment.arms)
    if total <= 0:
        return None
    point = bucket(experiment.salt, reader_key) * total
    upper = 0
    for arm in experiment.arms:
        upper += arm.weight
        if point < upper:
            return arm
    return experiment.arms[-1]  # float rounding at the very top
