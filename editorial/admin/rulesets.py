"""Rule sets in the admin: the sets with their rules inline, and their published versions."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, reverse
from django.utils.html import format_html, format_html_join

from editorial import selectors, services
from editorial.audit import audit_actor
from editorial.diff import described, rules_diff
from editorial.forms import RuleForm, RuleInlineFormSet, RuleSetForm
from editorial.models import AuditSource, Rule, RuleSet, RuleSetVersion
from editorial.permissions import PREVIEW_RULESET as PREVIEW
from editorial.permissions import PUBLISH_RULESET as PUBLISH
from editorial.views.urls import ruleset_urls
from newsrec.admin_mixins import ReadOnlyAdminMixin
from newsrec.numbers import ascii_int


class AuditedAdmin(admin.ModelAdmin):
    """Every change made through this admin is attributed to the user, from "admin"."""

    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with audit_actor(user=request.user, source=AuditSource.ADMIN):
            return super().changeform_view(request, *args, **kwargs)

    def delete_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with audit_actor(user=request.user, source=AuditSource.ADMIN):
            return super().delete_view(request, *args, **kwargs)

    def changelist_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with audit_actor(user=request.user, source=AuditSource.ADMIN):
            return super().changelist_view(request, *args, **kwargs)


class RuleInline(admin.StackedInline):
    model = Rule
    form = RuleForm
    formset = RuleInlineFormSet
    extra = 0
    ordering = ["id"]  # the order they were entered in, which their numbers ("rule #3") follow
    template = "admin/editorial/ruleset/rule_inline.html"
    fieldsets = [
        (None, {"fields": ["kind", "enabled", "target_field", "target_value", "strength",
                           "factor", "slot", "devices", "visitors", "priority", "hours",
                           "max_per_value", "top_k", "mmr_lambda", "valid_from", "valid_until",
                           "note"]}),
    ]  # fmt: skip

    def _editable(self, request: HttpRequest, obj: RuleSet | None) -> bool:
        return obj is None or obj.is_draft or request.user.has_perm(PUBLISH)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_add_permission(request, obj) and self._editable(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and self._editable(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and self._editable(request, obj)


class VersionInline(admin.TabularInline):
    model = RuleSetVersion
    extra = 0
    fields = readonly_fields = (
        "number", "published_at", "published_by", "source", "note", "rules_version",
    )  # fmt: skip
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(RuleSet)
class RuleSetAdmin(AuditedAdmin):
    form = RuleSetForm
    list_display = [
        "name", "status_badge", "is_live", "scope_shown", "starts_at", "ends_at", "modified"
    ]  # fmt: skip
    list_filter = ["status", "is_live", "scope"]
    search_fields = ["name", "description"]
    inlines = [RuleInline, VersionInline]
    readonly_fields = ["status", "is_live"]
    fieldsets = [
        (None, {"fields": ["name", "description", "status", "is_live", "revision"]}),
        ("Where", {"fields": ["scope", "scope_value"],
                   "description": "One set is live per scope. A set for a section page, a device "
                   "class or an experiment variant is applied there on top of the site-wide set: "
                   "its blocklists, boosts, caps and pins add to the site-wide ones, and its "
                   "freshness, max age and MMR settings replace them there."}),
        ("Schedule", {"fields": ["starts_at", "ends_at", "replaces_standing"],
                      "description": "Leave both empty to publish the set as the standing set. "
                      "A set with an end is added on top of the standing set for its window "
                      "(unless it replaces it); one without an end becomes the standing set "
                      "when it starts."}),
    ]  # fmt: skip
    actions = ["copy_as_draft"]
    change_form_template = "admin/editorial/ruleset/change_form.html"

    class Media:
        js = ["editorial/rule_form.js"]
        css = {"all": ["editorial/editorial.css"]}

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: RuleSet) -> str:
        return format_html(
            '<span class="editorial-badge editorial-{}">{}</span>',
            obj.status,
            obj.get_status_display(),
        )

    @admin.display(description="Scope", ordering="scope")
    def scope_shown(self, obj: RuleSet) -> str:
        return obj.scope_label

    def has_change_permission(self, request: HttpRequest, obj: RuleSet | None = None) -> bool:
        allowed = super().has_change_permission(request, obj)
        # Only drafts are edited. A published or scheduled set changes through a draft copy
        # and a senior editor's reviewed publish: what goes live is exactly what was reviewed.
        return allowed and (obj is None or obj.is_draft)

    def has_delete_permission(self, request: HttpRequest, obj: RuleSet | None = None) -> bool:
        return super().has_delete_permission(request, obj) and not (obj and obj.is_live)

    @admin.action(description="Copy as a new draft", permissions=["add"])
    def copy_as_draft(self, request: HttpRequest, queryset: QuerySet[RuleSet]) -> None:
        for rule_set in queryset:
            copy = services.ruleset_copy(rule_set=rule_set)
            self.message_user(request, f"Created the draft “{copy}”.")

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        for warning in selectors.target_warnings(form.instance.rules.order_by("pk")):
            self.message_user(request, warning, messages.WARNING)

    def _to_review(self, request: HttpRequest, obj: RuleSet) -> HttpResponse | None:
        """ "Save and review publishing": the saved rules go to the publish review page."""
        if "_review_publish" in request.POST and request.user.has_perm(PUBLISH):
            return HttpResponseRedirect(reverse("admin:editorial_publish", args=[obj.pk]))
        return None

    def response_change(self, request: HttpRequest, obj: RuleSet) -> HttpResponse:
        return self._to_review(request, obj) or super().response_change(request, obj)

    def response_add(
        self, request: HttpRequest, obj: RuleSet, post_url_continue: str | None = None
    ) -> HttpResponse:
        return self._to_review(request, obj) or super().response_add(
            request, obj, post_url_continue
        )

    def get_urls(self) -> list[URLPattern]:
        return [*ruleset_urls(self), *super().get_urls()]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        extra = {
            **(extra_context or {}),
            "can_publish": request.user.has_perm(PUBLISH),
            "can_preview": request.user.has_perm(PREVIEW),
        }
        return super().change_view(request, object_id, form_url, extra)

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        extra = {**(extra_context or {}), "can_publish": request.user.has_perm(PUBLISH)}
        return super().add_view(request, form_url, extra)


@admin.register(RuleSetVersion)
class RuleSetVersionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Published versions: immutable; senior editors roll back from the change page."""

    list_display = ["rule_set", "number", "published_at", "published_by", "source", "note"]
    list_filter = ["rule_set", "source"]
    readonly_fields = [
        "rule_set", "number", "published_at", "published_by", "source", "note", "rules_version",
        "rules_shown",
    ]  # fmt: skip
    change_form_template = "admin/editorial/rulesetversion/change_form.html"

    @admin.display(description="Rules")
    def rules_shown(self, obj: RuleSetVersion) -> str:
        rules = described(obj.rules)
        if not rules:
            return "No rules."
        return format_html(
            "<ol>{}</ol>", format_html_join("", "<li>{}</li>", ((r,) for r in rules))
        )

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        version = get_object_or_404(RuleSetVersion, pk=ascii_int(object_id, low=1) or 0)
        others = RuleSetVersion.objects.filter(rule_set=version.rule_set_id).exclude(pk=version.pk)
        wanted = ascii_int(request.GET.get("with", ""), low=1)
        other = (
            others.filter(pk=wanted).first()
            if wanted is not None
            else others.filter(number__lt=version.number).order_by("-number").first()
        )
        extra = {
            **(extra_context or {}),
            "can_publish": request.user.has_perm(PUBLISH),
            "other": other,
            "others": others.order_by("-number"),
            "changes": rules_diff(other.rules, version.rules) if other is not None else None,
        }
        return super().change_view(request, object_id, form_url, extra)
