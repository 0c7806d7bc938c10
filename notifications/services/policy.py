"""A clinic's reminder policy: which messages it sends, its send window, and which
channels can reach a patient."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction

from clinic.models import Clinic, Patient, PreferredChannel
from notifications.models import (
    Channel,
    Kind,
    ReminderPolicy,
)


def policy_for(clinic: Clinic) -> ReminderPolicy:
    """The clinic's policy; the defaults (unsaved) until an admin changes something."""
    try:
        return clinic.reminder_policy
    except ReminderPolicy.DoesNotExist:
        return ReminderPolicy(clinic=clinic)


@transaction.atomic
def policy_update(clinic: Clinic, **fields: Any) -> ReminderPolicy:
    policy, _ = ReminderPolicy.objects.select_for_update().get_or_create(clinic=clinic)
    for name, value in fields.items():
        setattr(policy, name, value)
    policy.full_clean(validate_unique=False, validate_constraints=False)
    policy.save()
    return policy


def within_window(moment: dt.datetime, clinic: Clinic, policy: ReminderPolicy) -> dt.datetime:
    """Move a send time into the clinic's send window (patients are clinic-local)."""
    local = moment.astimezone(clinic.tz)
    if local.time() < policy.window_start:
        local = dt.datetime.combine(local.date(), policy.window_start, tzinfo=clinic.tz)
    elif local.time() >= policy.window_end:
        next_day = local.date() + dt.timedelta(days=1)
        local = dt.datetime.combine(next_day, policy.window_start, tzinfo=clinic.tz)
    return local


def reminder_time(
    kind: str, starts_at: dt.datetime, clinic: Clinic, policy: ReminderPolicy
) -> dt.datetime:
    """When a reminder of a session starting at ``starts_at`` is due."""
    local_day = starts_at.astimezone(clinic.tz).date()
    if kind in (Kind.DAY_BEFORE, Kind.FIRST_SESSION):
        return dt.datetime.combine(
            local_day - dt.timedelta(days=1), policy.day_before_at, tzinfo=clinic.tz
        )
    return starts_at - dt.timedelta(minutes=policy.same_day_minutes_before)


def reachable_channels(patient: Patient) -> list[str]:
    """The channels the patient agreed to and has a contact on (what a message may use)."""
    return reachable(patient.phone, patient.email, patient.sms_consent, patient.email_consent)


def reachable(phone: str, email: str, sms_consent: bool, email_consent: bool) -> list[str]:
    channels: list[str] = []
    if sms_consent and phone:
        channels.append(Channel.SMS)
    if email_consent and email:
        channels.append(Channel.EMAIL)
    return channels


def message_channels(patient: Patient) -> list[str]:
    """The channels a message to the patient goes on (see ``chosen``)."""
    return chosen(
        patient.phone,
        patient.email,
        patient.sms_consent,
        patient.email_consent,
        patient.preferred_channel,
    )


def chosen(
    phone: str, email: str, sms_consent: bool, email_consent: bool, preferred: str
) -> list[str]:
    """The channels a message goes on: the patient's preferred one when both reach them
    (both when they prefer both), else the one that does. The preference never widens
    consent: a channel without consent or contact is never chosen."""
    channels = reachable(phone, email, sms_consent, email_consent)
    if len(channels) < 2 or preferred == PreferredChannel.BOTH:
        return channels
    return [channel for channel in channels if channel == preferred] or channels
