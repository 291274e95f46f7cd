"""Models: the article catalogue with embeddings, API keys, and readers with their signals."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone
from pgvector.django import HnswIndex

from newsrec.fields import EmbeddingField, JSONTextField

if TYPE_CHECKING:
    from newsrec.engine.rules import Filters


class ArticleStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    RETRACTED = "retracted", "Retracted"


class EmbeddingStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


def live_at(
    status: str, published_at: datetime | None, embargo_until: datetime | None, *, moment: datetime
) -> bool:
    """Whether an article is live at ``moment``: published, already out and past any embargo.

    The one definition in Python; :meth:`ArticleQuerySet.live_at` is the same in SQL (and
    ``newsrec.feeds.read`` spells it in the raw SQL of its one-query read).
    """
    return (
        status == ArticleStatus.PUBLISHED
        and (published_at is None or published_at <= moment)
        and (embargo_until is None or embargo_until <= moment)
    )


class ArticleQuerySet(models.QuerySet["Article"]):
    """Domain verbs for article lookups."""

    def live_at(self, moment: datetime) -> ArticleQuerySet:
        """Published, already out (published_at <= moment) and past any embargo."""
        return self.filter(
            Q(status=ArticleStatus.PUBLISHED),
            Q(published_at__isnull=True) | Q(published_at__lte=moment),
            Q(embargo_until__isnull=True) | Q(embargo_until__lte=moment),
        )

    def published(self) -> ArticleQuerySet:
        return self.live_at(timezone.now())

    def embedded(self) -> ArticleQuerySet:
        return self.filter(embedding__isnull=False)

    def needing_embedding(self) -> ArticleQuerySet:
        """Articles whose current text has no vector yet (new, changed, or failed earlier)."""
        return self.exclude(embedding_status=EmbeddingStatus.READY)

    def allowed_by(self, filters: Filters, *, now: datetime | None = None) -> ArticleQuerySet:
        """Without the articles the editors' hard filters remove: blocked sections, tags,
        authors and articles, and those past the max age (a section's own, else the general one).

        The SQL form of the engine's step 1 (``newsrec.engine.rules.allowed_mask``), for the
        surfaces that query articles directly rather than read a built feed.
        """
        now = now or timezone.now()
        filters = filters.at(now.timestamp())
        blocked = Q()
        if filters.blocked_sections:
            blocked |= Q(section__in=filters.blocked_sections)
        if filters.blocked_tags:
            blocked |= Q(tags__overlap=sorted(filters.blocked_tags))
        if filters.blocked_authors:
            blocked |= Q(authors__overlap=sorted(filters.blocked_authors))
        if filters.blocked_articles:
            blocked |= Q(pk__in=filters.blocked_articles)
        own = filters.max_age_hours_by_section
        for section, hours in own.items():
            blocked |= Q(section=section, published_at__lt=now - timedelta(hours=hours))
        if filters.max_age_hours is not None:
            too_old = Q(published_at__lt=now - timedelta(hours=filters.max_age_hours))
            blocked |= too_old & ~Q(section__in=sorted(own)) if own else too_old
        return self.exclude(blocked) if blocked else self


class Article(models.Model):
    """One article mirrored from the host CMS (or imported), keyed by its external id."""

    external_id = models.CharField(
        max_length=255, unique=True, help_text="Id in the source system."
    )
    url = models.URLField(max_length=2000, blank=True)
    title = models.CharField(max_length=500)
    lead = models.TextField(blank=True, help_text="Standfirst or summary.")
    body = models.TextField(blank=True)
    section = models.CharField(max_length=100, blank=True, db_index=True)
    tags = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    authors = ArrayField(models.CharField(max_length=200), default=list, blank=True)
    language = models.CharField(max_length=16, blank=True, default="en")
    published_at = models.DateTimeField(null=True, blank=True, db_index=True)
    updated_at = models.DateTimeField(null=True, blank=True, help_text="Last update in the source.")
    status = models.CharField(
        max_length=16, choices=ArticleStatus.choices, default=ArticleStatus.PUBLISHED
    )
    embargo_until = models.DateTimeField(null=True, blank=True)
    content_hash = models.CharField(max_length=64, help_text="SHA-256 of all stored fields.")

    embedding = EmbeddingField(null=True, blank=True)
    embedding_text_hash = models.CharField(
        max_length=64, blank=True, help_text="SHA-256 of the text the stored vector was made from."
    )
    embedding_status = models.CharField(
        max_length=16, choices=EmbeddingStatus.choices, default=EmbeddingStatus.PENDING
    )
    embedding_error = models.TextField(blank=True)
    embedding_attempts = models.PositiveSmallIntegerField(default=0)

    created = models.DateTimeField(auto_now_add=True)
    modified = models.DateTimeField(auto_now=True)

    objects = ArticleQuerySet.as_manager()

    class Meta:
        ordering = ["-published_at", "-id"]
        indexes = [
            models.Index(fields=["status", "published_at"], name="newsrec_art_status_pub"),
            models.Index(fields=["embedding_status"], name="newsrec_art_emb_status"),
            HnswIndex(
                name="newsrec_art_embedding_hnsw",
                fields=["embedding"],
                m=16,
                ef_construction=64,
                opclasses=["vector_cosine_ops"],
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("newsrec:article", kwargs={"pk": self.pk})

    @property
    def is_live(self) -> bool:
        return self.is_live_at(timezone.now())

    def is_live_at(self, moment: datetime) -> bool:
        return live_at(self.status, self.published_at, self.embargo_until, moment=moment)


class ApiKeyScope(models.TextChoices):
    READ_FEEDS = "read-feeds", "Read feeds"
    WRITE_EVENTS = "write-events", "Write events"
    MANAGE_ARTICLES = "manage-articles", "Manage articles"
    MANAGE_RULES = "manage-rules", "Manage rules"
    MANAGE_READERS = "manage-readers", "Manage readers (export and erase their data)"
    READ_RETENTION = "read-retention", "Read readers at risk of leaving, with their picks"


class ApiKey(models.Model):
    """A server-to-server API key; only its SHA-256 is stored, the key is shown once."""

    name = models.CharField(max_length=100, help_text="Who uses this key, e.g. 'CMS publisher'.")
    prefix = models.CharField(max_length=12, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = ArrayField(models.CharField(max_length=32, choices=ApiKeyScope.choices), default=list)
    created = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


# --- Readers and their signals ------------------------------------------------------------


class Reader(models.Model):
    """Someone who reads: a logged-in user, or an anonymous visitor (cookie or client id)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="newsrec_reader",
    )
    # Namespaced so a cookie value can never collide with an API-supplied id: "cookie:…" / "api:…".
    client_id = models.CharField(max_length=160, unique=True, null=True, blank=True)
    personalisation_enabled = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)
    last_seen = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"reader {self.public_id}"


class EventKind(models.TextChoices):
    IMPRESSION = "impression", "Impression"
    CLICK = "click", "Click"
    READ = "read", "Read progress"
    DWELL = "dwell", "Dwell time"
    FINISH = "finish", "Finish"
    SHARE = "share", "Share"
    HIDE = "hide", "Hide (not interested)"
    SKIP = "skip", "Skip"


class DeviceClass(models.TextChoices):
    MOBILE = "mobile", "Mobile"
    TABLET = "tablet", "Tablet"
    DESKTOP = "desktop", "Desktop"


class ReferrerType(models.TextChoices):
    DIRECT = "direct", "Direct"
    INTERNAL = "internal", "Internal"
    SEARCH = "search", "Search"
    SOCIAL = "social", "Social"
    EMAIL = "email", "Email / newsletter"
    OTHER = "other", "Other"


class Event(models.Model):
    """One reader signal, append-only; unique (reader, event_id) makes ingestion idempotent."""

    # No index of its own: (reader, event_id) and (reader, occurred_at) lead with it, and each
    # index costs every event insert.
    reader = models.ForeignKey(
        Reader, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    event_id = models.CharField(max_length=64, help_text="Client-chosen id, unique per reader.")
    kind = models.CharField(max_length=16, choices=EventKind.choices)
    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="+")
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)
    dwell_seconds = models.FloatField(null=True, blank=True)
    read_depth = models.FloatField(
        null=True, blank=True, help_text="0..1, share of the article seen."
    )
    feed_slot = models.PositiveSmallIntegerField(null=True, blank=True)
    surface = models.CharField(max_length=32, blank=True)
    recommendation_id = models.CharField(max_length=64, blank=True)
    device = models.CharField(max_length=8, choices=DeviceClass.choices, blank=True)
    local_hour = models.PositiveSmallIntegerField(null=True, blank=True)
    weekday = models.PositiveSmallIntegerField(null=True, blank=True, help_text="0 = Monday.")
    referrer = models.CharField(max_length=8, choices=ReferrerType.choices, blank=True)
    session_id = models.CharField(max_length=64, blank=True)
    # False for events sent while the reader had personalisation off: kept, never profiled.
    profiling_allowed = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["reader", "event_id"], name="newsrec_event_reader_eid"),
        ]
        indexes = [
            models.Index(fields=["reader", "occurred_at"], name="newsrec_event_reader_time"),
            models.Index(fields=["occurred_at"], name="newsrec_event_time"),  # retention sweep
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.article_id} by {self.reader_id}"


class ReaderProfile(models.Model):
    """What newsrec has learned about a reader; always recomputable from their events."""

    reader = models.OneToOneField(
        Reader, on_delete=models.CASCADE, primary_key=True, related_name="profile"
    )
    interest_vector = EmbeddingField(null=True, blank=True)
    section_affinity = models.JSONField(default=dict, blank=True)  # {section: -1..1}
    tag_affinity = models.JSONField(default=dict, blank=True)  # {tag: -1..1}
    author_affinity = models.JSONField(default=dict, blank=True)  # {author: -1..1}
    context_habits = models.JSONField(
        default=dict, blank=True
    )  # {device: {daypart: {section: share}}}
    sessions = models.PositiveIntegerField(default=0)
    avg_session_depth = models.FloatField(default=0.0)
    completion_rate = models.FloatField(default=0.0)
    last_event_at = models.DateTimeField(null=True, blank=True)
    events_counted = models.PositiveIntegerField(default=0)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        permissions = [("view_reader_data", "Can view reader profiles and their interests")]

    def __str__(self) -> str:
        return f"profile of {self.reader_id}"


# --- Materialised feeds -------------------------------------------------------------------


class Feed(models.Model):
    """A reader's materialised feed (or the non-personalised "default" one), swapped whole."""

    key = models.CharField(max_length=40, unique=True, help_text='"reader:<id>" or "default".')
    reader = models.OneToOneField(
        Reader, null=True, blank=True, on_delete=models.CASCADE, related_name="feed"
    )
    # json, not jsonb: rewritten on every rebuild, read whole (see JSONTextField)
    items = JSONTextField(default=list, help_text="Ranked items with reasons and scores.")
    conflicts = models.JSONField(default=list, blank=True, help_text="Rules that could not be met.")
    context_habits = models.JSONField(default=dict, blank=True)  # for the read-time re-rank
    rules_version = models.PositiveBigIntegerField(default=0)
    built_at = models.DateTimeField()
    version = models.PositiveIntegerField(default=1, help_text="Bumped by every swap.")

    class Meta:
        indexes = [
            models.Index(fields=["built_at"], name="newsrec_feed_built"),
            # the fan-out sweeper's "feeds older than the live rules" (newsrec.feeds.fanout_resume)
            models.Index(fields=["rules_version"], name="newsrec_feed_rules_version"),
        ]

    def __str__(self) -> str:
        return f"feed {self.key} v{self.version}"


# --- Learned rankers ---------------------------------------------------------------------


class RankerModelStatus(models.TextChoices):
    ACTIVE = "active", "Active (ranks every feed)"
    RETIRED = "retired", "Retired (was active)"
    REJECTED = "rejected", "Not promoted"


class RankerModel(models.Model):
    """One training run of the learned ranker: its model, signals, metrics and verdict.

    At most one version is active; feeds use the hand-weighted formula while none is. A run
    that did not beat the active model and the hand weights on the later validation slice, or
    had too little data, is kept as "rejected" with the reason, so editors see why.
    """

    created_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(
        max_length=16, choices=RankerModelStatus.choices, default=RankerModelStatus.REJECTED
    )
    activated_at = models.DateTimeField(null=True, blank=True)
    verdict = models.TextField(blank=True, help_text="Why it was or was not promoted.")
    feature_names = models.JSONField(default=list, blank=True)
    params = models.JSONField(default=dict, blank=True)
    # {"model": {...}, "hand": {...}, "incumbent": {...}}: AUC, MRR, nDCG@5/10 on validation
    metrics = models.JSONField(default=dict, blank=True)
    importances = models.JSONField(default=dict, blank=True)  # signal -> share of split gain
    # sizes and windows: impressions, rows, clicks, readers, train/validation from-until
    training = models.JSONField(default=dict, blank=True)
    model_text = models.TextField(blank=True, help_text="The LightGBM model (text format).")
    # linear weights + intercept over feature_names: the serving cascade's first stage
    prefilter = models.JSONField(default=list, blank=True)
    created_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["status"],
                condition=models.Q(status="active"),
                name="newsrec_rankermodel_one_active",
            )
        ]
        verbose_name = "learned ranker version"

    def __str__(self) -> str:
        return f"ranker v{self.pk} ({self.get_status_display()})"


class OutboxTask(models.Model):
    """A Celery task that could not be sent (broker down), kept until ``outbox_drain`` sends it."""

    name = models.CharField(max_length=200)  # the registered task name
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)  # failed re-sends so far

    class Meta:
        ordering = ["id"]
        verbose_name = "outbox task"

    def __str__(self) -> str:
        return f"{self.name} (outbox #{self.pk})"


# --- Retention (models in newsrec.retention, part of this app) --------------------------------

from newsrec.retention.models import (  # noqa: E402, F401
    ChurnModel,
    ReaderRisk,
    RiskBand,
    RiskBandCount,
)
