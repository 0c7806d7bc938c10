"""Which changes become webhook deliveries, and what their bodies say (docs/webhooks.md):
every event type from the service that makes the change, in its transaction; ids and
states only; nothing for a clinic without endpoints, a disabled endpoint, an event the
endpoint does not take, or another clinic.

The clock is frozen at Wednesday 25 November 2026, 12:00 in New York; the course starts
on Monday 30 November at 09:30, one session a weekday.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction

from clinic.models import Role
from courses.models import CourseStatus, RiskLevel, TreatmentCourse
from courses.services import assessment_record, course_transition
from notifications import services
from notifications.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent
from scheduling import services as scheduling
from scheduling.models import Session, SessionStatus
from scheduling.risk import recompute_risk
from tests.factories import ClinicFactory, MembershipFactory

RECORD = {"pulses_delivered": 3000, "intensity_pct_mt": 120, "coil_position": "F3"}
MONDAY_1030 = dt.datetime(2026, 11, 30, 15, 30, tzinfo=dt.UTC)


@pytest.fixture
def endpoint(clinic: Any) -> WebhookEndpoint:
    made, _ = services.webhook_endpoint_create(
        clinic, url="https://ehr.example.org/hooks", events=WebhookEvent.values
    )
    return made


@pytest.fixture
def booked(
    endpoint: WebhookEndpoint, make_course: Callable[..., Any], chairs: Any, frozen_now: Any
) -> list[Session]:
    course = make_course()
    return sorted(scheduling.course_schedule(course), key=lambda s: s.starts_at)


def _bodies(event: str) -> list[dict[str, Any]]:
    rows = WebhookDelivery.objects.filter(event=event).order_by("id")
    return [json.loads(row.body) for row in rows]


def _last(event: str) -> dict[str, Any]:
    bodies = _bodies(event)
    assert bodies, f"no {event} delivery"
    return bodies[-1]


def test_a_booked_course_sends_one_event_per_session(
    booked: list[Session], endpoint: WebhookEndpoint
) -> None:
    bodies = _bodies(WebhookEvent.SESSION_BOOKED)
    assert [b["data"]["session"]["id"] for b in bodies] == [s.pk for s in booked]
    first = bodies[0]
    assert first["type"] == "session.booked" and first["clinic"] == endpoint.clinic_id
    assert first["data"]["session"] == {
        "id": booked[0].pk,
        "course": booked[0].course_id,
        "patient": booked[0].patient_id,
        "chair": booked[0].chair_id,
        "kind": booked[0].kind,
        "status": "scheduled",
        "starts_at": "2026-11-30T14:30:00Z",
        "ends_at": booked[0].ends_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "makeup_for": None,
    }
    assert len({b["id"] for b in bodies}) == len(bodies)  # an id per event
    rows = WebhookDelivery.objects.filter(event=WebhookEvent.SESSION_BOOKED)
    assert {row.status for row in rows} == {DeliveryStatus.PENDING}
    assert {str(row.event_id) for row in rows} == {b["id"] for b in bodies}


def test_no_names_phones_or_emails_in_any_body(booked: list[Session]) -> None:
    patient = booked[0].patient
    scheduling.session_cancel(booked[1], reason=f"{patient.first_name} is ill")
    text = "".join(WebhookDelivery.objects.values_list("body", flat=True))
    for private in (patient.first_name, patient.last_name, patient.phone, patient.email):
        assert private and private not in text
    assert " is ill" not in text  # the clinic's own words stay in Cadence


def test_move_cancel_complete_and_miss(booked: list[Session], clinic: Any, frozen_now: Any) -> None:
    first, second, third = booked[:3]
    scheduling.session_move(second, starts_at=second.starts_at + dt.timedelta(hours=2))
    moved = _last(WebhookEvent.SESSION_MOVED)["data"]
    assert moved["session"]["id"] == second.pk
    assert moved["session"]["starts_at"] == "2026-12-01T16:30:00Z"
    assert moved["previous_starts_at"] == "2026-12-01T14:30:00Z"

    scheduling.session_cancel(third, reason="ill")
    cancelled = _last(WebhookEvent.SESSION_CANCELLED)["data"]
    assert cancelled["session"]["status"] == "cancelled" and cancelled["cause"] == "staff"

    technician = MembershipFactory(clinic=clinic, role=Role.TECHNICIAN).user
    frozen_now.move_to(first.starts_at + dt.timedelta(minutes=5))
    scheduling.session_check_in(first, by=technician)
    scheduling.session_complete(first, technician=technician, **RECORD)
    completed = _last(WebhookEvent.SESSION_COMPLETED)["data"]["session"]
    assert (completed["id"], completed["status"]) == (first.pk, "completed")

    frozen_now.move_to(booked[3].starts_at + dt.timedelta(minutes=5))
    scheduling.session_mark_missed(booked[3])
    missed = _last(WebhookEvent.SESSION_MISSED)["data"]["session"]
    assert (missed["id"], missed["status"]) == (booked[3].pk, SessionStatus.MISSED)
    # The missed visit's make-up is a booking too.
    makeup = Session.objects.get(makeup_for=booked[3])
    assert _last(WebhookEvent.SESSION_BOOKED)["data"]["session"]["makeup_for"] == booked[3].pk
    assert _last(WebhookEvent.SESSION_BOOKED)["data"]["session"]["id"] == makeup.pk


def test_the_first_check_in_starts_the_course(
    booked: list[Session], clinic: Any, frozen_now: Any
) -> None:
    course = booked[0].course
    assert course.status == CourseStatus.PLANNED
    frozen_now.move_to(booked[0].starts_at)
    scheduling.session_check_in(booked[0], by=MembershipFactory(clinic=clinic).user)
    body = _last(WebhookEvent.COURSE_STATUS_CHANGED)["data"]
    assert body["course"]["id"] == course.pk
    assert (body["previous_status"], body["course"]["status"]) == ("planned", "active")


def test_status_risk_and_assessment_events(
    booked: list[Session], clinic: Any, psychiatrist: Any, frozen_now: Any
) -> None:
    course = booked[0].course
    course_transition(course, CourseStatus.DISCONTINUED, by=psychiatrist, reason="moved away")
    status = _last(WebhookEvent.COURSE_STATUS_CHANGED)["data"]
    assert (status["previous_status"], status["course"]["status"]) == ("planned", "discontinued")
    released = _bodies(WebhookEvent.SESSION_CANCELLED)
    assert {b["data"]["cause"] for b in released} == {"released"}
    assert len(released) == len(booked)

    TreatmentCourse.objects.filter(pk=course.pk).update(risk_level=RiskLevel.AT_RISK)
    assert recompute_risk([course.pk]) == 1
    risk = _last(WebhookEvent.COURSE_RISK_CHANGED)["data"]
    assert risk["previous_risk_level"] == RiskLevel.AT_RISK
    assert risk["course"]["risk_level"] == TreatmentCourse.objects.get(pk=course.pk).risk_level

    scored = assessment_record(
        course, instrument="gad7", score=17, administered_on=dt.date(2026, 11, 24), by=psychiatrist
    )
    body = _last(WebhookEvent.ASSESSMENT_RECORDED)
    assert body["data"] == {
        "assessment": {
            "id": scored.pk,
            "course": course.pk,
            "patient": course.patient_id,
            "instrument": "gad7",
            "administered_on": "2026-11-24",
        }
    }
    assert "17" not in json.dumps(body["data"])  # the score is read through the API


def test_a_single_booking_is_an_event(
    endpoint: WebhookEndpoint, make_course: Callable[..., Any], chairs: Any, frozen_now: Any
) -> None:
    session = scheduling.session_book(make_course(), starts_at=MONDAY_1030)
    body = _last(WebhookEvent.SESSION_BOOKED)
    assert body["data"]["session"]["id"] == session.pk


def test_events_follow_the_endpoints_choices_and_clinic(
    clinic: Any, make_course: Callable[..., Any], chairs: Any, frozen_now: Any
) -> None:
    only_moves, _ = services.webhook_endpoint_create(
        clinic, url="https://a.example.org/", events=[WebhookEvent.SESSION_MOVED]
    )
    services.webhook_endpoint_create(
        clinic, url="https://b.example.org/", events=WebhookEvent.values, active=False
    )
    services.webhook_endpoint_create(
        ClinicFactory(), url="https://c.example.org/", events=WebhookEvent.values
    )
    booked = scheduling.course_schedule(make_course())
    assert not WebhookDelivery.objects.exists()
    scheduling.session_move(booked[0], starts_at=booked[0].starts_at + dt.timedelta(hours=1))
    assert list(WebhookDelivery.objects.values_list("endpoint", "event")) == [
        (only_moves.pk, WebhookEvent.SESSION_MOVED)
    ]


def test_an_event_for_two_endpoints_shares_its_id(
    endpoint: WebhookEndpoint, clinic: Any, make_course: Callable[..., Any], frozen_now: Any
) -> None:
    second, _ = services.webhook_endpoint_create(
        clinic, url="https://warehouse.example.org/", events=[WebhookEvent.COURSE_STATUS_CHANGED]
    )
    course = make_course()
    course_transition(course, CourseStatus.DISCONTINUED, by=course.psychiatrist, reason="")
    rows = WebhookDelivery.objects.filter(event=WebhookEvent.COURSE_STATUS_CHANGED)
    assert {row.endpoint_id for row in rows} == {endpoint.pk, second.pk}
    assert len({row.event_id for row in rows}) == 1
    assert len({row.body for row in rows}) == 1


def test_deliveries_roll_back_with_the_change(booked: list[Session]) -> None:
    before = WebhookDelivery.objects.count()

    class Abandoned(Exception):
        pass

    with pytest.raises(Abandoned), transaction.atomic():
        scheduling.session_cancel(booked[2], reason="")
        assert WebhookDelivery.objects.filter(event=WebhookEvent.SESSION_CANCELLED).exists()
        raise Abandoned
    assert WebhookDelivery.objects.count() == before


def test_the_clinic_knows_whether_it_has_an_active_endpoint(
    clinic: Any, make_course: Callable[..., Any], chairs: Any, frozen_now: Any
) -> None:
    """Clinic.has_webhooks follows the endpoints (a booking reads it instead of looking
    endpoints up); a course booked while the clinic has none writes no delivery, one
    booked after an endpoint is enabled again writes its events."""

    def flag() -> bool:
        return bool(type(clinic).objects.get(pk=clinic.pk).has_webhooks)

    assert not flag()
    first, _ = services.webhook_endpoint_create(
        clinic, url="https://a.example.org/", events=WebhookEvent.values, active=False
    )
    assert not flag()
    second, _ = services.webhook_endpoint_create(
        clinic, url="https://b.example.org/", events=WebhookEvent.values
    )
    assert flag()
    services.webhook_endpoint_update(second, active=False)
    assert not flag()
    scheduling.course_schedule(make_course())
    assert not WebhookDelivery.objects.exists()
    services.webhook_endpoint_update(first, active=True)
    assert flag()
    services.webhook_endpoint_delete(second)
    assert flag()
    booked = scheduling.course_schedule(make_course())
    assert WebhookDelivery.objects.filter(event=WebhookEvent.SESSION_BOOKED).count() == len(booked)
    services.webhook_endpoint_delete(first)
    assert not flag()
