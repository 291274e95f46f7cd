"""Editorial rules: rule sets of rows holding a ``kind`` and its parameters, and a rules version."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from newsrec.engine.types import DEVICES
from newsrec.numbers import ascii_int
from newsrec.providers import NUDGE_BEFORE_YOU_GO, NUDGE_PICK_UP


class RuleSetStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published (the standing set)"
    SCHEDULED = "scheduled", "Scheduled"
    RETIRED = "retired", "Retired"


class Scope(models.TextChoices):
    """Where a rule set applies. Site-wide sets shape the stored feeds; the others are layered
    over the site-wide set when a feed is read in their scope (see ``editorial.compiler``)."""

    SITE = "site", "Everywhere (site-wide)"
    SECTION = "section", "A section page"
    DEVICE = "device", "A device class"
    VARIANT = "variant", "An experiment variant"


SCOPE_DEVICES = DEVICES  # the engine's device classes


class RuleSetQuerySet(models.QuerySet["RuleSet"]):
    """Domain verbs: which sets are live, standing, or due at a moment."""

    def live(self) -> RuleSetQuerySet:
        return self.filter(is_live=True)

    def site(self) -> RuleSetQuerySet:
        return self.filter(scope=Scope.SITE)

    def in_scope(self, scope: str, value: str = "") -> RuleSetQuerySet:
        return self.filter(scope=scope, scope_value=value)

    def standing(self) -> RuleSetQuerySet:
        return self.filter(status=RuleSetStatus.PUBLISHED)

    def scheduled(self) -> RuleSetQuerySet:
        return self.filter(status=RuleSetStatus.SCHEDULED)

    def running_at(self, moment: datetime) -> RuleSetQuerySet:
        """Scheduled sets whose window [starts_at, ends_at) contains ``moment``."""
        return self.scheduled().filter(
            Q(starts_at__lte=moment), Q(ends_at__isnull=True) | Q(ends_at__gt=moment)
        )


class RuleSet(models.Model):
    """A named group of rules, e.g. "Default" or "Election night"; one is live per scope.

    A draft is edited and previewed freely; publishing (senior editors) snapshots it into a
    ``RuleSetVersion`` and makes it the standing set of its scope, or schedules it for its
    window. At any instant the live set of a scope is its scheduled set whose window is
    running, else its standing set. The scope is the whole site, one section page, one device
    class or one experiment variant (``scope`` and ``scope_value``).
    """

    name = models.CharField(max_length=100, unique=True, help_text='E.g. "Election night".')
    description = models.TextField(blank=True, help_text="What this set is for, for colleagues.")
    status = models.CharField(
        max_length=16, choices=RuleSetStatus.choices, default=RuleSetStatus.DRAFT,
        help_text="Drafts never reach readers; publishing makes a set standing or scheduled.",
    )  # fmt: skip
    is_live = models.BooleanField(
        default=False, help_text="The live set shapes the feeds of its scope; one per scope."
    )
    scope = models.CharField(
        max_length=16, choices=Scope.choices, default=Scope.SITE,
        help_text="Where the set applies. A set for a section page, a device class or an "
        "experiment variant adds its rules to the site-wide set's there.",
    )  # fmt: skip
    scope_value = models.CharField(
        max_length=100, blank=True,
        help_text="The section name, the device class (mobile, tablet, desktop) or the "
        "experiment variant; empty for site-wide sets.",
    )  # fmt: skip
    starts_at = models.DateTimeField(
        null=True, blank=True,
        help_text="Optional: when publishing, the set goes live at this time (e.g. election "
        "night) instead of at once.",
    )  # fmt: skip
    ends_at = models.DateTimeField(
        null=True, blank=True,
        help_text="Optional: when a scheduled set stops; the standing set then applies again.",
    )  # fmt: skip
    replaces_standing = models.BooleanField(
        default=False,
        help_text="Only for a set scheduled with an end: while it is live, use only its rules "
        "and switch the standing set's off. Unticked (the default), its rules are added on top "
        "of the standing set's boosts, pins, blocks, max ages and caps.",
    )
    revision = models.PositiveIntegerField(
        default=1, help_text="Bumped by every save: a stale form is refused instead of winning."
    )
    created = models.DateTimeField(auto_now_add=True)
    modified = models.DateTimeField(auto_now=True)

    objects = RuleSetQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["scope", "scope_value"],
                condition=models.Q(is_live=True),
                name="editorial_one_live_set_per_scope",
            ),
            models.UniqueConstraint(
                fields=["scope", "scope_value"],
                condition=models.Q(status="published"),
                name="editorial_one_standing_set_per_scope",
            ),
            models.CheckConstraint(
                condition=Q(scope="site", scope_value="") | (~Q(scope="site") & ~Q(scope_value="")),
                name="editorial_ruleset_scope_value",
            ),
            models.CheckConstraint(
                condition=Q(starts_at__isnull=True)
                | Q(ends_at__isnull=True)
                | Q(ends_at__gt=F("starts_at")),
                name="editorial_ruleset_window_order",
            ),
        ]
        permissions = [
            ("publish_ruleset", "Can publish, schedule and roll back rule sets"),
            ("preview_ruleset", "Can preview rule sets on readers and personas"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            errors["ends_at"] = "The window ends before it starts."
        problem = scope_problem(self.scope, self.scope_value)
        if problem:
            errors["scope_value"] = problem
        if errors:
            raise ValidationError(errors)

    @property
    def is_draft(self) -> bool:
        return self.status == RuleSetStatus.DRAFT

    @property
    def is_site_wide(self) -> bool:
        return self.scope == Scope.SITE

    @property
    def scope_label(self) -> str:
        """How editors see the scope, e.g. "Section page: Politics" or "Device: mobile"."""
        if self.scope == Scope.SITE:
            return "Everywhere"
        if self.scope == Scope.VARIANT:
            variant = scope_variant(self.scope_value)
            return f"Variant: {variant}" if variant else f"Variant #{self.scope_value} (deleted)"
        kind = "Section page" if self.scope == Scope.SECTION else "Device"
        return f"{kind}: {self.scope_value}"


def scope_variant(value: str) -> Variant | None:
    """The experiment variant a scope value names (its id), if it exists."""
    value = value.strip()
    pk = ascii_int(value, low=1)
    return Variant.objects.filter(pk=pk).first() if pk is not None else None


def scope_problem(scope: str, value: str) -> str:
    """What is wrong with a scope's value, in an editor's words ("" when it is fine)."""
    value = value.strip()
    if scope == Scope.SITE:
        return "" if not value else "A site-wide set has no scope value: leave it empty."
    if not value:
        return "Name the section, device class or experiment variant this set is for."
    if scope == Scope.DEVICE and value not in SCOPE_DEVICES:
        return f"The device class must be one of {', '.join(SCOPE_DEVICES)}."
    if scope == Scope.SECTION:
        from newsrec.models import Article

        if not Article.objects.filter(section=value).exists():
            return f"No article is in a section called “{value}”: pick one from the list."
    if scope == Scope.VARIANT:
        variant = scope_variant(value)
        if variant is None:
            return "No such experiment variant: pick one from the list."
        if variant.kind == VariantKind.HOLDOUT:
            return "A holdout variant gets no recommendations, so rules cannot shape it."
    return ""


class RuleSetVersion(models.Model):
    """An immutable snapshot of a rule set taken at each publish (rollback re-publishes one)."""

    rule_set = models.ForeignKey(RuleSet, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(help_text="1, 2, 3... per rule set.")
    rules = models.JSONField(help_text="The rule rows as published.")
    header = models.JSONField(default=dict, help_text="Name, window and status as published.")
    published_at = models.DateTimeField(default=timezone.now)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(max_length=16, default="admin")
    note = models.CharField(max_length=200, blank=True)
    rules_version = models.PositiveBigIntegerField(
        default=0, help_text="The rules version after this publish."
    )

    class Meta:
        ordering = ["rule_set", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["rule_set", "number"], name="editorial_version_number")
        ]

    def __str__(self) -> str:
        return f"{self.rule_set} v{self.number}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and RuleSetVersion.objects.filter(pk=self.pk).exists():
            raise ValidationError("A published version is immutable.")
        super().save(*args, **kwargs)


class RuleKind(models.TextChoices):
    BLOCK = "block", "Blocklist"
    BOOST = "boost", "Boost or bury"
    PIN = "pin", "Pin at a slot"
    PICK = "pick", "Editors' pick"
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
    kind = models.CharField(
        max_length=16, choices=RuleKind.choices, help_text="What the rule does to the feeds."
    )
    enabled = models.BooleanField(
        default=True, help_text="Untick to keep the rule but not apply it."
    )
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
    visitors = models.CharField(
        max_length=16, choices=Visitors.choices, default=Visitors.ALL,
        help_text="Pin only for new visitors (no history) or returning readers.",
    )  # fmt: skip
    priority = models.SmallIntegerField(default=0, help_text="Higher wins between pins.")
    valid_from = models.DateTimeField(
        null=True, blank=True, help_text="Optional: the rule applies from this time on."
    )
    valid_until = models.DateTimeField(
        null=True, blank=True, help_text="Optional: the rule stops applying at this time."
    )
    note = models.CharField(max_length=200, blank=True, help_text="Why: for colleagues and audit.")
    created = models.DateTimeField(auto_now_add=True)
    modified = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["rule_set", "kind", "id"]

    def __str__(self) -> str:
        """ "Blocklist section=Sport"; an article by its title: "Pin at a slot: Polls close"."""
        if self.target_field == "article":
            from editorial.selectors import article_titles

            pk = ascii_int(self.target_value, low=1)
            title = article_titles(ids=[pk]).get(pk) if pk is not None else None
            if title:
                return f"{self.get_kind_display()}: {title}"
        target = f" {self.target_field}={self.target_value}" if self.target_value else ""
        return f"{self.get_kind_display()}{target}"

    def clean(self) -> None:
        from editorial.strategies import strategy_for

        strategy = strategy_for(self.kind)
        errors = {**strategy.window_problems(self), **strategy.validate(self)}
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


class AuditSource(models.TextChoices):
    ADMIN = "admin", "Admin"
    API = "api", "API"
    SCHEDULE = "schedule", "Schedule"
    SYSTEM = "system", "System (shell, migration, task)"


class AuditEntry(models.Model):
    """Who changed which rule or rule set, when, before/after, and from where; append-only."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    username = models.CharField(max_length=150, blank=True, help_text="Kept if the user goes.")
    source = models.CharField(max_length=16, choices=AuditSource.choices)
    action = models.CharField(max_length=16)  # create, update, delete, publish, rollback, switch
    object_type = models.CharField(max_length=16)  # "rule" or "rule set"
    object_id = models.BigIntegerField(null=True, blank=True)
    # No database constraint: the trail outlives deleted sets (their name is kept beside it).
    rule_set = models.ForeignKey(
        RuleSet, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False,
        related_name="+",
    )  # fmt: skip
    rule_set_name = models.CharField(max_length=100, blank=True)
    summary = models.CharField(max_length=300)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return self.summary

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValidationError("Audit entries are append-only.")
        super().save(*args, **kwargs)


class SectionMixSample(models.Model):
    """Share of each section in the top of all stored feeds at one moment (dashboard chart)."""

    taken_at = models.DateTimeField(default=timezone.now, db_index=True)
    feeds = models.PositiveIntegerField()
    mix = models.JSONField(help_text="{section: share of the top slots}")

    class Meta:
        ordering = ["-taken_at"]

    def __str__(self) -> str:
        return f"section mix at {self.taken_at:%Y-%m-%d %H:%M}"


# --- Experiments ----------------------------------------------------------------------------


def _new_salt() -> str:
    import secrets

    return secrets.token_hex(8)


class ExperimentStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    RUNNING = "running", "Running"
    STOPPED = "stopped", "Stopped"


class Experiment(models.Model):
    """A split of readers into variants, e.g. personalised feeds against a holdout without them.

    Readers are assigned on the fly by a hash of the salt and their public id (no row per
    reader); variants are frozen once the experiment starts, so nobody changes arm mid-way.
    At most one experiment runs at a time, and a stopped one stays stopped (its window is final).
    """

    name = models.CharField(max_length=100, unique=True, help_text='E.g. "Holdout, spring".')
    description = models.TextField(blank=True, help_text="The question it answers, for colleagues.")
    status = models.CharField(
        max_length=16, choices=ExperimentStatus.choices, default=ExperimentStatus.DRAFT,
        help_text="Start and stop it with the buttons on this page.",
    )  # fmt: skip
    salt = models.CharField(
        max_length=32, default=_new_salt,
        help_text="Mixed into the reader hash: a new salt reshuffles readers between variants.",
    )  # fmt: skip
    started_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    stopped_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)
    modified = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["status"],
                condition=Q(status="running"),
                name="editorial_one_running_experiment",
            ),
            models.CheckConstraint(
                condition=Q(started_at__isnull=True)
                | Q(stopped_at__isnull=True)
                | Q(stopped_at__gte=F("started_at")),
                name="editorial_experiment_window_order",
            ),
        ]
        permissions = [("run_experiment", "Can start and stop experiments")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_draft(self) -> bool:
        return self.status == ExperimentStatus.DRAFT


class VariantKind(models.TextChoices):
    PERSONALISED = "personalised", "Personalised (recommendations on)"
    HOLDOUT = "holdout", "Holdout (recommendations off: newest articles)"
    HAND_WEIGHTED = "hand", "Hand-weighted (personalised, never the learned ranker)"
    NO_NUDGES = "no-nudges", "Personalised without nudges (the nudges' holdout)"


class Variant(models.Model):
    """One arm of an experiment with its share of the traffic."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="variants")
    name = models.CharField(max_length=40, help_text='E.g. "control" or "holdout".')
    kind = models.CharField(
        max_length=16, choices=VariantKind.choices, default=VariantKind.PERSONALISED,
        help_text="Holdout readers get the newest live articles: no ranking, no reasons. "
        "Hand-weighted readers get feeds ranked by the hand-weighted formula even while a "
        "learned ranker is active (learned vs hand-weighted). Readers without nudges get "
        "personalised feeds but no nudge (nudges on vs off).",
    )  # fmt: skip
    weight = models.PositiveSmallIntegerField(
        default=50, validators=[MinValueValidator(1), MaxValueValidator(10_000)],
        help_text="Share of readers relative to the other variants: 90 and 10 split 90 % / 10 %.",
    )  # fmt: skip

    class Meta:
        ordering = ["experiment", "id"]
        constraints = [
            models.UniqueConstraint(fields=["experiment", "name"], name="editorial_variant_name"),
            models.CheckConstraint(condition=Q(weight__gte=1), name="editorial_variant_weight"),
        ]

    def __str__(self) -> str:
        return f"{self.experiment}: {self.name}"

    @property
    def tag(self) -> str:
        """What feeds served under this variant carry in their recommendation ids."""
        return f"e{self.experiment_id}v{self.pk}"


DWELL_BUCKET_EDGES = (5, 10, 20, 30, 45, 60, 90, 120, 180, 240, 300, 450, 600, 900)
"""Upper edges (seconds) of the dwell-time histogram kept per hourly row: bucket i counts the
reads with edges[i-1] <= dwell < edges[i]; the last bucket is 900 s and over. Medians are read
from the summed histograms (additive across hours, unlike medians)."""


class HourStatsFields(models.Model):
    """The figures every hourly analytics row holds (abstract)."""

    hour = models.DateTimeField(help_text="Start of the hour (UTC).")
    surface = models.CharField(max_length=32, blank=True, help_text="Where it was shown or read.")
    impressions = models.PositiveIntegerField(default=0)
    clicks = models.PositiveIntegerField(default=0)
    reads = models.PositiveIntegerField(default=0)
    finishes = models.PositiveIntegerField(default=0)
    hides = models.PositiveIntegerField(default=0)
    dwell_seconds = models.FloatField(default=0.0, help_text="Sum of each reader's longest dwell.")
    dwell_reads = models.PositiveIntegerField(default=0, help_text="Reads with a dwell time.")
    dwell_buckets = ArrayField(
        models.PositiveIntegerField(), default=list, blank=True,
        help_text="Reads per dwell-time bucket (DWELL_BUCKET_EDGES), for medians.",
    )  # fmt: skip

    class Meta:
        abstract = True


class ArticleHourStats(HourStatsFields):
    """Reader events rolled up per article, surface, slot and hour: what the analytics page reads.

    Rebuilt from the events by ``editorial.analytics.analytics_rollup`` (a whole hour at a time,
    so running it twice changes nothing). Reads, finishes and hides count distinct readers in
    the hour; a read that spans two hours counts in both. A read, dwell or finish counts on the
    surface and slot of the click that led to it (the same reader's click on the same article
    within the hour before), else on its own surface with no slot.
    """

    article = models.ForeignKey("newsrec.Article", on_delete=models.CASCADE, related_name="+")
    slot = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Position in the list shown (1 = top); empty: none."
    )
    section = models.CharField(
        max_length=100, blank=True, help_text="The article's section when rolled up."
    )

    class Meta:
        verbose_name = "analytics"
        verbose_name_plural = "analytics"
        constraints = [
            models.UniqueConstraint(
                fields=["hour", "article", "surface", "slot"], name="editorial_hourstats_key",
                nulls_distinct=False,
            ),
        ]  # fmt: skip
        indexes = [
            models.Index(fields=["hour"], name="editorial_hourstats_hour"),
            models.Index(fields=["article", "hour"], name="editorial_hourstats_article"),
        ]

    def __str__(self) -> str:
        return f"{self.article_id} on {self.surface or '?'} at {self.hour:%Y-%m-%d %H:00}"


class Facet(models.TextChoices):
    SLOT = "slot", "Slot"
    SECTION = "section", "Section"


class FacetHourStats(HourStatsFields):
    """The article rows summed per surface and slot, or per surface and section, each hour: the
    overview tables and charts read these few rows instead of the per-article ones."""

    facet = models.CharField(max_length=8, choices=Facet.choices)
    value = models.CharField(max_length=100, blank=True, help_text="The slot or section.")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["hour", "facet", "surface", "value"], name="editorial_facetstats_key"
            ),
        ]
        indexes = [models.Index(fields=["facet", "hour"], name="editorial_facetstats_hour")]

    def __str__(self) -> str:
        return f"{self.facet}={self.value} on {self.surface or '?'} at {self.hour:%Y-%m-%d %H:00}"


NUDGE_KIND_CHOICES = [
    (NUDGE_BEFORE_YOU_GO, "“Before you go” (exit intent)"),
    (NUDGE_PICK_UP, "“Pick up where you left off”"),
]
NUDGE_SURFACE_CHOICES = [
    ("article", "Article pages"), ("home", "Front page"), ("section", "Section pages"),
    ("api", "Apps and the host (API)"),
]  # fmt: skip


class NudgeSetting(models.Model):
    """What editors set for one kind of nudge: on or off, where, how often, its words, and which
    readers by churn-risk band. newsrec reads it through ``editorial.providers.EditorialNudges``;
    a kind without a row follows newsrec's settings."""

    kind = models.CharField(max_length=32, unique=True, choices=NUDGE_KIND_CHOICES)
    enabled = models.BooleanField(default=True, help_text="Off: no reader sees this nudge.")
    surfaces = ArrayField(
        models.CharField(max_length=16), default=list, blank=True,
        help_text="Where it shows: the article page, the front page, section pages, the API.",
    )  # fmt: skip
    max_per_day = models.PositiveSmallIntegerField(
        default=1, validators=[MaxValueValidator(20)],
        help_text="At most this many times a day per reader (0: never).",
    )  # fmt: skip
    title = models.CharField(max_length=80, help_text="The nudge's heading.")
    lead = models.CharField(max_length=200, blank=True, help_text="A line under the heading.")
    bands = ArrayField(
        models.CharField(max_length=8), default=list, blank=True,
        help_text="Readers of these churn-risk bands only (none ticked: every reader).",
    )  # fmt: skip
    modified = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind"]
        verbose_name = "nudge"

    def __str__(self) -> str:
        return str(self.get_kind_display())


class ArticleDayStats(HourStatsFields):
    """The article rows summed per UTC day (``hour`` is the day's start) and surface, over
    slots: long periods read these instead of every hour."""

    article = models.ForeignKey("newsrec.Article", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["hour", "article", "surface"], name="editorial_daystats_key"
            ),
        ]
        indexes = [models.Index(fields=["hour"], name="editorial_daystats_day")]

    def __str__(self) -> str:
        return f"{self.article_id} on {self.surface or '?'} on {self.hour:%Y-%m-%d}"


class FacetDayStats(HourStatsFields):
    """The per-slot and per-section rows summed per UTC day (``hour`` is the day's start)."""

    facet = models.CharField(max_length=8, choices=Facet.choices)
    value = models.CharField(max_length=100, blank=True, help_text="The slot or section.")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["hour", "facet", "surface", "value"], name="editorial_facetdays_key"
            ),
        ]
        indexes = [models.Index(fields=["facet", "hour"], name="editorial_facetdays_day")]

    def __str__(self) -> str:
        return f"{self.facet}={self.value} on {self.surface or '?'} on {self.hour:%Y-%m-%d}"
