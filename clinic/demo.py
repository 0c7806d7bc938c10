"""Demo data for a local install: a Brooklyn clinic with staff, chairs and patients.

Idempotent: running it again updates the same rows instead of adding more. Demo
passwords are generated on first run (or taken from CADENCE_DEMO_PASSWORD) and kept in
``var/demo-logins.txt`` so that later runs print the same logins.

The logins that need a second factor (the superuser, the psychiatrist and the clinic
admin) get a demo authenticator: ``python manage.py demo_otp USERNAME`` prints the code
it shows now (and, with ``--uri``, the link that adds it to a real authenticator app).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import secrets
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from clinic import mfa
from clinic.models import Chair, Clinic, Coil, OpeningHours, Patient, Role, StaffMembership

User = get_user_model()

CLINIC_SLUG = "brooklyn"
DEMO_USERS: list[tuple[str, str | None, str, str]] = [
    # username, role (None: superuser), first name, last name
    ("admin", None, "Ada", "Admin"),
    ("frontdesk", Role.FRONT_DESK, "Frankie", "Desk"),
    ("technician", Role.TECHNICIAN, "Terry", "Tech"),
    ("psychiatrist", Role.PSYCHIATRIST, "Priya", "Raman"),
    ("clinicadmin", Role.CLINIC_ADMIN, "Carmen", "Ortiz"),
]
FIRST_NAMES = [
    "Ana",
    "Ben",
    "Chloe",
    "Darnell",
    "Elena",
    "Farah",
    "Gabriel",
    "Hannah",
    "Isaac",
    "Jasmine",
    "Kenji",
    "Leah",
    "Marcus",
    "Nadia",
    "Omar",
    "Priscilla",
    "Quentin",
    "Rosa",
    "Samuel",
    "Tamar",
    "Uma",
    "Victor",
    "Wendy",
    "Xavier",
    "Yara",
]
LAST_NAMES = [
    "Abramov",
    "Baptiste",
    "Cohen",
    "Delgado",
    "Eze",
    "Fischer",
    "Goldberg",
    "Hernandez",
    "Ivanova",
    "Jackson",
    "Kowalski",
    "Levy",
    "Morales",
    "Nguyen",
    "O'Brien",
    "Patel",
    "Quinn",
    "Rosenberg",
    "Santos",
    "Thompson",
    "Usman",
    "Vasquez",
    "Williams",
    "Xu",
    "Yilmaz",
]
AREA_CODES = ["718", "347", "929", "917"]
# The name of the demo logins' authenticators: demo_otp shows codes of these only.
DEMO_DEVICE_NAME = "Demo authenticator"


def demo_authenticator(username: str) -> TOTPDevice | None:
    """The demo authenticator of a demo login (None for anyone else)."""
    return (
        TOTPDevice.objects.filter(user__username=username, name=DEMO_DEVICE_NAME, confirmed=True)
        .order_by("id")
        .first()
    )


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str


def _password_file() -> Path:
    return Path(settings.VAR_DIR) / "demo-logins.txt"


def _demo_passwords(fixed: str | None) -> dict[str, str]:
    if fixed:
        return {username: fixed for username, *_ in DEMO_USERS}
    path = _password_file()
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    for username, *_ in DEMO_USERS:
        stored.setdefault(username, secrets.token_urlsafe(12))
    path.write_text(json.dumps(stored, indent=2))
    path.chmod(0o600)
    return stored


def _patients(count: int) -> list[dict[str, object]]:
    # A fixed seed keeps the demo identical across runs; these are not secrets.
    rng = random.Random(20261126)  # noqa: S311
    rows = []
    for index in range(count):
        first, last = FIRST_NAMES[index % len(FIRST_NAMES)], LAST_NAMES[index % len(LAST_NAMES)]
        # 555-0100..0199 numbers are valid but reserved for fiction.
        phone = f"+1{AREA_CODES[index % len(AREA_CODES)]}55501{index:02d}"
        birthday = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(0, 365 * 50))
        rows.append(
            {
                "mrn": f"BK-{1001 + index}",
                "first_name": first,
                "last_name": last,
                "date_of_birth": birthday,
                "phone": phone,
                "email": f"{first.lower()}.{last.lower().replace(chr(39), '')}@example.com",
                "sms_consent": index % 5 != 0,
                "email_consent": index % 3 != 0,
            }
        )
    return rows


@transaction.atomic
def seed_clinic(*, password: str | None = None, patients: int = 25) -> list[DemoLogin]:
    clinic, _ = Clinic.objects.update_or_create(
        slug=CLINIC_SLUG,
        defaults={
            "name": "Cadence Brooklyn",
            "timezone": "America/New_York",
            "display_name": "Park Slope Wellness",
            "phone": "+17185550100",
        },
    )
    for weekday in range(5):
        OpeningHours.objects.update_or_create(
            clinic=clinic,
            weekday=weekday,
            defaults={"opens": dt.time(7, 30), "closes": dt.time(19, 0)},
        )
    OpeningHours.objects.filter(clinic=clinic, weekday__gte=5).delete()
    for number in range(1, 5):
        Chair.objects.update_or_create(
            clinic=clinic,
            name=f"Chair {number}",
            defaults={
                "device": "MagVenture MagPro R30" if number % 2 else "Neuronetics NeuroStar",
                "coils": [Coil.FIGURE_8],
            },
        )
    # The deep TMS courses need an H-coil chair: no figure-8 chair may take them.
    Chair.objects.update_or_create(
        clinic=clinic,
        name="Chair 5",
        defaults={"device": "BrainsWay Deep TMS 104", "coils": [Coil.H1, Coil.H7]},
    )
    for row in _patients(patients):
        Patient.objects.update_or_create(clinic=clinic, mrn=row["mrn"], defaults=row)

    passwords = _demo_passwords(password)
    logins = []
    for username, role, first_name, last_name in DEMO_USERS:
        user, _ = User.objects.get_or_create(username=username)
        user.first_name, user.last_name = first_name, last_name
        user.email = f"{username}@example.com"
        user.is_active = True
        user.is_superuser = user.is_staff = role is None
        user.set_password(passwords[username])
        user.save()
        if role is not None:
            StaffMembership.objects.update_or_create(
                user=user, clinic=clinic, defaults={"role": role}
            )
        logins.append(DemoLogin(username, passwords[username], role or "superuser"))
    for user in User.objects.filter(username__in=[username for username, *_ in DEMO_USERS]):
        if mfa.required(user) and mfa.authenticator(user) is None:
            TOTPDevice.objects.create(user=user, name=DEMO_DEVICE_NAME, confirmed=True)

    from scheduling.demo import seed_month

    seed_month(
        clinic,
        psychiatrist=User.objects.get(username="psychiatrist"),
        technician=User.objects.get(username="technician"),
    )
    return logins
