"""The short signed link in a text message: there when the whole text still fits one
GSM-7 segment, carrying nothing about the patient, dying with a move (issue 14,
item 14)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clinic.models import Clinic, Patient
from clinic.patient_text import sms_segments
from notifications import content, links, services
from notifications.models import Channel, Kind, Notification, Status
from notifications.transports import Outgoing
from scheduling import services as scheduling
from scheduling.models import Session
from tests.factories import ClinicFactory, PatientFactory
from tests.notifications.test_outbox import (  # its autouse outbox fixture too
    TUE,
    _local,
    _notification,
    book,
    outbox,
    sessions,
)

__all__ = ["book", "outbox", "sessions"]  # fixtures

BASE = "https://cadence.example.org"
SHORT_BASE = "https://cdnc.example"
SHORT_LINK = re.compile(re.escape(BASE) + r"/p/([0-9a-z]+[A-Za-z0-9_-]{10})(?=\s)")


@pytest.fixture(autouse=True)
def _public_url(settings: Any) -> None:
    settings.PUBLIC_BASE_URL = BASE


def _render(
    kind: str, session: Session, *, link: str, first_name: str = "Ann", **clinic: Any
) -> str:
    place = ClinicFactory.build(phone="+13475550187", **clinic)
    patient = PatientFactory.build(clinic=place, first_name=first_name)
    return content.render(
        kind, Channel.SMS, patient=patient, clinic=place, at=session.starts_at, link=link
    ).body


def test_a_day_before_text_carries_the_short_link_and_the_yes_hint(
    sessions: list[Session], outbox: list[Outgoing], frozen_now: Any, settings: Any
) -> None:
    """A short clinic name and a short public host leave room for both."""
    settings.PUBLIC_BASE_URL = SHORT_BASE
    second = sessions[1]
    Clinic.objects.filter(pk=second.chair.clinic_id).update(display_name="Elm Care")
    Patient.objects.filter(pk=second.patient_id).update(first_name="Ann")
    row = _notification(second, Kind.DAY_BEFORE)
    assert services.send(row.pk) == Status.SENT
    body = outbox[-1].body
    found = re.search(re.escape(SHORT_BASE) + r"/p/(\S+) ", body)
    assert found, body
    assert body.endswith(" Reply YES to confirm, STOP to opt out.")
    assert sms_segments(body) == 1
    token = found.group(1)
    assert "Ann" not in token and second.patient.last_name not in token
    # The link opens the visit's page, where the patient confirms it.
    page = Client().get(f"/p/{token}")
    assert page.status_code == 200
    assert "Tue Dec 1" in page.content.decode()
    Client().post(f"/p/{token}", {"action": "confirm"})
    second.refresh_from_db()
    assert second.patient_confirmed_at is not None


def test_the_link_goes_before_the_yes_hint_when_only_one_fits(
    sessions: list[Session], outbox: list[Outgoing]
) -> None:
    Clinic.objects.filter(pk=sessions[1].chair.clinic_id).update(display_name="Elm Care")
    Patient.objects.filter(pk=sessions[1].patient_id).update(first_name="Jeremy")
    row = _notification(sessions[1], Kind.DAY_BEFORE)
    assert services.send(row.pk) == Status.SENT
    body = outbox[-1].body
    assert SHORT_LINK.search(body), body
    assert body.endswith(" Reply STOP to opt out.")


def test_the_email_keeps_the_full_link(sessions: list[Session], outbox: list[Outgoing]) -> None:
    row = _notification(sessions[1], Kind.DAY_BEFORE, Channel.EMAIL)
    assert services.send(row.pk) == Status.SENT
    assert f"{BASE}/p/session/" in outbox[-1].body
    assert not SHORT_LINK.search(outbox[-1].body)


def test_a_link_that_does_not_fit_leaves_the_text_as_it_was(sessions: list[Session]) -> None:
    long_names = {"display_name": "Prospect Heights Wellness Ctr"}
    link = links.short_session_link(sessions[1])
    with_link = _render(
        Kind.DAY_BEFORE, sessions[1], link=link, first_name="Maximiliana", **long_names
    )
    without = _render(Kind.DAY_BEFORE, sessions[1], link="", first_name="Maximiliana", **long_names)
    assert link not in with_link
    assert with_link == without
    assert "Maximiliana" in with_link and sms_segments(with_link) == 1


def test_a_text_needing_no_answer_has_no_link(
    sessions: list[Session], outbox: list[Outgoing]
) -> None:
    row = _notification(sessions[1], Kind.SAME_DAY)
    assert services.send(row.pk) == Status.SENT
    assert BASE not in outbox[-1].body


@settings(
    max_examples=40,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    first_name=st.text(min_size=1, max_size=40),
    display_name=st.text(st.sampled_from("ABCDEFGHIJ klmnop&'"), min_size=1, max_size=40),
    kind=st.sampled_from(list(Kind)),
)
def test_every_text_fits_one_segment_with_or_without_its_link(
    sessions: list[Session], first_name: str, display_name: str, kind: str
) -> None:
    link = links.short_session_link(sessions[1])
    body = _render(kind, sessions[1], link=link, first_name=first_name, display_name=display_name)
    assert sms_segments(body) == 1, body


# --- the short token --------------------------------------------------------------------


def test_the_token_is_short_and_names_no_patient(sessions: list[Session]) -> None:
    token = links.short_token(sessions[1])
    assert len(token) <= 22
    assert links.session_from_short_token(token) == sessions[1]


@pytest.mark.parametrize("change", ["tampered", "truncated", "other-session", "garbage", "huge-id"])
def test_a_forged_token_opens_nothing(sessions: list[Session], change: str) -> None:
    token = links.short_token(sessions[1])
    forged = {
        "tampered": token[:-1] + ("A" if token[-1] != "A" else "B"),
        "truncated": token[:-2],
        "other-session": links.short_token(sessions[2])[:-10] + token[-10:],
        "garbage": "!!!!!!!!!!!!!!!",
        "huge-id": "z" * 13 + token[-10:],
    }[change]
    assert links.session_from_short_token(forged) is None
    assert Client().get(f"/p/{forged}").status_code == 404


def test_the_link_dies_when_the_visit_moves(sessions: list[Session], frozen_now: Any) -> None:
    token = links.short_token(sessions[1])
    scheduling.session_move(sessions[1], starts_at=_local(TUE, 11))
    assert Client().get(f"/p/{token}").status_code == 404


def test_the_link_dies_a_day_after_the_visit(sessions: list[Session], frozen_now: Any) -> None:
    token = links.short_token(sessions[1])
    frozen_now.move_to(sessions[1].starts_at + dt.timedelta(hours=23))
    assert Client().get(f"/p/{token}").status_code == 200
    frozen_now.move_to(sessions[1].starts_at + dt.timedelta(hours=25))
    assert Client().get(f"/p/{token}").status_code == 404


def test_no_public_address_no_link(
    sessions: list[Session], outbox: list[Outgoing], settings: Any
) -> None:
    settings.PUBLIC_BASE_URL = ""
    row = _notification(sessions[1], Kind.DAY_BEFORE)
    assert services.send(row.pk) == Status.SENT
    assert "/p/" not in outbox[-1].body
    assert Notification.objects.get(pk=row.pk).status == Status.SENT


def test_a_short_link_a_day_after_the_visit_shows_the_clinics_phone(
    sessions: list[Session], frozen_now: Any
) -> None:
    token = links.short_token(sessions[1])
    clinic = sessions[1].chair.clinic
    frozen_now.move_to(sessions[1].starts_at + dt.timedelta(hours=25))
    response = Client().get(f"/p/{token}")
    assert response.status_code == 404
    assert content.display_phone(clinic.phone) in response.content.decode()
