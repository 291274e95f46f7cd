"""Steps 4-5: fill the feed slot by slot with caps and MMR, pins held at their slots."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from newsrec.engine.pins import PlacedPin
from newsrec.engine.pool import Pool
from newsrec.engine.rules import Cap, Diversity, labels_for
from newsrec.engine.types import Conflict, ConflictKind


@dataclass(eq=False)
class _CapState:
    """Counts of one cap's values and the candidates those counts now block."""

    cap: Cap
    counts: np.ndarray  # per label code
    owner: np.ndarray  # candidate position of each (candidate, code) entry
    codes: np.ndarray
    blocked: np.ndarray  # bool per candidate
    limited: np.ndarray  # bool per code: does the cap apply to this value

    def codes_of(self, position: int) -> np.ndarray:
        return self.codes[self.owner == position]

    def count(self, codes: np.ndarray) -> None:
        codes = codes[self.limited[codes]]
        if len(codes) == 0:
            return
        self.counts[codes] += 1
        full = codes[self.counts[codes] >= self.cap.max_per_value]
        if len(full):
            self.blocked[self.owner[np.isin(self.codes, full)]] = True


def _cap_states(
    pool: Pool, caps: tuple[Cap, ...], rows: np.ndarray, pins: list[PlacedPin]
) -> tuple[list[_CapState], list[Conflict]]:
    states: list[_CapState] = []
    conflicts: list[Conflict] = []
    for cap in caps:
        labels = labels_for(pool, cap.field)
        limited = np.ones(len(labels.names), dtype=bool)
        if cap.values:
            limited[:] = False
            limited[[labels.lookup[v] for v in cap.values if v in labels.lookup]] = True
        owner, codes = labels.entries(rows)
        state = _CapState(
            cap=cap,
            counts=np.zeros(len(labels.names), dtype=np.int64),
            owner=owner,
            codes=codes,
            blocked=np.zeros(len(rows), dtype=bool),
            limited=limited,
        )
        # values already full (max 0) block from the start
        zero = limited & (state.counts >= cap.max_per_value)
        state.blocked[owner[zero[codes]]] = True
        for placed in pins:
            if placed.position < cap.top_k:
                _, pin_codes = labels.entries(np.asarray([placed.row]))
                state.count(pin_codes)
        over = np.flatnonzero(limited & (state.counts > cap.max_per_value))
        for code in over:
            conflicts.append(
                Conflict(
                    ConflictKind.PIN_EXCEEDS_CAP,
                    f"Pins alone put {state.counts[code]} articles of {cap.field} "
                    f"{labels.names[code]!r} in the top {cap.top_k}; the pins win over "
                    f"'{cap.describe()}'.",
                    rule_id=cap.rule_id,
                )
            )
        states.append(state)
    return states, conflicts


def assemble(
    pool: Pool,
    diversity: Diversity,
    rows: np.ndarray,
    scores: np.ndarray,
    pins: list[PlacedPin],
    n: int,
) -> tuple[list[int], list[Conflict]]:
    """Pool rows in feed order.

    ``rows`` are the unpinned candidates sorted by score (best first). At each position a pin
    takes its slot; otherwise the best MMR value among candidates that keep every active cap
    (a cap is active in its top K) is chosen. If no candidate keeps the caps, the best remaining
    one is taken and a CAP_UNMET conflict is reported once per cap. Pins whose slot cannot be
    reached (too few candidates) go to the end and are reported as PIN_MOVED.
    """
    pin_at = {p.position: p for p in pins}
    states, conflicts = _cap_states(pool, diversity.caps, rows, pins)
    lam = diversity.mmr_lambda
    taken = np.zeros(len(rows), dtype=bool)
    top = float(scores.max()) if len(scores) else 0.0
    relevance = scores / top if top > 0 else np.zeros_like(scores)
    vectors = pool.embeddings[rows] if lam < 1 else None
    max_sim = np.zeros(len(rows), dtype=np.float32)
    used = False  # MMR has nothing to be novel against until something is placed
    unmet: set[int] = set()
    out: list[int] = []
    remaining = len(rows)
    placed_pins: set[int] = set()

    def seen(row: int) -> None:
        nonlocal max_sim, used
        if vectors is not None:
            np.maximum(max_sim, vectors @ pool.embeddings[row], out=max_sim)
            used = True

    simple = not states and vectors is None
    for position in range(n):
        pin = pin_at.get(position)
        if pin is not None:
            out.append(pin.row)
            placed_pins.add(pin.position)
            seen(pin.row)
            continue
        if remaining == 0:
            break
        if simple:
            # no caps, no MMR: the candidates are already in order
            choice = len(rows) - remaining
        else:
            active = [s for s in states if position < s.cap.top_k]
            open_ = ~taken
            for state in active:
                open_ &= ~state.blocked
            if not open_.any():
                for i, state in enumerate(active):
                    if i not in unmet and (state.blocked & ~taken).any():
                        unmet.add(i)
                        conflicts.append(
                            Conflict(
                                ConflictKind.CAP_UNMET,
                                f"Not enough variety to keep '{state.cap.describe()}': "
                                f"filled position {position + 1} with the best remaining article.",
                                rule_id=state.cap.rule_id,
                            )
                        )
                open_ = ~taken
            value = relevance if not used else lam * relevance - (1 - lam) * np.maximum(max_sim, 0)
            choice = int(np.argmax(np.where(open_, value, -np.inf)))
            for state in active:
                state.count(state.codes_of(choice))
        taken[choice] = True
        remaining -= 1
        out.append(int(rows[choice]))
        seen(int(rows[choice]))
    for pin in pins:
        if pin.position not in placed_pins and len(out) < n:
            out.append(pin.row)
            conflicts.append(
                Conflict(
                    ConflictKind.PIN_MOVED,
                    f"Too few articles to reach slot {pin.pin.slot}: pinned article "
                    f"{pin.pin.article_id} placed at slot {len(out)} instead.",
                    article_id=pin.pin.article_id,
                    rule_id=pin.pin.rule_id,
                )
            )
    return out, conflicts
