"""Steps 4-5: fill the feed slot by slot with caps and MMR, pins held at their slots."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

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
    owner: np.ndarray  # candidate position of each (candidate, code) entry, ascending
    codes: np.ndarray
    blocked: np.ndarray  # bool per candidate
    limited: np.ndarray  # bool per code: does the cap apply to this value
    starts: np.ndarray | None = None  # candidate p owns entries starts[p]:starts[p + 1]

    def codes_of(self, position: int) -> np.ndarray:
        if self.starts is None:
            self.starts = np.searchsorted(self.owner, np.arange(len(self.blocked) + 1))
        return self.codes[self.starts[position] : self.starts[position + 1]]

    def count(self, codes: np.ndarray) -> bool:
        """Count one placed article; True when a value became full (more candidates blocked)."""
        codes = codes[self.limited[codes]]
        if len(codes) == 0:
            return False
        self.counts[codes] += 1
        full = codes[self.counts[codes] >= self.cap.max_per_value]
        if len(full):
            self.blocked[self.owner[np.isin(self.codes, full)]] = True
            return True
        return False


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
    m = len(rows)
    taken = np.zeros(m, dtype=bool)
    top = float(scores.max()) if m else 0.0
    relevance = scores / top if top > 0 else np.zeros_like(scores)
    vectors = pool.embeddings[rows] if lam < 1 and m else None
    max_sim = np.zeros(m, dtype=np.float32)
    # MMR has nothing to be novel against until something is placed: plain relevance first
    value = relevance
    scaled = lam * relevance
    unmet: set[int] = set()
    out: list[int] = []
    remaining = m
    placed_pins: set[int] = set()
    # the caps' combined block, rebuilt only when a count fills a value or a cap's top K ends
    horizon = max((s.cap.top_k for s in states), default=0)
    closed: np.ndarray | None = None
    closed_by = 0  # how many caps were active when ``closed`` was built

    def seen(row: int) -> None:
        nonlocal value
        if vectors is not None:
            np.maximum(max_sim, vectors @ pool.embeddings[row], out=max_sim)
            value = scaled - (1 - lam) * np.maximum(max_sim, 0)

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
            choice = m - remaining
        elif position < horizon:
            active = [s for s in states if position < s.cap.top_k]
            if closed is None or len(active) != closed_by:
                closed_by = len(active)  # caps only ever drop out of the active set
                closed = taken.copy()
                for state in active:
                    closed |= state.blocked
            if closed.all():
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
                closed = taken.copy()
                relaxed = True
            else:
                relaxed = False
            choice = int(np.argmax(np.where(closed, -np.inf, value)))
            closed[choice] = True
            for state in active:
                if state.count(state.codes_of(choice)):
                    closed = None  # a value filled up: more candidates are blocked now
            if relaxed:
                closed = None  # the caps were set aside for this slot only
        else:
            choice = int(np.argmax(np.where(taken, -np.inf, value)))
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


@dataclass(frozen=True, eq=False)
class Slate:
    """One reader's input to steps 4-5: unpinned candidates (best first) and the placed pins."""

    rows: np.ndarray
    scores: np.ndarray
    pins: list[PlacedPin]


def assemble_many(
    pool: Pool, diversity: Diversity, slates: list[Slate], n: int
) -> list[tuple[list[int], list[Conflict]]]:
    """:func:`assemble` for many readers at once, with the same rules and results.

    Readers advance slot by slot together, so every step is one numpy operation over a
    (readers x candidates) array instead of a dozen tiny ones per reader. MMR similarities come
    from one batched matrix product per call (candidates and pins against the candidates).
    """
    b_count = len(slates)
    if b_count == 0:
        return []
    lam = diversity.mmr_lambda
    m = max(len(s.rows) for s in slates)
    p_count = max(len(s.pins) for s in slates)
    width = m + p_count  # each reader's candidates, padding, then its pins
    rows = np.full((b_count, width), -1, dtype=np.int64)
    dtype = np.result_type(np.float32, *(s.scores.dtype for s in slates))
    relevance = np.zeros((b_count, m), dtype=dtype)
    dead = np.ones((b_count, m), dtype=bool)  # taken or padding
    remaining = np.zeros(b_count, dtype=np.int64)
    pin_at = np.full((b_count, n), -1, dtype=np.int64)  # column of the pin holding a slot
    for b, slate in enumerate(slates):
        size = len(slate.rows)
        rows[b, :size] = slate.rows
        top = float(slate.scores.max()) if size else 0.0
        relevance[b, :size] = slate.scores / top if top > 0 else 0.0
        dead[b, :size] = False
        remaining[b] = size
        for k, placed in enumerate(slate.pins):
            rows[b, m + k] = placed.row
            if placed.position < n:
                pin_at[b, placed.position] = m + k
    sims = None
    if lam < 1 and m:
        vectors = pool.embeddings[np.maximum(rows, 0)]
        sims = np.matmul(vectors, vectors[:, :m].transpose(0, 2, 1))  # (readers, width, m)
    caps = [_BatchCap(pool, cap, rows, m, slates) for cap in diversity.caps]
    conflicts: list[list[Conflict]] = [[] for _ in slates]
    for cap in caps:
        for b, found in cap.exceeded:
            conflicts[b].append(found)
    unmet: list[set[int]] = [set() for _ in slates]
    scaled = lam * relevance
    max_sim = np.zeros((b_count, m), dtype=np.float32)
    used = np.zeros(b_count, dtype=bool)
    out = np.full((b_count, n), -1, dtype=np.int64)
    length = np.zeros(b_count, dtype=np.int64)
    stopped = np.zeros(b_count, dtype=bool)
    placed_pin = np.zeros((b_count, width), dtype=bool)
    for position in range(n):
        column = pin_at[:, position]
        pinned = np.flatnonzero((column >= 0) & ~stopped)
        if len(pinned):
            cols = column[pinned]
            out[pinned, position] = rows[pinned, cols]
            length[pinned] += 1
            placed_pin[pinned, cols] = True
            if sims is not None:
                max_sim[pinned] = np.maximum(max_sim[pinned], sims[pinned, cols])
                used[pinned] = True
        free = (column < 0) & ~stopped
        stopped |= free & (remaining == 0)
        free &= remaining > 0
        who = np.flatnonzero(free)
        if len(who) == 0:
            continue
        active = [c for c in caps if position < c.cap.top_k]
        closed = dead[who]
        for cap in active:
            closed = closed | cap.blocked[who]
        stuck = np.flatnonzero(closed.all(axis=1))
        for i in stuck.tolist():
            b = int(who[i])
            for k, cap in enumerate(active):
                if k not in unmet[b] and (cap.blocked[b] & ~dead[b]).any():
                    unmet[b].add(k)
                    conflicts[b].append(
                        Conflict(
                            ConflictKind.CAP_UNMET,
                            f"Not enough variety to keep '{cap.cap.describe()}': "
                            f"filled position {position + 1} with the best remaining article.",
                            rule_id=cap.cap.rule_id,
                        )
                    )
            closed[i] = dead[b]
        # usually every reader takes this slot: plain views then, not copies of every array
        rows_of: slice | np.ndarray = slice(None) if len(who) == b_count else who
        if sims is None:
            value = relevance[rows_of]
        else:
            mmr = scaled[rows_of] - (1 - lam) * np.maximum(max_sim[rows_of], 0)
            taken_any = used[rows_of]
            value = mmr if taken_any.all() else np.where(taken_any[:, None], mmr, relevance[who])
        choice = np.argmax(np.where(closed, -np.inf, value), axis=1)
        dead[who, choice] = True
        remaining[who] -= 1
        out[who, position] = rows[who, choice]
        length[who] += 1
        for cap in active:
            cap.count(who, choice)
        if sims is not None:
            if len(who) == b_count:
                np.maximum(max_sim, sims[who, choice], out=max_sim)
            else:
                max_sim[who] = np.maximum(max_sim[who], sims[who, choice])
            used[who] = True
    results = []
    for b, slate in enumerate(slates):
        order = out[b, : length[b]].tolist()
        for k, placed in enumerate(slate.pins):
            if not placed_pin[b, m + k] and len(order) < n:
                order.append(placed.row)
                conflicts[b].append(
                    Conflict(
                        ConflictKind.PIN_MOVED,
                        f"Too few articles to reach slot {placed.pin.slot}: pinned article "
                        f"{placed.pin.article_id} placed at slot {len(order)} instead.",
                        article_id=placed.pin.article_id,
                        rule_id=placed.pin.rule_id,
                    )
                )
        results.append((order, conflicts[b]))
    return results


class _BatchCap:
    """One cap over many readers: label codes per (reader, column) and counts per reader."""

    def __init__(self, pool: Pool, cap: Cap, rows: np.ndarray, m: int, slates: list[Slate]) -> None:
        self.cap = cap
        labels = labels_for(pool, cap.field)
        names = len(labels.names)
        limited = np.ones(names + 1, dtype=bool)
        if cap.values:
            limited[:] = False
            limited[[labels.lookup[v] for v in cap.values if v in labels.lookup]] = True
        limited[names] = False  # the padding code
        b_count, width = rows.shape
        flat = rows.reshape(-1)
        valid = np.flatnonzero(flat >= 0)
        owner, codes = labels.entries(flat[valid])
        starts = np.searchsorted(owner, np.arange(len(valid) + 1))
        per = np.diff(starts)
        depth = max(int(per.max()) if len(per) else 0, 1)
        table = np.full((b_count * width, depth), names, dtype=np.int64)
        rank = np.arange(len(owner)) - starts[owner]
        table[valid[owner], rank] = codes
        table[~limited[table]] = names  # values the cap does not limit never count
        self.codes = table.reshape(b_count, width, depth)
        self.padding = names
        self.counts = np.zeros((b_count, names + 1), dtype=np.int64)
        # pins in the cap's top K count from the start
        for b, slate in enumerate(slates):
            for k, placed in enumerate(slate.pins):
                if placed.position < cap.top_k:
                    self.counts[b, self.codes[b, m + k]] += 1
        self.counts[:, names] = 0
        self.exceeded: list[tuple[int, Conflict]] = []
        over = self.counts[:, :names] > cap.max_per_value
        over &= limited[:names]
        for b, code in zip(*np.nonzero(over), strict=True):
            self.exceeded.append(
                (
                    int(b),
                    Conflict(
                        ConflictKind.PIN_EXCEEDS_CAP,
                        f"Pins alone put {self.counts[b, code]} articles of {cap.field} "
                        f"{labels.names[code]!r} in the top {cap.top_k}; the pins win over "
                        f"'{cap.describe()}'.",
                        rule_id=cap.rule_id,
                    ),
                )
            )
        self.m = m
        self.blocked = self._blocked(np.arange(b_count))

    def _blocked(self, who: np.ndarray) -> np.ndarray:
        counts = self.counts[who]
        counts[:, self.padding] = -1  # padding never blocks, not even with max 0
        full = (
            np.take_along_axis(counts, self.codes[who, : self.m].reshape(len(who), -1), axis=1)
            >= self.cap.max_per_value
        )
        return np.asarray(full.reshape(len(who), self.m, self.codes.shape[2]).any(axis=2))

    def count(self, who: np.ndarray, choice: np.ndarray) -> None:
        codes = self.codes[who, choice]  # (readers, depth); codes of one article are distinct
        limited = codes != self.padding
        b_idx = np.broadcast_to(who[:, None], codes.shape)[limited]
        self.counts[b_idx, codes[limited]] += 1
        touched = np.unique(b_idx)
        if len(touched):
            self.blocked[touched] = self._blocked(touched)


T = TypeVar("T")


def caps_keep(
    items: Sequence[T],
    caps: Sequence[Cap],
    labels: Callable[[T, str], Iterable[str]],
    *,
    fixed: Callable[[T], bool] = lambda _item: False,
) -> list[T]:
    """``items`` reordered so that the first K of them keep every cap, for every K.

    For surfaces that show a built feed after dropping some of its items (hidden, moved into a
    rail, withdrawn, no longer allowed): the gaps would pull later items up past a cap. Slot by
    slot, the first remaining item that keeps every cap of that slot is placed; a ``fixed``
    item (a pin) always qualifies and counts; where no item qualifies the first remaining one
    is placed (the cap is relaxed, as ``assemble`` does). Items keep their order otherwise.
    ``labels(item, field)`` gives an item's sections, tags or authors.
    """
    if not caps or not items:
        return list(items)
    horizon = max(cap.top_k for cap in caps)
    counts: list[dict[str, int]] = [{} for _ in caps]

    def values(item: T, cap: Cap) -> list[str]:
        return [v for v in labels(item, cap.field) if not cap.values or v in cap.values]

    def keeps(item: T, slot: int) -> bool:
        return all(
            counts[c].get(v, 0) < cap.max_per_value
            for c, cap in enumerate(caps)
            if slot < cap.top_k
            for v in values(item, cap)
        )

    remaining, placed = list(items), list[T]()
    while remaining and len(placed) < horizon:
        slot = len(placed)
        choice = next(
            (i for i, item in enumerate(remaining) if fixed(item) or keeps(item, slot)), 0
        )
        item = remaining.pop(choice)
        placed.append(item)
        for c, cap in enumerate(caps):
            if slot < cap.top_k:
                for v in values(item, cap):
                    counts[c][v] = counts[c].get(v, 0) + 1
    return placed + remaining
