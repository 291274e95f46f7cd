"""The reader's own nudges for apps and hosts that render them: claim one, dismiss one."""

from __future__ import annotations

from typing import Any

from django.utils.cache import patch_cache_control
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.request import Request
from rest_framework.response import Response

from newsrec import readers
from newsrec.api.authentication import ApiKeyAuthentication
from newsrec.api.base import NewsrecAPIView
from newsrec.api.permissions import IsReader
from newsrec.engine.types import DEVICES
from newsrec.providers import NUDGE_KINDS, NUDGE_PICK_UP, NUDGE_SURFACES
from newsrec.retention import nudges


class NudgeRequestSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=list(NUDGE_KINDS), help_text="Which nudge.")
    surface = serializers.ChoiceField(
        choices=list(NUDGE_SURFACES), default="api",
        help_text="Where it will show (editors switch kinds on and off per surface).",
    )  # fmt: skip
    device = serializers.ChoiceField(choices=list(DEVICES), required=False, default="")
    local_hour = serializers.IntegerField(min_value=0, max_value=23, required=False)
    article_id = serializers.IntegerField(
        min_value=1, required=False, help_text="The story being read: never offered."
    )


class NudgeItemSerializer(serializers.Serializer):
    article_id = serializers.IntegerField()
    external_id = serializers.CharField()
    title = serializers.CharField()
    section = serializers.CharField(allow_blank=True)
    url = serializers.CharField(allow_blank=True)
    reason = serializers.CharField(help_text="Why it is offered, in the reader's words.")
    recommendation_id = serializers.CharField(
        allow_blank=True, help_text="Send it back with impression and click events."
    )


class NudgeSerializer(serializers.Serializer):
    show = serializers.BooleanField(
        help_text="False: nothing to show (opted out, off, capped, dismissed or no story)."
    )
    kind = serializers.CharField()
    title = serializers.CharField(allow_blank=True)
    lead = serializers.CharField(allow_blank=True)
    items = NudgeItemSerializer(many=True)


class NudgeDismissSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=list(NUDGE_KINDS))


NUDGE_EXAMPLE = OpenApiExample(
    "Pick up where you left off",
    value={
        "show": True,
        "kind": NUDGE_PICK_UP,
        "title": "Pick up where you left off",
        "lead": "",
        "items": [
            {
                "article_id": 1043,
                "external_id": "cms-1043",
                "title": "Tram line, part 2: the route",
                "section": "Local",
                "url": "https://news.example.org/local/tram-2",
                "reason": "Next in “tram-line”, after “Tram line, part 1: the vote”",
                "recommendation_id": "pickup:311:e3v7",
            }
        ],
    },
    response_only=True,
)


NUDGE_REQUEST_EXAMPLE = OpenApiExample(
    "Claim the pick-up nudge on the front page",
    value={"kind": NUDGE_PICK_UP, "surface": "home", "device": "mobile", "local_hour": 8},
    request_only=True,
)
DISMISS_EXAMPLE = OpenApiExample(
    "Dismiss it for today", value={"kind": NUDGE_PICK_UP}, request_only=True
)


class MyNudgeView(NewsrecAPIView):
    """Claim the reader's nudge of one kind: its items, counted against today's cap."""

    authentication_classes = [ApiKeyAuthentication, TokenAuthentication, SessionAuthentication]
    permission_classes = [IsReader]

    @extend_schema(
        request=NudgeRequestSerializer,
        responses={200: NudgeSerializer},
        examples=[NUDGE_REQUEST_EXAMPLE, NUDGE_EXAMPLE],
        description=(
            "The nudge of `kind` for the current reader, under the editors' policy: on for the "
            "surface, the reader's risk band among those chosen, under the daily cap, not "
            "dismissed today, never for readers who opted out of personalisation or are in an "
            "experiment arm without nudges. An answer with `show: true` counts as one nudge "
            "shown (POST: it changes the count). Every editorial rule applies to the items."
        ),
    )
    def post(self, request: Request) -> Response:
        params = NudgeRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data: dict[str, Any] = dict(params.validated_data)
        reader, _token = readers.reader_for_request(request, create=False)
        offer = nudges.nudge_offer(
            reader=reader, kind=data["kind"], surface=data["surface"], claim=True,
            device=data.get("device") or "", local_hour=data.get("local_hour"),
            exclude=[data["article_id"]] if data.get("article_id") else [],
        )  # fmt: skip
        body: dict[str, Any] = {"show": False, "kind": data["kind"], "title": "", "lead": "",
                                "items": []}  # fmt: skip
        if offer is not None:
            policy, cards = offer
            body.update(
                show=True, title=policy.title, lead=policy.lead,
                items=[
                    {"article_id": c.article.pk, "external_id": c.article.external_id,
                     "title": c.article.title, "section": c.article.section,
                     "url": c.article.url or c.article.get_absolute_url(), "reason": c.reason,
                     "recommendation_id": c.recommendation_id}
                    for c in cards
                ],
            )  # fmt: skip
        response = Response(NudgeSerializer(body).data)
        patch_cache_control(response, private=True, no_store=True)
        return response


class MyNudgeDismissView(NewsrecAPIView):
    """The reader dismissed a nudge: none of that kind again today."""

    authentication_classes = [ApiKeyAuthentication, TokenAuthentication, SessionAuthentication]
    permission_classes = [IsReader]

    @extend_schema(
        request=NudgeDismissSerializer,
        responses={204: None},
        examples=[DISMISS_EXAMPLE],
        description="No nudge of `kind` for the current reader again today (UTC).",
    )
    def post(self, request: Request) -> Response:
        params = NudgeDismissSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        reader, _token = readers.reader_for_request(request, create=False)
        nudges.nudge_dismiss(reader=reader, kind=params.validated_data["kind"])
        return Response(status=204)
