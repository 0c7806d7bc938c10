"""The patient pages (issue 13): the list, registration and editing, the patient page;
each role, anonymous and another clinic's staff; the list's query count."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from clinic.models import Patient, Role
from courses.models import RiskLevel
from notifications.models import ConsentEvent
from scheduling.models import SessionStatus
from tests.factories import (
    ChairFactory,
    CourseFactory,
    PatientFactory,
    SessionFactory,
    cleared_screening,
)
from tests.permissions import ACTORS, make_actor

EDITORS = {Role.FRONT_DESK, Role.PSYCHIATRIST, "superuser"}
CONTACT = {Role.FRONT_DESK, Role.PSYCHIATRIST, Role.CLINIC_ADMIN, "superuser"}


def _form(**overrides: Any) -> dict[str, Any]:
    return {
        "mrn": "NEW-1",
        "first_name": "Nora",
        "last_name": "Quinn",
        "date_of_birth": "1979-03-02",
        "phone": "(718) 555-0142",
        "email": "",
        "consent_source": "staff",
        **overrides,
    }


def _login(client: Client, actor: str, other_clinic: Any, staff: Any, superuser: Any) -> None:
    user = make_actor(actor, other_clinic, staff, superuser)
    if user is not None:
        client.force_login(user)


@pytest.mark.parametrize("actor", ACTORS)
def test_patient_pages_roles(
    actor: str, clinic: Any, other_clinic: Any, staff: Any, superuser: Any, client: Client
) -> None:
    patient = PatientFactory(clinic=clinic, first_name="Zelda", phone="+17185550199")
    _login(client, actor, other_clinic, staff, superuser)
    listed = client.get("/patients/")
    detail = client.get(f"/patients/{patient.pk}/")
    edit = client.get(f"/patients/{patient.pk}/edit/")
    new = client.get("/patients/new/")
    posted = client.post("/patients/new/", _form())
    if actor == "anonymous":
        for response in (listed, detail, edit, new, posted):
            assert response.status_code == 302 and "/accounts/login/" in response["Location"]
        assert not Patient.objects.filter(mrn="NEW-1").exists()
        return
    if actor == "outsider":  # an admin of another clinic: their own patients only
        assert listed.status_code == 200 and "Zelda" not in listed.content.decode()
        assert detail.status_code == 404
        assert edit.status_code == new.status_code == posted.status_code == 403
        return
    assert listed.status_code == 200 and "Zelda" in listed.content.decode()
    assert detail.status_code == 200
    page = detail.content.decode()
    assert ("+17185550199" in page) == (actor in CONTACT)
    assert ("Consent history" in page) == (actor in CONTACT)
    if actor in EDITORS:
        assert edit.status_code == new.status_code == 200
        assert posted.status_code == 302
        assert Patient.objects.get(mrn="NEW-1").phone == "+17185550142"
    else:
        assert edit.status_code == new.status_code == posted.status_code == 403
        assert not Patient.objects.filter(mrn="NEW-1").exists()


def test_another_clinics_patient_cannot_be_edited(
    clinic: Any, other_clinic: Any, staff: Any, client: Client
) -> None:
    theirs = PatientFactory(clinic=other_clinic)
    client.force_login(staff(Role.FRONT_DESK))
    assert client.get(f"/patients/{theirs.pk}/edit/").status_code == 404
    assert client.post(f"/patients/{theirs.pk}/edit/", _form()).status_code == 404
    assert client.post(f"/patients/{theirs.pk}/sessions/book/", {}).status_code == 404


# --- the list ---------------------------------------------------------------------------


def _names(client: Client, **params: Any) -> list[str]:
    response = client.get("/patients/", params)
    assert response.status_code == 200
    return [f"{p.first_name} {p.last_name}" for p in response.context["page"].object_list]


def test_search_by_name_mrn_phone_and_date_of_birth(
    clinic: Any, staff: Any, client: Client
) -> None:
    PatientFactory(
        clinic=clinic,
        first_name="Ana",
        last_name="Lopez",
        mrn="X-77",
        phone="+17185550142",
        date_of_birth=dt.date(1984, 2, 9),
    )
    PatientFactory(clinic=clinic, first_name="Luis", last_name="Berg", mrn="X-78")
    client.force_login(staff(Role.FRONT_DESK))
    for typed in (
        "ana lo",
        "LOPEZ",
        "x-77",
        "(718) 555-0142",
        "718-555-0142",
        "1984-02-09",
        "2/9/1984",
    ):
        assert _names(client, q=typed) == ["Ana Lopez"], typed
    assert _names(client, q="2/30/1984") == []
    assert len(_names(client)) == 2


def test_a_technicians_search_does_not_match_phone_numbers(
    clinic: Any, staff: Any, client: Client
) -> None:
    # The technician does not see phone numbers; searching by one would tell them.
    PatientFactory(clinic=clinic, first_name="Ana", last_name="Lopez", phone="+17185550142")
    client.force_login(staff(Role.TECHNICIAN))
    assert _names(client, q="718-555-0142") == []
    assert _names(client, q="lopez") == ["Ana Lopez"]


def test_filters_open_course_and_at_risk(clinic: Any, staff: Any, client: Client) -> None:
    PatientFactory(clinic=clinic, first_name="Idle", last_name="A")
    CourseFactory(patient=PatientFactory(clinic=clinic, first_name="Open", last_name="B"))
    CourseFactory(
        patient=PatientFactory(clinic=clinic, first_name="Risky", last_name="C"),
        status="active",
        risk_level=RiskLevel.AT_RISK,
    )
    CourseFactory(
        patient=PatientFactory(clinic=clinic, first_name="Done", last_name="D"),
        status="completed",
        risk_level=RiskLevel.AT_RISK,
    )
    client.force_login(staff(Role.PSYCHIATRIST))
    assert _names(client, show="active") == ["Open B", "Risky C"]
    assert _names(client, show="at_risk") == ["Risky C"]
    assert len(_names(client, show="nonsense")) == 4


def test_list_is_paginated_by_25(clinic: Any, staff: Any, client: Client) -> None:
    PatientFactory.create_batch(30, clinic=clinic)
    client.force_login(staff(Role.FRONT_DESK))
    assert len(_names(client)) == 25
    assert len(_names(client, page=2)) == 5


def test_search_as_you_type_returns_only_the_results(
    clinic: Any, staff: Any, client: Client
) -> None:
    PatientFactory(clinic=clinic, first_name="Ana")
    client.force_login(staff(Role.FRONT_DESK))
    response = client.get(
        "/patients/", {"q": "ana"}, headers={"HX-Request": "true", "HX-Target": "patient-results"}
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="patient-results">') and "<nav" not in html


LIST_QUERIES = 11  # 10 reads, and the audit trail's one INSERT of the patients listed


@pytest.mark.parametrize("count", [1, 30])
def test_list_query_count_is_fixed(
    clinic: Any, staff: Any, client: Client, django_assert_num_queries: Any, count: int
) -> None:
    for patient in PatientFactory.create_batch(count, clinic=clinic):
        CourseFactory(patient=patient)
    client.force_login(staff(Role.FRONT_DESK))
    with django_assert_num_queries(LIST_QUERIES):
        response = client.get("/patients/")
    assert len(response.context["page"].object_list) == min(count, 25)


# --- registration and editing -----------------------------------------------------------


def test_duplicates_are_shown_before_saving(clinic: Any, staff: Any, client: Client) -> None:
    same = PatientFactory(
        clinic=clinic, first_name="nora", last_name="QUINN", date_of_birth=dt.date(1979, 3, 2)
    )
    same_phone = PatientFactory(clinic=clinic, phone="+17185550142")
    PatientFactory(  # another clinic's patient is never a duplicate
        first_name="Nora", last_name="Quinn", date_of_birth=dt.date(1979, 3, 2)
    )
    client.force_login(staff(Role.FRONT_DESK))
    response = client.post("/patients/new/", _form())
    assert response.status_code == 200
    assert {p.pk for p in response.context["duplicates"]} == {same.pk, same_phone.pk}
    assert f"/patients/{same.pk}/" in response.content.decode()
    assert not Patient.objects.filter(mrn="NEW-1").exists()
    saved = client.post("/patients/new/", _form(save_anyway="on"))
    assert saved.status_code == 302
    assert Patient.objects.filter(mrn="NEW-1").exists()


def test_editing_a_patient_is_not_its_own_duplicate(
    clinic: Any, staff: Any, client: Client
) -> None:
    patient = PatientFactory(clinic=clinic, mrn="NEW-1", phone="+17185550142")
    client.force_login(staff(Role.PSYCHIATRIST))
    response = client.post(f"/patients/{patient.pk}/edit/", _form(email="n@example.com"))
    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.email == "n@example.com" and patient.first_name == "Nora"


def test_refusals_show_on_the_form(clinic: Any, staff: Any, client: Client) -> None:
    PatientFactory(clinic=clinic, mrn="NEW-1")
    client.force_login(staff(Role.FRONT_DESK))
    taken = client.post("/patients/new/", _form())
    assert taken.status_code == 400 and taken.context["form"].errors["mrn"]
    bad = client.post("/patients/new/", _form(mrn="NEW-2", phone="call me", sms_consent="on"))
    assert bad.status_code == 400 and bad.context["form"].errors["phone"]
    future = client.post("/patients/new/", _form(mrn="NEW-3", date_of_birth="2999-01-01"))
    assert future.status_code == 400 and future.context["form"].errors["date_of_birth"]


def test_verbal_consent_at_registration_is_in_the_ledger(
    clinic: Any, staff: Any, client: Client
) -> None:
    client.force_login(staff(Role.FRONT_DESK))
    client.post("/patients/new/", _form(sms_consent="on"))
    event = ConsentEvent.objects.get()
    assert (event.channel, event.granted, event.source) == ("sms", True, "staff")


def _opted_out(patient: Patient) -> None:
    from notifications.services import consent_record

    consent_record(patient, "sms", granted=False, source="inbound_sms")


def test_after_an_opt_out_only_a_written_consent_switches_texts_back_on(
    clinic: Any, staff: Any, client: Client
) -> None:
    patient = PatientFactory(clinic=clinic, mrn="NEW-1", phone="+17185550142")
    _opted_out(patient)
    client.force_login(staff(Role.FRONT_DESK))
    url = f"/patients/{patient.pk}/edit/"
    plain = client.post(url, _form(sms_consent="on"))
    assert plain.status_code == 409 and "START" in plain.content.decode()
    patient.refresh_from_db()
    assert patient.sms_consent is False
    undated = client.post(url, _form(sms_consent="on", consent_source="written"))
    assert undated.status_code == 400
    assert set(undated.context["form"].errors) == {"consent_document", "consent_given_on"}
    today = clinic.today()
    written = client.post(
        url,
        _form(
            sms_consent="on",
            consent_source="written",
            consent_document="SMS consent form v3",
            consent_given_on=today.isoformat(),
        ),
    )
    assert written.status_code == 302
    patient.refresh_from_db()
    assert patient.sms_consent is True
    event = ConsentEvent.objects.filter(patient=patient).latest("id")
    assert (event.source, event.document, event.given_on) == (
        "written",
        "SMS consent form v3",
        today,
    )
    page = client.get(f"/patients/{patient.pk}/").content.decode()
    assert "SMS consent form v3" in page and "Patient&#x27;s SMS keyword" in page


# --- the patient page -------------------------------------------------------------------


def test_patient_page_lists_courses_sessions_and_offers_the_actions(
    clinic: Any, staff: Any, client: Client
) -> None:
    course = CourseFactory(patient=PatientFactory(clinic=clinic), status="active")
    cleared_screening(course.patient, by=course.psychiatrist)
    coming = SessionFactory(course=course, starts_at=timezone.now() + dt.timedelta(days=2))
    SessionFactory(
        course=course,
        starts_at=timezone.now() - dt.timedelta(days=2),
        status=SessionStatus.COMPLETED,
    )
    client.force_login(staff(Role.FRONT_DESK))
    response = client.get(f"/patients/{course.patient.pk}/")
    html = response.content.decode()
    assert [s.pk for s in response.context["record"].upcoming] == [coming.pk]
    assert f"/courses/{course.pk}/" in html and "Cleared" in html
    assert f"/board/sessions/{coming.pk}/move/" in html
    assert f"/board/sessions/{coming.pk}/cancel/" in html
    assert "Book one extra session" in html
    client.force_login(staff(Role.TECHNICIAN))
    html = client.get(f"/patients/{course.patient.pk}/").content.decode()
    assert "/move/" not in html and "/cancel/" not in html and "Book one extra" not in html


def test_cancel_from_the_patient_page_comes_back_to_it(
    clinic: Any, staff: Any, client: Client
) -> None:
    session = SessionFactory(
        course=CourseFactory(patient=PatientFactory(clinic=clinic)),
        starts_at=timezone.now() + dt.timedelta(days=2),
    )
    back = f"/patients/{session.patient_id}/"
    client.force_login(staff(Role.FRONT_DESK))
    response = client.post(
        f"/board/sessions/{session.pk}/cancel/", {"reason": "patient asked", "next": back}
    )
    assert response.status_code == 302 and response["Location"] == back
    session.refresh_from_db()
    assert session.status == SessionStatus.CANCELLED


def test_book_one_extra_session_from_the_patient_page(
    clinic: Any, staff: Any, client: Client
) -> None:
    course = CourseFactory(patient=PatientFactory(clinic=clinic), status="active")
    cleared_screening(course.patient, by=course.psychiatrist)
    chair = ChairFactory(clinic=clinic)
    day = clinic.today() + dt.timedelta(days=1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    client.force_login(staff(Role.FRONT_DESK))
    url = f"/patients/{course.patient.pk}/sessions/book/"
    body = {"course": course.pk, "date": day.isoformat(), "time": "10:00", "chair": chair.pk}
    response = client.post(url, body, follow=True)
    assert "Booked a session at 10:00" in response.content.decode()
    session = course.sessions.get()
    assert session.starts_at.astimezone(clinic.tz).time() == dt.time(10, 0)
    again = client.post(url, body, follow=True)  # the same place: refused, with why
    assert "Not booked" in again.content.decode()
    assert course.sessions.count() == 1
    client.force_login(staff(Role.PSYCHIATRIST))
    assert client.post(url, body).status_code == 403


def test_screening_links_appear_only_when_their_pages_exist(
    clinic: Any, staff: Any, client: Client, settings: Any
) -> None:
    from django.urls import reverse
    from django.urls.exceptions import NoReverseMatch

    patient = PatientFactory(clinic=clinic)
    client.force_login(staff(Role.PSYCHIATRIST))
    html = client.get(f"/patients/{patient.pk}/").content.decode()
    try:
        reverse("screening-new")
    except NoReverseMatch:
        assert "Record a screening" not in html
    else:
        assert f"?patient={patient.pk}" in html and "Record a screening" in html


def test_names_on_staff_pages_link_to_the_patient_page(
    clinic: Any, staff: Any, client: Client
) -> None:
    session = SessionFactory(
        course=CourseFactory(patient=PatientFactory(clinic=clinic), status="active"),
        starts_at=timezone.now() + dt.timedelta(minutes=30),
    )
    link = f'href="/patients/{session.patient_id}/"'
    day = session.starts_at.astimezone(clinic.tz).date().isoformat()
    client.force_login(staff(Role.FRONT_DESK))
    assert link in client.get("/board/", {"date": day}).content.decode()
    client.force_login(staff(Role.CLINIC_ADMIN))
    assert link in client.get("/courses/mine/").content.decode()
