"""Reader API: event ingestion (`events/`) and the reader's own data (`me/`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.utils.cache import patch_cache_control
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from newsrec import readers
from newsrec.api import examples
from newsrec.api.authentication import ApiKeyAuthentication
from newsrec.api.base import NewsrecAPIView
from newsrec.api.errors import ErrorSerializer
from newsrec.api.parsers import BoundedJSONParser
from newsrec.api.permissions import IsReader
from newsrec.conf import newsrec_settings
from newsrec.events import device_from_user_agent, events_ingest
from newsrec.models import ApiKey, ApiKeyScope, DeviceClass, EventKind, Reader, ReferrerType


class BeaconSessionAuthentication(SessionAuthentication):
    """Session login without a CSRF token, for navigator.sendBeacon (which cannot send headers).

    A forged cross-site post is refused by its Origin / Sec-Fetch-Site headers instead; session
    cookies are SameSite=Lax, so such a post would not carry the login anyway.
    """

    def enforce_csrf(self, request: Request) -> None:
        refuse_cross_site(request)


def refuse_cross_site(request: Request) -> None:
    """Browsers label their posts; one from another site must not write into a reader's history."""
    if request.META.get("HTTP_SEC_FETCH_SITE") == "cross-site":
        raise PermissionDenied("Cross-site event posts are refused.")
    origin = request.META.get("HTTP_ORIGIN")
    if origin and origin != "null" and urlsplit(origin).netloc != request.get_host():
        raise PermissionDenied("Cross-site event posts are refused.")


class CanWriteEvents(BasePermission):
    """Browsers may always post their own events; an API key needs the write-events scope."""

    message = "This API key lacks the write-events scope."

    def has_permission(self, request: Request, view: Any) -> bool:
        if isinstance(request.auth, ApiKey):
            return ApiKeyScope.WRITE_EVENTS in request.auth.scopes
        return True


class EventInputSerializer(serializers.Serializer):
    """Documents one event; validation itself is newsrec.events.validate_event (per event)."""

    event_id = serializers.CharField(max_length=64, help_text="Client-made id; repeats dedupe.")
    kind = serializers.ChoiceField(choices=EventKind.choices)
    article_id = serializers.IntegerField(required=False, min_value=1)
    article_external_id = serializers.CharField(
        required=False, max_length=255, help_text="Instead of article_id: the CMS's id."
    )
    occurred_at = serializers.DateTimeField(
        help_text="ISO 8601 with a time zone; at most 7 days old and 5 minutes ahead."
    )
    dwell_seconds = serializers.FloatField(
        required=False, min_value=0, max_value=86_400, help_text="Required for dwell."
    )
    read_depth = serializers.FloatField(required=False, min_value=0, max_value=1)
    feed_slot = serializers.IntegerField(required=False, min_value=0, max_value=10_000)
    surface = serializers.CharField(required=False, max_length=32, help_text="e.g. home.")
    recommendation_id = serializers.CharField(required=False, max_length=64)
    device = serializers.ChoiceField(choices=DeviceClass.choices, required=False)
    local_hour = serializers.IntegerField(required=False, min_value=0, max_value=23)
    weekday = serializers.IntegerField(required=False, min_value=0, max_value=6)
    referrer = serializers.ChoiceField(choices=ReferrerType.choices, required=False)
    session_id = serializers.CharField(required=False, max_length=64)
    reader_id = serializers.CharField(
        required=False, help_text="If sent, must name the sending reader."
    )


class EventBatchSerializer(serializers.Serializer):
    """Documents the request body of POST /api/v1/events/."""

    reader_id = serializers.CharField(
        required=False,
        max_length=readers.CLIENT_ID_MAX,
        help_text="Only with an API key (write-events): your id for the reader.",
    )
    events = EventInputSerializer(many=True, help_text="1 to 100 events.")


class EventResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    event_id = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=["accepted", "duplicate", "rejected"])
    reasons = serializers.DictField(child=serializers.CharField(), required=False)


class EventsReportSerializer(serializers.Serializer):
    """Per-event answers, in the order sent."""

    accepted = serializers.IntegerField()
    duplicate = serializers.IntegerField()
    rejected = serializers.IntegerField()
    results = EventResultSerializer(many=True)


EVENTS_EXAMPLE = OpenApiExample(
    "Impression then click",
    value={
        "events": [
            {
                "event_id": "2f6c1e0a-1",
                "kind": "impression",
                "article_id": 42,
                "occurred_at": "2026-11-28T09:30:00+01:00",
                "feed_slot": 3,
                "surface": "home",
                "recommendation_id": "feed-7f3a",
                "local_hour": 9,
                "weekday": 5,
                "session_id": "s-91c2",
            },
            {
                "event_id": "2f6c1e0a-2",
                "kind": "read",
                "article_id": 42,
                "occurred_at": "2026-11-28T09:31:10+01:00",
                "dwell_seconds": 64.5,
                "read_depth": 0.8,
            },
        ]
    },
    request_only=True,
)


def _client_reader_id(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError({"reader_id": ["Must be a non-empty string."]})
    value = value.strip()
    if "\x00" in value or len(value) > readers.CLIENT_ID_MAX:
        raise ValidationError(
            {"reader_id": [f"Must be at most {readers.CLIENT_ID_MAX} characters, without NUL."]}
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError({"reader_id": ["Contains invalid Unicode."]}) from None
    return value


class EventsView(NewsrecAPIView):
    """Store a batch of reader events; each event is answered accepted, duplicate or rejected."""

    authentication_classes = [
        ApiKeyAuthentication,
        TokenAuthentication,
        BeaconSessionAuthentication,
    ]
    permission_classes = [CanWriteEvents]
    parser_classes = [BoundedJSONParser]

    @property
    def max_body_bytes(self) -> int:
        return int(newsrec_settings.EVENTS_MAX_BODY_BYTES)

    @extend_schema(
        request=EventBatchSerializer,
        responses={
            200: EventsReportSerializer,
            400: OpenApiResponse(
                PolymorphicProxySerializer(
                    component_name="EventsRejected",
                    serializers=[EventsReportSerializer, ErrorSerializer],
                    resource_type_field_name=None,
                ),
                description="No event stored (each rejected event says why), or a malformed body.",
            ),
            413: ErrorSerializer,
        },
        examples=[EVENTS_EXAMPLE, examples.EVENTS_REPORT],
        description=(
            "Send `{\"events\": [...]}` (or a bare list): at most NEWSREC['EVENTS_MAX_BATCH'] "
            "(100) events and NEWSREC['EVENTS_MAX_BODY_BYTES'] (256 KiB) per request. Kinds: "
            "impression, click, read, dwell, finish, share, hide, skip. `occurred_at` may be up "
            "to NEWSREC['EVENTS_MAX_AGE_DAYS'] (7) days old and at most 5 minutes ahead. "
            "`event_id` makes sending idempotent: a repeat is answered `duplicate`. "
            "Browsers are identified by their login or the `newsrec_rid` cookie (set here when "
            "missing); a server with an API key carrying the write-events scope names the reader "
            "with a top-level `reader_id`. An event whose `reader_id` names someone else is "
            "rejected. `device` (mobile/tablet/desktop) defaults to one read from the User-Agent."
        ),
    )
    def post(self, request: Request) -> Response:
        body = request.data  # BoundedJSONParser answers 413 beyond max_body_bytes
        claimed: Any = None
        if isinstance(body, dict):
            unknown = set(body) - {"events", "reader_id"}
            if "events" not in body or unknown:
                raise ValidationError({"non_field_errors": ['Send {"events": [...]}.']})
            claimed, body = body.get("reader_id"), body["events"]
        if not isinstance(body, list) or not body:
            raise ValidationError({"events": ["Must be a non-empty list of event objects."]})
        limit = int(newsrec_settings.EVENTS_MAX_BATCH)
        if len(body) > limit:
            raise ValidationError({"events": [f"At most {limit} events per request."]})

        token: str | None = None
        if isinstance(request.auth, ApiKey):
            if claimed is None:
                raise ValidationError({"reader_id": ["Required when sending with an API key."]})
            claim = _client_reader_id(claimed)
            reader = readers.reader_for_client_id(client_id=claim)
            default_device = ""
        else:
            if claimed is not None:
                raise PermissionDenied(
                    "Only an API key with the write-events scope may name the reader."
                )
            refuse_cross_site(request)
            found, token = readers.reader_for_request(request, create=True)
            assert found is not None  # create=True always yields a reader
            reader, claim = found, str(found.public_id)
            default_device = device_from_user_agent(request.META.get("HTTP_USER_AGENT", ""))
        readers.reader_touch(reader=reader)
        report = events_ingest(
            reader=reader, raw_events=body, default_device=default_device, reader_claim=claim
        )
        answer = report.as_dict()
        stored = answer["accepted"] + answer["duplicate"]
        code = status.HTTP_400_BAD_REQUEST if not stored else status.HTTP_200_OK
        response = Response(answer, status=code)
        if token:
            readers.cookie_set(response, token, request=request)
        return response


def _current_reader(request: Request) -> Reader | None:
    reader, _token = readers.reader_for_request(request, create=False)
    return reader


class MeView(NewsrecAPIView):
    """The current reader's data: DELETE erases it."""

    permission_classes = [IsReader]

    @extend_schema(
        responses={204: None},
        description=(
            "Erase every event, the profile, the feed and the reader record; clears the cookie. "
            "A logged-in user's account stays. Browsers send the CSRF token."
        ),
    )
    def delete(self, request: Request) -> Response:
        reader = _current_reader(request)
        if reader is not None:
            readers.reader_erase(reader=reader)
        response = Response(status=status.HTTP_204_NO_CONTENT)
        response.delete_cookie(readers.COOKIE_NAME, samesite="Lax")
        return response


class ExportReaderSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    logged_in = serializers.BooleanField()
    personalisation_enabled = serializers.BooleanField()
    created = serializers.DateTimeField()
    last_seen = serializers.DateTimeField(allow_null=True)


class InterestsSerializer(serializers.Serializer):
    sections = serializers.ListField(child=serializers.CharField())
    tags = serializers.ListField(child=serializers.CharField())
    authors = serializers.ListField(child=serializers.CharField())
    nearest_articles = serializers.ListField(child=serializers.CharField())
    style = serializers.CharField(  # type: ignore[assignment]  # a field, not Field.style
        allow_blank=True, help_text="binge, sample or empty."
    )


class ExportSerializer(serializers.Serializer):
    """Documents the export: everything stored about the reader."""

    reader = ExportReaderSerializer()
    events = serializers.ListField(child=serializers.DictField())
    profile = serializers.DictField(allow_null=True)
    interests = InterestsSerializer()
    churn_risk = serializers.DictField(
        allow_null=True,
        help_text="The stored chance of not coming back soon: band, probability, reasons.",
    )


class MeExportView(NewsrecAPIView):
    """Export everything stored about the current reader as JSON."""

    permission_classes = [IsReader]

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        # A reader's whole history: no shared or browser cache may keep it, errors included.
        response = super().finalize_response(request, response, *args, **kwargs)
        patch_cache_control(response, private=True, no_store=True)
        return response

    @extend_schema(
        responses={
            200: ExportSerializer,
            404: OpenApiResponse(ErrorSerializer, description="Nothing is stored about you."),
        },
        examples=[examples.EXPORT],
        description="The reader, all their events, the profile and its interests in words.",
    )
    def get(self, request: Request) -> Response:
        reader = _current_reader(request)
        if reader is None:
            raise NotFound("Nothing is stored about you.")
        return Response(readers.reader_export(reader=reader))


class PersonalisationSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()

    def to_internal_value(self, data: Any) -> Any:
        # BooleanField takes "yes", 0 … ; a privacy switch should only take a real boolean.
        if not isinstance(data, dict) or not isinstance(data.get("enabled"), bool):
            raise ValidationError({"enabled": ["Must be true or false."]})
        return super().to_internal_value(data)


class MePersonalisationView(NewsrecAPIView):
    """Turn personalisation on or off for the current reader."""

    permission_classes = [IsReader]

    @extend_schema(
        request=PersonalisationSerializer,
        responses={200: PersonalisationSerializer},
        examples=[examples.PERSONALISATION_OFF],
        description=(
            "Off: the profile and the stored personal feed are deleted and new events are kept "
            "but never profiled; feeds become the non-personalised one. Browsers send the CSRF "
            "token."
        ),
    )
    def post(self, request: Request) -> Response:
        serializer = PersonalisationSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        reader, token = readers.reader_for_request(request, create=True)
        assert reader is not None
        readers.personalisation_set(reader=reader, enabled=serializer.validated_data["enabled"])
        response = Response({"enabled": reader.personalisation_enabled})
        if token:
            readers.cookie_set(response, token, request=request)
        return response
