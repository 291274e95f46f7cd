"""Publishing rule sets: the reviewed publish, a draft copy, rolling back to a version, and
restoring the previous standing set (or no rules)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse

from editorial import selectors, services
from editorial.audit import audit_actor
from editorial.compiler import layers_over_standing, set_layers
from editorial.diff import described, rules_diff
from editorial.models import AuditSource, RuleSet, RuleSetVersion
from editorial.permissions import PUBLISH_RULESET
from editorial.views.base import EditorialAdminView
from newsrec.numbers import ascii_int

NOTE_LENGTH = 200  # a publish note is cut to this


def _change_url(rule_set_id: int) -> str:
    return reverse("admin:editorial_ruleset_change", args=[rule_set_id])


class PublishView(EditorialAdminView):
    """GET: what publishing would change, in editors' words; POST: publish exactly the rules
    reviewed (refused when the set was saved again since)."""

    permission_required = PUBLISH_RULESET
    http_method_names = ["get", "post"]
    template_name = "admin/editorial/ruleset/publish.html"
    rule_set: RuleSet

    def load(self, **kwargs: Any) -> None:
        self.rule_set = get_object_or_404(RuleSet, pk=kwargs["pk"])

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        rule_set = self.rule_set
        live = RuleSet.objects.live().in_scope(rule_set.scope, rule_set.scope_value).first()
        before = [row for layer in set_layers(live) for row in layer] if live else []
        after = [row for layer in set_layers(rule_set) for row in layer]
        try:
            services.ruleset_validate(rule_set=rule_set)
            problems: list[str] = []
        except ValidationError as exc:
            problems = exc.messages
        context = self.admin_context(
            title=f"Publish “{rule_set}”?",
            rule_set=rule_set,
            live_set=live,
            changes=rules_diff(before, after) if live != rule_set else [],
            rules=described(rule_set.rules.order_by("pk")),
            layers=layers_over_standing(rule_set),
            problems=problems,
            target_warnings=selectors.target_warnings(rule_set.rules.order_by("pk")),
        )
        return self.render(self.template_name, context)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        rule_set = self.rule_set
        reviewed = ascii_int(request.POST.get("revision", ""), low=0)
        if "revision" in request.POST and reviewed != rule_set.revision:
            self.message(
                "Not published: the set was saved again since you reviewed it. "
                "Review the changes again.",
                messages.ERROR,
            )
            return HttpResponseRedirect(reverse("admin:editorial_publish", args=[pk]))
        try:
            with audit_actor(user=request.user, source=AuditSource.ADMIN):
                version = services.ruleset_publish(
                    rule_set=rule_set,
                    user=request.user,
                    note=request.POST.get("note", "")[:NOTE_LENGTH],
                )
        except ValidationError as exc:
            for message in exc.messages:
                self.message(f"Not published: {message}", messages.ERROR)
            return HttpResponseRedirect(_change_url(pk))
        rule_set.refresh_from_db()
        state = "is live" if rule_set.is_live else f"is {rule_set.get_status_display().lower()}"
        self.message(
            f"Published “{rule_set}” as version {version.number}; it {state}.", messages.SUCCESS
        )
        return HttpResponseRedirect(_change_url(pk))


class CopyView(EditorialAdminView):
    """POST: a draft copy of a published or scheduled set, which is how such a set is changed."""

    http_method_names = ["post"]

    def has_permission(self, request: HttpRequest) -> bool:
        return self.admin.has_add_permission(request)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        with audit_actor(user=request.user, source=AuditSource.ADMIN):
            copy = services.ruleset_copy(rule_set=get_object_or_404(RuleSet, pk=pk))
        self.message(f"Created the draft “{copy}”: change it, then publish it.")
        return HttpResponseRedirect(_change_url(copy.pk))


class RestoreView(EditorialAdminView):
    """POST: one step back to the previous standing set, or (`to=none`) to no rules at all
    (site-wide)."""

    permission_required = PUBLISH_RULESET
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        dashboard = reverse("admin:editorial_dashboard")
        try:
            with audit_actor(user=request.user, source=AuditSource.ADMIN):
                done = self.restored(to_none=request.POST.get("to") == "none")
        except ValidationError as exc:
            for message in exc.messages:
                self.message(f"Not restored: {message}", messages.ERROR)
            return HttpResponseRedirect(dashboard)
        self.message(done, messages.SUCCESS)
        return HttpResponseRedirect(dashboard)

    def restored(self, *, to_none: bool) -> str:
        """Restore, and say what was done in editors' words."""
        if to_none:
            gone = services.rules_off(user=self.request.user)
            return f"Rules are off: “{gone}” retired." if gone else "No rules were on."
        version = services.ruleset_restore_previous(user=self.request.user)
        return f"“{version.rule_set}” is the standing set again (as version {version.number})."


class RollbackView(EditorialAdminView):
    """POST: publish a past version's rules again, as a new version."""

    permission_required = PUBLISH_RULESET
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        version = get_object_or_404(RuleSetVersion, pk=pk)
        url = _change_url(version.rule_set_id)
        try:
            with audit_actor(user=request.user, source=AuditSource.ADMIN):
                new = services.ruleset_rollback(version=version, user=request.user)
        except ValidationError as exc:
            for message in exc.messages:
                self.message(f"Not rolled back: {message}", messages.ERROR)
            return HttpResponseRedirect(url)
        self.message(
            f"Rolled back to version {version.number} (now published as version {new.number}).",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(url)
