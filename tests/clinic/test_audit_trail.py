"""The audit trail records reads, writes, exports, logins and refusals of patient data
(issue 15, item 3), each through the path a person takes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from clinic import audit_read
from clinic.models import AuditEvent, Role
from tests.factories import (
    AssessmentFactory,
    CourseFactory,
    PatientFactory,
    SessionFactory,
)


def _events(**filters: Any) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(**filters).order_by("id"))


def _found_by_patient(event: AuditEvent, patient_ids: list[int]) -> set[int]:
    """Which of these patients' searches (``?patient=``) find the event."""
    one = AuditEvent.objects.filter(pk=event.pk)
    return {p for p in patient_ids if audit_read.naming_patient(one, p).exists()}


# --- API reads ------------------------------------------------------------------------


def test_api_list_records_one_view_of_the_page_patients(clinic: Any, staff: Any, api: Any) -> None:
    patients = PatientFactory.create_batch(3, clinic=clinic)
    user = staff(Role.FRONT_DESK)
    response = api(user).get(
        "/api/v1/patients/", HTTP_X_REQUEST_ID="req-12345678", REMOTE_ADDR="203.0.113.9"
    )
    assert response.status_code == 200
    assert response["X-Request-ID"] == "req-12345678"
    (event,) = _events(action="view")
    assert event.actor == user and event.actor_role == Role.FRONT_DESK
    assert event.clinic_id == clinic.pk
    assert event.object_type == "clinic.patient" and event.object_id == ""
    assert sorted(event.patient_ids) == sorted(p.pk for p in patients)
    others = PatientFactory(clinic=clinic).pk
    assert _found_by_patient(event, [p.pk for p in patients] + [others]) == {p.pk for p in patients}
    assert event.client_address == "203.0.113.9"
    assert event.request_id == "req-12345678"
    assert event.channel == "api"


def test_api_detail_of_a_course_records_its_patient(clinic: Any, staff: Any, api: Any) -> None:
    course = CourseFactory(patient=PatientFactory(clinic=clinic))
    response = api(staff(Role.PSYCHIATRIST)).get(f"/api/v1/courses/{course.pk}/")
    assert response.status_code == 200
    events = _events(action="view", object_type="courses.treatmentcourse")
    assert [(e.object_id, e.patient_ids) for e in events] == [(str(course.pk), [course.patient_id])]


def test_api_list_of_sessions_names_their_patients(clinic: Any, staff: Any, api: Any) -> None:
    sessions = [
        SessionFactory(course=CourseFactory(patient=PatientFactory(clinic=clinic)))
        for _ in range(2)
    ]
    assert api(staff(Role.FRONT_DESK)).get("/api/v1/sessions/").status_code == 200
    recorded = {p for e in _events(action="view") for p in e.patient_ids}
    assert recorded == {s.patient_id for s in sessions}


def test_a_sane_request_id_is_kept_and_a_strange_one_replaced(
    clinic: Any, staff: Any, api: Any
) -> None:
    client = api(staff(Role.FRONT_DESK))
    odd = client.get("/api/v1/patients/", HTTP_X_REQUEST_ID="<script>")
    assert odd["X-Request-ID"] != "<script>" and len(odd["X-Request-ID"]) == 32


def test_reads_without_patients_write_nothing(clinic: Any, staff: Any, api: Any) -> None:
    assert api(staff(Role.FRONT_DESK)).get("/api/v1/chairs/").status_code == 200
    assert not AuditEvent.objects.exists()


# --- pages ----------------------------------------------------------------------------


@pytest.fixture
def booked(clinic: Any) -> Any:
    session = SessionFactory(
        course=CourseFactory(patient=PatientFactory(clinic=clinic)),
        starts_at=dt.datetime(2027, 6, 7, 14, 0, tzinfo=dt.UTC),
        ends_at=dt.datetime(2027, 6, 7, 14, 40, tzinfo=dt.UTC),
    )
    return session


@pytest.mark.parametrize(
    ("role", "path", "page"),
    [
        (Role.FRONT_DESK, "/board/?date=2027-06-07", "page:board-page"),
        (Role.TECHNICIAN, "/today/", "page:technician-today"),
        (Role.PSYCHIATRIST, "/courses/{course}/", "page:course-detail"),
        (Role.FRONT_DESK, "/outbox/", "page:outbox"),
        (Role.PSYCHIATRIST, "/courses/mine/", "page:psychiatrist-dashboard"),
        (Role.FRONT_DESK, "/courses/book/patients/?q={mrn}", "page:course-book-patients"),
    ],
)
def test_pages_record_a_view_of_the_patients_they_show(
    role: str, path: str, page: str, booked: Any, clinic: Any, staff: Any, client: Client
) -> None:
    from notifications.models import Notification

    Notification.objects.create(
        clinic=clinic,
        patient=booked.patient,
        channel="sms",
        kind="same_day",
        idempotency_key="audit-test",
        scheduled_for=booked.starts_at,
    )
    user = staff(role)
    if role == Role.PSYCHIATRIST:
        booked.course.psychiatrist = user
        booked.course.save()
    before = AuditEvent.objects.count()  # the writes above are events of their own
    with time_machine.travel(dt.datetime(2027, 6, 7, 13, 0, tzinfo=dt.UTC), tick=False):
        client.force_login(user)
        response = client.get(path.format(course=booked.course_id, mrn=booked.patient.mrn))
    assert response.status_code == 200
    views = [e for e in AuditEvent.objects.order_by("id")[before:] if e.action != "login"]
    assert [(e.action, e.object_type, e.actor_id) for e in views] == [("view", page, user.pk)]
    assert views[0].patient_ids == [booked.patient_id]
    assert views[0].clinic_id == clinic.pk and views[0].actor_role == role
    assert views[0].channel == "page"


def test_the_outcomes_csv_is_an_export(clinic: Any, staff: Any, client: Client) -> None:
    user = staff(Role.CLINIC_ADMIN)
    client.force_login(user)
    response = client.get("/reports/outcomes.csv")
    assert response.status_code == 200
    (event,) = _events(action="export")
    assert event.object_type == "page:outcomes-report-csv" and event.actor == user
    assert event.clinic_id == clinic.pk


def test_admin_views_of_a_patient_are_recorded(clinic: Any, superuser: Any, client: Client) -> None:
    patient = PatientFactory(clinic=clinic)
    client.force_login(superuser)
    response = client.get(f"/admin/clinic/patient/{patient.pk}/change/")
    assert response.status_code == 200
    events = _events(action="view")
    assert [(e.channel, e.patient_ids, e.actor_role) for e in events] == [
        ("admin", [patient.pk], "superuser")
    ]


# --- writes ---------------------------------------------------------------------------


def test_patient_update_records_changed_fields_with_values(
    clinic: Any, staff: Any, api: Any
) -> None:
    patient = PatientFactory(clinic=clinic, phone="+17185550111")
    user = staff(Role.FRONT_DESK)
    response = api(user).patch(
        f"/api/v1/patients/{patient.pk}/", {"phone": "+17185550122"}, format="json"
    )
    assert response.status_code == 200, response.content
    (event,) = _events(action="update", object_type="clinic.patient")
    assert event.actor == user and event.object_id == str(patient.pk)
    assert "phone" in event.fields and "first_name" not in event.fields
    assert event.changes["phone"] == ["+17185550111", "+17185550122"]
    assert event.patient_ids == [patient.pk] and event.clinic_id == clinic.pk


def test_clinical_values_are_named_not_copied(clinic: Any, staff: Any, api: Any) -> None:
    course = CourseFactory(patient=PatientFactory(clinic=clinic))
    user = staff(Role.TECHNICIAN)
    response = api(user).post(
        "/api/v1/assessments/",
        {
            "course": course.pk,
            "instrument": "phq9",
            "score": 17,
            "suicide_item": 0,
            "administered_on": "2026-11-27",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    (event,) = _events(action="create", object_type="courses.assessment")
    assert "score" in event.fields and event.changes == {}
    assert event.actor == user and event.patient_ids == [course.patient_id]


def test_delete_records_the_row(clinic: Any, staff: Any, api: Any) -> None:
    patient = PatientFactory(clinic=clinic)
    response = api(staff(Role.CLINIC_ADMIN)).delete(f"/api/v1/patients/{patient.pk}/")
    assert response.status_code == 204
    (event,) = _events(action="delete")
    assert event.object_id == str(patient.pk) and event.changes["mrn"][0] == patient.mrn


def test_a_write_outside_a_request_is_the_systems(clinic: Any) -> None:
    assessment = AssessmentFactory(course=CourseFactory(patient=PatientFactory(clinic=clinic)))
    event = _events(object_type="courses.assessment")[0]
    assert event.actor is None and event.channel == "system"
    assert event.object_id == str(assessment.pk)


# --- refusals and logins --------------------------------------------------------------


def test_api_refusal_is_recorded(clinic: Any, staff: Any, api: Any) -> None:
    patient = PatientFactory(clinic=clinic)
    user = staff(Role.TECHNICIAN)
    response = api(user).delete(f"/api/v1/patients/{patient.pk}/")
    assert response.status_code == 403
    (event,) = _events(action="denied")
    assert event.actor == user and event.outcome == "refused"
    assert event.clinic_id == clinic.pk and event.path == f"/api/v1/patients/{patient.pk}/"


def test_page_refusal_is_recorded(clinic: Any, staff: Any, client: Client) -> None:
    user = staff(Role.TECHNICIAN)
    client.force_login(user)
    assert client.get("/board/").status_code == 403
    (event,) = _events(action="denied")
    assert event.actor == user and event.object_type == "page:board-page"
    assert event.actor_role == Role.TECHNICIAN


def test_login_carries_the_request_id(clinic: Any, staff: Any, client: Client) -> None:
    user = staff(Role.FRONT_DESK, username="ana")
    user.set_password("a long enough password")
    user.save()
    client.post(
        "/accounts/login/",
        {"username": "ana", "password": "a long enough password"},
        HTTP_X_REQUEST_ID="login-request-1",
    )
    (event,) = _events(action="login")
    assert event.request_id == "login-request-1"


def test_a_rolled_back_write_leaves_no_event(clinic: Any) -> None:
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        PatientFactory(clinic=clinic)
        raise RuntimeError("the service failed after the write")
    assert not AuditEvent.objects.filter(object_type="clinic.patient").exists()


# --- committing a request's events ----------------------------------------------------


@pytest.mark.skipif(connection.vendor != "postgresql", reason="synchronous_commit is PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_a_read_committed_without_waiting_is_the_same_event(
    clinic: Any, staff: Any, api: Any, settings: Any
) -> None:
    """Outside a transaction a request's read event commits without waiting for the WAL
    flush (AUDIT_SYNCHRONOUS_COMMIT off): the same event in the same one statement, and
    the connection's own setting is untouched."""
    PatientFactory.create_batch(3, clinic=clinic)
    client = api(staff(Role.FRONT_DESK))
    written = []
    for synchronous in (True, False):
        settings.AUDIT_SYNCHRONOUS_COMMIT = synchronous
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/api/v1/patients/").status_code == 200
        written.append([q["sql"] for q in queries])
    waited, not_waited = _events(action="view")
    assert len(written[0]) == len(written[1])
    assert "set_config('synchronous_commit', 'off', true)" in written[1][-1]
    assert "synchronous_commit" not in written[0][-1]
    kept = [f.attname for f in AuditEvent._meta.concrete_fields if f.name not in {"id", "at"}]
    assert {n: getattr(not_waited, n) for n in kept if n != "request_id"} == {
        n: getattr(waited, n) for n in kept if n != "request_id"
    }
    assert not_waited.at > waited.at and len(not_waited.patient_ids) == 3
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"
