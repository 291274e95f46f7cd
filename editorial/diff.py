"""Rules in editors' words, and what changes between two sets of rules (publish summaries,
version comparisons): "Pin “Flood defences” at slot 1", not ``{"kind": "pin", ...}``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from editorial.audit import RULE_FIELDS, model_values
from newsrec.models import Article
from newsrec.numbers import ascii_int

Row = Mapping[str, Any]

# What makes two rows "the same rule" (then changed) rather than one removed and one added.
_IDENTITY = ("kind", "target_field", "target_value")
_TIMES = "\u00d7"  # the multiplication sign, as in "Boost section Sport x3"
# Fields that say nothing about what the rule does.
_IGNORED = {"note"}


def _when(value: Any) -> str:
    moment = parse_datetime(value) if isinstance(value, str) else value
    if not isinstance(moment, datetime):
        return str(value)
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M}"


def _number(value: Any) -> str:
    return f"{float(value):g}"


class _Titles:
    """Article titles for the article ids the rows name: one query."""

    def __init__(self, rows: Iterable[Row]) -> None:
        ids = {
            pk
            for row in rows
            if row.get("target_field") == "article"
            and (pk := ascii_int(str(row.get("target_value") or ""), low=1)) is not None
        }
        self.titles = dict(Article.objects.filter(pk__in=ids).values_list("pk", "title"))

    def target(self, row: Row) -> str:
        field, value = row.get("target_field") or "", str(row.get("target_value") or "").strip()
        if field == "article":
            pk = ascii_int(value, low=1)
            title = self.titles.get(pk) if pk is not None else None
            return f"“{title}”" if title else f"article #{value}"
        return f"{field} “{value}”" if value else ""


def describe(row: Row, titles: _Titles) -> str:
    """One rule row in an editor's words."""
    kind, target = row.get("kind"), titles.target(row)
    if kind == "block":
        text = f"Block {target}"
    elif kind == "boost":
        factor = float(row.get("factor") or 1.0)
        verb = "Boost" if factor > 1 else "Bury"
        text = f"{verb} {target} {_TIMES}{_number(factor)}"
    elif kind == "pin":
        text = f"Pin {target} at slot {row.get('slot')}"
        if row.get("devices"):
            text += f" on {', '.join(row['devices'])}"
        if row.get("visitors") not in (None, "", "all"):
            text += f" for {row['visitors']} visitors"
        if row.get("priority"):
            text += f" (priority {row['priority']})"
    elif kind == "pick":
        text = f"Editors' pick {target}"
    elif kind in ("max_age", "freshness"):
        what = "Maximum age" if kind == "max_age" else "Freshness half-life"
        where = f" in {row.get('target_value')}" if row.get("target_value") else ""
        text = f"{what} {_number(row.get('hours') or 0)} h{where}"
    elif kind == "cap":
        value = row.get("target_value")
        per = f"{row.get('target_field')} “{value}”" if value else f"any {row.get('target_field')}"
        text = f"At most {row.get('max_per_value')} per {per} in the top {row.get('top_k')}"
    elif kind == "mmr":
        text = f"Diversity (MMR) {_number(row.get('mmr_lambda') or 0)}"
    else:
        text = f"{kind} {target}".strip()
    start, end = row.get("valid_from"), row.get("valid_until")
    if start and end:
        text += f", from {_when(start)} to {_when(end)}"
    elif start:
        text += f", from {_when(start)}"
    elif end:
        text += f", until {_when(end)}"
    if row.get("enabled") is False:
        text += " (switched off)"
    return text


@dataclass(frozen=True)
class Change:
    kind: str  # "added", "removed", "changed"
    text: str

    def __str__(self) -> str:
        return f"{self.kind.capitalize()}: {self.text}"


def rows_of(rules: Iterable[Any]) -> list[dict[str, Any]]:
    """Rule rows as versions store them, from Rule objects or stored dicts."""
    return [dict(r) if isinstance(r, Mapping) else model_values(r) for r in rules]


def rules_diff(before: Iterable[Any], after: Iterable[Any]) -> list[Change]:
    """What publishing ``after`` in place of ``before`` changes, rule by rule."""
    old, new = rows_of(before), rows_of(after)
    titles = _Titles([*old, *new])

    def key(row: Row) -> tuple[Any, ...]:
        return tuple(str(row.get(name) or "").strip() for name in _IDENTITY)

    def params(row: Row) -> tuple[Any, ...]:
        return tuple(row.get(n) for n in RULE_FIELDS if n not in _IGNORED)

    unmatched = list(old)
    changes: list[Change] = []
    for row in new:
        same = next((o for o in unmatched if key(o) == key(row)), None)
        if same is None:
            changes.append(Change("added", describe(row, titles)))
            continue
        unmatched.remove(same)
        if params(same) != params(row):
            changes.append(Change("changed", f"{describe(same, titles)} → {describe(row, titles)}"))
    changes += [Change("removed", describe(row, titles)) for row in unmatched]
    return changes


def described(rules: Iterable[Any]) -> list[str]:
    """Every rule in editors' words, in order."""
    rows = rows_of(rules)
    titles = _Titles(rows)
    return [describe(row, titles) for row in rows]
