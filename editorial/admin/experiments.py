"""Experiments in the admin: variants inline while a draft, start/stop, a results page."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern

from editorial.models import Experiment, ExperimentStatus, Variant, VariantKind
from editorial.permissions import RUN_EXPERIMENT
from editorial.presenters import variant_split
from editorial.views.experiments import experiment_run
from editorial.views.urls import experiment_urls

DEFAULT_VARIANTS = (
    ("personalised", VariantKind.PERSONALISED, 90),
    ("holdout", VariantKind.HOLDOUT, 10),
)


class VariantInline(admin.TabularInline):
    """Variants are edited while the experiment is a draft, then frozen: nobody changes arm."""

    model = Variant
    extra = 0
    fields = ["name", "kind", "weight"]

    def _editable(self, obj: Experiment | None) -> bool:
        return obj is None or obj.is_draft

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_add_permission(request, obj) and self._editable(obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and self._editable(obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and self._editable(obj)


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    """Experiments: variants inline, start/stop (run_experiment permission), a results page."""

    list_display = ["name", "status", "split", "started_at", "stopped_at"]
    list_filter = ["status"]
    search_fields = ["name", "description"]
    inlines = [VariantInline]
    fieldsets = [
        (None, {"fields": ["name", "description", "status"],
                "description": "Leave the variants empty for a 90 % personalised / 10 % "
                "holdout split. Holdout readers get the newest articles: recommendations off."}),
        ("Run", {"fields": ["salt", "started_at", "started_by", "stopped_at", "stopped_by"]}),
    ]  # fmt: skip
    actions = ["start_selected", "stop_selected"]
    change_form_template = "admin/editorial/experiment/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Experiment]:
        return super().get_queryset(request).prefetch_related("variants")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fixed = ["status", "started_at", "started_by", "stopped_at", "stopped_by"]
        # The salt decides who is in which variant: frozen once readers have been split.
        return fixed if obj is None or obj.is_draft else [*fixed, "salt"]

    @admin.display(description="Variants")
    def split(self, obj: Experiment) -> str:
        return variant_split(list(obj.variants.all()))

    def has_run_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(RUN_EXPERIMENT)

    def has_delete_permission(self, request: HttpRequest, obj: Experiment | None = None) -> bool:
        running = obj is not None and obj.status == ExperimentStatus.RUNNING
        return super().has_delete_permission(request, obj) and not running

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        experiment = form.instance
        if not change and not experiment.variants.exists():
            Variant.objects.bulk_create(
                Variant(experiment=experiment, name=name, kind=kind, weight=weight)
                for name, kind, weight in DEFAULT_VARIANTS
            )

    @admin.action(description="Start the selected experiment", permissions=["run"])
    def start_selected(self, request: HttpRequest, queryset: QuerySet[Experiment]) -> None:
        for experiment in queryset:
            experiment_run(self, request, experiment, start=True)

    @admin.action(description="Stop the selected experiments", permissions=["run"])
    def stop_selected(self, request: HttpRequest, queryset: QuerySet[Experiment]) -> None:
        for experiment in queryset:
            experiment_run(self, request, experiment, start=False)

    def get_urls(self) -> list[URLPattern]:
        return [*experiment_urls(self), *super().get_urls()]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        extra = {**(extra_context or {}), "can_run": self.has_run_permission(request)}
        return super().change_view(request, object_id, form_url, extra)
