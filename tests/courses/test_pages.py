# ruff: noqa: F811  (the fixtures imported from tests/scheduling/conftest.py)
"""Staff pages of the courses app: book a course, the psychiatrist dashboard and the
course page, with who may open them (docs/roles.md) and their query counts."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext

from clinic.models import Role
from courses import selectors, services
from courses.forms import PATIENT_PICKER_SIZE
from courses.models import (
    Assessment,
    Authorization,
    MotorThreshold,
    SafetyFlag,
    StaffAlert,
    TreatmentCourse,
)
from notifications.models import Notification
from scheduling.models import Session
from scheduling.risk import recompute_risk
from scheduling.services import course_schedule
from tests.factories import (
    AssessmentFactory,
    ChairBlockFactory,
    ChairFactory,
    CourseFactory,
    MembershipFactory,
    MotorThresholdFactory,
    PatientFactory,
    ScreeningFactory,
    SessionFactory,
    catalog_protocol,
    cleared_screening,
)
from tests.scheduling.conftest import (  # noqa: F401
    chairs,
    frozen_now,
    make_course,
    psychiatrist,
)

pytestmark = pytest.mark.usefixtures("frozen_now")

# Wednesday 25 November 2026 in New York (frozen_now); courses start Monday 30th.
START = dt.date(2026, 11, 30)
ITEMS = [3, 3, 2, 2, 1, 2, 1, 0, 0]  # PHQ-9 items adding up to 14, no self-harm
ITEM_TEXT = "3 3 2 2 1 2 1 0 0"
CLINICAL_ROLES = [Role.PSYCHIATRIST, Role.TECHNICIAN]


def _actor(name: str, *, staff: Any, superuser: Any, other_clinic: Any, psychiatrist: Any) -> Any:
    if name == "superuser":
        return superuser
    if name == "outsider":  # the same role set, in another clinic
        return staff(Role.CLINIC_ADMIN, in_clinic=other_clinic)
    if name == Role.PSYCHIATRIST:
        return psychiatrist
    return staff(name)


@pytest.fixture
def login(
    client: Any, staff: Any, superuser: Any, other_clinic: Any, psychiatrist: Any
) -> Callable[[str], Any]:
    def log_in(name: str) -> Any:
        if name == "anonymous":
            return None
        user = _actor(
            name,
            staff=staff,
            superuser=superuser,
            other_clinic=other_clinic,
            psychiatrist=psychiatrist,
        )
        client.force_login(user)
        return user

    return log_in


def _assert_login_redirect(response: Any) -> None:
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def _text(response: Any) -> str:
    return response.content.decode()


def _booking_data(patient: Any, psychiatrist: Any, **changes: Any) -> dict[str, Any]:
    data = {
        "action": "preview",
        "patient": patient.pk,
        "protocol": catalog_protocol("10hz-standard").pk,
        "psychiatrist": psychiatrist.pk,
        "indication": "mdd",
        "start_date": START.isoformat(),
        "preferred_time": "09:30",
        "preferred_chair": "",
        "time_flex_minutes": "0",
    }
    data.update(changes)
    return data


def _row_counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (TreatmentCourse, Session, Notification, StaffAlert, Authorization)
    }


@pytest.fixture
def cleared_patient(clinic: Any, psychiatrist: Any) -> Any:
    patient = PatientFactory(clinic=clinic, first_name="Ana", last_name="Lopez")
    cleared_screening(patient, by=psychiatrist)
    return patient


@pytest.fixture
def booked_course(make_course: Any, chairs: list[Any], psychiatrist: Any) -> Any:
    """A course of 36 booked sessions, a baseline and a later score with items, and a
    recorded screening answer."""
    course = make_course()
    course_schedule(course)
    services.assessment_record(
        course,
        instrument="phq9",
        administered_on=dt.date(2026, 11, 24),
        by=psychiatrist,
        items=ITEMS,
    )
    screening = course.patient.screenings.get()
    screening.seizure_history = True
    screening.save(update_fields=["seizure_history"])
    MotorThresholdFactory(course=course, machine_output_pct=55, measured_by=psychiatrist)
    return course


# --- Permissions ---------------------------------------------------------------------

ACTORS = ["anonymous", "superuser", "outsider", *Role.values]


@pytest.mark.parametrize(
    ("actor", "status"),
    [
        ("anonymous", 302),
        ("superuser", 200),
        ("outsider", 200),  # their own clinic's booking page
        (Role.FRONT_DESK, 200),
        (Role.CLINIC_ADMIN, 200),
        (Role.TECHNICIAN, 403),
        (Role.PSYCHIATRIST, 403),
    ],
)
def test_booking_page_roles(actor: str, status: int, login: Any, client: Any) -> None:
    login(actor)
    response = client.get("/courses/book/")
    if actor == "anonymous":
        _assert_login_redirect(response)
    else:
        assert response.status_code == status


@pytest.mark.parametrize(
    ("actor", "status"),
    [
        ("anonymous", 302),
        ("superuser", 200),
        ("outsider", 400),  # our patient is not one of their clinic's: a form error
        (Role.FRONT_DESK, 200),
        (Role.CLINIC_ADMIN, 200),
        (Role.TECHNICIAN, 403),
        (Role.PSYCHIATRIST, 403),
    ],
)
def test_booking_preview_roles(
    actor: str,
    status: int,
    login: Any,
    client: Any,
    cleared_patient: Any,
    psychiatrist: Any,
    chairs: list[Any],
) -> None:
    login(actor)
    response = client.post("/courses/book/", _booking_data(cleared_patient, psychiatrist))
    if actor == "anonymous":
        _assert_login_redirect(response)
    else:
        assert response.status_code == status
    assert TreatmentCourse.objects.count() == 0


@pytest.mark.parametrize(
    ("actor", "status"),
    [
        ("anonymous", 302),
        ("superuser", 200),
        ("outsider", 200),  # their own clinic's dashboard
        (Role.FRONT_DESK, 403),
        (Role.TECHNICIAN, 403),
        (Role.PSYCHIATRIST, 200),
        (Role.CLINIC_ADMIN, 200),
    ],
)
def test_dashboard_roles(actor: str, status: int, login: Any, client: Any) -> None:
    login(actor)
    response = client.get("/courses/mine/")
    if actor == "anonymous":
        _assert_login_redirect(response)
    else:
        assert response.status_code == status


@pytest.mark.parametrize(
    ("actor", "status"),
    [
        ("anonymous", 302),
        ("superuser", 200),
        ("outsider", 404),
        (Role.FRONT_DESK, 200),
        (Role.TECHNICIAN, 200),
        (Role.PSYCHIATRIST, 200),
        (Role.CLINIC_ADMIN, 200),
    ],
)
def test_course_page_roles(
    actor: str, status: int, login: Any, client: Any, booked_course: Any
) -> None:
    login(actor)
    response = client.get(f"/courses/{booked_course.pk}/")
    if actor == "anonymous":
        _assert_login_redirect(response)
    else:
        assert response.status_code == status


def test_course_page_of_an_unknown_course_is_404(login: Any, client: Any, db: None) -> None:
    login(Role.PSYCHIATRIST)
    assert client.get("/courses/999999/").status_code == 404


def _course_page(client: Any, course: Any) -> str:
    response = client.get(f"/courses/{course.pk}/")
    assert response.status_code == 200
    return _text(response)


def test_front_desk_sees_no_scores_items_or_screening_answers(
    login: Any, client: Any, booked_course: Any
) -> None:
    login(Role.FRONT_DESK)
    text = _course_page(client, booked_course)
    assert "36 sessions done" in text or "0 of 36 sessions done" in text
    assert "Sessions" in text and "Authorization" in text
    assert 'id="scores"' not in text
    assert "<svg" not in text
    assert ITEM_TEXT not in text
    assert "baseline 14" not in text and "latest 14" not in text
    assert "Motor threshold" not in text
    assert "History of seizures" not in text
    assert "Status: <strong>Cleared</strong>" in text  # the screening status only
    assert "Record a score" not in text


def test_clinic_admin_sees_scores_but_not_items_or_answers(
    login: Any, client: Any, booked_course: Any
) -> None:
    login(Role.CLINIC_ADMIN)
    text = _course_page(client, booked_course)
    assert 'id="scores-table"' in text and "<svg" in text
    assert "baseline 14" in text
    assert ITEM_TEXT not in text and "Item answers" not in text
    assert "History of seizures" not in text
    assert "55% of machine output" in text
    assert "Record a score" not in text and "Record a motor threshold" not in text


@pytest.mark.parametrize("role", CLINICAL_ROLES)
def test_clinicians_see_items_answers_and_the_entry_forms(
    role: str, login: Any, client: Any, booked_course: Any
) -> None:
    login(role)
    text = _course_page(client, booked_course)
    assert ITEM_TEXT in text
    assert "History of seizures" in text
    assert "2 adequate failed antidepressant trials" in text
    assert "Record a score" in text and "Record a motor threshold" in text


# --- Booking -------------------------------------------------------------------------


def test_preview_lists_every_session_and_writes_nothing(
    login: Any, client: Any, cleared_patient: Any, psychiatrist: Any, chairs: list[Any]
) -> None:
    login(Role.FRONT_DESK)
    before = _row_counts()
    response = client.post(
        "/courses/book/",
        _booking_data(
            cleared_patient,
            psychiatrist,
            payer="Aetna",
            authorization_number="A-1",
            sessions_authorized="36",
            valid_from="2026-11-30",
            valid_until="2027-03-31",
        ),
    )
    assert response.status_code == 200
    text = _text(response)
    assert "Preview: 36 sessions" in text
    assert "Nothing is booked yet" in text
    for number in range(1, 37):
        assert f"<td>{number}</td>" in text
    assert "<td>37</td>" not in text
    assert "Mon 30 Nov 2026" in text and "09:30\N{EN DASH}10:30" in text  # the mapping session
    assert "Mapping (motor threshold)" in text and "Taper" in text
    assert "Confirm booking of 36 sessions" in text
    assert _row_counts() == before


def test_htmx_preview_answers_with_the_fragment(
    login: Any, client: Any, cleared_patient: Any, psychiatrist: Any, chairs: list[Any]
) -> None:
    login(Role.FRONT_DESK)
    response = client.post(
        "/courses/book/", _booking_data(cleared_patient, psychiatrist), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    text = _text(response)
    assert "<html" not in text and 'id="booking"' in text
    assert "Preview: 36 sessions" in text


def test_confirm_books_the_course(
    login: Any, client: Any, cleared_patient: Any, psychiatrist: Any, chairs: list[Any]
) -> None:
    login(Role.FRONT_DESK)
    data = _booking_data(
        cleared_patient,
        psychiatrist,
        action="confirm",
        payer="Aetna",
        authorization_number="A-1",
        sessions_authorized="36",
        valid_from="2026-11-30",
        valid_until="2027-03-31",
    )
    response = client.post("/courses/book/", data)
    course = TreatmentCourse.objects.get(patient=cleared_patient)
    assert response.status_code == 302
    assert response["Location"] == f"/courses/{course.pk}/"
    # The message names the patient: it stays server-side, never in a cookie.
    assert "messages" not in response.cookies
    assert Session.objects.filter(course=course).count() == 36
    assert course.authorizations.get().sessions_authorized == 36
    page = _text(client.get(response["Location"]))
    assert "Course booked: 36 sessions for Ana Lopez." in page
    assert "0 of 36 authorized sessions used" in page


def test_preview_then_confirm_books_what_was_previewed(
    login: Any, client: Any, cleared_patient: Any, psychiatrist: Any, chairs: list[Any]
) -> None:
    login(Role.CLINIC_ADMIN)
    preview = _text(client.post("/courses/book/", _booking_data(cleared_patient, psychiatrist)))
    # Post the confirm form exactly as the preview rendered it.
    form = preview[preview.index('<input type="hidden" name="action" value="confirm">') - 2000 :]
    assert 'name="preferred_time" value="09:30"' in form
    response = client.post(
        "/courses/book/", _booking_data(cleared_patient, psychiatrist, action="confirm")
    )
    assert response.status_code == 302
    first = Session.objects.filter(course__patient=cleared_patient).order_by("starts_at").first()
    assert first is not None and first.kind == "mapping"
    assert first.starts_at == dt.datetime(2026, 11, 30, 14, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("screening", "words"),
    [
        ("pending", "waiting for a psychiatrist"),
        ("none", "no screening is on file"),
        ("contraindicated", "TMS cannot be booked"),
    ],
)
def test_uncleared_patient_is_refused_in_words(
    screening: str,
    words: str,
    login: Any,
    client: Any,
    clinic: Any,
    psychiatrist: Any,
    chairs: list[Any],
) -> None:
    patient = PatientFactory(clinic=clinic, first_name="Bo")
    if screening == "pending":
        ScreeningFactory(patient=patient)
    elif screening == "contraindicated":
        ScreeningFactory(patient=patient, cochlear_implant=True, status="contraindicated")
    login(Role.FRONT_DESK)
    before = _row_counts()
    response = client.post("/courses/book/", _booking_data(patient, psychiatrist))
    assert response.status_code == 409
    text = _text(response)
    assert "The patient&#x27;s screening is not cleared by a psychiatrist." in text
    assert "can only be booked once a psychiatrist has cleared" in text
    assert words in text  # the status next to the patient, in words
    assert _row_counts() == before
    status = client.get(f"/courses/book/patient-status/?patient={patient.pk}")
    assert status.status_code == 200 and words in _text(status)


@pytest.mark.parametrize("screening", ["none", "pending"])
def test_the_front_desk_is_told_who_screens_and_sent_to_the_patient_page(
    screening: str, login: Any, client: Any, clinic: Any, psychiatrist: Any, chairs: list[Any]
) -> None:
    """The front desk cannot screen: the page says who can, and links the patient's
    page (where the screening shows), never the screening form."""
    patient = PatientFactory(clinic=clinic, first_name="Bo")
    if screening == "pending":
        ScreeningFactory(patient=patient)
    login(Role.FRONT_DESK)
    told = {
        "none": "A screening must be recorded first (by a psychiatrist or technician) and "
        "cleared by a psychiatrist: ",
        "pending": "A psychiatrist must review and clear it first: ",
    }[screening]
    link = f'<a href="/patients/{patient.pk}/">open Bo\'s page</a>'
    status = client.get(f"/courses/book/patient-status/?patient={patient.pk}").content.decode()
    refused = client.post("/courses/book/", _booking_data(patient, psychiatrist))
    chosen = client.get(f"/courses/book/?patient={patient.pk}").content.decode()
    for page in (status, refused.content.decode(), chosen):
        assert " ".join((told + link).split()) in " ".join(page.split())
        assert "/screenings/" not in page


@pytest.mark.parametrize("screening", ["none", "pending"])
def test_someone_who_screens_is_linked_to_the_screening_form(
    screening: str, client: Any, superuser: Any, clinic: Any
) -> None:
    """A viewer who may record and clear screenings (a superuser here: psychiatrists,
    who do, book from the prescribing page) gets the screening's own page."""
    patient = PatientFactory(clinic=clinic, first_name="Bo")
    pending = ScreeningFactory(patient=patient) if screening == "pending" else None
    client.force_login(superuser)
    page = _text(client.get(f"/courses/book/patient-status/?patient={patient.pk}"))
    if pending is None:
        assert f'<a href="/screenings/new/?patient={patient.pk}">Record Bo\'s screening</a>' in page
    else:
        assert f'<a href="/screenings/{pending.pk}/">Review and clear Bo\'s screening</a>' in page
    assert "open Bo's page" not in page


def test_a_technician_would_be_linked_to_record_and_told_who_clears() -> None:
    """The words for a viewer who records but does not clear (technicians, should the
    booking page ever be theirs)."""
    patient = PatientFactory.build(pk=7, first_name="Bo")
    patient.screening_status = None
    helping = selectors.ScreeningHelp(
        who_records="psychiatrist or technician",
        who_clears="psychiatrist",
        can_record=True,
        can_clear=False,
    )
    html = render_to_string(
        "courses/_screening_next_step.html", {"patient": patient, "screening_help": helping}
    )
    assert '<a href="/screenings/new/?patient=7">Record Bo\'s screening</a>' in html
    assert "a psychiatrist then clears it" in html


def test_the_patient_list_says_who_is_cleared(
    login: Any, client: Any, cleared_patient: Any, clinic: Any
) -> None:
    ScreeningFactory(patient=PatientFactory(clinic=clinic, first_name="Cy", last_name="Park"))
    login(Role.FRONT_DESK)
    text = _text(client.get("/courses/book/"))
    assert f"Lopez, Ana · {cleared_patient.mrn} · screening cleared" in text
    assert "Park, Cy" in text and "screening pending" in text
    narrowed = _text(client.get("/courses/book/?q=lop"))
    assert "Lopez, Ana" in narrowed and "Park, Cy" not in narrowed
    chosen = _text(client.get(f"/courses/book/?patient={cleared_patient.pk}"))
    assert "cleared Ana for treatment" in chosen


def _options(html: str) -> list[str]:
    """The patient picker's option labels, without the empty choice."""
    picker = html[html.index('<div id="patient-picker">') :]
    picker = picker[: picker.index("</select>")]
    return re.findall(r'<option value="\d+"(?: selected)?>([^<]*)</option>', picker)


def test_the_patient_picker_lists_fifty_patients_and_searches_the_rest(
    login: Any, client: Any, clinic: Any, cleared_patient: Any, django_assert_num_queries: Any
) -> None:
    for number in range(PATIENT_PICKER_SIZE + 10):
        PatientFactory(clinic=clinic, last_name=f"Berg{number:03d}", first_name="Ida")
    login(Role.FRONT_DESK)

    page = _text(client.get("/courses/book/"))
    assert len(_options(page)) == PATIENT_PICKER_SIZE
    assert "The first 50 patients by name are listed" in page
    assert "Lopez, Ana" not in page  # after the Bergs by name

    found = client.get("/courses/book/patients/", {"q": "lop"})
    assert found.status_code == 200 and "<html" not in _text(found)
    assert [label.split(" · ")[0] for label in _options(_text(found))] == ["Lopez, Ana"]
    assert "1 patient match “lop”." in _text(found)
    by_mrn = _text(client.get("/courses/book/patients/", {"q": cleared_patient.mrn}))
    assert [label.split(" · ")[0] for label in _options(by_mrn)] == ["Lopez, Ana"]
    nobody = _text(client.get("/courses/book/patients/", {"q": "zzz"}))
    assert _options(nobody) == [] and "No patient matches “zzz”." in nobody
    many = _text(client.get("/courses/book/patients/", {"q": "berg"}))
    assert "More than 50 patients match “berg”" in many

    # The chosen patient stays listed (and chosen) whatever is typed.
    kept = _text(
        client.get("/courses/book/patients/", {"q": "berg00", "patient": cleared_patient.pk})
    )
    assert f'<option value="{cleared_patient.pk}" selected>Lopez, Ana' in kept
    assert len(_options(kept)) == 11
    # A fixed number of queries: the matches, plus the chosen patient when not among them.
    listed = _count(client, "/courses/book/patients/?q=berg")
    chosen = f"/courses/book/patients/?q=berg&patient={cleared_patient.pk}"
    assert _count(client, chosen) == listed + 1
    for number in range(200):
        PatientFactory(clinic=clinic, last_name=f"Berg{number:03d}x")
    with django_assert_num_queries(listed + 1):
        assert client.get(chosen).status_code == 200


@pytest.mark.parametrize(
    ("actor", "status"),
    [
        ("anonymous", 302),
        ("superuser", 200),
        ("outsider", 200),  # their own clinic's patients
        (Role.FRONT_DESK, 200),
        (Role.CLINIC_ADMIN, 200),
        (Role.TECHNICIAN, 403),
        (Role.PSYCHIATRIST, 403),
    ],
)
def test_patient_picker_roles(
    actor: str, status: int, login: Any, client: Any, cleared_patient: Any
) -> None:
    login(actor)
    response = client.get("/courses/book/patients/", {"q": "lop", "patient": cleared_patient.pk})
    if actor == "anonymous":
        _assert_login_redirect(response)
        return
    assert response.status_code == status
    if actor == "outsider":  # another clinic's patient is neither found nor kept
        assert "Lopez" not in _text(response)
    elif status == 200:
        assert "Lopez, Ana" in _text(response)


def test_conflict_lists_each_date_with_its_reason_and_a_working_alternative(
    login: Any, client: Any, clinic: Any, cleared_patient: Any, psychiatrist: Any
) -> None:
    chair = ChairFactory(clinic=clinic, name="Chair 1")
    # Wednesday 2 December, 09:00-10:00 in New York: the 09:30 session cannot go there.
    ChairBlockFactory(
        chair=chair,
        starts_at=dt.datetime(2026, 12, 2, 14, 0, tzinfo=dt.UTC),
        ends_at=dt.datetime(2026, 12, 2, 15, 0, tzinfo=dt.UTC),
    )
    login(Role.FRONT_DESK)
    before = _row_counts()
    response = client.post("/courses/book/", _booking_data(cleared_patient, psychiatrist))
    assert response.status_code == 409
    text = _text(response)
    assert "This course cannot be booked as asked" in text
    assert "<td>Wed 2 Dec 2026</td><td>No chair is free at that time</td>" in text
    assert "Let sessions move up to 30 minutes from 09:30" in text
    assert 'name="time_flex_minutes" value="30"' in text
    assert "Free on Monday 30 November for the 60-minute first session" in text
    assert "Chair 1: 07:30\N{EN DASH}19:00" in text
    assert _row_counts() == before
    # The suggestion really books.
    response = client.post(
        "/courses/book/",
        _booking_data(cleared_patient, psychiatrist, action="confirm", time_flex_minutes="30"),
    )
    assert response.status_code == 302
    assert Session.objects.filter(course__patient=cleared_patient).count() == 36


def test_bad_input_is_a_400_with_messages(
    login: Any, client: Any, cleared_patient: Any, psychiatrist: Any
) -> None:
    login(Role.FRONT_DESK)
    response = client.post(
        "/courses/book/",
        _booking_data(
            cleared_patient,
            psychiatrist,
            start_date="2026-11-01",
            preferred_time="25:99",
            protocol="999999",
            payer="Aetna",
        ),
    )
    assert response.status_code == 400
    text = _text(response)
    assert "The course cannot start in the past." in text
    assert "Enter a valid time." in text
    assert "Select a valid choice." in text
    assert "Fill in every authorization field" in text
    garbage = client.post("/courses/book/", {"patient": "x", "start_date": "soon"})
    assert garbage.status_code == 400
    assert TreatmentCourse.objects.count() == 0


def test_a_patient_with_an_open_course_is_refused(
    login: Any, client: Any, booked_course: Any, psychiatrist: Any
) -> None:
    login(Role.FRONT_DESK)
    response = client.post("/courses/book/", _booking_data(booked_course.patient, psychiatrist))
    assert response.status_code == 409
    assert "already has an open course" in _text(response)


# --- Dashboard -----------------------------------------------------------------------


def _course_with_level(make_course: Any, level: str, psychiatrist: Any, **fields: Any) -> Any:
    course = make_course(**fields)
    if level == "ok":
        services.assessment_record(
            course,
            instrument="phq9",
            administered_on=dt.date(2026, 11, 24),
            by=psychiatrist,
            score=16,
            suicide_item=0,
        )
    elif level == "at_risk":
        services.assessment_record(
            course,
            instrument="phq9",
            administered_on=dt.date(2026, 11, 24),
            by=psychiatrist,
            items=[3, 3, 3, 3, 3, 3, 3, 3, 1],
        )
    # "watch": no baseline PHQ-9 in the week before session 1.
    recompute_risk([course.pk])
    course.refresh_from_db()
    assert course.risk_level == level
    return course


def test_dashboard_orders_by_risk_and_shows_only_own_courses(
    login: Any, client: Any, make_course: Any, psychiatrist: Any, clinic: Any
) -> None:
    ok = _course_with_level(make_course, "ok", psychiatrist)
    watch = _course_with_level(make_course, "watch", psychiatrist)
    at_risk = _course_with_level(make_course, "at_risk", psychiatrist)
    colleague = MembershipFactory(clinic=clinic, role=Role.PSYCHIATRIST).user
    theirs = CourseFactory(patient=PatientFactory(clinic=clinic), psychiatrist=colleague)
    login(Role.PSYCHIATRIST)
    text = _text(client.get("/courses/mine/"))
    positions = [text.index(f'href="/courses/{c.pk}/"') for c in (at_risk, watch, ok)]
    assert positions == sorted(positions)
    assert f'href="/courses/{theirs.pk}/"' not in text
    assert "Safety flag</strong>: PHQ-9 item 9" in text or "Safety flag" in text
    assert "No baseline score:" in text
    assert "0 of 36" in text
    assert "<td>16 <small" in text  # the latest PHQ-9
    alerts = StaffAlert.objects.filter(recipient=psychiatrist).count()  # flag and at risk
    assert alerts == 2
    assert "Safety flags to review (1)" in text and "Your alerts (2)" in text
    admin_view = client
    login(Role.CLINIC_ADMIN)
    text = _text(admin_view.get("/courses/mine/"))
    assert f'href="/courses/{theirs.pk}/"' in text  # the whole clinic's courses
    assert "Reviewed: acknowledge" not in text  # psychiatrists acknowledge flags


def test_acknowledging_a_safety_flag_and_an_alert(
    login: Any, client: Any, make_course: Any, psychiatrist: Any
) -> None:
    course = _course_with_level(make_course, "at_risk", psychiatrist)
    flag = SafetyFlag.objects.get(course=course)
    alert = StaffAlert.objects.get(course=course, kind="safety_flag")
    login(Role.PSYCHIATRIST)
    response = client.post(
        f"/courses/safety-flags/{flag.pk}/acknowledge/", {"next": "/courses/mine/"}
    )
    assert response.status_code == 302 and response["Location"] == "/courses/mine/"
    flag.refresh_from_db()
    assert flag.acknowledged_by == psychiatrist
    response = client.post(f"/courses/alerts/{alert.pk}/acknowledge/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "done" in _text(response) and "<html" not in _text(response)
    alert.refresh_from_db()
    assert alert.acknowledged_at is not None
    text = _text(client.get("/courses/mine/"))
    # The flag was what put the course at risk: its at-risk alert settled with it.
    assert "Safety flags to review (0)" in text and "Your alerts (0)" in text


def test_acknowledge_rejects_an_open_redirect(
    login: Any, client: Any, make_course: Any, psychiatrist: Any
) -> None:
    course = _course_with_level(make_course, "at_risk", psychiatrist)
    flag = SafetyFlag.objects.get(course=course)
    login(Role.PSYCHIATRIST)
    response = client.post(
        f"/courses/safety-flags/{flag.pk}/acknowledge/", {"next": "https://evil.example/"}
    )
    assert response["Location"] == "/courses/mine/"


@pytest.mark.parametrize(
    ("actor", "status"),
    [
        ("anonymous", 302),
        ("superuser", 302),
        ("outsider", 403),
        ("other_psychiatrist", 404),
        (Role.FRONT_DESK, 403),
        (Role.TECHNICIAN, 403),
        (Role.CLINIC_ADMIN, 403),
        (Role.PSYCHIATRIST, 302),
    ],
)
def test_safety_flag_acknowledge_roles(
    actor: str,
    status: int,
    login: Any,
    client: Any,
    make_course: Any,
    psychiatrist: Any,
    staff: Any,
    other_clinic: Any,
) -> None:
    course = _course_with_level(make_course, "at_risk", psychiatrist)
    flag = SafetyFlag.objects.get(course=course)
    if actor == "other_psychiatrist":
        client.force_login(staff(Role.PSYCHIATRIST, in_clinic=other_clinic))
    else:
        login(actor)
    response = client.post(f"/courses/safety-flags/{flag.pk}/acknowledge/")
    if actor == "anonymous":
        _assert_login_redirect(response)
    else:
        assert response.status_code == status
    flag.refresh_from_db()
    assert (flag.acknowledged_at is not None) == (status == 302 and actor != "anonymous")
    assert client.get(f"/courses/safety-flags/{flag.pk}/acknowledge/").status_code in (
        302,
        403,
        404,
        405,
    )


def test_only_the_recipient_acknowledges_an_alert(
    login: Any, client: Any, make_course: Any, psychiatrist: Any, staff: Any
) -> None:
    course = _course_with_level(make_course, "at_risk", psychiatrist)
    alert = StaffAlert.objects.get(course=course, kind="safety_flag")
    client.force_login(staff(Role.PSYCHIATRIST))
    assert client.post(f"/courses/alerts/{alert.pk}/acknowledge/").status_code == 404
    client.logout()
    _assert_login_redirect(client.post(f"/courses/alerts/{alert.pk}/acknowledge/"))
    alert.refresh_from_db()
    assert alert.acknowledged_at is None


# --- Recording scores and thresholds ---------------------------------------------------


@pytest.mark.parametrize(
    ("actor", "status"),
    [
        ("anonymous", 302),
        ("superuser", 302),
        ("outsider", 403),
        ("other_psychiatrist", 404),
        (Role.FRONT_DESK, 403),
        (Role.CLINIC_ADMIN, 403),
        (Role.TECHNICIAN, 302),
        (Role.PSYCHIATRIST, 302),
    ],
)
@pytest.mark.parametrize("what", ["assessments", "motor-thresholds"])
def test_recording_roles(
    what: str,
    actor: str,
    status: int,
    login: Any,
    client: Any,
    make_course: Any,
    staff: Any,
    other_clinic: Any,
) -> None:
    course = make_course()
    if actor == "other_psychiatrist":
        client.force_login(staff(Role.PSYCHIATRIST, in_clinic=other_clinic))
    else:
        login(actor)
    data = (
        {"instrument": "phq9", "administered_on": "2026-11-24", "score": "12", "suicide_item": "0"}
        if what == "assessments"
        else {"measured_on": "2026-11-24", "machine_output_pct": "58", "method": "visual"}
    )
    response = client.post(f"/courses/{course.pk}/{what}/", data)
    if actor == "anonymous":
        _assert_login_redirect(response)
    else:
        assert response.status_code == status
    model = Assessment if what == "assessments" else MotorThreshold
    created = actor not in ("anonymous", "outsider", "other_psychiatrist") and status == 302
    assert model.objects.filter(course=course).count() == (1 if created else 0)


def test_recording_items_raises_a_safety_flag(login: Any, client: Any, make_course: Any) -> None:
    course = make_course()
    user = login(Role.TECHNICIAN)
    response = client.post(
        f"/courses/{course.pk}/assessments/",
        {"instrument": "phq9", "administered_on": "2026-11-24", "items": "1,1,1,1,1,1,1,1,2"},
    )
    assert response.status_code == 302
    assert response["Location"] == f"/courses/{course.pk}/#scores"
    assessment = Assessment.objects.get(course=course)
    assert assessment.score == 10 and assessment.items == [1, 1, 1, 1, 1, 1, 1, 1, 2]
    assert assessment.recorded_by == user
    assert SafetyFlag.objects.filter(course=course).exists()
    text = _text(client.get(response["Location"]))
    assert "a safety flag is raised" in text


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"instrument": "phq9", "items": "1 2 3"}, "PHQ-9 has 9 items; got 3."),
        ({"instrument": "phq9", "score": "30"}, "A PHQ-9 total is between 0 and 27."),
        ({"instrument": "phq9", "items": "a b"}, "Enter whole numbers"),
        ({"instrument": "phq9"}, "Enter the total score, the item answers, or both."),
        ({"instrument": "phq9", "score": "10", "items": ITEM_TEXT}, "The items add up to 14"),
        (
            {
                "instrument": "phq9",
                "score": "10",
                "suicide_item": "0",
                "administered_on": "2026-12-30",
            },
            "This date is in the future.",
        ),
        ({"instrument": "nope", "score": "3"}, "Select a valid choice."),
    ],
)
def test_bad_scores_are_a_400_with_the_reason(
    data: dict[str, str], message: str, login: Any, client: Any, make_course: Any
) -> None:
    course = make_course()
    login(Role.PSYCHIATRIST)
    response = client.post(
        f"/courses/{course.pk}/assessments/", {"administered_on": "2026-11-24", **data}
    )
    assert response.status_code == 400
    assert message in _text(response)
    assert not Assessment.objects.filter(course=course).exists()


def test_bad_motor_threshold_is_a_400(login: Any, client: Any, make_course: Any) -> None:
    course = make_course()
    login(Role.TECHNICIAN)
    response = client.post(
        f"/courses/{course.pk}/motor-thresholds/",
        {"measured_on": "2026-11-24", "machine_output_pct": "150", "method": "visual"},
    )
    assert response.status_code == 400
    assert "Ensure this value is less than or equal to 100." in _text(response)


# --- The course page -----------------------------------------------------------------


def test_course_page_shows_progress_timeline_chart_and_outcomes(
    login: Any, client: Any, booked_course: Any, psychiatrist: Any
) -> None:
    sessions = list(Session.objects.filter(course=booked_course).order_by("starts_at"))
    Session.objects.filter(pk__in=[s.pk for s in sessions[:3]]).update(status="completed")
    Session.objects.filter(pk=sessions[3].pk).update(status="missed")
    makeup = SessionFactory(
        course=booked_course,
        chair=sessions[-1].chair,
        kind="makeup",
        starts_at=sessions[-1].starts_at + dt.timedelta(days=1),
        ends_at=sessions[-1].ends_at + dt.timedelta(days=1),
        makeup_for=sessions[3],
    )
    with time_machine.travel(dt.datetime(2026, 12, 8, 17, tzinfo=dt.UTC)):
        services.assessment_record(  # after session 1, so the baseline stays 14
            booked_course,
            instrument="phq9",
            administered_on=dt.date(2026, 12, 7),
            by=psychiatrist,
            score=6,
            suicide_item=0,
        )
        login(Role.PSYCHIATRIST)
        text = _course_page(client, booked_course)
    assert '<progress class="progress" max="100" value="8"' in text  # 3 of 36
    assert 'aria-valuetext="3 of 36 sessions done"' in text
    assert "3 of 36 sessions done" in text
    assert text.count(">Done</td>") == 3
    assert "Missed, made up" in text
    assert f"(for {sessions[3].starts_at:%-d %b})" in text
    assert makeup.pk
    assert "<svg" in text and '<title id="score-chart-title">PHQ-9 scores over time</title>' in text
    assert '<desc id="score-chart-desc">' in text
    # The dates run across the course (the baseline a week before it), today marked.
    first_day = sessions[0].starts_at.astimezone(booked_course.patient.clinic.tz).date()
    assert f"The dates cover the course, from {first_day:%d %b %Y} to its projected end" in text
    assert "A vertical line marks today, 08 Dec 2026." in text
    assert '<g class="today"' in text and "Grey vertical line: today." in text
    assert "Response: 7 (half the baseline of 14)" in text
    assert "Remission: below 5" in text
    assert "baseline 14" in text and "latest 6" in text
    assert "Response</span>" in text  # 6 is at most half of 14
    assert "Not in remission" in text
    assert 'id="scores-table"' in text


def test_course_page_for_anxiety_charts_gad7_too(
    login: Any, client: Any, make_course: Any, psychiatrist: Any
) -> None:
    course = make_course(indication="mdd_anxiety")
    AssessmentFactory(course=course, instrument="gad7", score=15)
    login(Role.PSYCHIATRIST)
    text = _course_page(client, course)
    assert "PHQ-9 and GAD-7 scores over time" in text
    assert "GAD-7</strong>" in text


# --- Query counts --------------------------------------------------------------------


def _count(client: Any, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def _fill(course: Any, psychiatrist: Any, scores: int) -> None:
    for day in range(scores):
        AssessmentFactory(
            course=course,
            administered_on=dt.date(2026, 11, 24) - dt.timedelta(days=7 * day),
            score=10 + day % 10,
            items=ITEMS,
        )
    MotorThresholdFactory(course=course, measured_by=psychiatrist)
    Authorization.objects.create(
        course=course,
        payer="Aetna",
        number="A-1",
        sessions_authorized=36,
        valid_from=START,
        valid_until=dt.date(2027, 3, 31),
    )


@pytest.mark.parametrize("role", [Role.PSYCHIATRIST, Role.FRONT_DESK])
def test_course_page_query_count_is_fixed(
    role: str,
    login: Any,
    client: Any,
    make_course: Any,
    chairs: list[Any],
    psychiatrist: Any,
    django_assert_num_queries: Any,
) -> None:
    few = make_course()
    SessionFactory(course=few, chair=chairs[0])
    _fill(few, psychiatrist, scores=1)
    many = make_course()
    course_schedule(many)
    _fill(many, psychiatrist, scores=12)
    Session.objects.filter(
        course=many, starts_at__lt=dt.datetime(2026, 12, 5, tzinfo=dt.UTC)
    ).update(status="missed")
    login(role)
    expected = _count(client, f"/courses/{few.pk}/")
    with django_assert_num_queries(expected):
        assert client.get(f"/courses/{many.pk}/").status_code == 200


def test_dashboard_query_count_is_fixed(
    login: Any,
    client: Any,
    make_course: Any,
    chairs: list[Any],
    psychiatrist: Any,
    django_assert_num_queries: Any,
) -> None:
    first = _course_with_level(make_course, "at_risk", psychiatrist)
    # An authorization like the others': the risk facts read authorizations and their
    # codes only when some course has one (two queries fewer when none has).
    _fill(first, psychiatrist, scores=1)
    login(Role.PSYCHIATRIST)
    expected = _count(client, "/courses/mine/")
    course_schedule(first)
    for _ in range(6):
        course = _course_with_level(make_course, "at_risk", psychiatrist)
        _fill(course, psychiatrist, scores=5)
    with django_assert_num_queries(expected):
        assert client.get("/courses/mine/").status_code == 200


def test_course_page_names_the_phases_and_continuation_sessions_in_words(
    login: Any, client: Any, make_course: Any, chairs: list[Any]
) -> None:
    ChairFactory(clinic=chairs[0].clinic, name="Deep TMS", coils=["H1"])  # the H1 protocol's
    course = make_course(protocol="deep-tms-h1")
    course_schedule(course)
    login(Role.FRONT_DESK)
    text = _text(client.get(f"/courses/{course.pk}/"))
    assert "20 treatment sessions, 5 a week, then 24 continuation sessions, 2 a week" in text
    assert text.count("<td>Continuation</td>") == 24
    assert "Taper" not in text
