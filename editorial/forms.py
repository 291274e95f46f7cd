"""Admin forms in an editor's language: names instead of ids, strengths instead of factors."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from editorial.models import Rule, RuleKind, RuleSet, Scope
from editorial.selectors import article_for_label, article_label
from editorial.validation import rules_problems
from newsrec.models import Article
from newsrec.numbers import ascii_int

# Editor words -> boost factor; "never" turns the rule into a blocklist entry.
STRENGTHS = [
    ("3", "Much more"),
    ("1.5", "Slightly more"),
    ("0.67", "Slightly less"),
    ("0.3", "Much less"),
    ("never", "Never (block)"),
    ("custom", "Custom factor (below)"),
]
DEVICE_CHOICES = [("mobile", "Mobile"), ("tablet", "Tablet"), ("desktop", "Desktop")]


def _tz_note() -> str:
    return f"Times are in {timezone.get_current_timezone_name()} (the site's time zone)."


class RuleForm(forms.ModelForm):
    """One rule; target names come with autocomplete, articles are picked by title."""

    strength = forms.ChoiceField(
        choices=[("", "—"), *STRENGTHS],
        required=False,
        help_text="Boosts and blocks: how much more or less readers should see the target.",
    )
    devices = forms.MultipleChoiceField(
        choices=DEVICE_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Pins only: show the pin on these devices; none ticked = every device.",
    )

    class Meta:
        model = Rule
        fields = [
            "kind", "enabled", "target_field", "target_value", "strength", "factor", "slot",
            "hours", "max_per_value", "top_k", "mmr_lambda", "devices", "visitors", "priority",
            "valid_from", "valid_until", "note",
        ]  # fmt: skip
        help_texts = {
            "target_value": "Start typing a section, tag or author name, or an article title, and "
            "pick from the list. Leave empty for rules on every article (max age, freshness, "
            "caps on every value).",
            "factor": "Only with strength 'Custom': above 1 boosts (2 = twice the score), "
            "between 0 and 1 buries (0.5 = half).",
            "slot": "Pins: the position in the feed, 1 = top.",
            "hours": "Maximum age: older articles are removed. Freshness: score halves every "
            "this many hours.",
            "max_per_value": "Diversity cap: at most this many articles per section/tag/author…",
            "top_k": "…among the first this many items of the feed.",
            "mmr_lambda": "Diversity: 1 = pure relevance, 0 = the most variety.",
            "priority": "Between pins competing for one slot, the higher priority wins.",
        }
        widgets = {
            "target_value": forms.TextInput(
                attrs={"class": "vTextField editorial-lookup", "autocomplete": "off"}
            ),
        }
        # A slot below 0 says what a slot of 0 says (the pin's own check), not ">= 0".
        error_messages = {"slot": {"min_value": "Choose the slot (1 = top)."}}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("valid_from", "valid_until"):
            if name in self.fields:
                self.fields[name].help_text = f"{self.fields[name].help_text} {_tz_note()}"
        rule = self.instance
        if rule.pk:
            pk = ascii_int(rule.target_value, low=1)
            if rule.target_field == "article" and pk is not None:
                article = Article.objects.filter(pk=pk).first()
                if article is not None:
                    self.initial["target_value"] = article_label(article)
            if rule.kind == RuleKind.BLOCK:
                self.initial["strength"] = "never"
            elif rule.kind == RuleKind.BOOST and rule.factor is not None:
                match = [v for v, _ in STRENGTHS[:4] if abs(float(v) - rule.factor) < 1e-9]
                self.initial["strength"] = match[0] if match else "custom"

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        kind, strength = data.get("kind"), data.get("strength")
        if kind in (RuleKind.BOOST, RuleKind.BLOCK) and strength:
            if strength == "never":
                data["kind"] = RuleKind.BLOCK
                data["factor"] = None
            elif strength != "custom":
                data["kind"] = RuleKind.BOOST
                data["factor"] = float(strength)
            elif data.get("factor") is None:
                self.add_error("factor", "Give the custom factor, or pick a strength.")
        elif kind == RuleKind.BOOST and data.get("factor") is None:
            self.add_error("strength", "How much more or less? Pick a strength.")
        value = (data.get("target_value") or "").strip()
        if data.get("target_field") == "article" and value:
            article = article_for_label(value)
            if article is None:
                self.add_error(
                    "target_value",
                    "No such article: pick one from the list (or give its id).",
                )
            else:
                data["target_value"] = str(article.pk)
        data["devices"] = list(data.get("devices") or [])
        return data

    def _update_errors(self, errors: ValidationError) -> None:
        """One message per problem. The rule's own checks run on what the form could read, so
        a field the form refused already (or the factor, when the strength is missing) would
        get a second message about the same mistake, often a contradicting one."""
        if hasattr(errors, "error_dict"):
            refused = set(self.errors)  # the form's own checks have run by now
            if "strength" in refused:
                refused.add("factor")
            kept = {f: e for f, e in errors.error_dict.items() if f not in refused}
            if not kept:
                return
            errors = ValidationError(kept)
        super()._update_errors(errors)  # type: ignore[misc]


class RuleInlineFormSet(forms.BaseInlineFormSet):
    """Checks across the rules of the set: overlapping pins, caps that can never be met."""

    def clean(self) -> None:
        super().clean()
        forms_ = [
            f
            for f in self.forms
            if f.is_valid() and f.cleaned_data and not f.cleaned_data.get("DELETE")
        ]
        rules = [f.instance for f in forms_]
        numbers = [self.forms.index(f) + 1 for f in forms_]  # as the headers show: "Rule #3"
        for problem in rules_problems(rules, numbers=numbers):
            forms_[problem.index].add_error(problem.field, problem.message)


class RuleSetForm(forms.ModelForm):
    """A rule set; ``revision`` detects a second editor saving over the first one's changes."""

    revision = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = RuleSet
        fields = [
            "name", "description", "scope", "scope_value", "starts_at", "ends_at",
            "replaces_standing", "revision",
        ]  # fmt: skip
        widgets = {
            "scope_value": forms.TextInput(
                attrs={"class": "vTextField editorial-lookup", "autocomplete": "off"}
            ),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("starts_at", "ends_at"):
            if name in self.fields:
                self.fields[name].help_text = f"{self.fields[name].help_text} {_tz_note()}"

    def clean_scope_value(self) -> str:
        """A variant picked from the list ("Spring: B [#7]") is stored by its id."""
        value: str = (self.cleaned_data.get("scope_value") or "").strip()
        if self.cleaned_data.get("scope") == Scope.VARIANT:
            match = re.search(r"\[#(\d+)\]\s*$", value)
            return match.group(1) if match else value
        return value

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        start, end = data.get("starts_at"), data.get("ends_at")
        if start and end and end <= start:
            self.add_error("ends_at", "The window ends before it starts.")
        stored = self.instance
        if stored.pk and not stored.is_draft and "scope" in data:
            moved = (data.get("scope"), data.get("scope_value", "")) != (
                RuleSet.objects.filter(pk=stored.pk).values_list("scope", "scope_value").first()
            )
            if moved:
                self.add_error(
                    "scope",
                    "A published set keeps its scope: copy it as a draft to use it elsewhere.",
                )
        if self.instance.pk:
            # The admin view runs in one transaction: this row lock holds until it commits, so
            # two saves of the same set cannot both pass the check.
            current = (
                RuleSet.objects.select_for_update()
                .filter(pk=self.instance.pk)
                .values_list("revision", flat=True)
                .first()
            )
            sent = data.get("revision")
            if not transaction.get_connection().in_atomic_block:
                raise RuntimeError("RuleSetForm must be validated inside a transaction")
            if sent is None or current is None or int(sent) != current:
                raise ValidationError(
                    "Someone else saved this rule set while you were editing it (revision "
                    f"{sent} → {current}). Your changes were not saved: open the set again "
                    "to see theirs, then redo yours.",
                    code="stale",
                )
        return data

    def save(self, commit: bool = True) -> RuleSet:
        rule_set: RuleSet = super().save(commit=False)
        rule_set.revision = (self.instance.revision or 0) + 1 if self.instance.pk else 1
        if commit:
            rule_set.save()
        return rule_set


class PreviewForm(forms.Form):
    """Whose feed to preview: a reader (by public id, or email for those allowed) or a persona."""

    reader = forms.CharField(
        required=False,
        help_text="A reader's public id; staff allowed to see reader data may also give the "
        "e-mail address or user name.",
    )
    persona = forms.ChoiceField(
        required=False, help_text="Or a typical reader, built from the live articles."
    )
    device = forms.ChoiceField(
        required=False,
        choices=[("", "Any device"), *DEVICE_CHOICES],
        help_text="Device pins are shown for this device.",
    )

    def __init__(self, *args: Any, personas: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["persona"].choices = [("", "—"), *personas]  # type: ignore[attr-defined]
