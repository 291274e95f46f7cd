"""Admin for the catalogue, API keys, and (read-only, by permission) readers."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.utils.cache import patch_cache_control
from django.utils.html import format_html, format_html_join

from newsrec import services
from newsrec.admin_mixins import ReadOnlyAdminMixin
from newsrec.api.authentication import api_key_create
from newsrec.ingest import ArticleRejected, validate_article
from newsrec.learning.training import activate, deactivate
from newsrec.models import ApiKey, Article, EmbeddingStatus, RankerModel, Reader, ReaderProfile
from newsrec.readers import reader_erase, reader_export, reader_interests

ARTICLE_FIELDS = ("external_id", *services.ARTICLE_DATA_FIELDS)


class ArticleAdminForm(forms.ModelForm):
    """The admin's article form checks what the API and the importers check (one validation:
    ``newsrec.ingest.validate_article``), field by field."""

    url = forms.URLField(max_length=2000, required=False, assume_scheme="https")

    class Meta:
        model = Article
        fields = [*ARTICLE_FIELDS]

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        row = {name: data.get(name) for name in ARTICLE_FIELDS if name in data}
        try:
            validate_article(row)
        except ArticleRejected as exc:
            for name, message in exc.reasons.items():
                self.add_error(name if name in self.fields else None, message)
        return data


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    """Every write goes through the catalogue service, as API and CMS writes do: the content
    hash, re-embedding when the text changes, and a retraction leaving stored feeds at once."""

    form = ArticleAdminForm
    list_display = ["title", "section", "status", "published_at", "embedding_status"]
    list_filter = ["status", "section", "embedding_status", "language"]
    search_fields = ["title", "external_id", "lead"]
    date_hierarchy = "published_at"
    readonly_fields = [
        "content_hash", "embedding_status", "embedding_error", "embedding_attempts",
        "embedding_text_hash", "created", "modified",
    ]  # fmt: skip
    actions = ["reembed"]

    def save_model(self, request: HttpRequest, obj: Article, form: Any, change: bool) -> None:
        row = {name: form.cleaned_data.get(name, getattr(obj, name)) for name in ARTICLE_FIELDS}
        if change:
            previous = Article.objects.filter(pk=obj.pk).values_list("external_id", flat=True)
            if previous.first() != row["external_id"]:  # renamed: keep the row, move its id
                Article.objects.filter(pk=obj.pk).update(external_id=row["external_id"])
        report = services.article_upsert_many(rows=[row])
        if report.rejected:  # the form validated the same rules: only a race gets here
            raise ValidationError("; ".join(str(r) for r in report.rejected))
        stored = Article.objects.get(external_id=row["external_id"])
        obj.pk, obj.content_hash = stored.pk, stored.content_hash
        obj.embedding_status = stored.embedding_status

    def delete_model(self, request: HttpRequest, obj: Article) -> None:
        services.article_delete(external_id=obj.external_id)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Article]) -> None:
        for external_id in queryset.values_list("external_id", flat=True):
            services.article_delete(external_id=external_id)

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


class ReaderDataAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only, and only for staff holding newsrec.view_reader_data (not plain view rights)."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("newsrec.view_reader_data")

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("newsrec.view_reader_data")


def _interests_in_words(reader: Reader) -> str:
    words = reader_interests(reader=reader)
    parts = [
        f"{label}: {', '.join(words[key])}"
        for label, key in [("Sections", "sections"), ("Tags", "tags"), ("Authors", "authors"),
                           ("Nearest articles", "nearest_articles")]
        if words[key]
    ]  # fmt: skip
    return "; ".join(parts) or "—"


@admin.register(Reader)
class ReaderAdmin(ReaderDataAdmin):
    list_display = ["public_id", "user", "personalisation_enabled", "created", "last_seen"]
    list_filter = ["personalisation_enabled"]
    # client_id: the host's id of readers it names ("api:<id>"), to answer their requests
    search_fields = ["public_id", f"user__{get_user_model().USERNAME_FIELD}", "client_id"]
    fields = readonly_fields = (
        "public_id", "user", "personalisation_enabled", "created", "last_seen", "interests",
    )  # fmt: skip
    actions = ["reader_data_export", "reader_data_erase"]

    @admin.display(description="Top interests")
    def interests(self, obj: Reader) -> str:
        return _interests_in_words(obj)

    def has_reader_data_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("newsrec.view_reader_data")

    @admin.action(
        description="Export the selected readers' data (JSON)", permissions=["reader_data"]
    )
    def reader_data_export(self, request: HttpRequest, queryset: QuerySet[Reader]) -> HttpResponse:
        data = {"readers": [reader_export(reader=r) for r in queryset.order_by("pk")]}
        response = JsonResponse(data, encoder=DjangoJSONEncoder)
        response["Content-Disposition"] = 'attachment; filename="readers-export.json"'
        patch_cache_control(response, private=True, no_store=True)
        return response

    @admin.action(description="Erase the selected readers", permissions=["reader_data"])
    def reader_data_erase(
        self, request: HttpRequest, queryset: QuerySet[Reader]
    ) -> HttpResponse | None:
        if request.POST.get("post") != "yes":  # first ask, as Django's own delete action does
            return TemplateResponse(
                request,
                "admin/newsrec/reader/erase_confirmation.html",
                {
                    **self.admin_site.each_context(request),
                    "opts": self.model._meta,
                    "queryset": list(queryset.select_related("user").order_by("pk")),
                    "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                    "media": self.media,
                },
            )
        erased = 0
        for reader in queryset:
            reader_erase(reader=reader)
            erased += 1
        self.message_user(request, f"Erased {erased} reader(s) and everything stored about them.")
        return None


@admin.register(ReaderProfile)
class ReaderProfileAdmin(ReaderDataAdmin):
    list_display = ["reader", "events_counted", "sessions", "completion_rate", "updated"]
    fields = readonly_fields = (
        "reader", "interests", "context_habits", "sessions", "avg_session_depth",
        "completion_rate", "last_event_at", "events_counted", "updated",
    )  # fmt: skip

    @admin.display(description="Top interests")
    def interests(self, obj: ReaderProfile) -> str:
        return _interests_in_words(obj.reader)


@admin.register(RankerModel)
class RankerModelAdmin(admin.ModelAdmin):
    """The model card of every training run; activate a version (roll back) or go back to the
    hand-weighted formula. Nothing here is editable: versions come from training runs."""

    list_display = ["__str__", "created_at", "status", "validation_auc", "hand_auc", "verdict"]
    list_filter = ["status"]
    actions = ["make_active", "use_hand_weights"]
    fields = ("status", "created_at", "activated_at", "created_by", "verdict", "card")
    readonly_fields = ("status", "created_at", "activated_at", "created_by", "verdict", "card")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="validation AUC")
    def validation_auc(self, obj: RankerModel) -> str:
        return _figure(obj.metrics.get("model", {}).get("auc"))

    @admin.display(description="hand-weighted AUC")
    def hand_auc(self, obj: RankerModel) -> str:
        return _figure(obj.metrics.get("hand", {}).get("auc"))

    @admin.display(description="model card")
    def card(self, obj: RankerModel) -> str:
        rows = [
            format_html(
                "<tr><th>{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                name, _figure(m.get("auc")), _figure(m.get("mrr")), _figure(m.get("ndcg5")),
                _figure(m.get("ndcg10")), m.get("impressions", ""),
            )
            for name, m in obj.metrics.items()
        ]  # fmt: skip
        # jsonb keeps no key order: largest share first, unused signals on one line
        ranked = sorted(obj.importances.items(), key=lambda kv: (-kv[1], kv[0]))
        signals = [
            format_html("<li>{} — {}</li>", name, f"{share:.1%}")
            for name, share in ranked
            if share >= 0.0005
        ]
        unused = [name for name, share in ranked if share < 0.0005]
        if unused:
            signals.append(format_html("<li>not used: {}</li>", ", ".join(unused)))
        training = [
            format_html("<li>{}: {}</li>", label, obj.training[key])
            for key, label in TRAINING_LABELS
            if key in obj.training
        ]
        return format_html(
            "<table><tr><th>validation slice</th><th>AUC</th><th>MRR</th><th>nDCG@5</th>"
            "<th>nDCG@10</th><th>impressions</th></tr>{}</table>"
            "<p><strong>Signals (share of split gain)</strong></p><ul>{}</ul>"
            "<p><strong>Training data</strong></p><ul>{}</ul>",
            format_html_join("", "{}", ((r,) for r in rows)),
            format_html_join("", "{}", ((s,) for s in signals)) or "—",
            format_html_join("", "{}", ((t,) for t in training)),
        )

    def has_activate_permission(self, request: HttpRequest) -> bool:
        """Switching the ranker rebuilds every feed: the catalogue managers' right."""
        return request.user.has_perm("newsrec.change_rankermodel")

    @admin.action(
        description="Make the selected version active (roll back or forward)",
        permissions=["activate"],
    )
    def make_active(self, request: HttpRequest, queryset: QuerySet[RankerModel]) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version.", messages.ERROR)
            return
        version = queryset.get()
        try:
            activate(version)
        except ValueError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(request, f"{version} now ranks every feed; feeds are being rebuilt.")

    @admin.action(
        description="Use the hand-weighted formula (deactivate every learned version)",
        permissions=["activate"],
    )
    def use_hand_weights(self, request: HttpRequest, queryset: QuerySet[RankerModel]) -> None:
        deactivate()
        self.message_user(request, "Feeds use the hand-weighted formula; they are being rebuilt.")


TRAINING_LABELS = (
    ("train_from", "training from"),
    ("train_until", "training until (validation from)"),
    ("validation_until", "validation until"),
    ("train_impressions", "training page views"),
    ("train_rows", "training impressions"),
    ("train_clicks", "training clicks"),
    ("validation_impressions", "validation page views"),
    ("validation_readers", "validation readers"),
)


def _figure(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else "—"


from newsrec.retention import admin as _retention_admin  # noqa: E402, F401  (registers its admins)
