"""Editors' view of retention: readers per risk band, and each churn model's honest figures.

Registered by ``newsrec.admin``. Nothing here is editable, and readers appear only by their
pseudonymous public id: bands come from the beat task, model versions from training runs.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html, format_html_join

from newsrec.admin_mixins import ReadOnlyAdminMixin
from newsrec.retention import selectors
from newsrec.retention.models import ChurnModel, ReaderRisk


def _figure(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else "—"


class ReadOnlyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    pass


@admin.register(ReaderRisk)
class ReaderRiskAdmin(ReadOnlyAdmin):
    """Readers per band with the model that scored them; one row per reader, by public id."""

    change_list_template = "admin/newsrec/readerrisk/change_list.html"
    list_display = ["reader_public_id", "band", "probability", "band_since", "rose_at"]
    list_filter = ["band"]
    ordering = ["-probability"]
    fields = readonly_fields = (
        "reader_public_id", "band", "previous_band", "probability", "band_since", "rose_at",
        "computed_at", "model",
    )  # fmt: skip
    list_select_related = ["reader"]
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> Any:
        return ReaderRisk.objects.personalised().select_related("reader")

    @admin.display(description="reader (public id)", ordering="reader__public_id")
    def reader_public_id(self, obj: ReaderRisk) -> str:
        return str(obj.reader.public_id)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        counts = selectors.risk_band_counts()
        total = sum(counts.values())
        bands = [
            {"band": band, "count": n, "share": n / total if total else 0.0}
            for band, n in counts.items()
        ]
        model = selectors.churn_model_latest()
        context = {
            **(extra_context or {}),
            "bands": bands,
            "readers_scored": total,
            "band_history": selectors.risk_band_history(days=30),
            "churn_model": model,
            "churn_metrics": {
                "auc": _figure((model.metrics or {}).get("auc")) if model else "—",
                "recency_auc": _figure((model.metrics or {}).get("recency_auc")) if model else "—",
                "brier": _figure((model.metrics or {}).get("brier")) if model else "—",
            },
        }
        return super().changelist_view(request, extra_context=context)


@admin.register(ChurnModel)
class ChurnModelAdmin(ReadOnlyAdmin):
    """Each training run: kind, validation AUC against recency alone, Brier score, reliability."""

    list_display = ["__str__", "created_at", "kind", "validation_auc", "recency_auc", "brier",
                    "verdict"]  # fmt: skip
    list_filter = ["kind"]
    fields = readonly_fields = (
        "created_at", "kind", "horizon_days", "window_days", "verdict", "card",
    )  # fmt: skip

    @admin.display(description="validation AUC")
    def validation_auc(self, obj: ChurnModel) -> str:
        return _figure(obj.metrics.get("auc"))

    @admin.display(description="recency alone AUC")
    def recency_auc(self, obj: ChurnModel) -> str:
        return _figure(obj.metrics.get("recency_auc"))

    @admin.display(description="Brier score")
    def brier(self, obj: ChurnModel) -> str:
        return _figure(obj.metrics.get("brier"))

    @admin.display(description="model card")
    def card(self, obj: ChurnModel) -> str:
        bins = format_html_join(
            "",
            "<tr><td>{} to {}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (row["low"], row["high"], row["count"], _figure(row["predicted"]),
                 _figure(row["observed"]))
                for row in obj.metrics.get("reliability", [])
            ),
        )  # fmt: skip
        sizes = format_html_join(
            "", "<li>{}: {}</li>", ((k, v) for k, v in sorted(obj.training.items()))
        )
        return format_html(
            "<p>Measured on the latest slice of time, which neither fitting nor calibration saw: "
            "AUC {} (recency alone {}), Brier score {}, churn rate {}.</p>"
            "<table><tr><th>predicted</th><th>readers-days</th><th>mean prediction</th>"
            "<th>churn seen</th></tr>{}</table>"
            "<p><strong>Training data</strong></p><ul>{}</ul>",
            _figure(obj.metrics.get("auc")),
            _figure(obj.metrics.get("recency_auc")),
            _figure(obj.metrics.get("brier")),
            _figure(obj.metrics.get("base_rate")),
            bins or "—",
            sizes,
        )
