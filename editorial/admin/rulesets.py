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

from editorial import (
    analytics_admin,  # noqa: F401  (registers the analytics page)
    nudges_admin,  # noqa: F401  (registers the nudges controls)
    selectors,
    services,
)
from editorial.audit import audit_actor
from editorial.compiler import layers_over_standing, rules_unapplied
from editorial.forms import PreviewForm, RuleForm, RuleInlineFormSet, RuleSetForm
from editorial.models import (
    AuditEntry,
    AuditSource,
    Experiment,
    ExperimentStatus,
    Rule,
    RuleKind,
    RuleSet,
    RuleSetStatus,
    RuleSetVersion,
    RulesState,
    Scope,
    SectionMixSample,
    Variant,
    VariantKind,
)
from newsrec.numbers import ascii_int
from newsrec.selectors import section_names

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

    # -- extra views --------------------------------------------------------------------------

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path("dashboard/", wrap(self.dashboard_view), name="editorial_dashboard"),
            path("lookup/", wrap(self.lookup_view), name="editorial_lookup"),
            path("progress/", wrap(self.progress_view), name="editorial_progress"),
            path("<int:pk>/publish/", wrap(self.publish_view), name="editorial_publish"),
            path("<int:pk>/copy/", wrap(self.copy_view), name="editorial_copy"),
            path("restore/", wrap(self.restore_view), name="editorial_restore"),
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
        query = request.GET.get("q", "")[:200]
        if field.startswith("scope:"):
            results = selectors.scope_lookup(scope=field.removeprefix("scope:"), query=query)
            return JsonResponse({"results": results})
        if field not in ("section", "tag", "author", "article"):
            return JsonResponse(
                {"error": "field must be section, tag, author, article or scope:<scope>"},
                status=400,
            )
        results = selectors.target_lookup(field=field, query=query)
        return JsonResponse({"results": results})

    def progress_view(self, request: HttpRequest) -> JsonResponse:
        self._need(request, "editorial.view_ruleset")
        from newsrec.feeds import fanout_progress

        return JsonResponse({"progress": fanout_progress(), "rules_version": RulesState.current()})

    def publish_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """GET: what publishing would change, in editors' words; POST: publish exactly the
        rules reviewed (refused when the set was saved again since)."""
        self._need(request, PUBLISH)
        rule_set = get_object_or_404(RuleSet, pk=pk)
        url = reverse("admin:editorial_ruleset_change", args=[pk])
        if request.method == "GET":
            return self._publish_review(request, rule_set)
        if request.method != "POST":
            return HttpResponseNotAllowed(["GET", "POST"])
        reviewed = ascii_int(request.POST.get("revision", ""), low=0)
        if "revision" in request.POST and reviewed != rule_set.revision:
            self.message_user(
                request, "Not published: the set was saved again since you reviewed it. "
                "Review the changes again.", messages.ERROR,
            )  # fmt: skip
            return HttpResponseRedirect(reverse("admin:editorial_publish", args=[pk]))
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

    def _publish_review(self, request: HttpRequest, rule_set: RuleSet) -> HttpResponse:
        from editorial.compiler import set_layers
        from editorial.diff import described, rules_diff

        live = RuleSet.objects.live().in_scope(rule_set.scope, rule_set.scope_value).first()
        before = [row for layer in set_layers(live) for row in layer] if live else []
        after = [row for layer in set_layers(rule_set) for row in layer]
        try:
            services.ruleset_validate(rule_set=rule_set)
            problems: list[str] = []
        except ValidationError as exc:
            problems = exc.messages
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Publish “{rule_set}”?",
            "rule_set": rule_set,
            "live_set": live,
            "changes": rules_diff(before, after) if live != rule_set else [],
            "rules": described(rule_set.rules.order_by("pk")),
            "layers": layers_over_standing(rule_set),
            "problems": problems,
            "target_warnings": selectors.target_warnings(rule_set.rules.order_by("pk")),
        }
        return TemplateResponse(request, "admin/editorial/ruleset/publish.html", context)

    def copy_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """A draft copy of a published or scheduled set: how such a set is changed."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        with audit_actor(user=request.user, source=AuditSource.ADMIN):
            copy = services.ruleset_copy(rule_set=get_object_or_404(RuleSet, pk=pk))
        self.message_user(request, f"Created the draft “{copy}”: change it, then publish it.")
        return HttpResponseRedirect(reverse("admin:editorial_ruleset_change", args=[copy.pk]))

    def restore_view(self, request: HttpRequest) -> HttpResponse:
        """One step back to the previous standing set, or to no rules at all (site-wide)."""
        self._need(request, PUBLISH)
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        dashboard = reverse("admin:editorial_dashboard")
        try:
            with audit_actor(user=request.user, source=AuditSource.ADMIN):
                if request.POST.get("to") == "none":
                    gone = services.rules_off(user=request.user)
                    done = f"Rules are off: “{gone}” retired." if gone else "No rules were on."
                else:
                    version = services.ruleset_restore_previous(user=request.user)
                    done = (
                        f"“{version.rule_set}” is the standing set again (as version "
                        f"{version.number})."
                    )
        except ValidationError as exc:
            for message in exc.messages:
                self.message_user(request, f"Not restored: {message}", messages.ERROR)
            return HttpResponseRedirect(dashboard)
        self.message_user(request, done, messages.SUCCESS)
        return HttpResponseRedirect(dashboard)

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
            "target_warnings": selectors.target_warnings(rule_set.rules.order_by("pk")),
            "live_set": RuleSet.objects.live().site().first(),
            "scope_live_set": None
            if rule_set.is_site_wide
            else RuleSet.objects.live().in_scope(rule_set.scope, rule_set.scope_value).first(),
        }
        picked = request.GET.get("readers_of", "")[:100]
        context.update(
            picker_section=picked,
            picker=preview.reader_choices(section=picked),
            picker_sections=section_names(),
        )
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
                sample = ascii_int(request.GET.get("sample") or "1000", low=1, high=1000)
                if sample is None:
                    messages.error(request, "The sample is a number of readers from 1 to 1,000.")
                else:
                    context["aggregate"] = preview.preview_aggregate(
                        rule_set=rule_set, sample=sample
                    )
        return TemplateResponse(request, "admin/editorial/preview.html", context)

    def dashboard_view(self, request: HttpRequest) -> HttpResponse:
        from newsrec.feeds import fanout_progress

        self._need(request, "editorial.view_ruleset")
        compliance = None
        if request.GET.get("check"):  # on demand: it reads pages for a few readers
            from editorial.compliance import feeds_check

            compliance = feeds_check(sample=5, sections=3)
        feeds_count, mix = selectors.section_mix()
        # One colour per section across every sample (and the legend), in a fixed order.
        samples = list(SectionMixSample.objects.order_by("-taken_at")[:12])
        names = sorted({name for sample in samples for name in sample.mix})
        hue = {name: (n * 360 // max(len(names), 1)) for n, name in enumerate(names)}
        history = [
            (
                sample.taken_at,
                [(name, share, hue[name]) for name, share in sorted(sample.mix.items())],
            )
            for sample in samples
        ]
        legend = [(name, hue[name]) for name in names]
        live_set = RuleSet.objects.live().site().first()
        live_rows = list(
            Rule.objects.filter(rule_set__is_live=True)
            .select_related("rule_set")
            .order_by("rule_set", "pk")
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Editors' dashboard",
            "live_set": live_set,
            "live_layers": live_set is not None and layers_over_standing(live_set),
            "compliance": compliance,
            "previous": services.ruleset_previous(),
            "can_publish": request.user.has_perm(PUBLISH),
            "target_warnings": selectors.target_warnings(live_rows),
            "unapplied": rules_unapplied(live_rows),
            "standing_set": RuleSet.objects.standing().site().first(),
            "scoped_live": RuleSet.objects.live()
            .exclude(scope=Scope.SITE)
            .order_by("scope", "name"),
            "scheduled": RuleSet.objects.scheduled().order_by("starts_at"),
            "drafts": RuleSet.objects.filter(status=RuleSetStatus.DRAFT).order_by("-modified")[:5],
            "progress": fanout_progress(),
            "rules_version": RulesState.current(),
            "freshness": selectors.feeds_freshness(),
            "top_articles": selectors.top_articles_today(),
            "mix": sorted(mix.items(), key=lambda kv: -kv[1]),
            "mix_feeds": feeds_count,
            "history": history,
            "legend": legend,
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

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        extra = {**(extra_context or {}), "can_publish": request.user.has_perm(PUBLISH)}
        return super().add_view(request, form_url, extra)


@admin.register(RuleSetVersion)
class RuleSetVersionAdmin(admin.ModelAdmin):
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
        from editorial.diff import described

        rules = described(obj.rules)
        if not rules:
            return "No rules."
        return format_html(
            "<ol>{}</ol>", format_html_join("", "<li>{}</li>", ((r,) for r in rules))
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        from editorial.diff import rules_diff

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


# --- Experiments -------------------------------------------------------------------------------

RUN_EXPERIMENT = "editorial.run_experiment"


def _percent(share: float | None) -> float | None:
    return None if share is None else 100 * share


DEFAULT_VARIANTS = (
    ("personalised", VariantKind.PERSONALISED, 90),
    ("holdout", VariantKind.HOLDOUT, 10),
)


class VariantInline(admin.TabularInline):
    """Variants are edited while the experiment is a draft, then frozen: nobody changes arm."""

    model = Variant
    extra = 0
    fields = ["name", "kind", "weight"]

    def _editable(self, obj: Experiment | None) -> bool:
        return obj is None or obj.is_draft

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_add_permission(request, obj) and self._editable(obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and self._editable(obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and self._editable(obj)


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    """Experiments: variants inline, start/stop (run_experiment permission), a results page."""

    list_display = ["name", "status", "split", "started_at", "stopped_at"]
    list_filter = ["status"]
    search_fields = ["name", "description"]
    inlines = [VariantInline]
    fieldsets = [
        (None, {"fields": ["name", "description", "status"],
                "description": "Leave the variants empty for a 90 % personalised / 10 % "
                "holdout split. Holdout readers get the newest articles: recommendations off."}),
        ("Run", {"fields": ["salt", "started_at", "started_by", "stopped_at", "stopped_by"]}),
    ]  # fmt: skip
    actions = ["start_selected", "stop_selected"]
    change_form_template = "admin/editorial/experiment/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Experiment]:
        return super().get_queryset(request).prefetch_related("variants")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fixed = ["status", "started_at", "started_by", "stopped_at", "stopped_by"]
        # The salt decides who is in which variant: frozen once readers have been split.
        return fixed if obj is None or obj.is_draft else [*fixed, "salt"]

    @admin.display(description="Variants")
    def split(self, obj: Experiment) -> str:
        variants = list(obj.variants.all())
        total = sum(v.weight for v in variants) or 1
        return ", ".join(f"{v.name} {100 * v.weight / total:.0f} %" for v in variants) or "—"

    def has_run_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(RUN_EXPERIMENT)

    def has_delete_permission(self, request: HttpRequest, obj: Experiment | None = None) -> bool:
        running = obj is not None and obj.status == ExperimentStatus.RUNNING
        return super().has_delete_permission(request, obj) and not running

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        experiment = form.instance
        if not change and not experiment.variants.exists():
            Variant.objects.bulk_create(
                Variant(experiment=experiment, name=name, kind=kind, weight=weight)
                for name, kind, weight in DEFAULT_VARIANTS
            )

    def _run(self, request: HttpRequest, experiment: Experiment, start: bool) -> bool:
        from editorial.experiments import services as experiment_services

        verb = "start" if start else "stop"
        try:
            if start:
                experiment_services.experiment_start(experiment=experiment, user=request.user)
            else:
                experiment_services.experiment_stop(experiment=experiment, user=request.user)
        except ValidationError as exc:
            for message in exc.messages:
                self.message_user(request, f"“{experiment}” did not {verb}: {message}",
                                  messages.ERROR)  # fmt: skip
            return False
        self.message_user(
            request, f"“{experiment}” {'is running' if start else 'stopped'}.", messages.SUCCESS
        )
        return True

    @admin.action(description="Start the selected experiment", permissions=["run"])
    def start_selected(self, request: HttpRequest, queryset: QuerySet[Experiment]) -> None:
        for experiment in queryset:
            self._run(request, experiment, start=True)

    @admin.action(description="Stop the selected experiments", permissions=["run"])
    def stop_selected(self, request: HttpRequest, queryset: QuerySet[Experiment]) -> None:
        for experiment in queryset:
            self._run(request, experiment, start=False)

    # -- extra views --------------------------------------------------------------------------

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/start/", wrap(self.start_view), name="editorial_experiment_start"),
            path("<int:pk>/stop/", wrap(self.stop_view), name="editorial_experiment_stop"),
            path("<int:pk>/results/", wrap(self.results_view), name="editorial_experiment_results"),
            *super().get_urls(),
        ]

    def _post_run(self, request: HttpRequest, pk: int, *, start: bool) -> HttpResponse:
        if not self.has_run_permission(request):
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        experiment = get_object_or_404(Experiment, pk=pk)
        self._run(request, experiment, start=start)
        return HttpResponseRedirect(reverse("admin:editorial_experiment_change", args=[pk]))

    def start_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        return self._post_run(request, pk, start=True)

    def stop_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        return self._post_run(request, pk, start=False)

    def results_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        from editorial.experiments.selectors import experiment_results

        experiment = get_object_or_404(Experiment, pk=pk)
        if not self.has_view_permission(request, experiment):
            raise PermissionDenied
        results = experiment_results(experiment=experiment)
        # Bars share one scale: the highest upper CTR bound is the full width.
        top = max((r.figures.ctr_high for r in results.variants), default=0.0) or 1.0
        rows = [
            {
                "variant": r.variant,
                "f": r.figures,
                "c": r.figures.counts,
                "cmp": r.comparison,
                "bar": 100 * r.figures.ctr / top,
                "ci_left": 100 * r.figures.ctr_low / top,
                "ci_width": 100 * (r.figures.ctr_high - r.figures.ctr_low) / top,
                "ctr_pct": 100 * r.figures.ctr,
                "lift_pct": _percent(r.comparison.ctr_lift if r.comparison else None),
                "reads_lift_pct": _percent(
                    r.comparison.reads_per_reader_lift if r.comparison else None
                ),
                "lift_low_pct": _percent(r.comparison.ctr_lift_low if r.comparison else None),
                "lift_high_pct": _percent(r.comparison.ctr_lift_high if r.comparison else None),
            }
            for r in results.variants
        ]
        returns = []
        if results.window_start is not None and results.window_end is not None:
            from editorial.experiments.returns import experiment_returns

            returns = [
                {"variant": r.variant, "exposed": r.returns.exposed,
                 "r1": r.returns.return_rate(1), "r7": r.returns.return_rate(7),
                 "reads": r.returns.reads_per_reader(),
                 "d1": r.comparison.return_rate[1] if r.comparison else None,
                 "d7": r.comparison.return_rate[7] if r.comparison else None,
                 "dreads": r.comparison.reads_per_reader if r.comparison else None}
                for r in experiment_returns(
                    variants=[v.variant for v in results.variants], baseline=results.baseline,
                    start=results.window_start, end=results.window_end,
                )
            ]  # fmt: skip
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Results of “{experiment}”",
            "experiment": experiment,
            "results": results,
            "rows": rows,
            "returns": returns,
        }
        return TemplateResponse(request, "admin/editorial/experiment/results.html", context)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        extra = {**(extra_context or {}), "can_run": self.has_run_permission(request)}
        return super().change_view(request, object_id, form_url, extra)


# --- Editors' picks from the article list -----------------------------------------------------

PICK_HOURS = 24


@admin.action(description="Pick for readers (for 24 h, in a draft to publish)")
def pick_for_readers(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Any]) -> Any:
    """Add the selected articles as editors' picks to a draft copy of the live site-wide set
    (made once and reused), then open it: the picks go live when a senior publishes it."""
    if not request.user.has_perm("editorial.add_ruleset"):
        raise PermissionDenied
    from datetime import timedelta

    now = timezone.now()
    with audit_actor(user=request.user, source=AuditSource.ADMIN):
        live = RuleSet.objects.live().site().first()
        name = f"{live} + editors' picks" if live else "Editors' picks"
        draft = RuleSet.objects.filter(name=name, status=RuleSetStatus.DRAFT).first()
        if draft is None:
            draft = services.ruleset_copy(rule_set=live, name=name) if live else (
                RuleSet.objects.create(name=name)
            )  # fmt: skip
        for article in queryset:
            Rule.objects.create(
                rule_set=draft, kind=RuleKind.PICK, target_field="article",
                target_value=str(article.pk), valid_from=now,
                valid_until=now + timedelta(hours=PICK_HOURS),
            )  # fmt: skip
    modeladmin.message_user(
        request, f"Added {queryset.count()} editors' picks to the draft “{draft}”: review and "
        "publish it to put them live.", messages.SUCCESS,
    )  # fmt: skip
    return HttpResponseRedirect(reverse("admin:editorial_ruleset_change", args=[draft.pk]))


def _article_actions() -> None:
    """editorial adds "Pick for readers" to newsrec's article list (newsrec knows nothing of
    editorial)."""
    from newsrec.admin import ArticleAdmin

    if pick_for_readers not in ArticleAdmin.actions:
        ArticleAdmin.actions = [*ArticleAdmin.actions, pick_for_readers]


_article_actions()
