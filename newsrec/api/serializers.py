"""Serializers of the REST API."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from newsrec.models import Article


class ArticleSerializer(serializers.ModelSerializer):
    # Not URLField: articles imported without a link have an empty url, which is not a URI.
    url = serializers.CharField(read_only=True, help_text="Canonical URL; empty if none.")

    class Meta:
        model = Article
        fields = [
            "id", "external_id", "url", "title", "lead", "section", "tags", "authors", "language",
            "published_at", "updated_at", "status", "embargo_until", "embedding_status",
        ]  # fmt: skip
        read_only_fields = fields


class RelatedArticleSerializer(ArticleSerializer):
    similarity = serializers.SerializerMethodField()

    class Meta(ArticleSerializer.Meta):
        fields = [*ArticleSerializer.Meta.fields, "similarity"]
        read_only_fields = fields

    def get_similarity(self, obj: Article) -> float:
        return round(1.0 - float(getattr(obj, "distance", 1.0)), 4)


class ArticleInputSerializer(serializers.Serializer):
    """Documents the upsert row shape; validation itself is newsrec.ingest.validate_article."""

    external_id = serializers.CharField(max_length=255)
    title = serializers.CharField(max_length=500)
    url = serializers.URLField(required=False, allow_blank=True)
    lead = serializers.CharField(required=False, allow_blank=True)
    body = serializers.CharField(required=False, allow_blank=True)
    section = serializers.CharField(required=False, allow_blank=True)
    tags = serializers.ListField(child=serializers.CharField(), required=False)
    authors = serializers.ListField(child=serializers.CharField(), required=False)
    language = serializers.CharField(required=False)
    published_at = serializers.DateTimeField(required=False, allow_null=True)
    updated_at = serializers.DateTimeField(required=False, allow_null=True)
    status = serializers.ChoiceField(choices=["draft", "published", "retracted"], required=False)
    embargo_until = serializers.DateTimeField(required=False, allow_null=True)


class RejectionSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    external_id = serializers.CharField()
    reasons = serializers.DictField(child=serializers.CharField())


class UpsertReportSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    rejected = RejectionSerializer(many=True)
    dry_run = serializers.BooleanField()


class ArticleFilterSerializer(serializers.Serializer):
    """Query parameters of the article list."""

    section = serializers.CharField(required=False, max_length=100, help_text="Only this section.")
    tag = serializers.CharField(required=False, max_length=100, help_text="Only with this tag.")
    published_after = serializers.DateTimeField(
        required=False, help_text="Published at or after this time (ISO 8601)."
    )
    published_before = serializers.DateTimeField(
        required=False, help_text="Published before this time (ISO 8601)."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        after, before = attrs.get("published_after"), attrs.get("published_before")
        if after and before and before <= after:
            raise serializers.ValidationError(
                {"published_before": ["Must be later than published_after."]}
            )
        return attrs
