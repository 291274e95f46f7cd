"""Editorial rules over the API: read rule sets and rules; edit the rules of draft sets.

Published, scheduled and live sets change only through a senior editor's publish in the
editors' admin (publishing, scheduling, audit); the API edits drafts, e.g. a CMS preparing an
"Election night" set ahead of time.
"""

from __future__ import annotations

import copy
from typing import Any, cast

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from editorial.audit import audit_actor
from editorial.models import AuditSource, Rule, RuleSet, RuleSetStatus
from newsrec.api import examples
from newsrec.api.base import NewsrecAPIView
from newsrec.api.permissions import CanManageRulesOrReadOnly
from newsrec.models import DeviceClass
from newsrec.numbers import ascii_int

LIVE_SET_MESSAGE = (
    "Only draft rule sets can be changed over the API: a published, scheduled or live set "
    "changes only through a senior editor's publish in the editors' admin. Edit a draft (copy "
    "the set in the admin), then have it published."
)


class RuleSerializer(serializers.ModelSerializer):
    """A rule row; which parameters matter depends on ``kind`` (validated by Rule.clean())."""

    devices = serializers.ListField(
        child=serializers.ChoiceField(choices=DeviceClass.choices),
        required=False,
        max_length=3,
        help_text="Pins only: these device classes (empty = all).",
    )

    class Meta:
        model = Rule
        fields = [
            "id", "rule_set", "kind", "enabled", "target_field", "target_value", "factor",
            "slot", "hours", "max_per_value", "top_k", "mmr_lambda", "devices", "visitors",
            "priority", "valid_from", "valid_until", "note", "created", "modified",
        ]  # fmt: skip
        read_only_fields = ["id", "created", "modified"]

    def validate_rule_set(self, value: RuleSet) -> RuleSet:
        if not value.is_draft or value.is_live:
            raise ValidationError(LIVE_SET_MESSAGE)
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # The model's own clean() (one strategy per kind) is the single validation path.
        rule = copy.copy(self.instance) if self.instance is not None else Rule()
        for name, value in attrs.items():
            setattr(rule, name, value)
        try:
            rule.clean()
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict) from None
        return attrs


class RuleSetSerializer(serializers.ModelSerializer):
    rules = RuleSerializer(many=True, read_only=True)

    class Meta:
        model = RuleSet
        fields = [
            "id", "name", "description", "status", "is_live", "scope", "scope_value",
            "starts_at", "ends_at", "replaces_standing", "created", "modified", "rules",
        ]  # fmt: skip
        read_only_fields = fields


class _RuleWrites(NewsrecAPIView, generics.GenericAPIView):
    """Writes run as the API actor (for the audit trail) and never touch the live set."""

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        with transaction.atomic(), audit_actor(user=self.request.user, source=AuditSource.API):
            serializer.save()

    def perform_update(self, serializer: serializers.BaseSerializer) -> None:
        self._refuse_live(cast(Rule, serializer.instance))
        with transaction.atomic(), audit_actor(user=self.request.user, source=AuditSource.API):
            serializer.save()

    def perform_destroy(self, instance: Rule) -> None:
        self._refuse_live(instance)
        with transaction.atomic(), audit_actor(user=self.request.user, source=AuditSource.API):
            instance.delete()

    @staticmethod
    def _refuse_live(rule: Rule) -> None:
        """Published and scheduled sets are what a senior published: never edited here."""
        editable = RuleSet.objects.filter(
            pk=rule.rule_set_id, status=RuleSetStatus.DRAFT, is_live=False
        )
        if not editable.exists():
            raise ValidationError({"rule_set": [LIVE_SET_MESSAGE]})


class RuleSetListView(NewsrecAPIView, generics.ListAPIView):
    """Every rule set with its rules; the live ones (one per scope) say ``is_live``."""

    serializer_class = RuleSetSerializer
    permission_classes = [CanManageRulesOrReadOnly]
    queryset = RuleSet.objects.prefetch_related("rules").order_by("-is_live", "name")

    @extend_schema(
        examples=[examples.RULE_SETS],
        description="Staff, or an API key with the read-feeds or manage-rules scope.",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class RuleSetDetailView(NewsrecAPIView, generics.RetrieveAPIView):
    """One rule set with its rules."""

    serializer_class = RuleSetSerializer
    permission_classes = [CanManageRulesOrReadOnly]
    queryset = RuleSet.objects.prefetch_related("rules")

    @extend_schema(examples=[examples.RULE_SET])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


@extend_schema_view(
    get=extend_schema(
        parameters=[OpenApiParameter("rule_set", int, description="Only rules of this set.")],
        examples=[examples.RULES],
        description="Staff, or an API key with the read-feeds or manage-rules scope.",
    ),
    post=extend_schema(
        examples=[examples.RULE_REQUEST, examples.RULE],
        description=(
            "Needs staff or the manage-rules scope. The set must be a draft. Each kind needs "
            "its own parameters (boost: target and factor; pin: article id and slot; ...): "
            "missing or contradictory ones are answered 400 with a message per field."
        ),
    ),
)
class RuleListCreateView(_RuleWrites, generics.ListCreateAPIView):
    """Rules, optionally of one set; POST adds a rule to a draft set."""

    serializer_class = RuleSerializer
    permission_classes = [CanManageRulesOrReadOnly]

    def get_queryset(self) -> Any:
        qs = Rule.objects.order_by("rule_set_id", "id")
        raw = self.request.query_params.get("rule_set", "")
        if raw:
            rule_set = ascii_int(raw, low=1)
            if rule_set is None:
                raise ValidationError({"rule_set": ["Must be a rule set id."]})
            qs = qs.filter(rule_set_id=rule_set)
        return qs


@extend_schema_view(
    get=extend_schema(examples=[examples.RULE]),
    put=extend_schema(examples=[examples.RULE_REQUEST, examples.RULE]),
    patch=extend_schema(examples=[examples.RULE_PATCH, examples.RULE]),
    delete=extend_schema(description="Needs staff or manage-rules; only in a draft set."),
)
class RuleDetailView(_RuleWrites, generics.RetrieveUpdateDestroyAPIView):
    """One rule; PUT/PATCH/DELETE change it while its set is a draft."""

    serializer_class = RuleSerializer
    permission_classes = [CanManageRulesOrReadOnly]
    queryset = Rule.objects.all()
