from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.core.cache import cache
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from rest_framework.test import APIClient

from clinic import mfa, tokens
from clinic.models import Role
from tests.factories import ClinicFactory, MembershipFactory, UserFactory
from tests.second_factor import authenticator_of

# No test is timed (the figures live in benchmarks/): Hypothesis's deadline per example and
# its "generation is slow" check measure the machine's load, not the code. A test's own
# @settings(suppress_health_check=...) replaces this list, so those name too_slow again.
hypothesis_settings.register_profile(
    "cadence", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.load_profile("cadence")

ROLES = [role.value for role in Role]


@pytest.fixture(autouse=True)
def _plain_static_storage(settings: Any) -> None:
    # The manifest storage needs collectstatic; tests render pages without it.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _second_factor_on_test_logins(monkeypatch: pytest.MonkeyPatch) -> None:
    """``client.force_login``/``client.login`` give a session that passed the second
    factor (as /accounts/mfa/verify/ leaves it), so tests of pages need not enter codes.
    tests/clinic/test_mfa.py logs in through the real pages instead."""
    original = Client._login

    def login_verified(self: Client, user: Any, backend: str | None = None) -> None:
        original(self, user, backend)
        session = self.session
        if session.get(mfa.SESSION_KEY) == mfa.PENDING:
            # What django_otp.login() leaves in the session.
            session[DEVICE_ID_SESSION_KEY] = authenticator_of(user).persistent_id
            del session[mfa.SESSION_KEY]
            session.save()

    monkeypatch.setattr(Client, "_login", login_verified)


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    cache.clear()


@pytest.fixture(autouse=True)
def _protocol_catalog(request: pytest.FixtureRequest) -> None:
    """Transactional tests end with a flush that empties every table, the protocol
    catalog seeded by a data migration included: seed it again for the next one."""
    marker = request.node.get_closest_marker("django_db")
    transactional = marker is not None and marker.kwargs.get("transaction")
    if not transactional and "live_server" not in request.fixturenames:
        return
    request.getfixturevalue("transactional_db")
    seed = importlib.import_module("courses.migrations.0002_seed_protocols").seed
    seed(django_apps, None)
    continuation = importlib.import_module("courses.migrations.0007_phase_kind_continuation")
    continuation.mark_continuation(django_apps, None)
    importlib.import_module("courses.migrations.0013_seed_maintenance_and_booster_protocols").seed(
        django_apps, None
    )


@pytest.fixture
def clinic(db: None) -> Any:
    return ClinicFactory(name="Brooklyn", slug="brooklyn")


@pytest.fixture
def other_clinic(db: None) -> Any:
    return ClinicFactory(name="Queens", slug="queens")


@pytest.fixture
def staff(clinic: Any) -> Callable[..., Any]:
    def make(role: str = Role.FRONT_DESK, in_clinic: Any = None, **user_fields: Any) -> Any:
        membership = MembershipFactory(
            clinic=in_clinic or clinic, role=role, user=UserFactory(**user_fields)
        )
        return membership.user

    return make


@pytest.fixture
def superuser(db: None) -> Any:
    return UserFactory(is_superuser=True, is_staff=True)


def bearer_client(user: Any | None) -> APIClient:
    client = APIClient()
    if user is not None:
        _, plain = tokens.new_token(user, "tests")
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {plain}")
    return client


@pytest.fixture
def api() -> Callable[[Any | None], APIClient]:
    return bearer_client


@pytest.fixture(scope="session")
def django_db_modify_db_settings(
    django_db_modify_db_settings_parallel_suffix: None, request: pytest.FixtureRequest
) -> None:
    """On SQLite, test in a file (one per xdist worker) under CADENCE_VAR_DIR instead of
    Django's shared-cache memory database: the threads of the concurrency tests then
    wait on the file's lock with the busy timeout, as the processes of the embedded
    default do, instead of failing at once with "database table is locked"."""
    from django.conf import settings as django_settings

    database = django_settings.DATABASES["default"]
    if database["ENGINE"] != "django.db.backends.sqlite3":
        return
    worker = getattr(request.config, "workerinput", {}).get("workerid", "main")
    test_name = Path(django_settings.VAR_DIR) / f"test-{worker}.sqlite3"
    assert str(test_name) != database["NAME"], "the test database must not be the real one"
    database.setdefault("TEST", {})["NAME"] = str(test_name)


@pytest.fixture
def api_as(
    api: Callable[[Any | None], APIClient], staff: Callable[..., Any]
) -> Callable[..., APIClient]:
    """An API client of a new staff member with ``role`` (``staff``'s keywords too)."""
    return lambda role, **kwargs: api(staff(role, **kwargs))


@pytest.fixture
def page_as(client: Client, staff: Callable[..., Any]) -> Callable[[str], Client]:
    """The test client, logged in as a new staff member with ``role``."""

    def as_role(role: str) -> Client:
        client.force_login(staff(role))
        return client

    return as_role
