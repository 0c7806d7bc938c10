"""Factories shared by every app's tests."""

from __future__ import annotations

import datetime as dt

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
