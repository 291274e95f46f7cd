"""The editors' room in the admin: rule sets, preview, publish, rollback, audit, dashboard."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from editorial import selectors, services
from editorial.audit import audit_actor
from editorial.forms import PreviewForm, RuleForm, RuleInlineFormSet, RuleSetForm
from editorial.models import (
    AuditEntry,
    AuditSource,
    Rule,
    RuleSet,
    RuleSetStatus,
    RuleSetVersion,
    RulesState,
    SectionMixSample,
)

PUBLISH = "editorial.publish_ruleset"
PREVIEW = "editorial.preview_ruleset"


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
    list_display = ["name", "status_badge", "is_live", "starts_at", "ends_at", "modified"]
    list_filter = ["status", "is_live"]
    search_fields = ["name", "description"]
    inlines = [RuleInline, VersionInline]
    readonly_fields = ["status", "is_live"]
    fieldsets = [
        (None, {"fields": ["name", "description", "status", "is_live", "revision"]}),
        ("Schedule", {"fields": ["starts_at", "ends_at"],
                      "description": "Leave both empty to publish the set as the standing set."}),
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

    def has_change_permission(self, request: HttpRequest, obj: RuleSet | None = None) -> bool:
        allowed = super().has_change_permission(request, obj)
        # Only senior editors touch a published set; editors copy it into a draft instead.
        return allowed and (obj is None or obj.is_draft or request.user.has_perm(PUBLISH))

    def has_delete_permission(self, request: HttpRequest, obj: RuleSet | None = None) -> bool:
        return super().has_delete_permission(request, obj) and not (obj and obj.is_live)

    @admin.action(description="Copy as a new draft", permissions=["add"])
    def copy_as_draft(self, request: HttpRequest, queryset: QuerySet[RuleSet]) -> None:
        for rule_set in queryset:
            copy = services.ruleset_copy(rule_set=rule_set)
            self.message_user(request, f"Created the draft “{copy}”.")

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        rule_set = form.instance
        if change and rule_set.status in (RuleSetStatus.PUBLISHED, RuleSetStatus.SCHEDULED):
            # A senior editor changed a published set in place: keep that state as a version.
            try:
                services.ruleset_publish(
                    rule_set=rule_set, user=request.user, note="Edited in place"
                )
            except ValidationError as exc:
                raise PermissionDenied("; ".join(exc.messages)) from exc

    # -- extra views --------------------------------------------------------------------------

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path("dashboard/", wrap(self.dashboard_view), name="editorial_dashboard"),
            path("lookup/", wrap(self.lookup_view), name="editorial_lookup"),
            path("progress/", wrap(self.progress_view), name="editorial_progress"),
            path("<int:pk>/publish/", wrap(self.publish_view), name="editorial_publish"),
            path("<int:pk>/preview/", wrap(self.preview_view), name="editorial_preview"),
            path("version/<int:pk>/rollback/", wrap(self.rollback_view), name="editorial_rollback"),
            *super().get_urls(),
        ]

    def _need(self, request: HttpRequest, perm: str) -> None:
        if not request.user.has_perm(perm):
            raise PermissionDenied

    def lookup_view(self, request: HttpRequest) -> JsonResponse:
        self._need(request, "editorial.view_ruleset")
        field = request.GET.get("field", "")
        if field not in ("section", "tag", "author", "article"):
            return JsonResponse(
                {"error": "field must be section, tag, author or article"}, status=400
            )
        results = selectors.target_lookup(field=field, query=request.GET.get("q", "")[:200])
        return JsonResponse({"results": results})

    def progress_view(self, request: HttpRequest) -> JsonResponse:
        self._need(request, "editorial.view_ruleset")
        from newsrec.feeds import fanout_progress

        return JsonResponse({"progress": fanout_progress(), "rules_version": RulesState.current()})

    def publish_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        self._need(request, PUBLISH)
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        rule_set = get_object_or_404(RuleSet, pk=pk)
        url = reverse("admin:editorial_ruleset_change", args=[pk])
        try:
            with audit_actor(user=request.user, source=AuditSource.ADMIN):
                version = services.ruleset_publish(
                    rule_set=rule_set, user=request.user, note=request.POST.get("note", "")[:200]
                )
        except ValidationError as exc:
            for message in exc.messages:
                self.message_user(request, f"Not published: {message}", messages.ERROR)
            return HttpResponseRedirect(url)
        rule_set.refresh_from_db()
        state = "is live" if rule_set.is_live else f"is {rule_set.get_status_display().lower()}"
        self.message_user(
            request, f"Published “{rule_set}” as version {version.number}; it {state}.",
            messages.SUCCESS,
        )  # fmt: skip
        return HttpResponseRedirect(url)

    def rollback_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        self._need(request, PUBLISH)
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        version = get_object_or_404(RuleSetVersion, pk=pk)
        url = reverse("admin:editorial_ruleset_change", args=[version.rule_set_id])
        try:
            with audit_actor(user=request.user, source=AuditSource.ADMIN):
                new = services.ruleset_rollback(version=version, user=request.user)
        except ValidationError as exc:
            for message in exc.messages:
                self.message_user(request, f"Not rolled back: {message}", messages.ERROR)
            return HttpResponseRedirect(url)
        self.message_user(
            request, f"Rolled back to version {version.number} (now published as version "
            f"{new.number}).", messages.SUCCESS,
        )  # fmt: skip
        return HttpResponseRedirect(url)

    def preview_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        from editorial import preview
        from newsrec import feeds

        self._need(request, PREVIEW)
        rule_set = get_object_or_404(RuleSet, pk=pk)
        allow_personal = request.user.has_perm("newsrec.view_reader_data")
        form = PreviewForm(request.GET or None, personas=preview.persona_choices())
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Preview “{rule_set}” against the live rules",
            "rule_set": rule_set,
            "form": form,
            "allow_personal": allow_personal,
            "live_set": RuleSet.objects.live().first(),
        }
        if form.is_valid():
            data = form.cleaned_data
            pool = feeds.pool_cached()
            state, device, who = None, data["device"], ""
            if data["reader"]:
                reader = preview.reader_lookup(query=data["reader"], allow_personal=allow_personal)
                if reader is None:
                    form.add_error(
                        "reader",
                        "No reader with this public id"
                        + (", e-mail or user name." if allow_personal else "."),
                    )
                else:
                    state = feeds.reader_states(reader_ids=[reader.pk])[0]
                    who = f"reader {reader.public_id}"
            elif data["persona"]:
                state, persona_device = preview.persona_state(
                    data["persona"], pool, now=timezone.now().timestamp()
                )
                device = device or persona_device
                who = dict(preview.persona_choices())[data["persona"]]
            if state is not None:
                result = preview.preview_reader(
                    rule_set=rule_set, state=state, device=device, pool=pool
                )
                context.update(result=result, who=who, device=device)
            if request.GET.get("aggregate"):
                context["aggregate"] = preview.preview_aggregate(
                    rule_set=rule_set, sample=min(int(request.GET.get("sample") or 1000), 1000)
                )
        return TemplateResponse(request, "admin/editorial/preview.html", context)

    def dashboard_view(self, request: HttpRequest) -> HttpResponse:
        from newsrec.feeds import fanout_progress

        self._need(request, "editorial.view_ruleset")
        feeds_count, mix = selectors.section_mix()
        # Sections in one fixed order, so that each keeps its colour from sample to sample.
        history = [
            (sample.taken_at, sorted(sample.mix.items()))
            for sample in SectionMixSample.objects.order_by("-taken_at")[:12]
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Editors' dashboard",
            "live_set": RuleSet.objects.live().first(),
            "standing_set": RuleSet.objects.standing().first(),
            "scheduled": RuleSet.objects.scheduled().order_by("starts_at"),
            "drafts": RuleSet.objects.filter(status=RuleSetStatus.DRAFT).order_by("-modified")[:5],
            "progress": fanout_progress(),
            "rules_version": RulesState.current(),
            "freshness": selectors.feeds_freshness(),
            "top_articles": selectors.top_articles_today(),
            "mix": sorted(mix.items(), key=lambda kv: -kv[1]),
            "mix_feeds": feeds_count,
            "history": history,
            "recent": AuditEntry.objects.all()[:8],
            "now": timezone.localtime(),
        }
        return TemplateResponse(request, "admin/editorial/dashboard.html", context)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        extra = {
            **(extra_context or {}),
            "can_publish": request.user.has_perm(PUBLISH),
            "can_preview": request.user.has_perm(PREVIEW),
        }
        return super().change_view(request, object_id, form_url, extra)


@admin.register(RuleSetVersion)
class RuleSetVersionAdmin(admin.ModelAdmin):
    """Published versions: immutable; senior editors roll back from the change page."""

    list_display = ["rule_set", "number", "published_at", "published_by", "source", "note"]
    list_filter = ["rule_set", "source"]
    readonly_fields = [
        "rule_set", "number", "published_at", "published_by", "source", "note", "rules_version",
        "header", "rules",
    ]  # fmt: skip
    change_form_template = "admin/editorial/rulesetversion/change_form.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        extra = {**(extra_context or {}), "can_publish": request.user.has_perm(PUBLISH)}
        return super().change_view(request, object_id, form_url, extra)


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """The audit trail: filterable, read-only."""

    list_display = ["at", "username", "source", "action", "object_type", "rule_set_name",
                    "summary"]  # fmt: skip
    list_filter = ["source", "action", "object_type", "rule_set_name", "username", "at"]
    search_fields = ["summary", "username", "rule_set_name"]
    date_hierarchy = "at"
    fields = readonly_fields = (
        "at", "user", "username", "source", "action", "object_type", "object_id", "rule_set",
        "rule_set_name", "summary", "changes", "before", "after",
    )  # fmt: skip

    @admin.display(description="Changes")
    def changes(self, obj: AuditEntry) -> str:
        before, after = obj.before or {}, obj.after or {}
        keys = [k for k in {**before, **after} if before.get(k) != after.get(k)]
        if not keys:
            return "—"
        rows = format_html_join(
            "", "<tr><th>{}</th><td>{}</td><td>→</td><td>{}</td></tr>",
            ((k, before.get(k, "—"), after.get(k, "—")) for k in keys),
        )  # fmt: skip
        return format_html("<table>{}</table>", rows)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(RulesState)
class RulesStateAdmin(admin.ModelAdmin):
    list_display = ["version", "changed"]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False
