"""Settings come from the environment; malformed values stop start-up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from clinic.env import Env

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, django
from django.conf import settings
django.setup()
db = settings.DATABASES["default"]
print(json.dumps({
    "engine": db["ENGINE"],
    "options": {k: str(v) for k, v in db.get("OPTIONS", {}).items()},
    "broker": settings.CELERY_BROKER_URL,
    "debug": settings.DEBUG,
    "email_backend": settings.EMAIL_BACKEND,
    "email_file_path": str(settings.EMAIL_FILE_PATH),
}))
"""


def _start(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {
            "DATABASE_URL",
            "CELERY_BROKER_URL",
            "CELERY_RESULT_BACKEND",
            "DEBUG",
            "SECRET_KEY",
            "EMAIL_BACKEND",
        }
    }
    clean.update(
        {"DJANGO_SETTINGS_MODULE": "clinic.settings", "CADENCE_VAR_DIR": str(tmp_path), **env}
    )
    return subprocess.run(  # noqa: S603
        [sys.executable, "-c", PROBE], cwd=ROOT, env=clean, capture_output=True, text=True
    )


def test_embedded_default_is_sqlite_and_filesystem_broker(tmp_path: Path) -> None:
    result = _start(tmp_path)
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    assert config["engine"] == "django.db.backends.sqlite3"
    assert config["options"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in config["options"]["init_command"]
    assert config["broker"] == "filesystem://"
    assert config["debug"] is False
    # Staff emails name patients: files under var/, not the console (the log).
    assert config["email_backend"] == "django.core.mail.backends.filebased.EmailBackend"
    assert config["email_file_path"] == str(tmp_path / "mail")
    assert (tmp_path / "celery" / "broker").is_dir()
    secret = tmp_path / "secret_key"
    assert secret.exists() and oct(secret.stat().st_mode & 0o777) == "0o600"


def test_database_url_selects_postgres(tmp_path: Path) -> None:
    result = _start(
        tmp_path, DATABASE_URL="postgres://u@db.example:5432/cadence", SECRET_KEY="k" * 40
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["engine"] == "django.db.backends.postgresql"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DEBUG", "maybe", "DEBUG='maybe' is not a boolean"),
        ("DB_CONN_MAX_AGE", "soon", "DB_CONN_MAX_AGE='soon' is not an integer"),
        ("DATABASE_URL", "mysql://x@y/z", "must point at PostgreSQL"),
        ("DATABASE_URL", "not a url", "DATABASE_URL"),
        ("CELERY_BROKER_URL", "amqp://guest@localhost//", "CELERY_BROKER_URL"),
        ("SECRET_KEY", "short", "SECRET_KEY must be at least 32"),
        ("ALLOWED_HOSTS", "a,,b", "ALLOWED_HOSTS"),
        ("SESSION_IDLE_MINUTES", "0", "SESSION_IDLE_MINUTES=0 must be at least 1"),
        ("CACHE_URL", "memcached://x", "CACHE_URL must be a redis"),
    ],
)
def test_malformed_values_stop_start_up(
    tmp_path: Path, name: str, value: str, message: str
) -> None:
    result = _start(tmp_path, **{"SECRET_KEY": "k" * 40, name: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_postgres_needs_a_shared_secret_key(tmp_path: Path) -> None:
    result = _start(tmp_path, DATABASE_URL="postgres://u@db.example:5432/cadence")
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DATABASE_URL is set" in result.stderr


def test_env_parsing() -> None:
    env = Env({"A": " yes ", "B": "OFF", "N": "7", "L": "a, b", "E": "  "})
    assert env.bool("A", default=False) is True
    assert env.bool("B", default=True) is False
    assert env.bool("E", default=True) is True
    assert env.int("N", 0, minimum=1) == 7
    assert env.list("L", []) == ["a", "b"]
    assert env.str("MISSING") is None
    with pytest.raises(ImproperlyConfigured):
        env.int("A", 0)


# Issue 15, item 8: docker/cadence.env.example's CHANGE-ME values must stop start-up, as
# a too-short SECRET_KEY does, instead of running with a credential printed in the repo.
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"TWILIO_AUTH_TOKEN": "CHANGE-ME"}, "TWILIO_AUTH_TOKEN is still a placeholder"),
        ({"TWILIO_ACCOUNT_SID": "changeme"}, "TWILIO_ACCOUNT_SID is still a placeholder"),
        ({"TWILIO_FROM_NUMBER": "+1CHANGEME"}, "TWILIO_FROM_NUMBER is still a placeholder"),
        ({"EMAIL_HOST_PASSWORD": "CHANGE-ME"}, "EMAIL_HOST_PASSWORD is still a placeholder"),
        ({"EMAIL_HOST_USER": "placeholder"}, "EMAIL_HOST_USER is still a placeholder"),
        ({"SECRET_KEY": "CHANGE-ME" + "-" * 40}, "SECRET_KEY is still a placeholder"),
        (
            {"DATABASE_URL": "postgres://cadence:CHANGE-ME@db.example:5432/cadence"},
            "DATABASE_URL's password is still a placeholder",
        ),
        (
            {"SMS_TRANSPORT": "notifications.transports.TwilioTransport"},
            "TWILIO_ACCOUNT_SID must be set",
        ),
    ],
)
def test_placeholder_credentials_stop_start_up(
    tmp_path: Path, extra: dict[str, str], message: str
) -> None:
    result = _start(tmp_path, **{"SECRET_KEY": "k" * 40, **extra})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_real_twilio_credentials_start(tmp_path: Path) -> None:
    result = _start(
        tmp_path,
        SECRET_KEY="k" * 40,
        SMS_TRANSPORT="notifications.transports.TwilioTransport",
        TWILIO_ACCOUNT_SID="AC" + "0" * 32,
        TWILIO_AUTH_TOKEN="f" * 32,
        TWILIO_FROM_NUMBER="+15005550006",
    )
    assert result.returncode == 0, result.stderr
