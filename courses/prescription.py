"""What a course prescribes for each session, and how a delivered session departs from it.

One rule, read by the technician's form (its starting values), the service that
completes a session (it stores the deviations and refuses one without a reason, for the
API and the page alike) and the psychiatrist's pages (which show them).

The clinical reading of "outside the tolerance":

- pulses more than ``PULSES_TOLERANCE_PCT`` off the prescription, above or below (a
  session stopped early, or run on);
- intensity above the prescribed % of motor threshold (more than prescribed is a safety
  matter); below it is allowed without a reason (ramping up over the first sessions, or
  lowered for tolerability) but still recorded and shown;
- a coil position other than the prescribed one, compared without regard to case or
  spacing. Only a position the psychiatrist prescribed counts: the protocol's target
  ("left DLPFC") names a region, not a position, so without a prescribed position the
  technician's more precise entry is not a deviation.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from django.db.models import OuterRef, Subquery

from courses.models import MotorThreshold, TreatmentCourse

PULSES_TOLERANCE_PCT = 10


class Deviation(StrEnum):
    PULSES_LOW = "pulses_low"
    PULSES_HIGH = "pulses_high"
    INTENSITY_ABOVE = "intensity_above"
    INTENSITY_BELOW = "intensity_below"
    COIL_POSITION = "coil_position"


DEVIATION_WORDS = {
    Deviation.PULSES_LOW: f"pulses more than {PULSES_TOLERANCE_PCT}% below the prescription",
    Deviation.PULSES_HIGH: f"pulses more than {PULSES_TOLERANCE_PCT}% above the prescription",
    Deviation.INTENSITY_ABOVE: "intensity above the prescription",
    Deviation.INTENSITY_BELOW: "intensity below the prescription",
    Deviation.COIL_POSITION: "coil position other than prescribed",
}
# The one departure that needs no reason (TreatmentRecord's constraint says the same).
NO_REASON_NEEDED = frozenset({Deviation.INTENSITY_BELOW})


@dataclass(frozen=True)
class Prescription:
    pulses: int
    intensity_pct_mt: int
    coil_position: str  # empty: none prescribed
    target: str  # the protocol's, e.g. "left DLPFC"
    motor_threshold_pct: int | None = None  # the latest, % of machine output
    motor_threshold_on: dt.date | None = None

    @property
    def form_coil_position(self) -> str:
        """What the technician's form starts from: the position, else the target."""
        return self.coil_position or self.target

    @property
    def machine_output_pct(self) -> int | None:
        """The machine output the intensity means at the latest threshold."""
        if self.motor_threshold_pct is None:
            return None
        return round(self.motor_threshold_pct * self.intensity_pct_mt / 100)


def prescription_for(
    course: TreatmentCourse,
    *,
    motor_threshold_pct: int | None = None,
    motor_threshold_on: dt.date | None = None,
) -> Prescription:
    """The course's prescription (read with its protocol); the latest motor threshold is
    passed in by callers that read it (``latest_threshold``), so this costs no query."""
    protocol = course.protocol
    return Prescription(
        pulses=course.prescribed_pulses or protocol.pulses_per_session,
        intensity_pct_mt=course.prescribed_intensity_pct_mt or protocol.intensity_pct_mt,
        coil_position=course.prescribed_coil_position.strip(),
        target=protocol.target,
        motor_threshold_pct=motor_threshold_pct,
        motor_threshold_on=motor_threshold_on,
    )


def latest_threshold(course_ref: str, field: str = "machine_output_pct") -> Subquery:
    """A subquery for annotating rows that reference a course (``course_ref``, e.g.
    ``"course_id"``) with a field of its latest motor threshold."""
    return Subquery(
        MotorThreshold.objects.filter(course_id=OuterRef(course_ref))
        .order_by("-measured_on", "-id")
        .values(field)[:1]
    )


def _same_position(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def deviations(
    prescription: Prescription, *, pulses_delivered: int, intensity_pct_mt: int, coil_position: str
) -> list[str]:
    """The codes (``Deviation``, in its order) of how a record departs from the
    prescription; empty when it is within the tolerance."""
    found: list[str] = []
    allowed = prescription.pulses * PULSES_TOLERANCE_PCT / 100
    if pulses_delivered < prescription.pulses - allowed:
        found.append(Deviation.PULSES_LOW)
    elif pulses_delivered > prescription.pulses + allowed:
        found.append(Deviation.PULSES_HIGH)
    if intensity_pct_mt > prescription.intensity_pct_mt:
        found.append(Deviation.INTENSITY_ABOVE)
    elif intensity_pct_mt < prescription.intensity_pct_mt:
        found.append(Deviation.INTENSITY_BELOW)
    if prescription.coil_position and not _same_position(coil_position, prescription.coil_position):
        found.append(Deviation.COIL_POSITION)
    return [str(code) for code in found]


def needs_reason(found: list[str]) -> bool:
    return any(code not in NO_REASON_NEEDED for code in found)


def describe(found: list[str]) -> str:
    """``["pulses_low", "intensity_above"]`` → "pulses more than 10% below the
    prescription; intensity above the prescription"."""
    return "; ".join(DEVIATION_WORDS[Deviation(code)] for code in found)
