"""Lazy access to the ``NEWSREC`` settings dict, with documented defaults.

Read settings only through ``newsrec_settings``::

    from newsrec.conf import newsrec_settings
    newsrec_settings.EMBEDDING_BATCH_SIZE
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

DEFAULTS: dict[str, Any] = {
    # Dotted path of the embedder class (subclass of newsrec.embedders.base.Embedder).
    "EMBEDDER": "newsrec.embedders.sentence_transformers.SentenceTransformerEmbedder",
    # sentence-transformers model name or path; None = the packaged all-MiniLM-L6-v2.
    "EMBEDDING_MODEL": None,
    # The ranker: a newsrec.engine.ranker.Ranker subclass (override one step, keep the rest),
    # used by feed rebuilds, the editors' preview, training and evaluation (newsrec.rankers).
    "RANKER": "newsrec.engine.ranker.Ranker",
    # Its candidate sources: dotted paths of newsrec.engine.sources.CandidateSource subclasses,
    # each made without arguments; None = the engine's default_sources().
    "CANDIDATE_SOURCES": None,
    # Width of the vector columns; must equal the model's output dimension (check newsrec.E002;
    # E005/E006 compare the database's columns). Changing it: manage.py newsrec_embedding_width.
    "EMBEDDING_DIMENSIONS": 384,
    # Texts per forward pass of the model.
    "EMBEDDING_BATCH_SIZE": 64,
    # Articles per Celery embed task. Tasks get articles of similar text length (less padding)
    # and several forward passes each, so the per-task overhead and DB write are amortised.
    "EMBEDDING_TASK_SIZE": 128,
    # Retries of a failed embedding before the article is left marked "failed".
    "EMBEDDING_MAX_RETRIES": 5,
    # Documented size limits for incoming articles (characters); longer rows are rejected.
    "MAX_TITLE_CHARS": 500,
    "MAX_LEAD_CHARS": 5_000,
    "MAX_BODY_CHARS": 200_000,
    "MAX_URL_CHARS": 2_000,
    "MAX_TAGS": 50,
    "MAX_AUTHORS": 20,
    # Rows per POST/PUT /api/v1/articles/ request, and the largest such request body (bytes,
    # answered 413 beyond): 150 rows at MAX_BODY_CHARS of plain text, or 500 of 60,000. Django's
    # DATA_UPLOAD_MAX_MEMORY_SIZE does not apply to it (it limits the API's other bodies).
    "API_MAX_BATCH": 500,
    "API_MAX_BODY_BYTES": 32 * 1024 * 1024,
    # Number of related articles shown on article pages and returned by the API by default.
    "RELATED_LIMIT": 6,
    # HNSW search breadth for related-article queries (higher = better recall, slower).
    "HNSW_EF_SEARCH": 80,
    # Reader events: most events per POST /api/v1/events/ and largest request body (bytes).
    "EVENTS_MAX_BATCH": 100,
    "EVENTS_MAX_BODY_BYTES": 256 * 1024,
    # Late events are accepted up to this age (days); clocks may run this far ahead (seconds).
    "EVENTS_MAX_AGE_DAYS": 7,
    "EVENTS_MAX_FUTURE_SECONDS": 300,
    # Events older than this (days) are deleted by the periodic task events_purge_expired.
    "EVENT_RETENTION_DAYS": 395,
    # Interest decay half-life (days, relative to the reader's latest event).
    "PROFILE_HALF_LIFE_DAYS": 14.0,
    # Seconds a profile update waits so a burst of events costs one rebuild.
    "PROFILE_DEBOUNCE_SECONDS": 5,
    # Feeds: items per materialised feed; the live pool is the newest FEED_POOL_MAX embedded
    # articles of the last FEED_POOL_DAYS days (None = no age limit beyond the rules' max age).
    "FEED_LENGTH": 50,
    "FEED_POOL_DAYS": 14,
    "FEED_POOL_MAX": 20_000,
    # Readers seen within this many days keep a materialised feed (periodic refresh, fan-outs).
    "FEED_ACTIVE_DAYS": 30,
    # Readers per rebuild task in fan-outs (one matrix product per chunk of the engine).
    "FEED_CHUNK_SIZE": 500,
    # A fan-out with no chunk finished for this many seconds is resumed: the beat task
    # newsrec-feeds-resume (every 30 s) re-queues the feeds still older than the live rules.
    "FANOUT_STALL_SECONDS": 30,
    # Learned ranker (newsrec_train, the newsrec-ranker-train beat task): impressions of the
    # last RANKER_TRAINING_DAYS train it, the last RANKER_VALIDATION_DAYS of them validate it;
    # a click within RANKER_CLICK_MINUTES of an impression labels it. With fewer than
    # RANKER_MIN_IMPRESSIONS usable impressions (a click and a non-click each) in either part,
    # no model is trained and feeds keep the hand-weighted formula.
    "RANKER_TRAINING_DAYS": 28,
    "RANKER_VALIDATION_DAYS": 7,
    "RANKER_CLICK_MINUTES": 60,
    "RANKER_MIN_IMPRESSIONS": 200,
    # Serve the active learned ranker in feed rebuilds (False: always the hand weights).
    "RANKER_LEARNED": True,
    # What newsrec asks of the editorial layer (newsrec.providers): dotted paths of a rules
    # provider and an experiments provider. None: the one an installed app registered
    # (editorial does), else no editorial rules and no experiments.
    "RULES_PROVIDER": None,
    "EXPERIMENTS_PROVIDER": None,
    # ... and a nudges provider (editors' controls of each kind of nudge; None: the one an
    # installed app registered, else every kind on, capped by the settings below).
    "NUDGES_PROVIDER": None,
    # Diversity when the editors set none (tuned on NeMig val, docs/learning.md): MMR lambda
    # (1 = pure score) unless a rule sets one, and at most SECTION_CAP stories of one section
    # in the top SECTION_CAP_TOP unless a rule caps sections. The cap gives way rather than
    # leave a slot empty. None turns the default off.
    "DEFAULT_DIVERSITY": {"MMR_LAMBDA": 0.8, "SECTION_CAP": 3, "SECTION_CAP_TOP": 10},
    # Seconds a client is told to wait (Retry-After) when the database is unreachable (503).
    "UNAVAILABLE_RETRY_AFTER": 30,
    # /readyz/: seconds each network check (broker, worker ping) may take; not ready when the
    # default feed follows older rules than the live ones and is older than this (seconds).
    "READY_TIMEOUT": 1.0,
    "READY_FEED_LAG_SECONDS": 1800,
    # Client addresses or networks ("10.0.0.0/8") that may read /metrics; staff users always may.
    "METRICS_ALLOWED_IPS": ["127.0.0.1", "::1"],
    # API rate limits per throttle scope (DRF rates, "120/min"; None turns a scope off): per API
    # key, per logged-in reader, per anonymous client address, and password guesses at
    # POST /api/v1/auth/token/. Excess requests get a 429 with Retry-After.
    "API_RATES": {"api_key": "600/min", "reader": "300/min", "anon": "120/min", "auth": "10/min"},
    # Paths whose errors are always JSON (the API's): None = where newsrec.api.urls is included.
    "API_PATH_PREFIX": None,
    # Churn risk (newsrec.retention, docs/retention.md): a reader churns when none of their
    # events arrives within CHURN_HORIZON_DAYS; risk reads their events of the
    # CHURN_WINDOW_DAYS before. The model trains on the last CHURN_TRAINING_DAYS of events, at
    # most every CHURN_RETRAIN_HOURS; with fewer than CHURN_MIN_EXAMPLES reader-days in a time
    # slice (train, calibration, validation) the documented heuristic scores readers instead.
    "CHURN_HORIZON_DAYS": 7,
    "CHURN_WINDOW_DAYS": 28,
    "CHURN_TRAINING_DAYS": 91,
    "CHURN_MIN_EXAMPLES": 200,
    "CHURN_RETRAIN_HOURS": 24,
    # Risk bands by the calibrated chance of churning: "rising" from RISING, "high" from HIGH.
    "CHURN_BANDS": {"RISING": 0.3, "HIGH": 0.6},
    # "Before you go" nudges ({% newsrec_nudge %}) shown per reader per day; 0 turns them off.
    "NUDGE_MAX_PER_DAY": 1,
    # "Pick up where you left off" ({% newsrec_pickup %}) shown per reader per day; 0: off.
    "NUDGE_PICKUP_MAX_PER_DAY": 2,
    # Binge readers open at least this many stories per visit (their own mean over the churn
    # window); they get the next part of a story they started, others one short standout.
    "NUDGE_BINGE_STORIES_PER_VISIT": 2.0,
    # A tag shared by at most this many live articles names a story or series (more: a topic).
    "NUDGE_SERIES_MAX_ARTICLES": 40,
    # A "short" standout reads in at most this many minutes (at 230 words a minute).
    "NUDGE_SHORT_READ_MINUTES": 4,
    # Host-delivered off-site nudges: when URL is set, each hourly risk run posts the readers
    # whose band rose to it, signed with SECRET (HMAC-SHA256); nothing is sent by default.
    "AT_RISK_WEBHOOK": {
        "URL": "",
        "SECRET": "",
        "TIMEOUT_SECONDS": 5.0,
        "MAX_RETRIES": 5,  # then the run's delivery is given up (logged)
        "PICKS": 3,  # stories per reader
    },
}

IMPORT_STRINGS = {"EMBEDDER", "RANKER"}


class NewsrecSettings:
    """Attribute access to NEWSREC settings with fallback to DEFAULTS."""

    def __init__(self) -> None:
        self._cache: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"Invalid newsrec setting: {name!r}")
        if name in self._cache:
            return self._cache[name]
        user = getattr(settings, "NEWSREC", {}) or {}
        value = user.get(name, DEFAULTS[name])
        if name in IMPORT_STRINGS and isinstance(value, str):
            value = import_string(value)
        self._cache[name] = value
        return value

    def reload(self) -> None:
        self._cache.clear()


newsrec_settings = NewsrecSettings()


def _reload(*, setting: str, **kwargs: Any) -> None:
    if setting == "NEWSREC":
        newsrec_settings.reload()


setting_changed.connect(_reload)
