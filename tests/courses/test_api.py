"""Course API behaviour: screening decisions, status rules, assessments, redaction."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.models import Role
from courses.models import SafetyFlag, Screening, TreatmentCourse
from tests.factories import (
    AssessmentFactory,
    CourseFactory,
    PatientFactory,
    ScreeningFactory,
    cleared_screening,
)


@pytest.fixture
def psychiatrist(staff: Any) -> Any:
    return staff(Role.PSYCHIATRIST)


@pytest.fixture
def doctor(psychiatrist: Any, api: Any) -> Any:
    return api(psychiatrist)


@pytest.fixture
def patient(clinic: Any) -> Any:
    return PatientFactory(clinic=clinic)


def _course_payload(patient: Any, psychiatrist: Any, **overrides: Any) -> dict[str, Any]:
    return {
        "patient": patient.pk,
        "psychiatrist": psychiatrist.pk,
        "protocol": "10hz-standard",
        "indication": "mdd",
        "start_date": "2026-12-07",
        "preferred_time": "09:30",
        **overrides,
    }


# --- screening ------------------------------------------------------------------------


def test_absolute_contraindication_blocks_clearing(doctor: Any, patient: Any) -> None:
    screening = ScreeningFactory(patient=patient, cochlear_implant=True)
    response = doctor.patch(
        f"/api/v1/screenings/{screening.pk}/",
        {"answers": {"cochlear_implant": True}},
        format="json",
    )
    assert response.json()["status"] == "contraindicated"
    response = doctor.post(
        f"/api/v1/screenings/{screening.pk}/clear/", {"reason": "ok"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "contraindicated"
    screening.refresh_from_db()
    assert screening.status == "contraindicated"


def test_relative_contraindication_needs_a_reason(doctor: Any, patient: Any) -> None:
    screening = ScreeningFactory(patient=patient, seizure_history=True)
    response = doctor.post(f"/api/v1/screenings/{screening.pk}/clear/", {}, format="json")
    assert response.status_code == 400
    assert "reason" in response.json()["errors"]
    response = doctor.post(
        f"/api/v1/screenings/{screening.pk}/clear/",
        {"reason": "Single febrile seizure age 3; seizure-free since."},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "cleared"
    assert body["decided_by"] is not None and body["decided_at"] is not None


def test_treatment_resistance_is_required(doctor: Any, patient: Any) -> None:
    screening = ScreeningFactory(patient=patient, trials=False)
    response = doctor.post(f"/api/v1/screenings/{screening.pk}/clear/", {}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "insufficient_trials"


def test_inadequate_trials_do_not_count(doctor: Any, patient: Any) -> None:
    response = doctor.post(
        "/api/v1/screenings/",
        {
            "patient": patient.pk,
            "failed_trials": [
                {"drug": "sertraline", "dose": "50 mg", "weeks": 3, "outcome": "no_response"},
                {
                    "drug": "escitalopram",
                    "dose": "10 mg",
                    "weeks": 10,
                    "adherence": "poor",
                    "outcome": "no_response",
                },
                {"drug": "venlafaxine", "dose": "75 mg", "weeks": 1, "outcome": "intolerance"},
            ],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["adequate_trials"] == 1
    assert response.json()["required_trials"] == 2


def test_a_patch_still_needs_whole_failed_trials(doctor: Any, patient: Any) -> None:
    screening = ScreeningFactory(patient=patient)
    response = doctor.patch(
        f"/api/v1/screenings/{screening.pk}/", {"failed_trials": [{"drug": "x"}]}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()["errors"]["failed_trials"]["0"]) == {"dose", "weeks", "outcome"}
    # A whole trial is taken, its defaults included (adherence: full).
    trial = {"drug": "sertraline", "dose": "100 mg", "weeks": 8, "outcome": "no_response"}
    response = doctor.patch(
        f"/api/v1/screenings/{screening.pk}/", {"failed_trials": [trial]}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["failed_trials"] == [{**trial, "adherence": "full", "adequate": True}]
    stored = doctor.get(f"/api/v1/screenings/{screening.pk}/").json()["failed_trials"]
    assert stored == response.json()["failed_trials"]


def test_a_course_patch_with_half_an_authorization_is_a_400(
    doctor: Any, patient: Any, psychiatrist: Any
) -> None:
    course = CourseFactory(patient=patient, psychiatrist=psychiatrist)
    whole = {
        "payer": "Aetna",
        "number": "PA-78",
        "sessions_authorized": 36,
        "valid_from": "2026-12-01",
        "valid_until": "2027-03-01",
    }
    # Half of one is refused as such; a whole one because authorizations are added with
    # POST .../authorizations/, never through the course.
    for authorization in ({"payer": "Aetna"}, whole):
        response = doctor.patch(
            f"/api/v1/courses/{course.pk}/", {"authorization": authorization}, format="json"
        )
        assert response.status_code == 400
        assert "authorization" in response.json()["errors"]
    assert not course.authorizations.exists()


def test_changing_answers_sends_a_cleared_screening_back(
    doctor: Any, patient: Any, psychiatrist: Any
) -> None:
    screening = cleared_screening(patient, by=psychiatrist)
    response = doctor.patch(
        f"/api/v1/screenings/{screening.pk}/", {"answers": {"pregnancy": True}}, format="json"
    )
    assert response.json()["status"] == "pending"
    assert response.json()["decided_by"] is None


def test_front_desk_sees_screening_status_not_answers(
    staff: Any, api: Any, patient: Any, psychiatrist: Any
) -> None:
    cleared_screening(patient, by=psychiatrist)
    row = api(staff(Role.FRONT_DESK)).get("/api/v1/screenings/").json()["results"][0]
    assert row["status"] == "cleared"
    assert "answers" not in row and "failed_trials" not in row
    full = api(staff(Role.TECHNICIAN)).get("/api/v1/screenings/").json()["results"][0]
    assert "answers" in full and len(full["failed_trials"]) == 2


# --- courses ---------------------------------------------------------------------------


def test_course_create_defaults(doctor: Any, patient: Any, psychiatrist: Any) -> None:
    response = doctor.post(
        "/api/v1/courses/",
        _course_payload(
            patient,
            psychiatrist,
            indication="gad",
            authorization={
                "payer": "Aetna",
                "number": "PA-77",
                "sessions_authorized": 36,
                "valid_from": "2026-12-01",
                "valid_until": "2027-03-01",
            },
        ),
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "planned"
    assert body["protocol"] == "10hz-standard"
    assert body["primary_instrument"] == "gad7"
    assert body["tracked_instruments"] == ["gad7"]
    assert body["sessions_total"] == 36
    assert body["window_end_date"] == "2027-02-22"  # 9 planned weeks + 2 weeks grace
    assert body["authorization"]["number"] == "PA-77"
    assert body["preferred_time"] == "09:30"


def test_front_desk_books_a_course_for_a_named_psychiatrist(
    api: Any, staff: Any, patient: Any, psychiatrist: Any
) -> None:
    desk = api(staff(Role.FRONT_DESK))
    payload = _course_payload(patient, psychiatrist)
    del payload["psychiatrist"]
    missing = desk.post("/api/v1/courses/", payload, format="json")
    assert missing.status_code == 400
    assert "psychiatrist" in missing.json()["errors"]  # front desk never prescribes as themselves
    named = desk.post("/api/v1/courses/", _course_payload(patient, psychiatrist), format="json")
    assert named.status_code == 201, named.content
    assert named.json()["psychiatrist"] == psychiatrist.pk


def test_anxious_depression_tracks_gad7_too(doctor: Any, patient: Any, psychiatrist: Any) -> None:
    body = doctor.post(
        "/api/v1/courses/",
        _course_payload(patient, psychiatrist, indication="mdd_anxiety"),
        format="json",
    ).json()
    assert body["tracked_instruments"] == ["phq9", "gad7"]


def test_second_open_course_is_409(doctor: Any, patient: Any, psychiatrist: Any) -> None:
    first = doctor.post("/api/v1/courses/", _course_payload(patient, psychiatrist), format="json")
    assert first.status_code == 201
    second = doctor.post("/api/v1/courses/", _course_payload(patient, psychiatrist), format="json")
    assert second.status_code == 409, second.content
    assert second.json()["code"] == "course_exists"
    assert second.json()["conflicts"] == [{"course": first.json()["id"], "status": "planned"}]


def test_open_course_constraint_holds_in_the_database(patient: Any) -> None:
    from django.db import IntegrityError, transaction

    CourseFactory(patient=patient)
    with pytest.raises(IntegrityError), transaction.atomic():
        CourseFactory(patient=patient, status="paused")


def test_new_course_after_the_last_one_ended(doctor: Any, patient: Any, psychiatrist: Any) -> None:
    CourseFactory(patient=patient, status="discontinued")
    response = doctor.post(
        "/api/v1/courses/", _course_payload(patient, psychiatrist), format="json"
    )
    assert response.status_code == 201


def test_activation_needs_a_cleared_screening(doctor: Any, patient: Any, psychiatrist: Any) -> None:
    course = CourseFactory(patient=patient, psychiatrist=psychiatrist)
    ScreeningFactory(patient=patient)  # pending
    response = doctor.post(f"/api/v1/courses/{course.pk}/activate/", {}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "screening_required"
    cleared_screening(patient, by=psychiatrist)
    response = doctor.post(f"/api/v1/courses/{course.pk}/activate/", {}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "active"


def test_status_machine(doctor: Any, patient: Any, psychiatrist: Any) -> None:
    course = CourseFactory(patient=patient, psychiatrist=psychiatrist)
    cleared_screening(patient, by=psychiatrist)

    def move(verb: str) -> Any:
        return doctor.post(f"/api/v1/courses/{course.pk}/{verb}/", {}, format="json")

    assert move("pause").status_code == 409  # planned cannot pause
    assert move("complete").json()["code"] == "invalid_transition"
    assert move("activate").status_code == 200
    assert move("pause").status_code == 200
    assert move("complete").status_code == 409  # paused must resume first
    assert move("resume").status_code == 200
    completed = move("complete")
    assert completed.status_code == 200
    assert completed.json()["completed_on"] is not None
    assert move("discontinue").status_code == 409
    assert TreatmentCourse.objects.get(pk=course.pk).status == "completed"


def test_front_desk_changes_scheduling_details_only(
    staff: Any, api: Any, patient: Any, psychiatrist: Any
) -> None:
    course = CourseFactory(patient=patient, psychiatrist=psychiatrist)
    desk = api(staff(Role.FRONT_DESK))
    ok = desk.patch(f"/api/v1/courses/{course.pk}/", {"start_date": "2026-12-14"}, format="json")
    assert ok.status_code == 200
    denied = desk.patch(f"/api/v1/courses/{course.pk}/", {"indication": "ocd"}, format="json")
    assert denied.status_code == 403


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("protocol", "no-such-protocol"),
        ("protocol", 999999),
        ("indication", "flu"),
        ("preferred_time", "9.30am"),
        ("start_date", "next monday"),
        ("primary_instrument", "hads"),
    ],
)
def test_course_bad_input_names_the_field(
    doctor: Any, patient: Any, psychiatrist: Any, field: str, value: Any
) -> None:
    response = doctor.post(
        "/api/v1/courses/", _course_payload(patient, psychiatrist, **{field: value}), format="json"
    )
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_psychiatrist_must_be_a_psychiatrist_of_the_clinic(
    doctor: Any, patient: Any, staff: Any
) -> None:
    technician = staff(Role.TECHNICIAN)
    response = doctor.post("/api/v1/courses/", _course_payload(patient, technician), format="json")
    assert response.status_code == 400
    assert "psychiatrist" in response.json()["errors"]


def test_chair_of_another_clinic_is_unknown(
    doctor: Any, patient: Any, psychiatrist: Any, other_clinic: Any
) -> None:
    from tests.factories import ChairFactory

    chair = ChairFactory(clinic=other_clinic)
    response = doctor.post(
        "/api/v1/courses/",
        _course_payload(patient, psychiatrist, preferred_chair=chair.pk),
        format="json",
    )
    assert response.status_code == 400
    assert "preferred_chair" in response.json()["errors"]


def test_course_list_filters(doctor: Any, clinic: Any, psychiatrist: Any) -> None:
    mine = CourseFactory(patient=PatientFactory(clinic=clinic), psychiatrist=psychiatrist)
    CourseFactory(patient=PatientFactory(clinic=clinic), status="completed")

    def ids(query: str) -> list[int]:
        return [row["id"] for row in doctor.get(f"/api/v1/courses/?{query}").json()["results"]]

    assert ids(f"psychiatrist={psychiatrist.pk}") == [mine.pk]
    assert ids("status=planned") == [mine.pk]
    assert ids(f"patient={mine.patient_id}") == [mine.pk]
    assert len(ids("status=planned&status=completed")) == 2
    assert ids("risk=at_risk") == []


def test_course_list_query_count_is_fixed(doctor: Any, clinic: Any) -> None:
    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert doctor.get("/api/v1/courses/").status_code == 200
        return len(captured)

    def add_course() -> None:
        course = CourseFactory(patient=PatientFactory(clinic=clinic))
        authorization = course.authorizations.create(
            payer="x",
            number="1",
            sessions_authorized=36,
            valid_from="2026-11-01",
            valid_until="2027-01-01",
        )
        authorization.codes.create(code="90868", units=36)

    add_course()
    few = count()
    for _ in range(8):
        add_course()
    # auth, roles, count, page, phases, authorizations, their codes; the audit
    # trail's one INSERT
    assert count() == few == 8


# --- assessments -----------------------------------------------------------------------


@pytest.fixture
def course(patient: Any, psychiatrist: Any) -> Any:
    return CourseFactory(patient=patient, psychiatrist=psychiatrist)


def _assess(client: Any, course: Any, **fields: Any) -> Any:
    payload = {"course": course.pk, "administered_on": "2026-11-27", **fields}
    return client.post("/api/v1/assessments/", payload, format="json")


def test_items_give_the_total(doctor: Any, course: Any) -> None:
    response = _assess(doctor, course, instrument="phq9", items=[3, 3, 2, 2, 2, 2, 1, 1, 0])
    assert response.status_code == 201, response.content
    assert response.json()["score"] == 16
    assert response.json()["severity"] == "moderately severe"


@pytest.mark.parametrize(
    ("fields", "error_field"),
    [
        ({"instrument": "phq9", "score": 28}, "score"),
        ({"instrument": "gad7", "score": 22}, "score"),
        ({"instrument": "hamd17", "score": 53}, "score"),
        ({"instrument": "madrs", "score": 61}, "score"),
        ({"instrument": "bdi2", "score": 64}, "score"),
        ({"instrument": "phq9", "score": -1}, "score"),
        ({"instrument": "hads", "score": 3}, "instrument"),
        ({"instrument": "phq9", "items": [1, 1, 1]}, "items"),
        ({"instrument": "phq9", "items": [0, 0, 0, 0, 0, 0, 0, 0, 4]}, "items"),
        ({"instrument": "phq9", "items": [1] * 9, "score": 10}, "score"),
        ({"instrument": "phq9"}, "score"),
        ({"instrument": "phq9", "items": "1,2,3"}, "items"),
    ],
)
def test_bad_assessments_name_the_field(
    doctor: Any, course: Any, fields: dict[str, Any], error_field: str
) -> None:
    response = _assess(doctor, course, **fields)
    assert response.status_code == 400
    assert error_field in response.json()["errors"]


def test_self_harm_answer_raises_a_safety_flag(doctor: Any, course: Any, psychiatrist: Any) -> None:
    response = _assess(doctor, course, instrument="phq9", items=[2, 2, 2, 2, 2, 1, 1, 1, 2])
    assert response.status_code == 201
    assert response.json()["safety_flag"] is True
    flag = SafetyFlag.objects.get(course=course)
    assert flag.item_value == 2 and flag.raised_by == psychiatrist

    ack = doctor.post(f"/api/v1/safety-flags/{flag.pk}/acknowledge/", {}, format="json")
    assert ack.status_code == 200
    first_ack = ack.json()["acknowledged_at"]
    again = doctor.post(f"/api/v1/safety-flags/{flag.pk}/acknowledge/", {}, format="json")
    assert again.json()["acknowledged_at"] == first_ack
    open_flags = doctor.get("/api/v1/safety-flags/?acknowledged=false").json()["count"]
    assert open_flags == 0


def test_front_desk_does_not_see_item_answers(
    staff: Any, api: Any, doctor: Any, course: Any
) -> None:
    _assess(doctor, course, instrument="phq9", items=[2, 2, 2, 2, 2, 1, 1, 1, 0])
    row = api(staff(Role.FRONT_DESK)).get("/api/v1/assessments/").json()["results"][0]
    assert row["score"] == 13
    assert "items" not in row
    clinician_row = api(staff(Role.TECHNICIAN)).get("/api/v1/assessments/").json()["results"][0]
    assert clinician_row["items"] == [2, 2, 2, 2, 2, 1, 1, 1, 0]


def test_assessment_list_query_count_is_fixed(doctor: Any, course: Any) -> None:
    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            doctor.get("/api/v1/assessments/")
        return len(captured)

    AssessmentFactory(course=course)
    few = count()
    for _ in range(6):
        AssessmentFactory(course=CourseFactory(status="completed", patient=course.patient))
    assert count() == few == 5  # with the audit trail's one INSERT


def test_course_outcome_endpoint(doctor: Any, course: Any) -> None:
    AssessmentFactory(course=course, score=20, administered_on="2026-11-27")
    AssessmentFactory(course=course, score=4, administered_on="2027-01-08")
    body = doctor.get(f"/api/v1/courses/{course.pk}/outcome/").json()
    phq9 = body["instruments"][0]
    assert phq9["baseline"]["score"] == 20
    assert phq9["latest"]["score"] == 4
    assert phq9["response"] is True and phq9["remission"] is True
    assert phq9["severity"] == "minimal"


def test_screening_status_values_are_the_api_ones() -> None:
    assert {choice for choice, _ in Screening._meta.get_field("status").choices} == {
        "pending",
        "cleared",
        "contraindicated",
    }


# Needs the violated constraint's name, which PostgreSQL reports and SQLite does not
# (it names the columns); on SQLite the race cannot happen, writers are serialized.
@pytest.mark.postgres
def test_race_for_a_second_open_course_is_still_409(
    doctor: Any, patient: Any, psychiatrist: Any, monkeypatch: Any
) -> None:
    """If two requests pass the service's check together, the partial unique index
    decides, and the loser gets the same 409 as a sequential request would."""
    from courses import services

    CourseFactory(patient=patient)
    monkeypatch.setattr(services, "_ensure_no_open_course", lambda *args, **kwargs: None)
    response = doctor.post(
        "/api/v1/courses/", _course_payload(patient, psychiatrist), format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "course_exists"
