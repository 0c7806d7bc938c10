"""Factories shared by every app's tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

import factory
from django.contrib.auth import get_user_model

from clinic.models import Chair, ChairBlock, Clinic, Closure, OpeningHours, Patient, StaffMembership


class ClinicFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Clinic
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Clinic {n}")
    slug = factory.Sequence(lambda n: f"clinic-{n}")
    timezone = "America/New_York"
    display_name = factory.Sequence(lambda n: f"Wellness Center {n}")
    phone = "+17185550100"

    @factory.post_generation
    def weekday_hours(self, create: bool, extracted: object, **kwargs: object) -> None:
        if not create or extracted is False:
            return
        OpeningHours.objects.bulk_create(
            OpeningHours(clinic=self, weekday=day, opens=dt.time(7, 30), closes=dt.time(19))
            for day in range(5)
        )


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery")

    @factory.post_generation
    def saved(self, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            self.save()


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StaffMembership

    user = factory.SubFactory(UserFactory)
    clinic = factory.SubFactory(ClinicFactory)
    role = "front_desk"


class ChairFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Chair

    clinic = factory.SubFactory(ClinicFactory)
    name = factory.Sequence(lambda n: f"Chair {n}")
    device = "MagVenture MagPro R30"


class ChairBlockFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChairBlock

    chair = factory.SubFactory(ChairFactory)
    starts_at = factory.LazyFunction(lambda: dt.datetime(2026, 12, 1, 14, tzinfo=dt.UTC))
    ends_at = factory.LazyAttribute(lambda block: block.starts_at + dt.timedelta(hours=2))
    reason = "Coil service"


class ClosureFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Closure

    clinic = factory.SubFactory(ClinicFactory)
    date = factory.Sequence(lambda n: dt.date(2026, 12, 24) + dt.timedelta(days=n))
    reason = "Holiday"


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    clinic = factory.SubFactory(ClinicFactory)
    mrn = factory.Sequence(lambda n: f"MRN-{n:06d}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    date_of_birth = dt.date(1980, 5, 17)
    phone = factory.Sequence(lambda n: f"+1718555{n % 10000:04d}")
    email = factory.Sequence(lambda n: f"patient{n}@example.com")
    sms_consent = True
    email_consent = True
    # Messages on both channels, as every patient got them before the preferred channel
    # (the migration keeps that for patients who agreed to both); tests of the
    # preference set it.
    preferred_channel = "both"


# --- courses -------------------------------------------------------------------------


def catalog_protocol(code: str = "10hz-standard") -> Any:
    from courses.models import Protocol

    return Protocol.objects.get(clinic=None, code=code)


class ProtocolFactory(factory.django.DjangoModelFactory):
    """A clinic's own protocol: 10 sessions at 5 a week."""

    class Meta:
        model = "courses.Protocol"
        skip_postgeneration_save = True

    clinic = factory.SubFactory(ClinicFactory)
    code = factory.Sequence(lambda n: f"custom-{n}")
    name = factory.Sequence(lambda n: f"Custom protocol {n}")
    slot_minutes = 30
    mapping_minutes = 60
    stimulation = "10 Hz"
    frequency_hz = 10
    pulses_per_session = 3000
    intensity_pct_mt = 120
    treatment_minutes = 25

    @factory.post_generation
    def phases(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        from courses.models import ProtocolPhase

        if create:
            for order, (sessions, per_week) in enumerate(extracted or [(10, 5)], 1):
                ProtocolPhase.objects.create(
                    protocol=self, order=order, sessions=sessions, per_week=per_week
                )


class ScreeningFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "courses.Screening"
        skip_postgeneration_save = True

    patient = factory.SubFactory(PatientFactory)

    @factory.post_generation
    def trials(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        from courses.models import FailedTrial

        if create and extracted is not False:
            for drug in ("sertraline", "bupropion"):
                FailedTrial.objects.create(
                    screening=self, drug=drug, dose="150 mg", weeks=8, outcome="no_response"
                )


def cleared_screening(patient: Any, by: Any) -> Any:
    from courses import services

    return services.screening_clear(ScreeningFactory(patient=patient), by=by, reason="")


class CourseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "courses.TreatmentCourse"

    patient = factory.SubFactory(PatientFactory)
    psychiatrist = factory.LazyAttribute(
        lambda course: MembershipFactory(clinic=course.patient.clinic, role="psychiatrist").user
    )
    protocol = factory.LazyFunction(catalog_protocol)
    indication = "mdd"
    start_date = dt.date(2026, 11, 30)
    preferred_time = dt.time(9, 30)


class AssessmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "courses.Assessment"

    course = factory.SubFactory(CourseFactory)
    instrument = "phq9"
    score = 18
    administered_on = dt.date(2026, 11, 27)


class MotorThresholdFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "courses.MotorThreshold"

    course = factory.SubFactory(CourseFactory)
    measured_on = dt.date(2026, 11, 30)
    machine_output_pct = 55
    method = "visual"
    measured_by = factory.SubFactory(UserFactory)


# --- scheduling ----------------------------------------------------------------------


class SessionFactory(factory.django.DjangoModelFactory):
    """A session written directly (no service): for reads and permission tests."""

    class Meta:
        model = "scheduling.Session"

    course = factory.SubFactory(CourseFactory)
    patient = factory.LazyAttribute(lambda session: session.course.patient)
    chair = factory.LazyAttribute(
        lambda session: ChairFactory(clinic=session.course.patient.clinic)
    )
    starts_at = factory.Sequence(
        lambda n: dt.datetime(2027, 6, 7, 14, 0, tzinfo=dt.UTC) + dt.timedelta(days=n)
    )
    ends_at = factory.LazyAttribute(lambda session: session.starts_at + dt.timedelta(minutes=40))
    kind = "treatment"
    phase = 1
