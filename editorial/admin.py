"""Admin for rule sets and rules (the full editors' room is built on top of this)."""

from __future__ import annotations

from django.contrib import admin

from editorial.models import Rule, RuleSet, RulesState


class RuleInline(admin.StackedInline):
    model = Rule
    extra = 0
    fields = [
        ("kind", "enabled"), ("target_field", "target_value"), ("factor", "slot", "hours"),
        ("max_per_value", "top_k", "mmr_lambda"), ("devices", "visitors", "priority"),
        ("valid_from", "valid_until"), "note",
    ]  # fmt: skip


@admin.register(RuleSet)
class RuleSetAdmin(admin.ModelAdmin):
    list_display = ["name", "is_live", "modified"]
    inlines = [RuleInline]


@admin.register(RulesState)
class RulesStateAdmin(admin.ModelAdmin):
    list_display = ["version", "changed"]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False
