"""Feed endpoints: the reader's own feed and rails, any reader's for staff, fan-out progress."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.urls import NoReverseMatch, reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import http_date, parse_http_date_safe, quote_etag
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from newsrec import feeds, readers
from newsrec.api import examples
from newsrec.api.base import NewsrecAPIView
from newsrec.api.errors import ErrorSerializer
from newsrec.api.permissions import CanReadFeeds, IsReader
from newsrec.conf import newsrec_settings
from newsrec.engine.sources import BecauseYouReadSource
from newsrec.engine.types import DEVICES
from newsrec.models import Article, Reader
from newsrec.numbers import ascii_int


class FeedItemSerializer(serializers.Serializer):
    article_id = serializers.IntegerField()
    title = serializers.CharField()
    section = serializers.CharField(allow_blank=True)
    url = serializers.CharField()
    source = serializers.CharField(  # type: ignore[assignment]  # a field, not Field.source
        help_text="Candidate source, e.g. because_you_read, trending."
    )
    reason = serializers.CharField(help_text='Why it is here, e.g. "Because you read …".')
    seed_id = serializers.IntegerField(
        allow_null=True, required=False, help_text="The article read, for because_you_read."
    )
    score = serializers.FloatField()
    slot = serializers.IntegerField(help_text="1-based position in this response.")


RECOMMENDATION_ID_HELP = (
    "Send it back as `recommendation_id` (with `feed_slot` = the item's slot) on impression and "
    "click events: it names the feed version and the experiment variant, if any."
)


class FeedSerializer(serializers.Serializer):
    personalised = serializers.BooleanField()
    recommendation_id = serializers.CharField(help_text=RECOMMENDATION_ID_HELP)
    rules_version = serializers.IntegerField()
    built_at = serializers.DateTimeField()
    version = serializers.IntegerField()
    items = FeedItemSerializer(many=True)


class RailSerializer(serializers.Serializer):
    seed_id = serializers.IntegerField(help_text="The article the reader read.")
    seed_title = serializers.CharField()
    title = serializers.CharField(help_text='"Because you read <seed title>".')
    items = FeedItemSerializer(many=True)


class RailsSerializer(serializers.Serializer):
    personalised = serializers.BooleanField()
    recommendation_id = serializers.CharField(help_text=RECOMMENDATION_ID_HELP)
    rules_version = serializers.IntegerField()
    built_at = serializers.DateTimeField()
    version = serializers.IntegerField()
    rails = RailSerializer(many=True)


class FanoutProgressSerializer(serializers.Serializer):
    run_id = serializers.CharField(required=False)
    total = serializers.IntegerField(required=False, help_text="Readers to rebuild.")
    done = serializers.IntegerField(required=False)
    started = serializers.FloatField(required=False, help_text="Unix time.")
    elapsed_seconds = serializers.FloatField(required=False)
    eta_seconds = serializers.FloatField(required=False)


CONTEXT_PARAMETERS = [
    OpenApiParameter("device", str, enum=list(DEVICES), description="Re-rank."),
    OpenApiParameter("hour", int, description="Reader's local hour (0-23) for the re-rank."),
]
LIMIT_PARAMETER = OpenApiParameter("limit", int, description="Items (1-50, default 20).")
SECTION_PARAMETER = OpenApiParameter(
    "section", str,
    description="The feed of one section's page: the reader's items in that section and its "
    "newest articles, under the rule sets scoped to that section page.",
)  # fmt: skip
RAILS_PARAMETERS = [
    OpenApiParameter("rails", int, description="Most rails (1-10, default 3)."),
    OpenApiParameter("per_rail", int, description="Items per rail (1-20, default 6)."),
]
CONDITIONAL_PARAMETERS = [
    OpenApiParameter(
        "If-None-Match", str, OpenApiParameter.HEADER, description="ETag of a copy you hold."
    ),
    OpenApiParameter(
        "If-Modified-Since", str, OpenApiParameter.HEADER, description="Last-Modified you hold."
    ),
]
FEED_PARAMETERS = [
    *CONTEXT_PARAMETERS,
    LIMIT_PARAMETER,
    SECTION_PARAMETER,
    *CONDITIONAL_PARAMETERS,
]  # both feed endpoints
NO_READER = OpenApiResponse(ErrorSerializer, description="No reader has this public id.")
NOT_MODIFIED = OpenApiResponse(description="Not modified: your copy is current.")


def _bounded(request: Request, name: str, default: int, low: int, high: int) -> int:
    value = ascii_int(request.query_params.get(name, str(default)), low=low, high=high)
    if value is None:
        raise ValidationError({name: [f"Must be an integer from {low} to {high}."]})
    return value


def _context(request: Request) -> tuple[str, int | None]:
    device = request.query_params.get("device", "")
    if device and device not in DEVICES:
        raise ValidationError({"device": ["Must be mobile, tablet or desktop."]})
    hour = None
    if request.query_params.get("hour", ""):
        hour = _bounded(request, "hour", 0, 0, 23)
    return device, hour


def _not_modified(request: Request, etag: str, last_modified: int) -> bool:
    """RFC 9110: If-None-Match decides when sent; otherwise If-Modified-Since."""
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return "*" in tags or etag in tags
    since = parse_http_date_safe(request.headers.get("If-Modified-Since", ""))
    return since is not None and last_modified <= since


def _conditional(request: Request, view: feeds.FeedView, variant: str, body: Any) -> Response:
    """Answer with ``body()``, or 304 when the client's copy is current (same feed version)."""
    # a new variant or new read-time rules: a new ETag
    etag = quote_etag("-".join(filter(None, [view.recommendation_id, view.rules_tag, variant])))
    last_modified = int(view.built_at.timestamp())
    headers = {"ETag": etag, "Last-Modified": http_date(last_modified)}
    if _not_modified(request, etag, last_modified):
        response = Response(status=status.HTTP_304_NOT_MODIFIED, headers=headers)
    else:
        response = Response(body(), headers=headers)
    # The same URL serves each reader their own feed: shared caches must keep them apart.
    patch_vary_headers(response, ["Cookie", "Authorization"])
    return response


def _section(request: Request) -> str:
    from newsrec.selectors import section_names

    section = request.query_params.get("section", "")
    if section and section not in section_names():
        raise ValidationError({"section": [f"No section called {section[:100]!r}."]})
    return section


def _read(
    reader: Reader | None, device: str, hour: int | None, limit: int, section: str = ""
) -> feeds.FeedView:
    return feeds.feed_read(
        reader=reader, device=device, local_hour=hour, limit=limit, section=section
    )


def article_url(article_id: int) -> str:
    """The reader-site page of an article (reversed: a host may mount the site elsewhere, or
    not at all, which gives "")."""
    try:
        return reverse("newsrec:article", args=[article_id])
    except NoReverseMatch:
        return ""


_URL_PLACEHOLDER = 2147483647  # an article id no URL has otherwise


def article_urls() -> Callable[[int], str]:
    """``article_url`` for many articles: one ``reverse()`` per request, not one per item."""
    template = article_url(_URL_PLACEHOLDER)
    if not template:
        return lambda article_id: ""
    head, _, tail = template.partition(str(_URL_PLACEHOLDER))
    return lambda article_id: f"{head}{article_id}{tail}"


def _items(view: feeds.FeedView) -> list[dict[str, Any]]:
    url = article_urls()
    return [
        {**item, "url": url(item["article_id"]), "slot": slot}
        for slot, item in enumerate(view.items, start=1)
    ]


# FeedItemSerializer's fields, in order, with what its to_representation does to each value.
_ITEM_FIELDS: tuple[tuple[str, Any], ...] = (
    ("article_id", int), ("title", str), ("section", str), ("url", str), ("source", str),
    ("reason", str), ("seed_id", int), ("score", float), ("slot", int),
)  # fmt: skip
_BUILT_AT = serializers.DateTimeField()


def _item_data(item: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, convert in _ITEM_FIELDS:
        # An absent seed_id is null (allow_null), as the serializer has it; the rest must be set.
        value = item.get(name) if name == "seed_id" else item[name]
        out[name] = None if value is None else convert(value)
    return out


def feed_data(view: feeds.FeedView) -> dict[str, Any]:
    """What ``FeedSerializer(...).data`` gives for ``view``, without the serializer's cost.

    The feed is the most requested read; FeedSerializer stays the documented schema, and the
    API tests compare the two.
    """
    return {
        "personalised": bool(view.personalised),
        "recommendation_id": str(view.recommendation_id),
        "rules_version": int(view.rules_version),
        "built_at": _BUILT_AT.to_representation(view.built_at),
        "version": int(view.version),
        "items": [_item_data(item) for item in _items(view)],
    }


def feed_response(request: Request, reader: Reader | None) -> Response:
    device, hour = _context(request)
    limit = _bounded(request, "limit", 20, 1, 50)
    section = _section(request)
    view = _read(reader, device, hour, limit, section)

    def body() -> Any:
        return feed_data(view)

    return _conditional(request, view, f"{device}-{hour}-{limit}-{section}", body)


def _byr_seed(item: dict[str, Any]) -> int | None:
    return item.get("seed_id") if item.get("source") == BecauseYouReadSource.name else None


def rails_response(request: Request, reader: Reader | None) -> Response:
    device, hour = _context(request)
    rails = _bounded(request, "rails", 3, 1, 10)
    per_rail = _bounded(request, "per_rail", 6, 1, 20)
    view = _read(reader, device, hour, int(newsrec_settings.FEED_LENGTH))

    def body() -> Any:
        items = _items(view)
        seeds = {i["seed_id"] for i in items if i.get("seed_id") is not None}
        # Only live seeds: a retracted article must not headline a rail.
        titles = dict(Article.objects.published().filter(pk__in=seeds).values_list("pk", "title"))
        return RailsSerializer(
            {
                "personalised": view.personalised,
                "recommendation_id": view.recommendation_id,
                "rules_version": view.rules_version,
                "built_at": view.built_at,
                "version": view.version,
                "rails": [
                    {
                        "seed_id": seed,
                        "seed_title": titles[seed],
                        "title": f"Because you read {titles[seed]}",
                        "items": feeds.items_capped(members, view.caps)[:per_rail],
                    }
                    for seed, members in feeds.rails_group(
                        items, seed_of=_byr_seed, live_seeds=titles, rails=rails
                    )
                ],
            }
        ).data

    return _conditional(request, view, f"rails-{device}-{hour}-{rails}-{per_rail}", body)


class MyFeedView(NewsrecAPIView):
    """The current reader's "For you" feed (non-personalised for new or opted-out readers)."""

    permission_classes = [IsReader]

    @extend_schema(
        parameters=FEED_PARAMETERS,
        responses={200: FeedSerializer, 304: NOT_MODIFIED},
        examples=[examples.FEED],
        description=(
            "The reader is the logged-in user (session or reader token) or the anonymous "
            "`newsrec_rid` cookie. Answers carry `ETag` and `Last-Modified`; send them back "
            "as `If-None-Match` / `If-Modified-Since` to get a 304 while the feed is unchanged."
        ),
    )
    def get(self, request: Request) -> Response:
        reader, _token = readers.reader_for_request(request, create=False)
        return feed_response(request, reader)


class MyRailsView(NewsrecAPIView):
    """The current reader's "Because you read X" rails: feed items grouped by what was read."""

    permission_classes = [IsReader]

    @extend_schema(
        parameters=[*CONTEXT_PARAMETERS, *RAILS_PARAMETERS, *CONDITIONAL_PARAMETERS],
        responses={200: RailsSerializer, 304: NOT_MODIFIED},
        examples=[examples.RAILS],
        description=(
            "Items of the reader's feed that came from what they read, one rail per article "
            "read, in feed order. Empty for new and opted-out readers. Conditional like the feed."
        ),
    )
    def get(self, request: Request) -> Response:
        reader, _token = readers.reader_for_request(request, create=False)
        return rails_response(request, reader)


class ReaderFeedView(NewsrecAPIView):
    """Any reader's feed, by the reader's public id (staff, or the read-feeds scope)."""

    permission_classes = [CanReadFeeds]

    @extend_schema(
        parameters=FEED_PARAMETERS,
        responses={200: FeedSerializer, 304: NOT_MODIFIED, 404: NO_READER},
        examples=[examples.FEED],
        description="For servers rendering feeds themselves: needs the read-feeds scope.",
    )
    def get(self, request: Request, public_id: Any) -> Response:
        reader = Reader.objects.filter(public_id=public_id).first()
        if reader is None:
            raise NotFound("No such reader.")
        return feed_response(request, reader)


class FanoutProgressView(NewsrecAPIView):
    """Progress of the latest fan-out rebuild: readers done / total and ETA."""

    permission_classes = [CanReadFeeds]

    @extend_schema(
        responses=FanoutProgressSerializer,
        examples=[examples.FANOUT],
        description="Staff or the read-feeds scope. An empty object when no fan-out has run.",
    )
    def get(self, request: Request) -> Response:
        return Response(FanoutProgressSerializer(feeds.fanout_progress() or {}).data)
