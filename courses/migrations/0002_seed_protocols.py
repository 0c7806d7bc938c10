"""Seed the protocol catalog from DESIGN.md (rows without a clinic: every clinic sees them)."""

from __future__ import annotations

from decimal import Decimal

from django.db import migrations

TAPER = [(3, 3), (2, 2), (1, 1)]

CATALOG = [
    {
        "code": "10hz-standard",
        "name": "10 Hz left DLPFC (standard)",
        "slot_minutes": 40,
        "stimulation": "10 Hz",
        "frequency_hz": Decimal("10"),
        "pulses_per_session": 3000,
        "intensity_pct_mt": 120,
        "coil": "figure-8",
        "treatment_minutes": 37,
        "phases": [("treatment", 30, 5)] + [("taper", s, w) for s, w in TAPER],
    },
    {
        "code": "10hz-dash",
        "name": "10 Hz left DLPFC, 11 s ITI (DASH)",
        "slot_minutes": 20,
        "stimulation": "10 Hz",
        "frequency_hz": Decimal("10"),
        "pulses_per_session": 3000,
        "intensity_pct_mt": 120,
        "coil": "figure-8",
        "treatment_minutes": 19,
        "phases": [("treatment", 30, 5)] + [("taper", s, w) for s, w in TAPER],
    },
    {
        "code": "itbs",
        "name": "Intermittent theta burst (iTBS)",
        "slot_minutes": 10,
        "stimulation": "iTBS",
        "frequency_hz": Decimal("50"),
        "pulses_per_session": 600,
        "intensity_pct_mt": 120,
        "coil": "figure-8",
        "treatment_minutes": 3,
        "phases": [("treatment", 30, 5)] + [("taper", s, w) for s, w in TAPER],
    },
    {
        "code": "deep-tms-h1",
        "name": "Deep TMS, 18 Hz H1 coil",
        "slot_minutes": 25,
        "stimulation": "18 Hz",
        "frequency_hz": Decimal("18"),
        "pulses_per_session": 1980,
        "intensity_pct_mt": 120,
        "coil": "H1",
        "treatment_minutes": 20,
        "phases": [("treatment", 20, 5), ("taper", 24, 2)],
    },
    {
        "code": "snt-accelerated",
        "name": "Accelerated iTBS (SNT-style), 10 a day",
        "slot_minutes": 15,
        "stimulation": "iTBS",
        "frequency_hz": Decimal("50"),
        "pulses_per_session": 1800,
        "intensity_pct_mt": 90,
        "coil": "figure-8",
        "treatment_minutes": 10,
        "sessions_per_day": 10,
        "min_gap_minutes": 50,
        "phases": [("treatment", 50, 5)],
    },
]


def seed(apps, schema_editor):
    Protocol = apps.get_model("courses", "Protocol")
    ProtocolPhase = apps.get_model("courses", "ProtocolPhase")
    for entry in CATALOG:
        entry = dict(entry)
        phases = entry.pop("phases")
        protocol, _ = Protocol.objects.update_or_create(
            clinic=None, code=entry.pop("code"), defaults=entry
        )
        protocol.phases.all().delete()
        ProtocolPhase.objects.bulk_create(
            ProtocolPhase(
                protocol=protocol, order=order, kind=kind, sessions=sessions, per_week=per_week
            )
            for order, (kind, sessions, per_week) in enumerate(phases, 1)
        )


def unseed(apps, schema_editor):
    apps.get_model("courses", "Protocol").objects.filter(
        clinic=None, code__in=[entry["code"] for entry in CATALOG]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("courses", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
