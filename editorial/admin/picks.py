"""editorial adds "Pick for readers" to newsrec's article list (newsrec knows nothing of
editorial): the selected articles become editors' picks in a draft to publish."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone

from editorial import services
from editorial.audit import audit_actor
from editorial.models import AuditSource, Rule, RuleKind, RuleSet, RuleSetStatus
from editorial.permissions import ADD_RULESET
from newsrec.admin import ArticleAdmin

PICK_HOURS = 24


@admin.action(description="Pick for readers (for 24 h, in a draft to publish)")
def pick_for_readers(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Any]) -> Any:
    """Add the selected articles as editors' picks to a draft copy of the live site-wide set
    (made once and reused), then open it: the picks go live when a senior publishes it."""
    if not request.user.has_perm(ADD_RULESET):
        raise PermissionDenied
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
    if pick_for_readers not in ArticleAdmin.actions:
        ArticleAdmin.actions = [*ArticleAdmin.actions, pick_for_readers]


_article_actions()
