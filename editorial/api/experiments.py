"""Experiments over the API: list them, and read one's results per variant against the holdout."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from editorial.experiments.returns import VariantReturnsResult, experiment_returns
from editorial.experiments.selectors import ExperimentResults, experiment_results
from editorial.models import Experiment, ExperimentStatus, Variant
from newsrec.api.base import NewsrecAPIView
from newsrec.api.permissions import CanReadFeeds


class VariantSerializer(serializers.ModelSerializer):
    tag = serializers.CharField(
        read_only=True, help_text="Ends the recommendation ids of feeds served under it."
    )

    class Meta:
        model = Variant
        fields = ["id", "name", "kind", "weight", "tag"]
        read_only_fields = fields


class ExperimentSerializer(serializers.ModelSerializer):
    variants = VariantSerializer(many=True, read_only=True)

    class Meta:
        model = Experiment
        fields = ["id", "name", "description", "status", "started_at", "stopped_at", "variants"]
        read_only_fields = fields


class ComparisonSerializer(serializers.Serializer):
    ctr_difference = serializers.FloatField(help_text="CTR minus the holdout's (absolute).")
    ctr_difference_low = serializers.FloatField(
        allow_null=True, help_text="95 % interval of the difference (Wald), lower end."
    )
    ctr_difference_high = serializers.FloatField(allow_null=True)
    ctr_lift = serializers.FloatField(allow_null=True, help_text="Relative: 0.25 = 25 % more.")
    ctr_lift_low = serializers.FloatField(
        allow_null=True,
        help_text="95 % interval of the lift (log CTR ratio), lower end; null while either "
        "side has no click.",
    )
    ctr_lift_high = serializers.FloatField(allow_null=True)
    z = serializers.FloatField(help_text="Two-proportion z statistic of the CTRs.")
    p_value = serializers.FloatField(help_text="Two-sided.")
    significant = serializers.BooleanField(help_text="p < 0.05.")
    reads_per_reader_lift = serializers.FloatField(allow_null=True)


class EstimateSerializer(serializers.Serializer):
    value = serializers.FloatField(allow_null=True, help_text="Null: no data for it yet.")
    low = serializers.FloatField(allow_null=True, help_text="95 % interval, lower end.")
    high = serializers.FloatField(allow_null=True, help_text="95 % interval, upper end.")
    n = serializers.IntegerField(help_text="Readers behind it.")


class ReturnsSerializer(serializers.Serializer):
    """Whether readers come back (readers are the units of every interval)."""

    return_1d = EstimateSerializer(
        help_text="Share of a reader's visit days followed by another visit within 1 day."
    )
    return_7d = EstimateSerializer(help_text="The same within 7 days.")
    reads_per_reader = EstimateSerializer(help_text="Articles read per exposed reader.")
    difference = serializers.DictField(
        child=EstimateSerializer(),
        allow_null=True,
        help_text="return_1d, return_7d and reads_per_reader minus the baseline's; null for "
        "the baseline itself.",
    )


class VariantResultSerializer(serializers.Serializer):
    variant_id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.CharField()
    weight = serializers.IntegerField()
    readers = serializers.IntegerField(help_text="Distinct readers with impressions.")
    impressions = serializers.IntegerField()
    clicks = serializers.IntegerField(help_text="Clicks on items served under the variant.")
    ctr = serializers.FloatField()
    ctr_low = serializers.FloatField(help_text="95 % Wilson interval, lower end.")
    ctr_high = serializers.FloatField(help_text="95 % Wilson interval, upper end.")
    reads = serializers.IntegerField(help_text="Articles read by exposed readers (any page).")
    finishes = serializers.IntegerField()
    reads_per_reader = serializers.FloatField()
    finishes_per_reader = serializers.FloatField()
    mean_dwell_seconds = serializers.FloatField(allow_null=True)
    comparison = ComparisonSerializer(
        allow_null=True, help_text="Against the holdout; null for the holdout itself."
    )
    returns = ReturnsSerializer(
        allow_null=True, help_text="Return rates and reads per reader; null for a draft."
    )


class SampleRatioSerializer(serializers.Serializer):
    observed = serializers.ListField(
        child=serializers.IntegerField(), help_text="Readers per variant, in variant order."
    )
    expected = serializers.ListField(
        child=serializers.FloatField(), help_text="What the configured weights promise."
    )
    chi_square = serializers.FloatField()
    p_value = serializers.FloatField()
    mismatch = serializers.BooleanField(
        help_text="p < 0.001: readers are assigned or counted unevenly; distrust the results."
    )


class ExperimentResultsSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    status = serializers.ChoiceField(choices=ExperimentStatus.choices)
    started_at = serializers.DateTimeField(allow_null=True)
    stopped_at = serializers.DateTimeField(allow_null=True)
    variants = VariantSerializer(many=True)
    window_start = serializers.DateTimeField(allow_null=True)
    window_end = serializers.DateTimeField(allow_null=True, help_text="Stop time, or now.")
    baseline_variant_id = serializers.IntegerField(
        allow_null=True, help_text="The holdout variant every other one is compared with."
    )
    results = VariantResultSerializer(many=True)
    sample_ratio = SampleRatioSerializer(
        allow_null=True, help_text="Null before two variants have readers."
    )
    warnings = serializers.ListField(
        child=serializers.CharField(),
        help_text="Sample ratio mismatch, and variants with too few readers or clicks to judge.",
    )


def _returns_payload(found: VariantReturnsResult) -> dict[str, Any]:
    mine, versus = found.returns, found.comparison
    return {
        "return_1d": vars(mine.return_rate(1)),
        "return_7d": vars(mine.return_rate(7)),
        "reads_per_reader": vars(mine.reads_per_reader()),
        "difference": None
        if versus is None
        else {
            "return_1d": vars(versus.return_rate[1]),
            "return_7d": vars(versus.return_rate[7]),
            "reads_per_reader": vars(versus.reads_per_reader),
        },
    }


def results_payload(results: ExperimentResults) -> dict[str, Any]:
    """The experiment's fields plus its window and one row of figures per variant."""
    returns: dict[int, dict[str, Any]] = {}
    if results.window_start is not None and results.window_end is not None:
        returns = {
            found.variant.pk: _returns_payload(found)
            for found in experiment_returns(
                variants=[v.variant for v in results.variants], baseline=results.baseline,
                start=results.window_start, end=results.window_end,
            )
        }  # fmt: skip
    rows = []
    for row in results.variants:
        f, c, v = row.figures, row.figures.counts, row.variant
        rows.append(
            {
                "variant_id": v.pk, "name": v.name, "kind": v.kind, "weight": v.weight,
                "readers": c.readers, "impressions": c.impressions, "clicks": c.clicks,
                "ctr": f.ctr, "ctr_low": f.ctr_low, "ctr_high": f.ctr_high, "reads": c.reads,
                "finishes": c.finishes, "reads_per_reader": f.reads_per_reader,
                "finishes_per_reader": f.finishes_per_reader,
                "mean_dwell_seconds": f.mean_dwell_seconds,
                "comparison": vars(row.comparison) if row.comparison else None,
                "returns": returns.get(v.pk),
            }
        )  # fmt: skip
    payload = {
        **ExperimentSerializer(results.experiment).data,
        "window_start": results.window_start,
        "window_end": results.window_end,
        "baseline_variant_id": results.baseline.pk if results.baseline else None,
        "results": rows,
        "sample_ratio": vars(results.sample_ratio) if results.sample_ratio else None,
        "warnings": list(results.warnings),
    }
    return dict(ExperimentResultsSerializer(payload).data)


_VARIANTS = [
    {"id": 5, "name": "personalised", "kind": "personalised", "weight": 90, "tag": "e2v5"},
    {"id": 6, "name": "holdout", "kind": "holdout", "weight": 10, "tag": "e2v6"},
]
_EXPERIMENT = {
    "id": 2,
    "name": "Holdout, spring",
    "description": "What do recommendations add to the front page?",
    "status": "running",
    "started_at": "2026-11-20T08:00:00Z",
    "stopped_at": None,
    "variants": _VARIANTS,
}
_ROW = {
    "readers": 0, "impressions": 0, "clicks": 0, "ctr": 0.0, "ctr_low": 0.0, "ctr_high": 0.0,
    "reads": 0, "finishes": 0, "reads_per_reader": 0.0, "finishes_per_reader": 0.0,
    "mean_dwell_seconds": None, "comparison": None, "returns": None,
}  # fmt: skip
EXPERIMENT_LIST_EXAMPLE = OpenApiExample(
    "A running holdout experiment", value=_EXPERIMENT, response_only=True
)
EXPERIMENT_RESULTS_EXAMPLE = OpenApiExample(
    "Personalised feeds against a 10 % holdout",
    response_only=True,
    value={
        **_EXPERIMENT,
        "window_start": "2026-11-20T08:00:00Z",
        "window_end": "2026-11-28T10:00:00Z",
        "baseline_variant_id": 6,
        "results": [
            {
                **_ROW, "variant_id": 5, "name": "personalised", "kind": "personalised",
                "weight": 90, "readers": 9012, "impressions": 412000, "clicks": 24720,
                "ctr": 0.06, "ctr_low": 0.0593, "ctr_high": 0.0607, "reads": 30110,
                "finishes": 12004, "reads_per_reader": 3.341, "finishes_per_reader": 1.332,
                "mean_dwell_seconds": 74.2,
                "comparison": {
                    "ctr_difference": 0.018, "ctr_difference_low": 0.016,
                    "ctr_difference_high": 0.02, "ctr_lift": 0.4286, "ctr_lift_low": 0.3649,
                    "ctr_lift_high": 0.4955, "z": 17.6, "p_value": 0.0, "significant": True,
                    "reads_per_reader_lift": 0.2172,
                },
                "returns": {
                    "return_1d": {"value": 0.412, "low": 0.403, "high": 0.421, "n": 8120},
                    "return_7d": {"value": 0.781, "low": 0.772, "high": 0.79, "n": 8120},
                    "reads_per_reader": {"value": 3.341, "low": 3.27, "high": 3.41, "n": 9012},
                    "difference": {
                        "return_1d": {"value": 0.031, "low": 0.002, "high": 0.06, "n": 9020},
                        "return_7d": {"value": 0.024, "low": -0.004, "high": 0.052, "n": 9020},
                        "reads_per_reader": {
                            "value": 0.604, "low": 0.41, "high": 0.8, "n": 10015
                        },
                    },
                },
            },
            {
                **_ROW, "variant_id": 6, "name": "holdout", "kind": "holdout", "weight": 10,
                "readers": 1003, "impressions": 45100, "clicks": 1894, "ctr": 0.042,
                "ctr_low": 0.0402, "ctr_high": 0.0439, "reads": 2745, "finishes": 1010,
                "reads_per_reader": 2.737, "finishes_per_reader": 1.007,
                "mean_dwell_seconds": 69.8,
            },
        ],
        "sample_ratio": {
            "observed": [9012, 1003], "expected": [9013.5, 1001.5], "chi_square": 0.0025,
            "p_value": 0.9601, "mismatch": False,
        },
        "warnings": [],
    },
)  # fmt: skip


class ExperimentListView(NewsrecAPIView, generics.ListAPIView):
    """Every experiment with its variants, newest first."""

    serializer_class = ExperimentSerializer
    permission_classes = [CanReadFeeds]
    queryset = Experiment.objects.prefetch_related("variants")

    @extend_schema(
        examples=[EXPERIMENT_LIST_EXAMPLE],
        description="Staff, or an API key with the read-feeds scope.",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class ExperimentResultsView(NewsrecAPIView, generics.RetrieveAPIView):
    """One experiment's results: per variant over its running window, against the holdout."""

    serializer_class = ExperimentResultsSerializer
    permission_classes = [CanReadFeeds]
    queryset = Experiment.objects.prefetch_related("variants")

    @extend_schema(
        examples=[EXPERIMENT_RESULTS_EXAMPLE],
        description=(
            "Staff, or an API key with the read-feeds scope. Impressions and clicks count when "
            "their `recommendation_id` ends with the variant's tag; reads, finishes and dwell "
            "count everything the exposed readers read in the window. CTR comes with a 95 % "
            "Wilson interval; each variant is compared with the holdout by a two-proportion "
            "z-test, with 95 % intervals of the difference and of the relative lift. "
            "`sample_ratio` checks the readers per variant against the configured weights "
            "(chi-square); `warnings` names a mismatch (p < 0.001) and variants with fewer "
            "than 100 readers or 10 clicks. A draft has an empty window and no results."
        ),
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(results_payload(experiment_results(experiment=self.get_object())))
