"""REST API views: validate, call one service or selector, serialise."""

from __future__ import annotations

from typing import Any

from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import generics, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response

from newsrec import selectors, services
from newsrec.api import examples
from newsrec.api.base import NewsrecAPIView
from newsrec.api.errors import ErrorSerializer
from newsrec.api.permissions import CanManageArticlesOrReadOnly
from newsrec.api.serializers import (
    ArticleFilterSerializer,
    ArticleInputSerializer,
    ArticleSerializer,
    RelatedArticleSerializer,
    UpsertReportSerializer,
)
from newsrec.conf import newsrec_settings
from newsrec.numbers import ascii_int

UPSERT_REJECTED = OpenApiResponse(
    PolymorphicProxySerializer(
        component_name="UpsertRejected",
        serializers=[UpsertReportSerializer, ErrorSerializer],
        resource_type_field_name=None,
    ),
    description="No row stored (each rejected row says why), or a malformed batch.",
)

# One row of the batch: the schema shows it inside the list the endpoint takes.
UPSERT_EXAMPLE = OpenApiExample(
    "An article",
    value={
        "external_id": "cms-1042",
        "title": "Council approves the new tram line",
        "lead": "The vote ends a decade of debate.",
        "body": "<p>After ten years of debate the council voted 31 to 12 ...</p>",
        "section": "Local",
        "tags": ["transport"],
        "authors": ["Ada Byrne"],
        "published_at": "2026-11-28T09:30:00Z",
        "url": "https://news.example.org/local/tram",
    },
    request_only=True,
)


class ArticleCursorPagination(CursorPagination):
    """Newest first; the opaque ``cursor`` of ``next``/``previous`` pages on."""

    ordering = ("-published_at", "-id")
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        paged = super().get_paginated_response_schema(schema)
        base = "https://news.example.org/api/v1/articles/?cursor="
        paged["properties"]["next"]["example"] = f"{base}cD0yMDI2LTExLTI4KzA5JTNBMzAlM0EwMA%3D%3D"
        paged["properties"]["previous"]["example"] = None
        return paged

    def decode_cursor(self, request: Request) -> Cursor | None:
        cursor = super().decode_cursor(request)
        # DRF trusts the position inside the cursor; a forged one must not reach the query.
        if cursor is not None and cursor.position is not None:
            try:
                position = parse_datetime(str(cursor.position))
            except ValueError:  # well-formed but impossible, e.g. month 13
                position = None
            if position is None:
                raise NotFound(self.invalid_cursor_message)
        return cursor


class ArticleListUpsertView(NewsrecAPIView, generics.ListAPIView):
    """List live articles; POST or PUT a batch to upsert by external id."""

    serializer_class = ArticleSerializer
    permission_classes = [CanManageArticlesOrReadOnly]
    pagination_class = ArticleCursorPagination

    @property
    def max_body_bytes(self) -> int:
        """Read by BoundedJSONParser: a batch may be larger than Django's upload limit."""
        return int(newsrec_settings.API_MAX_BODY_BYTES)

    def get_queryset(self) -> Any:
        params = ArticleFilterSerializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        return selectors.article_list(**params.validated_data)

    @extend_schema(
        parameters=[ArticleFilterSerializer],
        examples=[examples.ARTICLE_PAGE],
        description=(
            "Live articles, newest first, 20 a page (`page_size` up to 100). Follow `next` to "
            "page on: the cursor keeps its place while new articles arrive."
        ),
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=ArticleInputSerializer(many=True),
        responses={200: UpsertReportSerializer, 400: UPSERT_REJECTED},
        examples=[UPSERT_EXAMPLE, examples.UPSERT_REPORT],
        parameters=[OpenApiParameter("dry_run", bool, description="Validate only, store nothing.")],
        description=(
            "Batch upsert by external id: at most NEWSREC['API_MAX_BATCH'] (500) rows and "
            "NEWSREC['API_MAX_BODY_BYTES'] (32 MiB) per request; a larger body is a 413. Valid "
            "rows are stored even when others are rejected; each rejected row is listed with its "
            "reasons. Needs a staff session or an API key with the manage-articles scope."
        ),
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        rows = request.data
        if isinstance(rows, dict) and "articles" in rows:
            rows = rows["articles"]
        if isinstance(rows, dict):
            rows = [rows]
        if not isinstance(rows, list):
            raise ValidationError({"non_field_errors": ["Send a JSON list of article objects."]})
        limit = int(newsrec_settings.API_MAX_BATCH)
        if len(rows) > limit:
            raise ValidationError({"non_field_errors": [f"At most {limit} articles per request."]})
        dry_run = request.query_params.get("dry_run", "").lower() in {"1", "true", "yes"}
        report = services.article_upsert_many(rows=rows, dry_run=dry_run)
        stored_any = report.created + report.updated + report.unchanged > 0
        code = (
            status.HTTP_200_OK if stored_any or not report.rejected else status.HTTP_400_BAD_REQUEST
        )
        return Response(report.as_dict(), status=code)

    @extend_schema(
        request=ArticleInputSerializer(many=True),
        responses={200: UpsertReportSerializer, 400: UPSERT_REJECTED},
        examples=[UPSERT_EXAMPLE, examples.UPSERT_REPORT],
        parameters=[OpenApiParameter("dry_run", bool, description="Validate only, store nothing.")],
        description="Same as POST (idempotent batch upsert by external id).",
    )
    def put(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.post(request, *args, **kwargs)


class ArticleDetailView(NewsrecAPIView, generics.RetrieveAPIView):
    """One live article."""

    serializer_class = ArticleSerializer

    def get_queryset(self) -> Any:
        return selectors.article_list()

    @extend_schema(examples=[examples.ARTICLE])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class ArticleRelatedView(NewsrecAPIView, generics.GenericAPIView):
    """Related live articles, nearest first by embedding similarity."""

    serializer_class = RelatedArticleSerializer

    def get_queryset(self) -> Any:
        return selectors.article_list()

    @extend_schema(
        parameters=[OpenApiParameter("limit", int, description="How many (1-50, default 6).")],
        responses=RelatedArticleSerializer(many=True),
        examples=[examples.RELATED],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        article = self.get_object()
        raw_limit = request.query_params.get("limit", str(newsrec_settings.RELATED_LIMIT))
        limit = ascii_int(raw_limit, low=1, high=50)
        if limit is None:
            raise ValidationError({"limit": ["Must be an integer from 1 to 50."]})
        related = selectors.article_related(article=article, limit=limit)
        return Response(self.get_serializer(related, many=True).data)
