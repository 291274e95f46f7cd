"""Feed endpoints: the reader's own feed, any reader's for staff, fan-out progress for staff."""

from __future__ import annotations

from typing import Any

from django.utils.http import http_date, quote_etag
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import AllowAny, IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from newsrec import feeds, readers
from newsrec.models import Reader


class FeedItemSerializer(serializers.Serializer):
    article_id = serializers.IntegerField()
    title = serializers.CharField()
    section = serializers.CharField()
    url = serializers.CharField()
    source = serializers.CharField()
    reason = serializers.CharField()
    score = serializers.FloatField()
    slot = serializers.IntegerField()


class FeedSerializer(serializers.Serializer):
    personalised = serializers.BooleanField()
    rules_version = serializers.IntegerField()
    built_at = serializers.DateTimeField()
    version = serializers.IntegerField()
    items = FeedItemSerializer(many=True)


CONTEXT_PARAMETERS = [
    OpenApiParameter("device", str, enum=["mobile", "tablet", "desktop"], description="Re-rank."),
    OpenApiParameter("hour", int, description="Reader's local hour (0-23) for the re-rank."),
    OpenApiParameter("limit", int, description="Items (1-50, default 20)."),
]


def _context(request: Request) -> tuple[str, int | None, int]:
    params = request.query_params
    device = params.get("device", "")
    if device not in ("", "mobile", "tablet", "desktop"):
        raise ValidationError({"device": ["Must be mobile, tablet or desktop."]})
    hour_raw, limit_raw = params.get("hour", ""), params.get("limit", "20")
    if hour_raw and (not hour_raw.isdigit() or int(hour_raw) > 23):
        raise ValidationError({"hour": ["Must be an integer from 0 to 23."]})
    if not limit_raw.isdigit() or not 1 <= int(limit_raw) <= 50:
        raise ValidationError({"limit": ["Must be an integer from 1 to 50."]})
    return device, int(hour_raw) if hour_raw else None, int(limit_raw)


def feed_response(request: Request, reader: Reader | None) -> Response:
    device, hour, limit = _context(request)
    view = feeds.feed_read(reader=reader, device=device, local_hour=hour, limit=limit)
    if view is None:
        raise NotFound("No feed has been built yet; it will be after the next rebuild.")
    etag = quote_etag(f"{view.key}-{view.version}-{device}-{hour}-{limit}")
    if request.headers.get("If-None-Match") == etag:
        return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
    body = {
        "personalised": view.personalised,
        "rules_version": view.rules_version,
        "built_at": view.built_at,
        "version": view.version,
        "items": [
            {**item, "url": f"/articles/{item['article_id']}/", "slot": slot}
            for slot, item in enumerate(view.items, start=1)
        ],
    }
    payload = FeedSerializer(body).data
    headers = {"ETag": etag, "Last-Modified": http_date(view.built_at.timestamp())}
    return Response(payload, headers=headers)


class MyFeedView(APIView):
    """The current reader's "For you" feed (non-personalised for new or opted-out readers)."""

    permission_classes = [AllowAny]

    @extend_schema(parameters=CONTEXT_PARAMETERS, responses=FeedSerializer)
    def get(self, request: Request) -> Response:
        reader, _token = readers.reader_for_request(request, create=False)
        return feed_response(request, reader)


class ReaderFeedView(APIView):
    """Any reader's feed, for staff (by the reader's public id)."""

    permission_classes = [IsAdminUser]

    @extend_schema(parameters=CONTEXT_PARAMETERS, responses=FeedSerializer)
    def get(self, request: Request, public_id: Any) -> Response:
        reader = Reader.objects.filter(public_id=public_id).first()
        if reader is None:
            raise NotFound("No such reader.")
        return feed_response(request, reader)


class FanoutProgressView(APIView):
    """Progress of the latest fan-out rebuild: readers done / total and ETA (staff)."""

    permission_classes = [IsAdminUser]

    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> Response:
        return Response(feeds.fanout_progress() or {})
