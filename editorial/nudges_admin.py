"""Editors' controls of the nudges in the admin: on/off per kind and surface, caps, copy, bands."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from editorial.models import NUDGE_SURFACE_CHOICES, NudgeSetting
from newsrec.providers import NUDGE_COPY
from newsrec.retention.models import RiskBand


class NudgeSettingForm(forms.ModelForm):
    """Surfaces and bands as tick boxes; the copy starts from newsrec's own words."""

    surfaces = forms.MultipleChoiceField(
        choices=NUDGE_SURFACE_CHOICES, widget=forms.CheckboxSelectMultiple, required=False,
        help_text="Where it shows. None ticked: nowhere (the same as off).",
    )  # fmt: skip
    bands = forms.MultipleChoiceField(
        choices=RiskBand.choices, widget=forms.CheckboxSelectMultiple, required=False,
        help_text="Churn-risk bands that get it. None ticked: every reader, scored or not "
        "(readers not scored yet count as low).",
    )  # fmt: skip

    class Meta:
        model = NudgeSetting
        fields = ["kind", "enabled", "surfaces", "max_per_day", "title", "lead", "bands"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["title"].required = False  # left empty: newsrec's own words (clean)
        if self.instance.pk is None:
            self.initial.setdefault("surfaces", [value for value, _ in NUDGE_SURFACE_CHOICES])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("kind") or self.instance.kind
        if not (data.get("title") or "").strip():
            if kind in NUDGE_COPY:
                data["title"] = NUDGE_COPY[kind][0]
                self.instance.title = data["title"]
            else:
                self.add_error("title", "Give the nudge a heading.")
        return data


@admin.register(NudgeSetting)
class NudgeSettingAdmin(admin.ModelAdmin):
    """One row per kind of nudge; a kind without a row follows newsrec's settings."""

    form = NudgeSettingForm
    list_display = ["__str__", "enabled", "where", "max_per_day", "title", "who"]
    list_editable = ["enabled", "max_per_day"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["kind"] if obj is not None else []

    @admin.display(description="where")
    def where(self, obj: NudgeSetting) -> str:
        names = dict(NUDGE_SURFACE_CHOICES)
        return ", ".join(names.get(s, s) for s in obj.surfaces) or "nowhere"

    @admin.display(description="risk bands")
    def who(self, obj: NudgeSetting) -> str:
        names = dict(RiskBand.choices)
        return ", ".join(names.get(b, b) for b in obj.bands) or "every reader"
