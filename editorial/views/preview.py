"""Preview a rule set against the live rules: on one reader, a persona, or a sample of readers."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone

from editorial import preview, selectors
from editorial.forms import PreviewForm
from editorial.models import RuleSet
from editorial.permissions import PREVIEW_RULESET, VIEW_READER_DATA
from editorial.views.base import EditorialAdminView
from newsrec import feeds
from newsrec.engine.pool import Pool
from newsrec.engine.types import ReaderState
from newsrec.numbers import ascii_int
from newsrec.selectors import section_names

SAMPLE_MAX = 1000  # readers in an aggregate preview, at most (and by default)
PICKER_SECTION_LENGTH = 100


class PreviewView(EditorialAdminView):
    """GET: the preview form; with a reader or persona, their page under the set beside the live
    rules; with `aggregate`, what the set changes over a sample of readers."""

    permission_required = PREVIEW_RULESET
    template_name = "admin/editorial/preview.html"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        rule_set = get_object_or_404(RuleSet, pk=pk)
        allow_personal = request.user.has_perm(VIEW_READER_DATA)
        form = PreviewForm(request.GET or None, personas=preview.persona_choices())
        context = self.admin_context(
            title=f"Preview “{rule_set}” against the live rules",
            rule_set=rule_set,
            form=form,
            allow_personal=allow_personal,
            target_warnings=selectors.target_warnings(rule_set.rules.order_by("pk")),
            live_set=RuleSet.objects.live().site().first(),
            scope_live_set=None
            if rule_set.is_site_wide
            else RuleSet.objects.live().in_scope(rule_set.scope, rule_set.scope_value).first(),
        )
        picked = request.GET.get("readers_of", "")[:PICKER_SECTION_LENGTH]
        context.update(
            picker_section=picked,
            picker=preview.reader_choices(section=picked),
            picker_sections=section_names(),
        )
        if form.is_valid():
            context.update(self.previewed(rule_set, form, allow_personal=allow_personal))
        return self.render(self.template_name, context)

    def previewed(
        self, rule_set: RuleSet, form: PreviewForm, *, allow_personal: bool
    ) -> dict[str, Any]:
        """The context of a valid form: the chosen reader's or persona's page, the aggregate."""
        context: dict[str, Any] = {}
        pool = feeds.pool_cached()
        state, device, who = self.reader_state(form, pool, allow_personal=allow_personal)
        if state is not None:
            result = preview.preview_reader(
                rule_set=rule_set, state=state, device=device, pool=pool
            )
            context.update(result=result, who=who, device=device)
        if self.request.GET.get("aggregate"):
            sample = ascii_int(
                self.request.GET.get("sample") or str(SAMPLE_MAX), low=1, high=SAMPLE_MAX
            )
            if sample is None:
                messages.error(self.request, "The sample is a number of readers from 1 to 1,000.")
            else:
                context["aggregate"] = preview.preview_aggregate(rule_set=rule_set, sample=sample)
        return context

    def reader_state(
        self, form: PreviewForm, pool: Pool, *, allow_personal: bool
    ) -> tuple[ReaderState | None, str, str]:
        """(state, device, who) of the reader or persona asked for; no state when neither was
        asked for, or the reader was not found (then the form says so)."""
        data = form.cleaned_data
        device: str = data["device"]
        if data["reader"]:
            reader = preview.reader_lookup(query=data["reader"], allow_personal=allow_personal)
            if reader is None:
                form.add_error(
                    "reader",
                    "No reader with this public id"
                    + (", e-mail or user name." if allow_personal else "."),
                )
                return None, device, ""
            state = feeds.reader_states(reader_ids=[reader.pk])[0]
            return state, device, f"reader {reader.public_id}"
        if data["persona"]:
            state, persona_device = preview.persona_state(
                data["persona"], pool, now=timezone.now().timestamp()
            )
            return state, device or persona_device, dict(preview.persona_choices())[data["persona"]]
        return None, device, ""
