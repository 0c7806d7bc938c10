"""Procedure codes (docs/billing.md): the code each session carries, stored when it is
delivered; booking a motor threshold re-determination (90869) and its same-day rules;
the database's hold on the payer rules; per-code authorizations and the risk rules
that read them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import time_machine
from django.db import IntegrityError, transaction

from clinic.errors import Conflict
from clinic.models import Role
from courses.billing import BillingCode
from scheduling import services
from scheduling.billing import billed_units, expected_code
from scheduling.models import Session, SessionKind, SessionStatus
from scheduling.selectors import course_progress
from tests.factories import MembershipFactory

pytestmark = pytest.mark.usefixtures("frozen_now")

NY = dt.timezone(dt.timedelta(hours=-5))  # New York in winter, the tests' clinic
MONDAY = dt.datetime(2026, 11, 30, 10, 0, tzinfo=NY)
TUESDAY = MONDAY + dt.timedelta(days=1)
RECORD = {"pulses_delivered": 3000, "intensity_pct_mt": 120, "coil_position": "F3"}


@pytest.fixture
def technician(clinic: Any) -> Any:
    return MembershipFactory(clinic=clinic, role=Role.TECHNICIAN).user


@contextmanager
def _at(moment: dt.datetime) -> Iterator[None]:
    with time_machine.travel(moment, tick=False):
        yield


def _deliver(session: Session, technician: Any) -> Session:
    with _at(session.starts_at + dt.timedelta(minutes=5)):
        services.session_check_in(session)
        return services.session_complete(session, technician=technician, **RECORD)


def _redetermination(client: Any, course: Any, starts_at: dt.datetime) -> Any:
    return client.post(
        f"/api/v1/courses/{course.pk}/redetermination/",
        {"starts_at": starts_at.isoformat()},
        format="json",
    )


# --- the code of a session ------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        (SessionKind.MAPPING, SessionStatus.SCHEDULED, "90867"),
        (SessionKind.REMAP, SessionStatus.CHECKED_IN, "90869"),
        (SessionKind.TREATMENT, SessionStatus.SCHEDULED, "90868"),
        (SessionKind.TAPER, SessionStatus.SCHEDULED, "90868"),
        (SessionKind.CONTINUATION, SessionStatus.SCHEDULED, "90868"),
        (SessionKind.MAKEUP, SessionStatus.SCHEDULED, "90868"),
        (SessionKind.MAPPING, SessionStatus.MISSED, ""),
        (SessionKind.TREATMENT, SessionStatus.CANCELLED, ""),
        (SessionKind.REMAP, SessionStatus.MISSED, ""),
    ],
)
def test_the_code_follows_the_kind_and_a_lost_session_has_none(
    kind: str, status: str, code: str
) -> None:
    assert expected_code(kind, status) == code


def test_a_delivered_session_stores_its_code_and_date_of_service(
    make_course: Any, chairs: list[Any], technician: Any
) -> None:
    course = make_course()
    mapping = services.session_book(course, starts_at=MONDAY, kind=SessionKind.MAPPING)
    treatment = services.session_book(course, starts_at=TUESDAY)
    # 23:30 in New York is the next day in UTC: the date of service is the clinic's.
    late = services.session_book(course, starts_at=MONDAY + dt.timedelta(days=2, hours=8))
    assert (mapping.billing_code, mapping.service_date) == ("", None)
    for session in (mapping, treatment, late):
        _deliver(session, technician)
    stored = {s.pk: (s.billing_code, s.service_date) for s in Session.objects.filter(course=course)}
    assert stored == {
        mapping.pk: ("90867", dt.date(2026, 11, 30)),
        treatment.pk: ("90868", dt.date(2026, 12, 1)),
        late.pk: ("90868", dt.date(2026, 12, 2)),
    }


def test_the_stored_code_does_not_follow_a_later_change_of_kind(
    make_course: Any, chairs: list[Any], technician: Any
) -> None:
    course = make_course()
    mapping = _deliver(
        services.session_book(course, starts_at=MONDAY, kind=SessionKind.MAPPING), technician
    )
    Session.objects.filter(pk=mapping.pk).update(kind=SessionKind.TREATMENT)
    mapping.refresh_from_db()
    assert expected_code(mapping.kind, mapping.status, mapping.billing_code) == "90867"


def test_the_database_holds_the_payer_rules(
    make_course: Any, chairs: list[Any], technician: Any
) -> None:
    course = make_course()
    mapping = _deliver(
        services.session_book(course, starts_at=MONDAY, kind=SessionKind.MAPPING), technician
    )
    treatment = _deliver(services.session_book(course, starts_at=TUESDAY), technician)
    cases = [
        # a second 90867 on the course
        {"billing_code": BillingCode.INITIAL},
        # a 90869 on the day of the 90867
        {"billing_code": BillingCode.REDETERMINATION, "service_date": mapping.service_date},
    ]
    for change in cases:
        with pytest.raises(IntegrityError), transaction.atomic():
            Session.objects.filter(pk=treatment.pk).update(**change)
    # a cancelled session carries no code
    with pytest.raises(IntegrityError), transaction.atomic():
        Session.objects.filter(pk=treatment.pk).update(status=SessionStatus.CANCELLED)


def test_units_one_per_code_and_day_with_the_threshold_codes_bundling_the_treatment() -> None:
    monday, tuesday, wednesday = (dt.date(2026, 11, 30) + dt.timedelta(days=n) for n in range(3))
    lines = billed_units(
        [
            (monday, "90867"),
            (monday, "90868"),  # a same-day-mapping protocol's treatment: in the 90867
            (tuesday, "90868"),
            (tuesday, "90868"),  # an accelerated day: one unit
            (wednesday, "90869"),
        ]
    )
    assert [(line.service_date, line.code, line.units, line.sessions) for line in lines] == [
        (monday, "90867", 1, 1),
        (tuesday, "90868", 1, 2),
        (wednesday, "90869", 1, 1),
    ]


# --- booking a re-determination -------------------------------------------------------


def test_a_redetermination_is_booked_after_the_mapping_and_not_on_its_day(
    make_course: Any, chairs: list[Any], api_as: Any
) -> None:
    course = make_course()
    desk = api_as(Role.FRONT_DESK)
    refused = _redetermination(desk, course, TUESDAY)
    assert refused.status_code == 409 and refused.json()["code"] == "remap_before_mapping"

    services.session_book(course, starts_at=MONDAY, kind=SessionKind.MAPPING)
    same_day = _redetermination(desk, course, MONDAY + dt.timedelta(hours=4))
    assert same_day.status_code == 409
    assert same_day.json()["code"] == "remap_same_day_as_mapping"

    booked = _redetermination(desk, course, TUESDAY)
    assert booked.status_code == 201, booked.content
    body = booked.json()
    assert body["kind"] == "remap"
    length = dt.datetime.fromisoformat(body["ends_at"]) - dt.datetime.fromisoformat(
        body["starts_at"]
    )
    assert length == dt.timedelta(minutes=course.protocol.mapping_minutes)

    twice = _redetermination(desk, course, TUESDAY + dt.timedelta(hours=4))
    assert twice.status_code == 409 and twice.json()["code"] == "remap_same_day"


def test_the_mapping_cannot_move_onto_a_redetermination_day(
    make_course: Any, chairs: list[Any]
) -> None:
    course = make_course()
    mapping = services.session_book(course, starts_at=MONDAY, kind=SessionKind.MAPPING)
    services.session_book(course, starts_at=TUESDAY, kind=SessionKind.REMAP)
    with pytest.raises(Conflict) as refused:
        services.session_move(mapping, starts_at=TUESDAY + dt.timedelta(hours=4))
    assert refused.value.code == "remap_same_day_as_mapping"


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (Role.FRONT_DESK, 201),
        (Role.PSYCHIATRIST, 201),
        (Role.CLINIC_ADMIN, 201),
        (Role.TECHNICIAN, 403),
        ("anonymous", 401),
        ("outsider", 404),
    ],
)
def test_who_books_a_redetermination(
    make_course: Any,
    chairs: list[Any],
    api: Any,
    staff: Any,
    other_clinic: Any,
    role: str,
    status: int,
) -> None:
    course = make_course()
    services.session_book(course, starts_at=MONDAY, kind=SessionKind.MAPPING)
    user = {
        "anonymous": None,
        "outsider": lambda: staff(Role.CLINIC_ADMIN, in_clinic=other_clinic),
    }.get(role, lambda: staff(role))
    client = api(user() if callable(user) else None)
    assert _redetermination(client, course, TUESDAY).status_code == status


def test_the_patient_page_books_a_redetermination(
    make_course: Any, chairs: list[Any], client: Any, psychiatrist: Any
) -> None:
    course = make_course()
    services.session_book(course, starts_at=MONDAY, kind=SessionKind.MAPPING)
    client.force_login(psychiatrist)
    page = client.get(f"/patients/{course.patient_id}/")
    assert b"Book a motor threshold re-determination" in page.content
    response = client.post(
        f"/patients/{course.patient_id}/sessions/remap/",
        {"course": course.pk, "date": "2026-12-01", "time": "10:00"},
    )
    assert response.status_code == 302
    assert Session.objects.filter(course=course, kind=SessionKind.REMAP).count() == 1


def test_a_delivered_redetermination_is_90869(
    make_course: Any, chairs: list[Any], technician: Any
) -> None:
    course = make_course()
    _deliver(services.session_book(course, starts_at=MONDAY, kind=SessionKind.MAPPING), technician)
    remap = _deliver(
        services.session_book(course, starts_at=TUESDAY, kind=SessionKind.REMAP), technician
    )
    assert (remap.billing_code, remap.service_date) == ("90869", dt.date(2026, 12, 1))


# --- per-code authorizations ----------------------------------------------------------


def _authorize(client: Any, course: Any, codes: list[dict[str, Any]], total: int = 36) -> Any:
    return client.post(
        f"/api/v1/courses/{course.pk}/authorizations/",
        {
            "payer": "Aetna",
            "number": "A-1",
            "sessions_authorized": total,
            "valid_from": "2026-11-01",
            "valid_until": "2027-03-31",
            "codes": codes,
        },
        format="json",
    )


def test_an_authorization_scoped_to_codes_keeps_its_single_count(
    make_course: Any, api_as: Any
) -> None:
    course = make_course()
    desk = api_as(Role.FRONT_DESK)
    codes = [{"code": "90868", "units": 36}, {"code": "90867", "units": 1}]
    created = _authorize(desk, course, codes, total=37)
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["sessions_authorized"] == 37
    assert sorted(body["codes"], key=lambda line: line["code"]) == sorted(
        codes, key=lambda line: line["code"]
    )
    listed = desk.get(f"/api/v1/courses/{course.pk}/").json()
    assert listed["authorization"]["sessions_authorized"] == 37
    assert len(listed["authorization"]["codes"]) == 2
    plain = _authorize(desk, course, [])
    assert plain.status_code == 201 and plain.json()["codes"] == []


@pytest.mark.parametrize(
    ("codes", "field"),
    [
        ([{"code": "90868", "units": 2}, {"code": "90868", "units": 3}], "codes"),
        ([{"code": "90870", "units": 2}], "codes"),
        ([{"code": "90868", "units": 0}], "codes"),
    ],
)
def test_bad_code_lines_are_refused(
    make_course: Any, api_as: Any, codes: list[dict[str, Any]], field: str
) -> None:
    response = _authorize(api_as(Role.FRONT_DESK), make_course(), codes)
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_remaining_is_per_code_and_the_risk_rules_read_it(
    make_course: Any, chairs: list[Any], api_as: Any, technician: Any
) -> None:
    course = make_course()
    desk = api_as(Role.FRONT_DESK)
    codes = [{"code": "90868", "units": 4}, {"code": "90867", "units": 1}]
    assert _authorize(desk, course, codes).status_code == 201
    _deliver(services.session_book(course, starts_at=MONDAY, kind=SessionKind.MAPPING), technician)
    _deliver(services.session_book(course, starts_at=TUESDAY), technician)

    progress = course_progress(course)
    by_code = {line["code"]: line for line in progress["authorization_codes"]}
    assert by_code["90867"] == {
        "code": "90867",
        "authorized": 1,
        "used": 1,
        "booked": 0,
        "remaining": 0,
    }
    assert (by_code["90868"]["used"], by_code["90868"]["remaining"]) == (1, 3)
    reasons = {detail["code"] for detail in progress["risk"]["details"]}
    assert "authorization_code_low" in reasons
    assert "authorization_code_exceeded" not in reasons

    for day in (1, 2, 3, 6):  # four more treatments booked (Wed to Mon): 1 used + 4 > 4
        services.session_book(course, starts_at=TUESDAY + dt.timedelta(days=day))
    progress = course_progress(course)
    details = {detail["code"]: detail for detail in progress["risk"]["details"]}
    assert details["authorization_code_exceeded"]["level"] == "watch"
    assert "90868" in details["authorization_code_exceeded"]["detail"]
    # The single count stays as it was: two sessions of 36 used.
    assert progress["authorization_remaining"] == 34


def test_the_course_page_shows_the_per_code_lines(
    make_course: Any, api_as: Any, client: Any, psychiatrist: Any
) -> None:
    course = make_course()
    _authorize(api_as(Role.FRONT_DESK), course, [{"code": "90868", "units": 30}])
    client.force_login(psychiatrist)
    page = client.get(f"/courses/{course.pk}/")
    assert page.status_code == 200
    assert b"By procedure code" in page.content and b"90868" in page.content


def test_the_authorization_page_takes_lines_by_code(make_course: Any, page_as: Any) -> None:
    course = make_course()
    client = page_as(Role.FRONT_DESK)
    url = f"/courses/{course.pk}/authorizations/new/"
    assert b"Of which 90868" in client.get(url).content
    response = client.post(
        url,
        {
            "payer": "Cigna",
            "number": "C-9",
            "sessions_authorized": "37",
            "valid_from": "2026-11-01",
            "valid_until": "2027-02-28",
            "units_90867": "1",
            "units_90868": "36",
            "units_90869": "",
        },
    )
    assert response.status_code == 302, response.content
    authorization = course.authorizations.get()
    assert authorization.sessions_authorized == 37
    assert sorted(authorization.codes.values_list("code", "units")) == [
        ("90867", 1),
        ("90868", 36),
    ]
