"""Admin for the catalogue and API keys."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from newsrec import services
from newsrec.api.authentication import api_key_create
from newsrec.models import ApiKey, Article, EmbeddingStatus


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = ["title", "section", "status", "published_at", "embedding_status"]
    list_filter = ["status", "section", "embedding_status", "language"]
    search_fields = ["title", "external_id", "lead"]
    date_hierarchy = "published_at"
    readonly_fields = [
        "content_hash", "embedding_status", "embedding_error", "embedding_attempts",
        "embedding_text_hash", "created", "modified",
    ]  # fmt: skip
    exclude = ["embedding"]
    actions = ["reembed"]

    @admin.action(description="Re-embed selected articles")
    def reembed(self, request: HttpRequest, queryset: QuerySet[Article]) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        queryset.update(embedding_status=EmbeddingStatus.PENDING, embedding_attempts=0)
        services.embed_enqueue(article_ids=ids)
        self.message_user(request, f"Queued {len(ids)} article(s) for embedding.")


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "scopes", "created", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "created", "last_used_at"]
    fields = ["name", "scopes", "prefix", "created", "last_used_at", "revoked_at"]

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        key, raw = api_key_create(name=obj.name, scopes=list(obj.scopes))
        obj.pk, obj.prefix, obj.key_hash = key.pk, key.prefix, key.key_hash
        self.message_user(
            request, f"API key created. Copy it now, it is not shown again: {raw}", messages.WARNING
        )
