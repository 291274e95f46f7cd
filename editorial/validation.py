"""Checks across the rules of one set that no single rule sees: pins vs pins, caps vs catalogue."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from editorial.models import Rule
from newsrec.numbers import ascii_int


@dataclass(frozen=True)
class Problem:
    """A message for one field of the rule at ``index`` in the checked sequence."""

    index: int
    field: str
    message: str


def _windows_overlap(a: Rule, b: Rule) -> bool:
    """Half-open windows [from, until); a missing end is unbounded."""
    a_from, a_until = a.valid_from, a.valid_until
    b_from, b_until = b.valid_from, b.valid_until
    starts_before_b_ends = a_from is None or b_until is None or a_from < b_until
    b_starts_before_a_ends = b_from is None or a_until is None or b_from < a_until
    return starts_before_b_ends and b_starts_before_a_ends


def _pinned_titles(pins: Sequence[Rule]) -> dict[int, str]:
    ids = {pk for rule in pins if (pk := ascii_int(rule.target_value, low=1)) is not None}
    if not ids:
        return {}
    from editorial.selectors import article_titles

    return article_titles(ids=ids)


def _segments_overlap(a: Rule, b: Rule) -> bool:
    devices = not a.devices or not b.devices or bool(set(a.devices) & set(b.devices))
    visitors = "all" in (a.visitors, b.visitors) or a.visitors == b.visitors
    return devices and visitors


def _article(rule: Rule, titles: dict[int, str]) -> str:
    """The pinned article as editors know it: by its title."""
    pk = ascii_int(rule.target_value, low=1)
    title = titles.get(pk) if pk is not None else None
    return f"“{title}”" if title else f"article #{rule.target_value.strip()}"


def rules_problems(
    rules: Sequence[Rule],
    *,
    value_count: Callable[[str], int] | None = None,
    numbers: Sequence[int] | None = None,
) -> list[Problem]:
    """Problems of a whole set: overlapping pins and caps that can never be met.

    ``value_count(field)`` says how many distinct sections/tags/authors the live catalogue has;
    it defaults to a database count. ``numbers[i]`` is the number the form shows for rule ``i``
    ("Rule #3"), by default its place in ``rules``.
    """
    if value_count is None:
        from editorial.selectors import pool_value_count

        value_count = pool_value_count
    number = list(numbers) if numbers is not None else list(range(1, len(rules) + 1))
    problems: list[Problem] = []
    pins = [(i, r) for i, r in enumerate(rules) if r.enabled and r.kind == "pin"]
    titles = _pinned_titles([r for _, r in pins])
    for n, (i, a) in enumerate(pins):
        for j, b in pins[n + 1 :]:
            if not (_windows_overlap(a, b) and _segments_overlap(a, b)):
                continue
            if a.slot == b.slot:
                problems.append(
                    Problem(j, "slot", f"Slot {b.slot} is already taken by rule #{number[i]} "
                            f"({_article(a, titles)} at slot {a.slot}) for the same readers at "
                            "the same time: change the slot, window or devices.")
                )  # fmt: skip
            elif a.target_value.strip() == b.target_value.strip():
                problems.append(
                    Problem(j, "target_value", f"{_article(b, titles)} is already pinned by rule "
                            f"#{number[i]} (at slot {a.slot}) for the same readers at the same "
                            "time.")
                )  # fmt: skip
    counts: dict[str, int] = {}
    for i, rule in enumerate(rules):
        if not (rule.enabled and rule.kind == "cap") or rule.target_value.strip():
            continue  # a cap on one named value is always met by the other values
        if rule.max_per_value is None or not rule.top_k or rule.target_field not in (
            "section", "tag", "author",
        ):  # fmt: skip
            continue  # the rule's own validation reports these
        if rule.max_per_value == 0:
            problems.append(
                Problem(i, "max_per_value", f"0 per {rule.target_field} for every "
                        f"{rule.target_field} would leave the top {rule.top_k} empty.")
            )  # fmt: skip
            continue
        if rule.target_field not in counts:
            counts[rule.target_field] = value_count(rule.target_field)
        available = counts[rule.target_field]
        if rule.max_per_value * available < rule.top_k:
            problems.append(
                Problem(i, "max_per_value", f"Only {available} {rule.target_field}s have live "
                        f"articles, so at most {rule.max_per_value * available} articles can keep "
                        f"this cap: the top {rule.top_k} can never be filled. Raise the cap to at "
                        f"least {-(-rule.top_k // max(available, 1))} or lower the top K.")
            )  # fmt: skip
    return problems
