"""Readers at risk of leaving, with their top picks: for the host's newsletter or push service.

newsrec sends nothing itself; the host polls this list and delivers its own nudges.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone
from django.utils.cache import patch_cache_control
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response

from newsrec.api.authentication import ApiKeyAuthentication
from newsrec.api.base import NewsrecAPIView
from newsrec.api.errors import ErrorSerializer
from newsrec.api.permissions import CanReadRetention
from newsrec.conf import newsrec_settings
from newsrec.retention import selectors
from newsrec.retention.models import ReaderRisk, RiskBand


class AtRiskFilterSerializer(serializers.Serializer):
    since = serializers.DateTimeField(
        required=False,
        help_text="Readers whose band rose at this time or later (default: the churn horizon, "
        "NEWSREC['CHURN_HORIZON_DAYS'], ago). Send the time of your last poll.",
    )
    band = serializers.ChoiceField(
        choices=[RiskBand.RISING, RiskBand.HIGH],
        required=False,
        help_text="Only this band (default: rising and high).",
    )
    picks = serializers.IntegerField(
        min_value=1, max_value=10, default=3, help_text="Stories per reader (1-10, default 3)."
    )


class PickSerializer(serializers.Serializer):
    article_id = serializers.IntegerField()
    external_id = serializers.CharField(help_text="The article's id in your CMS.")
    title = serializers.CharField()
    section = serializers.CharField(allow_blank=True)
    url = serializers.CharField(allow_blank=True, help_text="The article's URL on your site.")
    reason = serializers.CharField(
        allow_blank=True, help_text='Why it is picked, e.g. "Because you read …".'
    )
    slot = serializers.IntegerField(help_text="Position in the reader's feed.")
    recommendation_id = serializers.CharField(
        help_text="Send it back as `recommendation_id` on the click event, with surface "
        "`newsletter` or `push`, to measure the nudge."
    )


class AtRiskReaderSerializer(serializers.Serializer):
    reader_id = serializers.UUIDField(help_text="The reader's public id.")
    host_reader_id = serializers.CharField(
        allow_null=True, help_text="Your id for the reader, as sent with their events."
    )
    user_id = serializers.CharField(
        allow_null=True, help_text="The site user's primary key, for logged-in readers."
    )
    band = serializers.ChoiceField(choices=RiskBand.choices)
    previous_band = serializers.CharField(allow_blank=True)
    probability = serializers.FloatField(help_text="Calibrated chance of no return.")
    rose_at = serializers.DateTimeField(help_text="When the band went up.")
    computed_at = serializers.DateTimeField()
    reasons = serializers.ListField(
        child=serializers.CharField(), help_text="What raised the risk, in words."
    )
    picks = PickSerializer(many=True, help_text="Top unread stories of the reader's feed.")


AT_RISK_EXAMPLE = OpenApiExample(
    "A reader at risk",
    value={
        "reader_id": "8a6f7c1e-3b7d-4c55-9a0e-2f1d6b0c9e11",
        "host_reader_id": "subscriber-4411",
        "user_id": None,
        "band": "high",
        "previous_band": "rising",
        "probability": 0.71,
        "rose_at": "2026-11-28T06:00:00Z",
        "computed_at": "2026-11-28T06:00:00Z",
        "reasons": [
            "Usually reads on weekday mornings, missed 3 times",
            "Not back for 5 days (usually every day)",
        ],
        "picks": [
            {
                "article_id": 1042,
                "external_id": "cms-1042",
                "title": "Council approves the new tram line",
                "section": "Local",
                "url": "https://news.example.org/local/tram",
                "reason": "Because you read “Tram line: the final vote”",
                "slot": 1,
                "recommendation_id": "reader:311:17",
            }
        ],
    },
    response_only=True,
)


class AtRiskPagination(PageNumberPagination):
    """Fifty readers a page (``page_size`` up to 100), latest rise first."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        paged = super().get_paginated_response_schema(schema)
        base = "https://news.example.org/api/v1/readers/at-risk/?page="
        paged["properties"]["count"]["example"] = 120
        paged["properties"]["next"]["example"] = f"{base}3"
        paged["properties"]["previous"]["example"] = f"{base}1"
        return paged


def _host_reader_id(client_id: str | None) -> str | None:
    return client_id.removeprefix("api:") if client_id and client_id.startswith("api:") else None


def reader_at_risk_data(risk: ReaderRisk, *, picks: int) -> dict[str, Any]:
    reader = risk.reader
    return {
        "reader_id": reader.public_id,
        "host_reader_id": _host_reader_id(reader.client_id),
        "user_id": None if reader.user_id is None else str(reader.user_id),
        "band": risk.band,
        "previous_band": risk.previous_band,
        "probability": risk.probability,
        "rose_at": risk.rose_at,
        "computed_at": risk.computed_at,
        "reasons": risk.reasons,
        "picks": [
            {
                "article_id": pick.article.pk,
                "external_id": pick.article.external_id,
                "title": pick.article.title,
                "section": pick.article.section,
                "url": pick.article.url,
                "reason": pick.reason,
                "slot": pick.slot,
                "recommendation_id": pick.recommendation_id,
            }
            for pick in selectors.reader_picks(reader=reader, limit=picks)
        ],
    }


class AtRiskReadersView(NewsrecAPIView, generics.ListAPIView):
    """Readers whose churn risk rose, with their top picks and the reasons, page by page."""

    authentication_classes = [ApiKeyAuthentication, SessionAuthentication]
    permission_classes = [CanReadRetention]
    pagination_class = AtRiskPagination
    serializer_class = AtRiskReaderSerializer

    def get_queryset(self) -> Any:
        params = self._params()
        since = params.get("since") or timezone.now() - timedelta(
            days=int(newsrec_settings.CHURN_HORIZON_DAYS)
        )
        bands = [params["band"]] if params.get("band") else [RiskBand.RISING, RiskBand.HIGH]
        return selectors.readers_at_risk(since=since, bands=bands)

    def _params(self) -> dict[str, Any]:
        serializer = AtRiskFilterSerializer(data=self.request.query_params)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    @extend_schema(
        parameters=[AtRiskFilterSerializer],
        responses={
            200: AtRiskReaderSerializer(many=True),
            404: OpenApiResponse(ErrorSerializer, description="No such page (0, or past the end)."),
        },
        examples=[AT_RISK_EXAMPLE],
        description=(
            "Needs the read-retention scope (or staff with the reader-data permission). Readers "
            "whose churn-risk band rose to rising or high since `since`, latest first, with the "
            "top stories of their feed under every editorial rule and why each is picked. "
            "Only readers you can reach (logged-in users and readers you send events for under "
            "your own id); never readers who opted out of personalisation; erased readers are "
            "gone. newsrec sends nothing itself: deliver the nudges from your newsletter or "
            "push service."
        ),
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        picks = int(self._params()["picks"])
        page = self.paginate_queryset(self.get_queryset())
        rows = [reader_at_risk_data(risk, picks=picks) for risk in page or []]
        response = self.get_paginated_response(AtRiskReaderSerializer(rows, many=True).data)
        patch_cache_control(response, private=True, no_store=True)
        return response
