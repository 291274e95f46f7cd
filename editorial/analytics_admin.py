"""The analytics page: impressions, clicks, CTR, reads and completion per surface and article."""

from __future__ import annotations

import csv
from datetime import timedelta
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from editorial import analytics
from editorial.models import ArticleHourStats

PERIODS = {"1": "Last 24 hours", "7": "Last 7 days", "30": "Last 30 days"}
CSV_COLUMNS = (
    "article_id", "title", "impressions", "clicks", "ctr", "reads", "finishes", "completion",
    "hides", "mean_dwell_seconds",
)  # fmt: skip


@admin.register(ArticleHourStats)
class AnalyticsAdmin(admin.ModelAdmin):
    """Read-only: the change list is the analytics page (a table per surface and per article,
    with a CSV export of the article table)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        days = request.GET.get("days", "7")
        days = days if days in PERIODS else "7"
        surfaces = analytics.analytics_surfaces()
        surface = request.GET.get("surface", "")
        surface = surface if surface in surfaces else ""
        since = timezone.now() - timedelta(days=int(days))
        if request.GET.get("format") == "csv":
            return self._csv(analytics.analytics_by_article(since=since, surface=surface,
                                                            limit=None), days, surface)  # fmt: skip
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Analytics",
            "periods": PERIODS,
            "days": days,
            "surfaces": surfaces,
            "surface": surface,
            "by_surface": analytics.analytics_by_surface(since=since, surface=surface),
            "by_article": analytics.analytics_by_article(since=since, surface=surface),
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/editorial/articlehourstats/analytics.html", context)

    def _csv(self, rows: list[analytics.Figures], days: str, surface: str) -> HttpResponse:
        name = f"analytics-{days}d{'-' + surface if surface else ''}.csv"
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        writer = csv.writer(response)
        writer.writerow(CSV_COLUMNS)
        for f in rows:
            writer.writerow([
                f.article_id, f.key, f.impressions, f.clicks, _round(f.ctr), f.reads, f.finishes,
                _round(f.completion), f.hides, _round(f.mean_dwell),
            ])  # fmt: skip
        return response


def _round(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"
