"""Editorial rules: rule sets of rows holding a ``kind`` and its parameters, and a rules version."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F


class RuleSet(models.Model):
    """A named group of rules, e.g. "Default" or "Election night"; one is live at a time."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    is_live = models.BooleanField(
        default=False, help_text="The live set shapes every feed; only one set is live."
    )
    created = models.DateTimeField(auto_now_add=True)
    modified = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["is_live"], condition=models.Q(is_live=True), name="editorial_one_live_set"
            )
        ]

    def __str__(self) -> str:
        return self.name


class RuleKind(models.TextChoices):
    BLOCK = "block", "Blocklist"
    BOOST = "boost", "Boost or bury"
    PIN = "pin", "Pin at a slot"
    MAX_AGE = "max_age", "Maximum age"
    FRESHNESS = "freshness", "Freshness half-life"
    CAP = "cap", "Diversity cap"
    MMR = "mmr", "Diversity (MMR lambda)"


class TargetField(models.TextChoices):
    SECTION = "section", "Section"
    TAG = "tag", "Tag"
    AUTHOR = "author", "Author"
    ARTICLE = "article", "Article"


class Visitors(models.TextChoices):
    ALL = "all", "Everyone"
    NEW = "new", "New visitors"
    RETURNING = "returning", "Returning readers"


class Rule(models.Model):
    """One rule; which parameters matter depends on ``kind`` (see editorial.strategies)."""

    rule_set = models.ForeignKey(RuleSet, on_delete=models.CASCADE, related_name="rules")
    kind = models.CharField(max_length=16, choices=RuleKind.choices)
    enabled = models.BooleanField(default=True)
    target_field = models.CharField(
        max_length=16, choices=TargetField.choices, blank=True,
        help_text="What the rule matches: a section, tag, author or one article.",
    )  # fmt: skip
    target_value = models.CharField(
        max_length=200, blank=True,
        help_text="The section, tag or author name, or the article id. Empty = all (max age, "
        "freshness, caps).",
    )  # fmt: skip
    factor = models.FloatField(
        null=True, blank=True, help_text="Boost > 1 (2 = twice as likely), bury < 1 (0.5 = half)."
    )
    slot = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Pin: 1 = top.")
    hours = models.FloatField(null=True, blank=True, help_text="Max age or half-life, in hours.")
    max_per_value = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Cap: at most this many per value..."
    )
    top_k = models.PositiveSmallIntegerField(null=True, blank=True, help_text="...in the top K.")
    mmr_lambda = models.FloatField(
        null=True, blank=True, help_text="1 = pure relevance, 0 = maximum variety."
    )
    devices = ArrayField(
        models.CharField(max_length=16), default=list, blank=True,
        help_text="Pin only on these device classes (mobile, tablet, desktop); empty = all.",
    )  # fmt: skip
    visitors = models.CharField(max_length=16, choices=Visitors.choices, default=Visitors.ALL)
    priority = models.SmallIntegerField(default=0, help_text="Higher wins between pins.")
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    modified = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["rule_set", "kind", "id"]

    def __str__(self) -> str:
        target = f" {self.target_field}={self.target_value}" if self.target_value else ""
        return f"{self.get_kind_display()}{target}"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        from editorial.strategies import strategy_for

        errors = strategy_for(self.kind).validate(self)
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            errors["valid_until"] = "The window ends before it starts."
        if errors:
            raise ValidationError(errors)


class RulesState(models.Model):
    """Singleton row holding the rules version; every rule change bumps it."""

    version = models.PositiveBigIntegerField(default=1)
    changed = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"rules version {self.version}"

    @classmethod
    def current(cls) -> int:
        state, _ = cls.objects.get_or_create(pk=1)
        return state.version

    @classmethod
    def bump(cls) -> None:
        cls.objects.get_or_create(pk=1)
        cls.objects.filter(pk=1).update(version=F("version") + 1)
