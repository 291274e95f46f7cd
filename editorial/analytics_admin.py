"""The analytics pages: figures per surface, slot, section, article and live rule over time
(charts with tables and CSV), and "did my rule help?" for a published rule set."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.http import urlencode

from editorial import analytics
from editorial.analytics.charts import Line, Mark, bar_chart, line_chart
from editorial.analytics.figures import Step
from editorial.analytics.rollup import day_floor
from editorial.models import ArticleHourStats, RuleSet, RulesState
from newsrec.admin_mixins import ReadOnlyAdminMixin

PERIODS = {
    "1": "Last 24 hours",
    "7": "Last 7 days (today and 6 before, UTC)",
    "30": "Last 30 days (today and 29 before, UTC)",
}
STEPS = {"hour": "Hour", "day": "Day"}
TABLES = ("surfaces", "slots", "sections", "articles", "rules", "series")
FIGURE_COLUMNS = (
    "impressions", "clicks", "ctr", "reads", "finishes", "completion", "hides",
    "median_dwell_seconds", "mean_dwell_seconds",
)  # fmt: skip


def _round(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def figure_cells(f: analytics.Figures) -> list[Any]:
    """The CSV cells of FIGURE_COLUMNS."""
    return [
        f.impressions, f.clicks, _round(f.ctr), f.reads, f.finishes, _round(f.completion),
        f.hides, _round(f.median_dwell), _round(f.mean_dwell),
    ]  # fmt: skip


def csv_response(name: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    writer.writerow(header)
    writer.writerows(rows)
    return response


def _percent(value: float) -> str:
    return f"{value:g} %"


def series_chart(
    *, chart_id: str, title: str, points: Sequence[analytics.Point], step: str,
    markers: Sequence[analytics.Marker],
) -> dict[str, Any]:  # fmt: skip
    """Two charts of a series: counts (impressions, clicks, reads) and rates (CTR, completion)."""
    x = [p.at for p in points]
    x_format = "%H:00" if step == "hour" else "%d %b"
    if step == "hour" and points and (points[-1].at - points[0].at) > timedelta(hours=24):
        x_format = "%d %b %H:00"
    marks = [Mark(at=m.at, label=f"{m.label} (rules v{m.rules_version})") for m in markers]
    first, last = (f"{x[0]:%Y-%m-%d %H:00}", f"{x[-1]:%Y-%m-%d %H:00}") if x else ("", "")
    published = "; ".join(f"{m.label} at {m.at:%Y-%m-%d %H:%M}" for m in markers) or "none"
    counts = line_chart(
        chart_id=f"{chart_id}-counts", title=f"{title}: impressions, clicks and reads",
        description=f"Per {step} from {first} to {last}. Rule sets published: {published}. "
        "The table below holds the same numbers.",
        x=x, x_format=x_format, marks=marks, y_label="count",
        lines=[
            Line("impressions", [p.figures.impressions for p in points]),
            Line("clicks", [p.figures.clicks for p in points]),
            Line("reads", [p.figures.reads for p in points]),
        ],
    )  # fmt: skip
    rates = line_chart(
        chart_id=f"{chart_id}-rates", title=f"{title}: CTR and completion",
        description=f"Per {step} from {first} to {last}, in percent; empty where nothing was "
        f"shown or read. Rule sets published: {published}.",
        x=x, x_format=x_format, marks=marks, y_label="percent", y_format=_percent,
        lines=[
            Line("CTR", [p.figures.ctr_percent for p in points]),
            Line("completion", [p.figures.completion_percent for p in points]),
        ],
    )  # fmt: skip
    return {"counts": counts, "rates": rates}


@admin.register(ArticleHourStats)
class AnalyticsAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: the change list is the analytics page; ``impact/<rule set>/`` answers "did
    my rule help?"."""

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path("impact/<int:pk>/", wrap(self.impact_view), name="editorial_analytics_impact"),
            *super().get_urls(),
        ]

    def _choice(self, request: HttpRequest, name: str, allowed: Iterable[str], default: str) -> str:
        value = request.GET.get(name, default)
        return value if value in allowed else default

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        days = self._choice(request, "days", PERIODS, "7")
        step = self._choice(request, "step", STEPS, "hour" if days == "1" else "day")
        surfaces = analytics.analytics_surfaces()
        surface = self._choice(request, "surface", surfaces, "")
        now = timezone.now()
        # whole UTC days beyond a day: the page then reads only the day rows
        since = (
            now - timedelta(days=1) if days == "1" else day_floor(now) - timedelta(int(days) - 1)
        )
        window: dict[str, Any] = {"since": since, "surface": surface}
        if request.GET.get("format") == "csv":
            table = self._choice(request, "table", TABLES, "articles")
            return self._csv(table, window, step, days)
        points = analytics.analytics_series(**window, step=cast(Step, step))
        markers = analytics.analytics_markers(since=points[0].at if points else since)
        by_slot = analytics.analytics_by_slot(**window)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Analytics",
            "periods": PERIODS,
            "steps": STEPS,
            "days": days,
            "step": step,
            "surfaces": surfaces,
            "surface": surface,
            "query": urlencode({"days": days, "surface": surface, "step": step}),
            "rules_version": RulesState.current(),
            "markers": markers,
            "points": points,
            "charts": series_chart(
                chart_id="analytics-series",
                title=f"{surface or 'All surfaces'}, {PERIODS[days].lower()}",
                points=points,
                step=step,
                markers=markers,
            ),
            "slot_chart": bar_chart(
                chart_id="analytics-slot-chart",
                title="CTR per slot",
                description="Clicks per impression at each position of the lists shown "
                "(1 = top); the slot table below holds the same numbers.",
                labels=[f.key for f in by_slot if f.impressions],
                values=[f.ctr_percent for f in by_slot if f.impressions],
                y_label="CTR (percent)",
                x_label="slot",
                y_format=_percent,
            ),
            "by_surface": analytics.analytics_by_surface(**window),
            "by_slot": by_slot,
            "by_section": analytics.analytics_by_section(**window),
            "by_article": analytics.analytics_by_article(**window),
            "rule_rows": self._rule_rows(window),
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/editorial/articlehourstats/analytics.html", context)

    def _rule_rows(self, window: dict[str, Any]) -> list[tuple[RuleSet, Any]]:
        targets = analytics.live_rule_targets()
        rows = analytics.rule_rows([t for _, t in targets], **window)
        return [(rule_set, row) for (rule_set, _), row in zip(targets, rows, strict=True)]

    def _csv(self, table: str, window: dict[str, Any], step: str, days: str) -> HttpResponse:
        surface = window["surface"]
        name = f"analytics-{table}-{days}d{'-' + surface if surface else ''}.csv"
        listed: dict[str, tuple[str, Callable[..., list[analytics.Figures]]]] = {
            "surfaces": ("surface", analytics.analytics_by_surface),
            "slots": ("slot", analytics.analytics_by_slot),
            "sections": ("section", analytics.analytics_by_section),
        }
        if table in listed:
            column, read = listed[table]
            rows = [[f.key, *figure_cells(f)] for f in read(**window)]
            return csv_response(name, [column, *FIGURE_COLUMNS], rows)
        if table == "articles":
            articles = analytics.analytics_by_article(**window, limit=None)
            rows = [[f.article_id, f.key, *figure_cells(f)] for f in articles]
            return csv_response(name, ["article_id", "title", *FIGURE_COLUMNS], rows)
        if table == "rules":
            rows = [
                [rule_set.name, row.target.kind, row.target.label, *figure_cells(row.figures),
                 _round(row.slot_others.ctr) if row.slot_others else ""]
                for rule_set, row in self._rule_rows(window)
            ]  # fmt: skip
            header = ["rule_set", "kind", "rule", *FIGURE_COLUMNS, "slot_others_ctr"]
            return csv_response(name, header, rows)
        points = analytics.analytics_series(**window, step=cast(Step, step))
        rows = [[p.at.isoformat(), *figure_cells(p.figures)] for p in points]
        return csv_response(name, [step, *FIGURE_COLUMNS], rows)

    def impact_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """ "Did my rule help?" for one publish of a rule set (the latest by default)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        rule_set = get_object_or_404(RuleSet, pk=pk)
        versions = list(rule_set.versions.order_by("-number"))
        chosen = request.GET.get("version", "")
        version = next((v for v in versions if str(v.number) == chosen), None)
        if version is None and versions:
            version = versions[0]
        if version is None:
            impact = None
            charts = None
        else:
            impact = analytics.ruleset_impact(version=version)
            charts = self._impact_charts(impact) if impact.series else None
        if impact is not None and request.GET.get("format") == "csv":
            return self._impact_csv(rule_set, impact)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Did it help? {rule_set.name}",
            "rule_set": rule_set,
            "versions": versions,
            "impact": impact,
            "charts": charts,
            "unknown_version": bool(chosen) and (version is None or str(version.number) != chosen),
        }
        return TemplateResponse(request, "admin/editorial/articlehourstats/impact.html", context)

    def _impact_charts(self, impact: analytics.Impact) -> dict[str, Any]:
        step = "hour" if impact.hours <= 48 else "day"
        marker = analytics.Marker(
            at=impact.published_at, label=f"v{impact.version.number} published",
            rules_version=impact.version.rules_version, version_id=impact.version.pk,
        )  # fmt: skip
        title = f"{impact.surface or 'All surfaces'} around the publish"
        return series_chart(
            chart_id="impact-series", title=title, points=impact.series, step=step,
            markers=[marker],
        )  # fmt: skip

    def _impact_csv(self, rule_set: RuleSet, impact: analytics.Impact) -> HttpResponse:
        name = f"did-it-help-{rule_set.pk}-v{impact.version.number}.csv"
        header = [
            "line", "period", "start", "end", *FIGURE_COLUMNS, "slot_others_ctr",
        ]  # fmt: skip
        rows = []
        periods: list[tuple[str, datetime, datetime]] = [
            ("before", impact.before_start, impact.before_end),
            ("after", impact.after_start, impact.after_end),
        ]
        for line in impact.lines:
            for (period, start, end), figures, others in zip(
                periods, (line.before, line.after), (line.slot_before, line.slot_after),
                strict=True,
            ):  # fmt: skip
                rows.append([
                    line.label, period, start.isoformat(), end.isoformat(),
                    *figure_cells(figures), _round(others.ctr) if others else "",
                ])  # fmt: skip
        return csv_response(name, header, rows)
