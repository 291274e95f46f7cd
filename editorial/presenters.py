"""Presentation arithmetic for the editors' admin pages: percentages, bar widths, colours.

Pure functions over plain values and the selectors' result objects, so the pages' figures are
unit-tested without a request, a template or a database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from editorial.experiments.returns import VariantReturnsResult
    from editorial.experiments.selectors import VariantResult

# A section's share of the mix: (section, share, hue); a legend entry: (section, hue).
MixShare = tuple[str, float, int]
LegendEntry = tuple[str, int]


class MixSample(Protocol):
    """What the mix history needs of a sample (SectionMixSample has it)."""

    taken_at: datetime
    mix: dict[str, float]


class Weighted(Protocol):
    """What a split needs of a variant (Variant has it)."""

    name: str
    weight: int


def percent(share: float | None) -> float | None:
    """A share (0.25) as a percentage (25.0); None (not measured) stays None."""
    return None if share is None else 100 * share


def section_hues(names: Iterable[str]) -> dict[str, int]:
    """One hue (0-359) per section, spread evenly around the wheel in alphabetical order, so a
    section keeps its colour across every sample and the legend."""
    ordered = sorted(set(names))
    return {name: n * 360 // max(len(ordered), 1) for n, name in enumerate(ordered)}


def mix_history(
    samples: Sequence[MixSample],
) -> tuple[list[tuple[datetime, list[MixShare]]], list[LegendEntry]]:
    """The section-mix samples as stacked bars (each sample's sections alphabetically, with
    their hue) and the legend that colours them."""
    hue = section_hues(name for sample in samples for name in sample.mix)
    history = [
        (sample.taken_at, [(name, share, hue[name]) for name, share in sorted(sample.mix.items())])
        for sample in samples
    ]
    return history, list(hue.items())


def mix_ranked(mix: Mapping[str, float]) -> list[tuple[str, float]]:
    """Today's section mix, the biggest share first (ties keep their order)."""
    return sorted(mix.items(), key=lambda kv: -kv[1])


def variant_split(variants: Sequence[Weighted]) -> str:
    """ "personalised 90 %, holdout 10 %": each variant's share of the weights; "—" for none."""
    total = sum(v.weight for v in variants) or 1
    return ", ".join(f"{v.name} {100 * v.weight / total:.0f} %" for v in variants) or "—"


def results_rows(variants: Sequence[VariantResult]) -> list[dict[str, Any]]:
    """One row per variant of an experiment's results, with its CTR bar and confidence band.

    The bars share one scale: the highest upper CTR bound is the full width (100).
    """
    top = max((r.figures.ctr_high for r in variants), default=0.0) or 1.0
    return [
        {
            "variant": r.variant,
            "f": r.figures,
            "c": r.figures.counts,
            "cmp": r.comparison,
            "bar": 100 * r.figures.ctr / top,
            "ci_left": 100 * r.figures.ctr_low / top,
            "ci_width": 100 * (r.figures.ctr_high - r.figures.ctr_low) / top,
            "ctr_pct": 100 * r.figures.ctr,
            "lift_pct": percent(r.comparison.ctr_lift if r.comparison else None),
            "reads_lift_pct": percent(r.comparison.reads_per_reader_lift if r.comparison else None),
            "lift_low_pct": percent(r.comparison.ctr_lift_low if r.comparison else None),
            "lift_high_pct": percent(r.comparison.ctr_lift_high if r.comparison else None),
        }
        for r in variants
    ]


def returns_rows(returns: Iterable[VariantReturnsResult]) -> list[dict[str, Any]]:
    """One row per variant of the return table: next-day and 7-day return rates, reads per
    reader, and each one's difference from the baseline (None for the baseline itself)."""
    return [
        {
            "variant": r.variant,
            "exposed": r.returns.exposed,
            "r1": r.returns.return_rate(1),
            "r7": r.returns.return_rate(7),
            "reads": r.returns.reads_per_reader(),
            "d1": r.comparison.return_rate[1] if r.comparison else None,
            "d7": r.comparison.return_rate[7] if r.comparison else None,
            "dreads": r.comparison.reads_per_reader if r.comparison else None,
        }
        for r in returns
    ]


def changed_fields(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> list[tuple[str, Any, Any]]:
    """The fields an audit entry changed, as (field, before, after), "—" for a missing side."""
    before, after = before or {}, after or {}
    keys = [k for k in {**before, **after} if before.get(k) != after.get(k)]
    return [(k, before.get(k, "—"), after.get(k, "—")) for k in keys]
