"""Figures per rule (a pin, a boost, a block, a pick), and "did my rule help?": the same figures
before and after a rule set was published."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from editorial.analytics.figures import (
    SUMS,
    Figures,
    Point,
    Step,
    analytics_series,
    figures_of,
    hour_floor,
    total,
)
from editorial.experiments.stats import difference_interval
from editorial.models import (
    ArticleHourStats,
    Facet,
    FacetHourStats,
    Rule,
    RuleKind,
    RuleSet,
    RuleSetVersion,
    Scope,
)
from editorial.selectors import ARRAY_FIELDS
from newsrec.models import Article
from newsrec.numbers import ascii_int

TARGETED = (RuleKind.PIN, RuleKind.BOOST, RuleKind.BLOCK, RuleKind.PICK)
IMPACT_DAYS = 7  # "did my rule help?" compares up to this many days after the publish...
MIN_AFTER = timedelta(hours=1)  # ...and needs at least one whole hour of it


@dataclass(frozen=True)
class RuleTarget:
    """What a rule acts on, from a rule row or a published snapshot of one."""

    kind: str
    label: str
    field: str
    value: str
    slot: int | None
    factor: float | None

    @classmethod
    def of(cls, rule: Rule | Mapping[str, Any]) -> RuleTarget:
        if isinstance(rule, Rule):
            row: Mapping[str, Any] = {
                "kind": rule.kind, "target_field": rule.target_field,
                "target_value": rule.target_value, "slot": rule.slot, "factor": rule.factor,
            }  # fmt: skip
        else:
            row = rule
        kind, field = str(row.get("kind") or ""), str(row.get("target_field") or "")
        value = str(row.get("target_value") or "").strip()
        slot = row.get("slot") if kind == RuleKind.PIN else None
        return cls(
            kind=kind, label=_label(kind, field, value, row.get("factor"), slot), field=field,
            value=value, slot=int(slot) if slot else None, factor=row.get("factor"),
        )  # fmt: skip

    @property
    def article_id(self) -> int | None:
        return ascii_int(self.value, low=1) if self.field == "article" else None


def _label(kind: str, field: str, value: str, factor: Any, slot: Any) -> str:
    name = dict(RuleKind.choices).get(kind, kind)
    if field == "article":
        pk = ascii_int(value, low=1)
        title = Article.objects.filter(pk=pk or 0).values_list("title", flat=True).first()
        value = f"“{title}”" if title else f"article {value}"
    else:
        value = f"{field} {value}" if value else "everything"
    detail = f" at slot {slot}" if slot else f" x{factor:g}" if factor else ""
    return f"{name}: {value}{detail}"


def _article_rows(target: RuleTarget) -> QuerySet[ArticleHourStats]:
    """The per-article rows of the articles a rule matches."""
    rows = ArticleHourStats.objects.all()
    if target.field == "article":
        return rows.filter(article_id=target.article_id or 0)
    if target.field in ARRAY_FIELDS:
        column = ARRAY_FIELDS[target.field]
        matching = Article.objects.filter(**{f"{column}__contains": [target.value]})
        return rows.filter(article__in=matching.values("pk"))
    return rows.none()


def _sum(qs: QuerySet[Any], key: str) -> Figures:
    return figures_of(qs.aggregate(**SUMS), key)


def rule_figures(
    target: RuleTarget, *, since: datetime, until: datetime | None = None, surface: str = ""
) -> Figures:
    """What the articles a rule matches did in the window (for a pin: the pinned article at
    its slot). A rule without a target (max age, caps) matches every article."""
    since = hour_floor(since)
    window: dict[str, Any] = {"hour__gte": since, **({"hour__lt": until} if until else {})}
    if surface:
        window["surface"] = surface
    if target.field == Facet.SECTION:
        facets = FacetHourStats.objects.filter(facet=Facet.SECTION, value=target.value, **window)
        return _sum(facets, target.label)
    if not target.value:
        return total(since=since, until=until, surface=surface)
    rows = _article_rows(target).filter(**window)
    if target.kind == RuleKind.PIN:
        rows = rows.filter(slot=target.slot)
    return _sum(rows, target.label)


def slot_figures(
    slot: int, *, since: datetime, until: datetime | None = None, surface: str = ""
) -> Figures:
    """Everything shown at one slot in the window."""
    rows = FacetHourStats.objects.filter(facet=Facet.SLOT, value=str(slot), hour__gte=since)
    if until is not None:
        rows = rows.filter(hour__lt=until)
    if surface:
        rows = rows.filter(surface=surface)
    return _sum(rows, f"slot {slot}")


@dataclass(frozen=True)
class RuleRow:
    """One rule's figures in a window; for a pin also the other articles at its slot."""

    target: RuleTarget
    figures: Figures
    slot_others: Figures | None = None


def rule_rows(
    targets: Iterable[RuleTarget], *, since: datetime, until: datetime | None = None,
    surface: str = "",
) -> list[RuleRow]:  # fmt: skip
    out = []
    for target in targets:
        figures = rule_figures(target, since=since, until=until, surface=surface)
        others = None
        if target.kind == RuleKind.PIN and target.slot:
            at_slot = slot_figures(target.slot, since=since, until=until, surface=surface)
            others = at_slot.minus(figures, key=f"others at slot {target.slot}")
        out.append(RuleRow(target=target, figures=figures, slot_others=others))
    return out


def live_rule_targets() -> list[tuple[RuleSet, RuleTarget]]:
    """The enabled pins, boosts, blocks and picks of the live rule sets."""
    rules = (
        Rule.objects.filter(rule_set__is_live=True, enabled=True, kind__in=TARGETED)
        .select_related("rule_set")
        .order_by("rule_set__name", "kind", "pk")
    )
    return [(rule.rule_set, RuleTarget.of(rule)) for rule in rules]


@dataclass(frozen=True)
class Comparison:
    """One line of "did my rule help?": the figures before and after the publish."""

    label: str
    before: Figures
    after: Figures
    slot_before: Figures | None = None  # a pin: the other articles at its slot
    slot_after: Figures | None = None

    @property
    def rows(self) -> list[tuple[str, Figures, Figures | None]]:
        """(period, figures, the other articles at a pin's slot) before and after."""
        return [("before", self.before, self.slot_before), ("after", self.after, self.slot_after)]

    @property
    def ctr_change(self) -> float | None:
        """The change in CTR, in percentage points."""
        if self.before.ctr is None or self.after.ctr is None:
            return None
        return 100 * (self.after.ctr - self.before.ctr)

    @property
    def ctr_change_interval(self) -> tuple[float, float] | None:
        """95 % interval of the CTR change, in percentage points. Impressions count as
        independent here (the hourly rows keep no per-reader sums): one reader's repeated
        views make the true interval somewhat wider."""
        found = difference_interval(
            self.after.clicks, self.after.impressions, self.before.clicks, self.before.impressions
        )
        return None if found is None else (100 * found[0], 100 * found[1])

    @property
    def ctr_change_clear(self) -> bool:
        """Whether the interval leaves out "no change"."""
        found = self.ctr_change_interval
        return found is not None and (found[0] > 0 or found[1] < 0)

    @property
    def pin_lift(self) -> float | None:
        """A pin: its CTR after the publish over the other articles' at its slot (1 = same)."""
        if self.slot_after is None or self.after.ctr is None or not self.slot_after.ctr:
            return None
        return self.after.ctr / self.slot_after.ctr


@dataclass(frozen=True)
class Impact:
    """Figures of equal windows before and after one publish of a rule set."""

    version: RuleSetVersion
    published_at: datetime
    before_start: datetime
    before_end: datetime  # the publish's hour is in neither window
    after_start: datetime
    after_end: datetime
    surface: str
    lines: list[Comparison]
    series: list[Point]
    too_early: bool
    scope_note: str

    @property
    def hours(self) -> float:
        return (self.after_end - self.after_start).total_seconds() / 3600


def _scope(rule_set: RuleSet) -> tuple[str, str]:
    """The surface the set's effect shows on, and a note on what cannot be told apart."""
    if rule_set.scope == Scope.SECTION:
        return "section", f"Section pages only (the set applies to “{rule_set.scope_value}”)."
    if rule_set.scope == Scope.DEVICE:
        return "", "The figures are not split by device: this set's devices are mixed in."
    if rule_set.scope == Scope.VARIANT:
        return "", "The figures cover every reader, not only this experiment variant's."
    return "", ""


def ruleset_impact(
    *, version: RuleSetVersion, days: int = IMPACT_DAYS, now: datetime | None = None
) -> Impact:
    """The set's figures (all, and per targeted rule) in the hours after ``version`` was
    published (until the set's next publish, ``days`` later or now) against the same number
    of hours before it. Whole hours only: the hour of the publish itself is left out."""
    now = now or timezone.now()
    published = version.published_at
    start_after = hour_floor(published) + timedelta(hours=1)
    following = (
        RuleSetVersion.objects.filter(rule_set=version.rule_set, published_at__gt=published)
        .order_by("published_at")
        .values_list("published_at", flat=True)
        .first()
    )
    ends = [start_after + timedelta(days=days), hour_floor(now)]
    if following is not None:
        ends.append(hour_floor(following))
    end = min(ends)
    too_early = end - start_after < MIN_AFTER
    length = max(end - start_after, timedelta(0))
    before_end = hour_floor(published)
    before_start = before_end - length
    surface, note = _scope(version.rule_set)

    def both(target: RuleTarget | None, label: str) -> Comparison:
        if target is None:
            return Comparison(
                label=label,
                before=total(since=before_start, until=before_end, surface=surface),
                after=total(since=start_after, until=end, surface=surface),
            )
        [before] = rule_rows([target], since=before_start, until=before_end, surface=surface)
        [after] = rule_rows([target], since=start_after, until=end, surface=surface)
        return Comparison(
            label=label, before=before.figures, after=after.figures,
            slot_before=before.slot_others, slot_after=after.slot_others,
        )  # fmt: skip

    lines = []
    if not too_early:
        lines.append(both(None, f"Everything on {surface or 'all surfaces'}"))
        for row in version.rules:
            target = RuleTarget.of(row)
            if row.get("enabled", True) and target.kind in TARGETED:
                lines.append(both(target, target.label))
    step: Step = "hour" if length <= timedelta(days=2) else "day"
    series = (
        analytics_series(since=before_start, until=end, surface=surface, step=step)
        if not too_early
        else []
    )
    return Impact(
        version=version, published_at=published, before_start=before_start,
        before_end=before_end, after_start=start_after, after_end=end,
        surface=surface, lines=lines, series=series, too_early=too_early, scope_note=note,
    )  # fmt: skip
