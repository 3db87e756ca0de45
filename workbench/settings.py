"""Claimbench settings: one module, read from the environment.

With nothing set, the embedded default serves a single machine: SQLite in
var/, Celery on kombu's filesystem transport in var/, uploads in var/media/.
Every variable read here is listed, with its default, in .env.example.
"""

from __future__ import annotations

from pathlib import Path

import django_stubs_ext
import environ
from django.core.exceptions import ImproperlyConfigured

# Lets admin and QuerySet generics be subscripted at run time, as the type stubs write them.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("CLAIMBENCH_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)

# Secret keys that are public (in this repository, in docs, or Django's
# placeholder) are refused outright: a site running with one is forgeable.
_KNOWN_SECRET_KEYS = {
    "",
    "change-me",
    "changeme",
    "secret",
    "django-insecure-demo-key-for-local-use-only",
}
DEMO_SECRET_KEY = "django-insecure-demo-key-for-local-use-only"
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY to a long random value (see .env.example), "
            "or set DEBUG=True for local development."
        )
    SECRET_KEY = DEMO_SECRET_KEY
elif not DEBUG and (
    SECRET_KEY in _KNOWN_SECRET_KEYS or SECRET_KEY.startswith("django-insecure-") or len(SECRET_KEY) < 32
):
    raise ImproperlyConfigured(
        "SECRET_KEY is a known, placeholder or short value (fewer than 32 characters). "
        "Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
    )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "annotations",
]

MIDDLEWARE = [
    # First: every later middleware's log lines, and every response, carry the request id.
    "annotations.request_id.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "annotations.middleware.SecurityHeadersMiddleware",
    # A lost database connection answers a clean 503 (JSON for the API and the page's fetch).
    "annotations.middleware.DatabaseUnavailableMiddleware",
    # Last, as django-axes asks: it reads the outcome of authentication.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "workbench.urls"
WSGI_APPLICATION = "workbench.wsgi.application"
ASGI_APPLICATION = "workbench.asgi.application"

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

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server read while the worker writes; the timeout makes a
    # writer wait for the lock instead of failing with "database is locked".
    # IMMEDIATE takes the write lock when a transaction begins: a deferred one that
    # reads first and then writes cannot wait for the lock, and fails at once under load.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend with the per-request user lookup as hand-written SQL (annotations/fastsql.py).
    "annotations.auth_backends.ModelBackend",
]
# The database session store, its per-request read as hand-written SQL; same table, same rules.
SESSION_ENGINE = "annotations.sessions"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "annotations:project_list"
LOGOUT_REDIRECT_URL = "login"

# A real lockout (DESIGN rule 14): five failures per username and address lock
# the pair for an hour; counted in the database so parallel requests share it.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = 1  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
# Counted in the database, which every gunicorn worker shares (a per-process cache would not be).
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
# The socket's address only: a client-set X-Forwarded-For must not buy fresh attempts, even if
# django-ipware gets installed. Behind a proxy, set it to the header the proxy overwrites.
AXES_IPWARE_META_PRECEDENCE_ORDER = env.list("AXES_CLIENT_IP_HEADERS", default=["REMOTE_ADDR"])

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = "media/"  # never served by the app: files go out through permission-checked views
STORAGES = {
    "default": {
        "BACKEND": env.str("DEFAULT_FILE_STORAGE_BACKEND", default="django.core.files.storage.FileSystemStorage")
    },
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Uploads: bodies above this are refused; files above the memory limit spool to disk.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=20 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
CLAIMBENCH_MAX_UPLOAD_BYTES = env.int("CLAIMBENCH_MAX_UPLOAD_BYTES", default=1024 * 1024 * 1024)

# --- Celery -----------------------------------------------------------------
# The cache every web process shares: the API's per-token and anonymous throttles count there, so
# with several gunicorn workers it must be Redis (CACHE_URL=redis://…); the default, one process's
# memory, is right only for a single process (make run).
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # kombu's default control folder is ./control, relative to wherever a process starts.
        "control_folder": str(_broker_dir / "control"),
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
    }
else:
    # Redelivery after a dead worker happens when the visibility timeout passes.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)}
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 60 * 60  # an import of a large corpus may take minutes, never hours
CELERY_TASK_SOFT_TIME_LIMIT = 55 * 60
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Export files are kept this many days, then the beat task deletes them (the Job row stays).
CLAIMBENCH_EXPORT_RETENTION_DAYS = env.int("CLAIMBENCH_EXPORT_RETENTION_DAYS", default=7)
# Test-only: lets tests/faults make a job kill its worker (see jobs._inject_test_fault). Never in production.
CLAIMBENCH_FAULT_INJECTION = env.bool("CLAIMBENCH_FAULT_INJECTION", default=False)
CELERY_BEAT_SCHEDULE = {
    "expire-export-files": {"task": "annotations.tasks.expire_export_files", "schedule": 60 * 60},
}

# --- REST framework ----------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: a request with a bad token is refused (401) rather than falling back to the session.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "annotations.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["annotations.api.permissions.IsAuthenticatedMember"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # orjson-backed, byte-compatible with DRF's JSONRenderer (annotations/api/renderers.py).
    "DEFAULT_RENDERER_CLASSES": ["annotations.api.renderers.FastJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "annotations.api.pagination.IdCursorPagination",
    "EXCEPTION_HANDLER": "annotations.api.exceptions.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "annotations.api.permissions.TokenRateThrottle",
        "annotations.api.permissions.AnonymousRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "token": env.str("API_THROTTLE_TOKEN", default="6000/min"),
        "anon": env.str("API_THROTTLE_ANON", default="60/min"),
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
# The changes feed serves a change only when every earlier one is committed (annotations/api/feed.py).
CLAIMBENCH_CHANGES_COMMIT_LAG = env.float("CLAIMBENCH_CHANGES_COMMIT_LAG", default=2.0)
SPECTACULAR_SETTINGS = {
    "TITLE": "Claimbench API",
    "DESCRIPTION": "Documents, annotations and gold for downstream tools. Errors: {code, message, field}.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI's files come from drf-spectacular-sidecar, served by us: the CSP allows no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Security ------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
_behind_tls = env.bool("HTTPS", default=not DEBUG)
SESSION_COOKIE_SECURE = _behind_tls
CSRF_COOKIE_SECURE = _behind_tls
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=_behind_tls)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if _behind_tls else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _behind_tls
SECURE_HSTS_PRELOAD = _behind_tls
if env.bool("USE_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # One JSON object per line with the request id (or the Celery task's job id): annotations/request_id.py.
    "filters": {"context": {"()": "annotations.request_id.LogContextFilter"}},
    "formatters": {"json": {"()": "annotations.request_id.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["context"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}
