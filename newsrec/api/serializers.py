"""Serializers of the REST API."""

from __future__ import annotations

from rest_framework import serializers

from newsrec.models import Article


class ArticleSerializer(serializers.ModelSerializer):
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
