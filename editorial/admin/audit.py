"""The audit trail and the rules version in the admin: read-only."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html, format_html_join

from editorial.models import AuditEntry, RulesState
from editorial.presenters import changed_fields
from newsrec.admin_mixins import ReadOnlyAdminMixin


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
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
        changed = changed_fields(obj.before, obj.after)
        if not changed:
            return "—"
        rows = format_html_join("", "<tr><th>{}</th><td>{}</td><td>→</td><td>{}</td></tr>", changed)
        return format_html("<table>{}</table>", rows)


@admin.register(RulesState)
class RulesStateAdmin(admin.ModelAdmin):
    list_display = ["version", "changed"]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False
