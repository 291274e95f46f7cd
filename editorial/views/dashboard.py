"""The editors' dashboard: what is live, scheduled and drafted, feed freshness, the section mix,
recent changes, an on-demand compliance check; and the fan-out progress it polls."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone

from editorial import presenters, selectors, services
from editorial.compiler import layers_over_standing, rules_unapplied
from editorial.compliance import feeds_check
from editorial.models import (
    AuditEntry,
    Rule,
    RuleSet,
    RuleSetStatus,
    RulesState,
    Scope,
    SectionMixSample,
)
from editorial.permissions import PUBLISH_RULESET, VIEW_RULESET
from editorial.views.base import EditorialAdminView
from newsrec.feeds import fanout_progress

MIX_SAMPLES = 12  # section-mix samples drawn as history bars
RECENT_CHANGES = 8  # audit entries listed
DRAFTS_SHOWN = 5
# The on-demand compliance check reads pages for this many readers, over this many sections.
CHECK_READERS, CHECK_SECTIONS = 5, 3


class DashboardView(EditorialAdminView):
    """The editors' dashboard (GET; `?check=1` also runs the compliance check)."""

    permission_required = VIEW_RULESET
    template_name = "admin/editorial/dashboard.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render(self.template_name, self.get_context_data())

    def get_context_data(self) -> dict[str, Any]:
        compliance = None
        if self.request.GET.get("check"):  # on demand: it reads pages for a few readers
            compliance = feeds_check(sample=CHECK_READERS, sections=CHECK_SECTIONS)
        feeds_count, mix = selectors.section_mix()
        samples = list(SectionMixSample.objects.order_by("-taken_at")[:MIX_SAMPLES])
        history, legend = presenters.mix_history(samples)
        live_set = RuleSet.objects.live().site().first()
        live_rows = list(
            Rule.objects.filter(rule_set__is_live=True)
            .select_related("rule_set")
            .order_by("rule_set", "pk")
        )
        drafts = RuleSet.objects.filter(status=RuleSetStatus.DRAFT).order_by("-modified")
        return self.admin_context(
            title="Editors' dashboard",
            live_set=live_set,
            live_layers=live_set is not None and layers_over_standing(live_set),
            compliance=compliance,
            previous=services.ruleset_previous(),
            can_publish=self.request.user.has_perm(PUBLISH_RULESET),
            target_warnings=selectors.target_warnings(live_rows),
            unapplied=rules_unapplied(live_rows),
            standing_set=RuleSet.objects.standing().site().first(),
            scoped_live=RuleSet.objects.live().exclude(scope=Scope.SITE).order_by("scope", "name"),
            scheduled=RuleSet.objects.scheduled().order_by("starts_at"),
            drafts=drafts[:DRAFTS_SHOWN],
            progress=fanout_progress(),
            rules_version=RulesState.current(),
            freshness=selectors.feeds_freshness(),
            top_articles=selectors.top_articles_today(),
            mix=presenters.mix_ranked(mix),
            mix_feeds=feeds_count,
            history=history,
            legend=legend,
            recent=AuditEntry.objects.all()[:RECENT_CHANGES],
            now=timezone.localtime(),
        )


class ProgressView(EditorialAdminView):
    """The fan-out's progress and the rules version, as JSON (the dashboard polls it)."""

    permission_required = VIEW_RULESET

    def get(self, request: HttpRequest) -> JsonResponse:
        return JsonResponse({"progress": fanout_progress(), "rules_version": RulesState.current()})
