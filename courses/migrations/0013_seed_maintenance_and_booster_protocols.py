"""Seed a maintenance protocol and a booster protocol in the shared catalog.

Sources, and how far they go (read before relying on them):

- Maintenance ("maintenance-10hz"): once a week for a month, every 2 weeks for two
  months, then once a month for three months: 4 + 4 + 3 = 11 sessions over about
  6 months. This is the schedule Dr. John O'Reardon described as his own practice at
  the 2019 Clinical TMS Society meeting, as reported by D. J. Stultz, "Relapse, Taper,
  Rescue and Maintenance TMS", Clinical TMS Society newsletter
  (clinicaltmssociety.org/newsletter/article/relapse-taper-rescue-and-maintenance-tms).
  It is a practitioner's schedule reported in a society newsletter, not a trial
  protocol; the same article cites the tapering schedules of Connolly et al. (2012)
  and Richieri et al. (2013) and the meta-analysis of Senova et al. (2018), whose
  exact schedules we have not checked. A systematic review (D'Andrea et al., J Pers
  Med 2023;13(4):697) found the published maintenance protocols heterogeneous and
  reported that two or fewer sessions a month did not prevent relapse in the studies
  it reviewed; a clinic may prefer a denser final phase (copy the protocol and edit it).
  "Monthly" is booked every 4 weeks. The stimulation is the catalog's standard 10 Hz.
- Booster ("booster-10hz-week"): 5 sessions over 1 week (daily, Mon-Fri) at the
  standard 10 Hz parameters. We could not verify a published trial of this exact
  booster. The Clinical TMS Society's 2023 "Preservation TMS" recommendations advise a
  repeated acute course for a relapse, and the 2019 meeting report above mentions
  "clustered" re-treatment courses within a year without fixing their length; a
  one-week course of five daily sessions was studied as an acute treatment by
  Bortolomasi et al. (Psychiatry Res 2007;150:181-186, 20 Hz). The booster here is a
  short cluster in that spirit; the psychiatrist lengthens it (scheduling's
  "lengthen") when the response calls for a full course.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import migrations

STANDARD_10HZ = {
    "slot_minutes": 40,
    "stimulation": "10 Hz",
    "frequency_hz": Decimal("10"),
    "pulses_per_session": 3000,
    "intensity_pct_mt": 120,
    "coil": "figure-8",
    "treatment_minutes": 37,
}

CATALOG = [
    {
        "code": "maintenance-10hz",
        "name": "Maintenance, 10 Hz (weekly, every 2 weeks, then monthly)",
        **STANDARD_10HZ,
        # (kind, sessions, per_week, every_weeks)
        "phases": [
            ("continuation", 4, 1, 1),
            ("continuation", 4, 1, 2),
            ("continuation", 3, 1, 4),
        ],
    },
    {
        "code": "booster-10hz-week",
        "name": "Booster, 10 Hz (5 sessions over 1 week)",
        **STANDARD_10HZ,
        "phases": [("treatment", 5, 5, 1)],
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
                protocol=protocol,
                order=order,
                kind=kind,
                sessions=sessions,
                per_week=per_week,
                every_weeks=every_weeks,
            )
            for order, (kind, sessions, per_week, every_weeks) in enumerate(phases, 1)
        )


def unseed(apps, schema_editor):
    apps.get_model("courses", "Protocol").objects.filter(
        clinic=None, code__in=[entry["code"] for entry in CATALOG]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("courses", "0012_course_types_phase_cadence_and_changes")]

    operations = [migrations.RunPython(seed, unseed)]
