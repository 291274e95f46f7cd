"""editorial as newsrec's rules and experiments provider (see ``newsrec.providers``).

Registered by ``EditorialConfig.ready()``; a site may name these classes (or its own) in
``NEWSREC["RULES_PROVIDER"]`` and ``NEWSREC["EXPERIMENTS_PROVIDER"]`` instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from editorial import compiler
from editorial.experiments import selectors as experiments
from editorial.models import RulesState
from newsrec.engine.rules import Rules
from newsrec.providers import Arm, ReadRules


class EditorialRules:
    """The published rule sets: site-wide for stored feeds, layered per scope for reads."""

    def live_rules(self) -> Rules:
        return compiler.live_rules()

    def read_rules(
        self, *, section: str = "", device: str = "", variant_id: int | None = None
    ) -> ReadRules:
        return compiler.read_rules(section=section, device=device, variant_id=variant_id)

    def version(self) -> int:
        return RulesState.current()


class EditorialExperiments:
    """The running experiment's arms (holdout, hand-weighted)."""

    def reader_arm(self, *, reader: Any) -> Arm | None:
        return experiments.reader_arm(reader=reader)

    def readers_on_hand_weights(self, reader_ids: Sequence[int]) -> set[int]:
        return experiments.readers_on_hand_weights(reader_ids)
