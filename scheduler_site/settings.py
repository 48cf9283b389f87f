"""Settings: every value comes from the environment, with laptop defaults.

Laptop default: SQLite under ./var/ and kombu's filesystem broker under
./var/broker/ (no server needed, yet it works across processes). Production:
DATABASE_URL=postgres://... and CELERY_BROKER_URL=redis://...
"""

from __future__ import annotations

from pathlib import Path

from scheduler_site.env import (
    broker_url_from_env,
    database_from_env,
    env_bool,
    env_int,
    env_list,
    env_secret,
    env_str,
    file_storage_from_env,
    redis_url_from_env,
    secret_key_from_env,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("SCHEDULER_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

# --- Core ----------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/ref/settings/#core-settings
SECRET_KEY = secret_key_from_env("SECRET_KEY", VAR_DIR / "secret_key")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "scheduler_site.admin_apps.SchedulerAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "django_celery_beat",
    "core.apps.CoreConfig",
    "scheduler_site.apps.SiteConfig",
    "schedules",
    "jobruns",
    "executions",
    "connections",
    "compat.conductor",
]

MIDDLEWARE = [
    # First: probes answer any Host and are never redirected (scheduler_site/health.py).
    "scheduler_site.health.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "core.api.errors.BodyLimitMiddleware",
    "core.api.errors.DatabaseUnavailableMiddleware",
    "core.api.errors.RefuseNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "core.middleware.UserTimeZoneMiddleware",
    "core.audit.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "scheduler_site.urls"
WSGI_APPLICATION = "scheduler_site.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

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

# --- Database ------------------------------------------------------------------
# https://github.com/jazzband/dj-database-url
DATABASES = {"default": database_from_env("DATABASE_URL", VAR_DIR / "db.sqlite3")}

# --- Time ----------------------------------------------------------------------
# Stored in UTC; schedules compute in their own zone, pages show the user's zone.
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"
USE_I18N = True

# --- Static files and uploads ---------------------------------------------------
# https://whitenoise.readthedocs.io/
STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "media/"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# The image runs collectstatic at build and gets hashed, compressed files; a
# laptop serves straight from the source folders without that step.
_COLLECTED = (STATIC_ROOT / "staticfiles.json").exists()
STORAGES = {
    # Result files: MEDIA_ROOT, or an S3-compatible bucket (FILE_STORAGE=s3).
    "default": file_storage_from_env(),
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if _COLLECTED
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not _COLLECTED

# --- Security --------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/howto/deployment/checklist/
# Secure by default: with DEBUG off, cookies go over HTTPS only. A laptop on plain
# http://127.0.0.1 opts out explicitly with SECURE_COOKIES=false (`manage.py
# supervise`, behind `make run`, sets it when the variable is unset).
SECURE_COOKIES = env_bool("SECURE_COOKIES", not DEBUG)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
# Our scripts read the token from the form's csrfmiddlewaretoken field and Swagger
# UI gets it rendered into the page, so nothing needs the cookie from JavaScript.
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Behind a TLS proxy, X-Forwarded-Proto and X-Forwarded-For are the proxy's word.
BEHIND_TLS_PROXY = env_bool("BEHIND_TLS_PROXY", False)
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_TLS_PROXY else None
)
# Behind TLS a plain-HTTP request is redirected (the probes are exempt: see health).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", BEHIND_TLS_PROXY)
# HSTS is a promise browsers keep for the whole period: off until the operator
# makes it (often the TLS proxy sends the header instead).
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MAX_REQUEST_BYTES", 1_048_576, minimum=1024)

# --- Celery ------------------------------------------------------------------------
# https://docs.celeryq.dev/en/stable/userguide/configuration.html
CELERY_BROKER_URL = broker_url_from_env("CELERY_BROKER_URL", "filesystem://")
REDIS_URL = redis_url_from_env("REDIS_URL")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    (_broker_dir / "processed").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
# The database is the source of truth for runs and executions; no result backend.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes every database connection before and after each
# task unless this is set, ignoring CONN_MAX_AGE: each message paid a fresh
# PostgreSQL backend (fork, authentication, cold catalog caches; several ms, the
# larger part of a one-run message). Set, the fixup recycles only every this many
# tasks, and core.signals applies Django's own rule before and after each task
# instead (CONN_MAX_AGE, and the health check that replaces a connection a
# database restart cut before the task's first query).
CELERY_DB_REUSE_MAX = 1000
CELERY_TASK_DEFAULT_QUEUE = "runs"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
# Component executions get their own queue so long job runs never starve them.
CELERY_TASK_ROUTES = {"executions.*": {"queue": "executions"}}
# django-celery-beat's DatabaseScheduler, whose tick also dispatches due schedules.
CELERY_BEAT_SCHEDULER = "jobruns.beat:DispatchingScheduler"
DJANGO_CELERY_BEAT_TZ_AWARE = True

# --- Job runs ----------------------------------------------------------------------
# Timings of the durability machinery; tests shorten them through the environment.
JOBRUN_HEARTBEAT_SECONDS = env_int("JOBRUN_HEARTBEAT_SECONDS", 5, minimum=1)
JOBRUN_HEARTBEAT_TIMEOUT_SECONDS = env_int(
    "JOBRUN_HEARTBEAT_TIMEOUT_SECONDS", 30, minimum=2
)
JOBRUN_REQUEUE_AFTER_SECONDS = env_int("JOBRUN_REQUEUE_AFTER_SECONDS", 60, minimum=1)
# The reaper runs in the dispatcher (beat) process this often, not as a message
# on the runs queue, where long runs holding every slot would starve it.
JOBRUN_REAP_SECONDS = env_int("JOBRUN_REAP_SECONDS", 5, minimum=1)
JOBRUN_DEFAULT_TIME_LIMIT_SECONDS = env_int(
    "JOBRUN_DEFAULT_TIME_LIMIT_SECONDS", 3600, minimum=1
)
# Seconds a run may go on after its soft time limit before the worker kills it.
JOBRUN_HARD_LIMIT_GRACE_SECONDS = env_int(
    "JOBRUN_HARD_LIMIT_GRACE_SECONDS", 30, minimum=1
)
# A dispatch batch sends its runs up to this many per message (runs with the same
# time limit): a burst of 10,000 is 500 messages, not 10,000 publishes. 1: one
# message per run, as before.
JOBRUN_RUNS_PER_MESSAGE = env_int("JOBRUN_RUNS_PER_MESSAGE", 20, minimum=1)
# A worker slot works through a message's runs one after the other until this
# many seconds passed, then sends the rest back to the queue, so one slot never
# holds runs that another idle slot could start.
JOBRUN_MESSAGE_SLICE_SECONDS = env_int("JOBRUN_MESSAGE_SLICE_SECONDS", 2, minimum=1)
JOBRUN_LOG_MAX_BYTES = env_int("JOBRUN_LOG_MAX_BYTES", 65_536, minimum=1024)
JOBRUN_KEEP_ADHOC_DAYS = env_int("JOBRUN_KEEP_ADHOC_DAYS", 30, minimum=1)
# A fire dispatched later than this after its instant counts as missed.
SCHEDULER_ON_TIME_SECONDS = env_int("SCHEDULER_ON_TIME_SECONDS", 5, minimum=1)
SCHEDULER_DISPATCH_BATCH_SIZE = env_int("SCHEDULER_DISPATCH_BATCH_SIZE", 500, minimum=1)
# Database connections one dispatcher works a backlog with (PostgreSQL): while
# one waits on its batch's statements another plans the next batch.
SCHEDULER_DISPATCH_CONNECTIONS = env_int("SCHEDULER_DISPATCH_CONNECTIONS", 2, minimum=1)
SCHEDULER_DISPATCH_MAX_SLEEP_MS = env_int(
    "SCHEDULER_DISPATCH_MAX_SLEEP_MS", 500, minimum=10
)
# Modules (besides every app's job_services.py) that register services.
SCHEDULER_SERVICE_MODULES = env_list("SCHEDULER_SERVICE_MODULES", [])
# http.request refuses loopback, private and link-local addresses unless allowed.
HTTP_REQUEST_ALLOW_PRIVATE = env_bool("HTTP_REQUEST_ALLOW_PRIVATE", False)

# --- Outgoing connections (REST, SMTP, Redis by name) ------------------------------
# Connections may reach loopback and private addresses: an editor chose them. Off,
# every connection's host must resolve to public addresses only.
CONNECTIONS_ALLOW_PRIVATE = env_bool("CONNECTIONS_ALLOW_PRIVATE", True)
# The largest body a `rest` connection reads; a larger answer fails the step.
CONNECTIONS_REST_MAX_BYTES = env_int(
    "CONNECTIONS_REST_MAX_BYTES", 10 * 1024 * 1024, minimum=1
)
# How long "this e-mail went out" is remembered, so a retry does not send again.
CONNECTIONS_SENT_EMAIL_KEEP_DAYS = env_int(
    "CONNECTIONS_SENT_EMAIL_KEEP_DAYS", 30, minimum=1
)
# What an `smtp` connection whose host is `django:` sends through (the demo's).
# https://docs.djangoproject.com/en/5.2/topics/email/#email-backends
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend"
)
EMAIL_FILE_PATH = Path(env_str("EMAIL_FILE_PATH", str(VAR_DIR / "mail")))
# POST /api/v1/services/{name}/invoke/ holds a web thread while it waits for the
# run; the API accepts up to 60 s, this lowers the ceiling (e.g. behind a proxy
# with a shorter timeout).
SERVICE_INVOKE_MAX_WAIT_SECONDS = env_int("SERVICE_INVOKE_MAX_WAIT_SECONDS", 60)

# --- REST framework and OpenAPI -------------------------------------------------------
# https://www.django-rest-framework.org/api-guide/settings/
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Bearer first: an anonymous API call gets 401 + WWW-Authenticate, not 403.
        "core.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "EXCEPTION_HANDLER": "core.api.errors.problem_exception_handler",
    # The native API speaks JSON; a view that must read forms says so itself.
    "DEFAULT_PARSER_CLASSES": ["core.api.parsers.JSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DEFAULT_PERMISSION_CLASSES": ["core.permissions.HasActionPermission"],
    "DEFAULT_SCHEMA_CLASS": "core.api.openapi.ProblemDetailsAutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
}
# Sign-in endpoints (token creation, the compatible logins) per client; the
# counter lives in the default cache, so with several web processes each counts.
AUTH_THROTTLE_RATE = env_str("AUTH_THROTTLE_RATE", "20/min")
SPECTACULAR_SETTINGS = {
    "TITLE": "Scheduler API",
    "DESCRIPTION": "Schedules, job runs and component executions.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Swagger UI and ReDoc from drf-spectacular-sidecar's static files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Tags and operation ids from the resource (`schedules_run_now_create`), so a
    # generated client groups its functions by resource.
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Several models have a `status`; name each enum after its model.
    "ENUM_NAME_OVERRIDES": {
        "JobRunStatusEnum": "jobruns.models.JobRun.Status",
        "ExecutionStatusEnum": "executions.models.Execution.Status",
        "ConnectionKindEnum": "connections.models.OutgoingConnection.Kind",
        "ScheduleKindEnum": "schedules.models.Schedule.Kind",
    },
}

# --- Component executions (verify credentials, metadata, select models) ------------
# Fernet keys, comma separated, first one encrypts; unset: derived from SECRET_KEY.
CREDENTIALS_ENCRYPTION_KEYS = [
    key.strip()
    for key in (env_secret("CREDENTIALS_ENCRYPTION_KEYS") or "").split(",")
    if key.strip()
]
EXECUTION_RESULT_TTL_SECONDS = env_int(
    "EXECUTION_RESULT_TTL_SECONDS", 86_400, minimum=1
)
EXECUTION_TIME_LIMIT_SECONDS = env_int("EXECUTION_TIME_LIMIT_SECONDS", 30, minimum=1)
EXECUTION_REQUEUE_AFTER_SECONDS = env_int(
    "EXECUTION_REQUEUE_AFTER_SECONDS", 60, minimum=1
)
EXECUTION_HTTP_TIMEOUT_SECONDS = env_int(
    "EXECUTION_HTTP_TIMEOUT_SECONDS", 10, minimum=1
)
EXECUTION_COMPONENT_MODULES = env_list(
    "EXECUTION_COMPONENT_MODULES", ["executions.components.woocommerce"]
)
# The sample shop under /demo/shop/: on for DEBUG or the laptop SQLite default.
DEMO_SHOP_ENABLED = env_bool(
    "DEMO_SHOP_ENABLED", DEBUG or not env_str("DATABASE_URL", "")
)

# --- Conductor-compatible API (/api/scheduler/..., /api/token, /api/workflow) -------
# specs/README.md. With key auth off (the SDK's "open mode"), calls without a token
# act as CONDUCTOR_ANONYMOUS_USER, which must exist; its groups decide permissions.
CONDUCTOR_AUTH_REQUIRED = env_bool("CONDUCTOR_AUTH_REQUIRED", True)
CONDUCTOR_ANONYMOUS_USER = env_str("CONDUCTOR_ANONYMOUS_USER", "conductor")
# The SDK renews its token every 45 minutes and on EXPIRED_TOKEN.
CONDUCTOR_TOKEN_TTL_SECONDS = env_int("CONDUCTOR_TOKEN_TTL_SECONDS", 3600, minimum=60)
CONDUCTOR_TOKEN_RATE = env_str("CONDUCTOR_TOKEN_RATE", "60/minute")

# --- Health ---------------------------------------------------------------------------
WORKER_SEEN_WITHIN_SECONDS = env_int("WORKER_SEEN_WITHIN_SECONDS", 60, minimum=5)
# Touched by every completed dispatch tick; `manage.py beat_alive` reads its age.
BEAT_ALIVE_FILE = Path(env_str("BEAT_ALIVE_FILE", str(VAR_DIR / "beat.alive")))
# Each worker's main process records itself this often from its own thread, so
# a worker whose every slot runs a long job is still seen (/readyz).
WORKER_HEARTBEAT_SECONDS = env_int("WORKER_HEARTBEAT_SECONDS", 15, minimum=1)

# --- Logging: one line per event, with the run or execution id where there is one
LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "context": {"()": "core.logging.ContextFilter"},
        "redact": {"()": "core.logging.RedactSecretsFilter"},
    },
    "formatters": {
        "line": {
            "format": "%(asctime)s %(levelname)s %(name)s %(context)s%(message)s",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "line",
            "filters": ["context", "redact"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "celery": {"level": LOG_LEVEL},
    },
}
