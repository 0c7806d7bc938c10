"""Cadence settings: one module, configured from environment variables.

With neither DATABASE_URL nor CELERY_BROKER_URL set, Cadence runs on its embedded
default: SQLite and Celery's filesystem transport, both under ``var/``.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from kombu import Exchange, Queue

from clinic.env import Env, is_placeholder

env = Env()

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env.required_str("CADENCE_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DEBUG", default=False)


def _secret_key() -> str:
    configured = env.secret("SECRET_KEY") or None
    if configured is not None:
        if len(configured) < 32:
            raise ImproperlyConfigured("SECRET_KEY must be at least 32 characters long.")
        return configured
    if env.str("DATABASE_URL") is not None:
        # Several processes share a real deployment: they must share one key, so it
        # has to come from the environment rather than a file each one makes up.
        raise ImproperlyConfigured("SECRET_KEY must be set when DATABASE_URL is set.")
    # The embedded default keeps a generated key beside its database, so a local
    # install never runs on a key that is published in the repository.
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", [])

HTTPS = env.bool("CADENCE_HTTPS", default=False)
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",  # before clinic: its login-failure receiver marks a lockout before ours reads it
    "clinic",
    "courses",
    "scheduling",
    "notifications",
    "interop",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Below WhiteNoise, so static files get neither: the Content-Security-Policy header,
    # and Cache-Control: no-store on every answer to a request carrying credentials and
    # on the patient link pages (clinic/headers.py).
    "csp.middleware.CSPMiddleware",
    "clinic.headers.NoStoreMiddleware",
    "clinic.web.IdleSessionMiddleware",
    "clinic.request_guard.NulCharacterMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): the session passed the second factor (clinic/mfa.py).
    "django_otp.middleware.OTPMiddleware",
    # Until then a session that needs one reaches only the login's second step.
    "clinic.mfa_gate.SecondFactorMiddleware",
    # The request id and the audit trail of the patient data a request reads.
    "clinic.audit_trail.AuditMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: turns a login refused for a lockout into its answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "clinic.urls"
WSGI_APPLICATION = "clinic.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "clinic.web.navigation",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------
DATABASE_URL = env.str("DATABASE_URL")
DB_CONN_MAX_AGE = env.int("DB_CONN_MAX_AGE", 60, minimum=0)
if DATABASE_URL is not None:
    try:
        _database = dj_database_url.parse(DATABASE_URL, conn_max_age=DB_CONN_MAX_AGE)
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is malformed: {exc}") from None
    if _database.get("ENGINE") != "django.db.backends.postgresql":
        raise ImproperlyConfigured(
            "DATABASE_URL must point at PostgreSQL (postgres://...); "
            "leave it unset for the embedded SQLite default."
        )
    if is_placeholder(str(_database.get("PASSWORD") or "")):
        raise ImproperlyConfigured("DATABASE_URL's password is still a placeholder (CHANGE-ME).")
    _database["CONN_HEALTH_CHECKS"] = True
    DATABASES = {"default": _database}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(VAR_DIR / "cadence.sqlite3"),
            "OPTIONS": {
                # IMMEDIATE takes the write lock when a transaction starts, so two
                # concurrent bookings serialize instead of failing on lock upgrade.
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": (
                    "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;PRAGMA foreign_keys=ON;"
                ),
            },
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Logins: lockout (django-axes) and the client address ---------------------------------
# Every login path (/accounts/login/, /admin/login/, POST /api/v1/auth/token/) goes
# through authenticate(); the axes backend first refuses a locked-out username or address.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# How many reverse proxies of our own stand in front of Cadence: 0 believes no
# X-Forwarded-For at all (clinic/client_address.py). The docker example runs behind one.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", 0, minimum=0)
# Audit events are kept this many years (HIPAA: six at least), then purged nightly.
AUDIT_RETENTION_YEARS = env.int("AUDIT_RETENTION_YEARS", 6, minimum=6)
# On: the audit events a request writes at its end (its reads, refusals) wait for the
# WAL flush as a write does. Off (default): they commit asynchronously on PostgreSQL, and
# a crash of the database server may lose the last fraction of a second's (docs/security.md).
AUDIT_SYNCHRONOUS_COMMIT = env.bool("AUDIT_SYNCHRONOUS_COMMIT", default=False)
AXES_CLIENT_IP_CALLABLE = "clinic.client_address.client_address"
# Locked out after this many failures for one username (from anywhere) or from one
# address (for any usernames), until LOGIN_LOCKOUT_MINUTES after the last failure.
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
# A try during a lockout neither counts nor extends it: the unlock time we announce holds.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# A success must not wipe the failures: it would wipe its address's failures against
# other usernames too, letting anyone with an account reset an attack's count.
AXES_RESET_ON_SUCCESS = False
AXES_LOCKOUT_CALLABLE = "clinic.lockout.lockout_response"
# The database handler works alike on PostgreSQL and the embedded SQLite default, and
# every process sees the same counts (the cache is per process without CACHE_URL).
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
# Logins (successes and failures) go to Cadence's own audit trail (clinic.audit).
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False

# --- The second factor (clinic/mfa.py, docs/security.md) -------------------------------
# TOTP codes from an authenticator app, or one of ten recovery codes. Required for
# psychiatrists, clinic admins and superusers; for everyone when a clinic they work for
# says so. Each wrong code doubles the wait before the next try on that device (1, 2, 4
# ... seconds times the factor) and counts as a failed login for the lockout above.
OTP_TOTP_ISSUER = env.required_str("MFA_ISSUER", "Cadence")
OTP_TOTP_THROTTLE_FACTOR = env.int("MFA_THROTTLE_SECONDS", 1, minimum=1)
OTP_STATIC_THROTTLE_FACTOR = OTP_TOTP_THROTTLE_FACTOR
MFA_RECOVERY_CODES = 10
# The admin lists and deletes people's devices (a lost phone) but never shows their
# secret keys, QR codes or recovery codes: those would be a second factor in other hands.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
# Never kept in django-axes' record of a failed login's form.
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "otp", "code"]

# Every way a person sets a password (the one-time link, the change page, the admin's
# own-password page) goes through Django's forms, which run these. Twelve characters at
# least (NIST SP 800-63B allows 8; a clinic holding psychiatric records asks for more),
# none from the common-password list, and not twelve spaces or the product's name.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "clinic.passwords.VariedCharactersValidator"},
    {"NAME": "clinic.passwords.ProductNameValidator"},
]

# A staff member's set-password and reset links (clinic/accounts.py) work once and for
# this long. One day: a link sitting in an inbox is a credential, and a person whose
# first link expired asks for a new one on the login page's "forgot" link.
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_LINK_HOURS", 24, minimum=1) * 3600

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_AGE = env.int("SESSION_IDLE_MINUTES", 15, minimum=1) * 60
SESSION_SAVE_EVERY_REQUEST = True  # except a page's own refresh: see clinic.web
# The day board reloads its sessions this often while nobody works in it; 0: never.
BOARD_REFRESH_SECONDS = env.int("BOARD_REFRESH_SECONDS", 60, minimum=0)
# Flash messages may name a patient ("Course booked for ..."): keep them server-side in
# the session, never in a (signed but readable) cookie.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

# --- Content-Security-Policy (django-csp) ----------------------------------------------
# Scripts and styles only from Cadence's own static files: no inline <script>, no on...=
# handlers, no <style> or style="" (htmx's indicator styles are off in base.html). The API
# docs page relaxes styles and images for Swagger UI (clinic/api_docs.py). docs/security.md.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# --- API ----------------------------------------------------------------------------
API_TOKEN_TTL_HOURS = env.int("API_TOKEN_TTL_HOURS", 24 * 30, minimum=1)
# A person's tokens that work at once (one per login); a new login past it revokes the
# oldest (clinic/tokens.py).
API_TOKENS_PER_PERSON = env.int("API_TOKENS_PER_PERSON", 50, minimum=1)
# /api/schema/ and /api/docs/ for logged-in people only (on in the docker example; off by
# default so a local install's docs open without a login).
API_DOCS_REQUIRE_LOGIN = env.bool("API_DOCS_REQUIRE_LOGIN", default=False)

REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "clinic.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "clinic.pagination.Pagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "clinic.schema.CadenceAutoSchema",
    "EXCEPTION_HANDLER": "clinic.api_common.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # DRF's JSONParser lets deep nesting (RecursionError) and 1e400 (infinity) through.
    "DEFAULT_PARSER_CLASSES": ["clinic.parsers.SafeJSONParser"],
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_RATES": {"login": env.required_str("LOGIN_THROTTLE_RATE", "20/min")},
    # DRF's throttles find the client as clinic/client_address.py does.
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append(
        "rest_framework.renderers.BrowsableAPIRenderer"
    )

SPECTACULAR_SETTINGS = {
    "TITLE": "Cadence API",
    "DESCRIPTION": "Scheduling and course tracking for rTMS clinics.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # OpenAPI links from creates and lists to what takes the new object's id.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "clinic.schema_links.add_links",
        "clinic.schema.bound_query_dates",
    ],
    # Swagger UI assets are served by the app itself: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "clinic.models.Role",
        "InstrumentEnum": "courses.instruments.InstrumentCode",
        "SessionStatusEnum": "scheduling.models.SessionStatus",
        "SessionKindEnum": "scheduling.models.SessionKind",
        "CourseStatusEnum": "courses.models.CourseStatus",
        "ScreeningStatusEnum": "courses.models.ScreeningStatus",
        "PhaseKindEnum": "courses.models.PhaseKind",
        "CoilEnum": "clinic.models.Coil",
        "MappingScheduleEnum": "courses.models.MappingSchedule",
        "WebhookEventEnum": "notifications.models.WebhookEvent",
        "WebhookDeliveryStatusEnum": "notifications.models.DeliveryStatus",
        "WaitlistStatusEnum": "scheduling.models.WaitlistStatus",
        "TimePreferenceEnum": "scheduling.models.TimePreference",
    },
}

# --- FHIR R4 (interop/, docs/fhir.md) ---------------------------------------------------
# The base of Cadence's own FHIR naming: each clinic's MRN identifier system, its code
# systems and extensions. An EHR matches patients by these URIs: set it once, to a URL
# the deployment controls, and keep it.
FHIR_NAMING_BASE = env.required_str("FHIR_NAMING_BASE", "https://cadence.invalid/fhir")

# --- Cache: shared by every process when CACHE_URL names Redis (login throttling) ---
CACHE_URL = env.str("CACHE_URL")
if CACHE_URL is not None:
    if not CACHE_URL.startswith(("redis://", "rediss://")):
        raise ImproperlyConfigured("CACHE_URL must be a redis:// or rediss:// URL.")
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
    }

# --- Celery -------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL")
if CELERY_BROKER_URL is None:
    _broker_dir = VAR_DIR / "celery" / "broker"
    _processed_dir = VAR_DIR / "celery" / "processed"
    for _folder in (_broker_dir, _processed_dir, VAR_DIR / "celery" / "control"):
        _folder.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(_processed_dir),
        "store_processed": False,
        # Broadcast messages (remote control) would otherwise land in ./control.
        "control_folder": str(VAR_DIR / "celery" / "control"),
    }
    _default_results = f"file://{VAR_DIR / 'celery' / 'results'}"
    (VAR_DIR / "celery" / "results").mkdir(parents=True, exist_ok=True)
elif not CELERY_BROKER_URL.startswith(("redis://", "rediss://", "filesystem://")):
    raise ImproperlyConfigured("CELERY_BROKER_URL must be a redis:// or rediss:// URL.")
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
    _default_results = CELERY_BROKER_URL
CELERY_RESULT_BACKEND = env.required_str("CELERY_RESULT_BACKEND", _default_results)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

CELERY_DEFAULT_EXCHANGE = Exchange("default", type="direct")
CELERY_TASK_QUEUES = (
    Queue("default", CELERY_DEFAULT_EXCHANGE, routing_key="default"),
    Queue("reminders", Exchange("reminders", type="direct"), routing_key="reminders"),
)

# --- Notifications ------------------------------------------------------------------
NOTIFICATION_TRANSPORTS = {
    "sms": env.required_str("SMS_TRANSPORT", "notifications.transports.ConsoleTransport"),
    "email": env.required_str("EMAIL_TRANSPORT", "notifications.transports.ConsoleTransport"),
}
# Credentials refuse an example file's placeholders (CHANGE-ME); with the Twilio transport
# configured they are required, so a deployment never starts unable to text anyone.
_TWILIO_ON = NOTIFICATION_TRANSPORTS["sms"].endswith("TwilioTransport")
TWILIO_ACCOUNT_SID = env.secret("TWILIO_ACCOUNT_SID", required=_TWILIO_ON)
TWILIO_AUTH_TOKEN = env.secret("TWILIO_AUTH_TOKEN", required=_TWILIO_ON)
TWILIO_FROM_NUMBER = env.secret("TWILIO_FROM_NUMBER", required=_TWILIO_ON)
TWILIO_BASE_URL = env.str("TWILIO_BASE_URL")  # tests point the SDK at a local server
# Public URL of /webhooks/sms/status/ for delivery callbacks (unset: none requested).
SMS_STATUS_CALLBACK_URL = env.str("SMS_STATUS_CALLBACK_URL")
NOTIFICATION_LEASE_SECONDS = env.int("NOTIFICATION_LEASE_SECONDS", 120, minimum=5)
# How many messages one send task claims and sends (docs/reminders.md, "Sending").
NOTIFICATION_BATCH_SIZE = env.int("NOTIFICATION_BATCH_SIZE", 100, minimum=1)
REMINDER_HORIZON_HOURS = env.int("REMINDER_HORIZON_HOURS", 48, minimum=1)

# --- Outbound webhooks (docs/webhooks.md) -----------------------------------------------
# The key each endpoint's signing secret is derived from (with the endpoint's salt);
# unset: derived from SECRET_KEY. Changing it changes every endpoint's secret.
WEBHOOK_KEY = env.secret("WEBHOOK_KEY")
WEBHOOK_LEASE_SECONDS = env.int("WEBHOOK_LEASE_SECONDS", 60, minimum=5)
WEBHOOK_TIMEOUT_SECONDS = env.int("WEBHOOK_TIMEOUT_SECONDS", 10, minimum=1)
# The first retry's delay; each next one doubles it (with jitter), up to 8 attempts.
WEBHOOK_RETRY_BASE_SECONDS = env.int("WEBHOOK_RETRY_BASE_SECONDS", 30, minimum=1)
# Endpoints are https:// only; this lets http:// reach the loopback interface (tests, a
# receiver on the same host). Never on in production.
WEBHOOK_ALLOW_LOOPBACK_HTTP = env.bool("WEBHOOK_ALLOW_LOOPBACK_HTTP", default=False)
# Where patients and staff reach Cadence (links in patient messages and invitations);
# unset: patient messages carry no link. scripts/run sets its own address.
PUBLIC_BASE_URL = env.required_str("PUBLIC_BASE_URL", "")

# --- Email --------------------------------------------------------------------------
# Default: each email a file under var/mail/ (staff alerts name patients: not on stdout,
# which is the log). Production sets the SMTP backend.
EMAIL_BACKEND = env.required_str(
    "EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend"
)
EMAIL_FILE_PATH = VAR_DIR / "mail"
EMAIL_HOST = env.required_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env.int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env.secret("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env.secret("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.required_str("DEFAULT_FROM_EMAIL", "cadence@localhost")

# --- Logging: never patient data; request paths only at warning level ------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.required_str("LOG_LEVEL", "INFO")},
}
