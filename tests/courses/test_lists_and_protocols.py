from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.models import Role
from courses import services
from tests.factories import (
    CourseFactory,
    MotorThresholdFactory,
    PatientFactory,
    ProtocolFactory,
    ScreeningFactory,
)


def _flag(clinic: Any) -> Any:
    course = CourseFactory(patient=PatientFactory(clinic=clinic))
    return services.assessment_record(
        course,
        instrument="phq9",
        items=[1, 1, 1, 1, 1, 1, 1, 1, 1],
        administered_on=course.start_date,
        by=course.psychiatrist,
    )


LISTS: dict[str, Callable[[Any], Any]] = {
    "/api/v1/protocols/": lambda clinic: ProtocolFactory(clinic=clinic),
    "/api/v1/screenings/": lambda clinic: ScreeningFactory(patient=PatientFactory(clinic=clinic)),
    "/api/v1/motor-thresholds/": lambda clinic: MotorThresholdFactory(
        course=CourseFactory(patient=PatientFactory(clinic=clinic))
    ),
    "/api/v1/safety-flags/": _flag,
}


@pytest.mark.parametrize("path", list(LISTS))
def test_list_query_count_does_not_grow(path: str, clinic: Any, staff: Any, api: Any) -> None:
    client = api(staff(Role.PSYCHIATRIST))

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(path).status_code == 200
        return len(captured)

    LISTS[path](clinic)
    few = count()
    for _ in range(6):
        LISTS[path](clinic)
    assert count() == few <= 7  # with the audit trail's one INSERT


def _protocol(clinic: Any, **overrides: Any) -> dict[str, Any]:
    return {
        "clinic": clinic.pk,
        "code": "house",
        "name": "House protocol",
        "slot_minutes": 30,
        "mapping_minutes": 60,
        "sessions_total": 25,
        "phases": [{"sessions": 20, "per_week": 5}, {"sessions": 5, "per_week": 2}],
        "sessions_per_day": 1,
        "min_gap_minutes": 0,
        "stimulation": "10 Hz",
        "frequency_hz": 10,
        "pulses_per_session": 3000,
        "intensity_pct_mt": 120,
        "treatment_minutes": 25,
        **overrides,
    }


@pytest.fixture
def admin(staff: Any, api: Any) -> Any:
    return api(staff(Role.CLINIC_ADMIN))


def test_a_clinic_protocol_names_its_coil_and_mapping_schedule(clinic: Any, admin: Any) -> None:
    sent = _protocol(clinic, coil="H7", mapping_schedule="same_day")
    response = admin.post("/api/v1/protocols/", sent, format="json")
    assert response.status_code == 201, response.content
    assert (response.json()["coil"], response.json()["mapping_schedule"]) == ("H7", "same_day")
    plain = admin.post("/api/v1/protocols/", _protocol(clinic, code="plain"), format="json")
    assert (plain.json()["coil"], plain.json()["mapping_schedule"]) == (
        "figure-8",
        "first_treatment",
    )


def test_clinic_protocol_round_trip(clinic: Any, admin: Any) -> None:
    response = admin.post("/api/v1/protocols/", _protocol(clinic), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["sessions_total"] == 25
    assert body["phases"] == [
        {
            "sessions": 20,
            "per_week": 5,
            "every_weeks": 1,
            "kind": "treatment",
            "kind_label": "Treatment",
        },
        {"sessions": 5, "per_week": 2, "every_weeks": 1, "kind": "taper", "kind_label": "Taper"},
    ]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"sessions_total": 30}, "sessions_total"),
        ({"phases": [{"sessions": 25, "per_week": 8}]}, "phases"),
        ({"phases": [{"sessions": 25, "per_week": 0}]}, "phases"),
        ({"phases": []}, "phases"),
        ({"sessions_per_day": 0}, "sessions_per_day"),
        ({"sessions_per_day": 3, "min_gap_minutes": 0}, "min_gap_minutes"),
        ({"code": "10hz-standard"}, "code"),
        ({"mapping_minutes": 10}, "mapping_minutes"),
        ({"coil": "H9"}, "coil"),
        ({"coil": "figure 8 coil"}, "coil"),
        ({"mapping_schedule": "week_before"}, "mapping_schedule"),
    ],
)
def test_protocol_validation(
    clinic: Any, admin: Any, overrides: dict[str, Any], field: str
) -> None:
    response = admin.post("/api/v1/protocols/", _protocol(clinic, **overrides), format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_several_sessions_a_day_with_a_gap(clinic: Any, admin: Any) -> None:
    payload = _protocol(
        clinic,
        sessions_per_day=5,
        min_gap_minutes=50,
        sessions_total=25,
        phases=[{"sessions": 25, "per_week": 5}],
    )
    assert admin.post("/api/v1/protocols/", payload, format="json").status_code == 201


def test_seeded_catalog_matches_design(db: None) -> None:
    from courses.models import Protocol
    from courses.selectors import sessions_total

    expected = {
        "10hz-standard": (40, 36, [(30, 5), (3, 3), (2, 2), (1, 1)], 1),
        "10hz-dash": (20, 36, [(30, 5), (3, 3), (2, 2), (1, 1)], 1),
        "itbs": (10, 36, [(30, 5), (3, 3), (2, 2), (1, 1)], 1),
        "deep-tms-h1": (25, 44, [(20, 5), (24, 2)], 1),
        "snt-accelerated": (15, 50, [(50, 5)], 10),
    }
    for code, (slot, total, phases, per_day) in expected.items():
        protocol = Protocol.objects.get(clinic=None, code=code)
        assert protocol.slot_minutes == slot
        assert protocol.mapping_minutes == 60
        assert sessions_total(protocol) == total
        assert [(p.sessions, p.per_week) for p in protocol.phases.all()] == phases
        assert protocol.sessions_per_day == per_day
    assert Protocol.objects.get(code="snt-accelerated").min_gap_minutes == 50


def test_seeded_continuation_phases_are_not_tapers(db: None) -> None:
    """Deep TMS goes on at 2 a week for 12 weeks (continuation); the figure-8 protocols'
    3, 2, 1 a week step down (taper)."""
    from courses.models import Protocol

    kinds = {
        protocol.code: [phase.kind for phase in protocol.phases.all()]
        for protocol in Protocol.objects.filter(clinic=None)
    }
    assert kinds["deep-tms-h1"] == ["treatment", "continuation"]
    assert kinds["10hz-standard"] == ["treatment", "taper", "taper", "taper"]
    assert kinds["snt-accelerated"] == ["treatment"]


def test_the_api_names_a_phase_kind_in_words(clinic: Any, admin: Any) -> None:
    listed = admin.get("/api/v1/protocols/", {"page_size": 100}).json()["results"]
    deep = next(p for p in listed if p["code"] == "deep-tms-h1")
    assert [(p["kind"], p["kind_label"]) for p in deep["phases"]] == [
        ("treatment", "Treatment"),
        ("continuation", "Continuation"),
    ]
    payload = _protocol(
        clinic,
        phases=[
            {"sessions": 20, "per_week": 5},
            {"sessions": 5, "per_week": 2, "kind": "continuation"},
        ],
        sessions_total=25,
    )
    created = admin.post("/api/v1/protocols/", payload, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["phases"][1]["kind_label"] == "Continuation"


def test_a_patch_still_needs_whole_phases(clinic: Any, admin: Any) -> None:
    created = admin.post("/api/v1/protocols/", _protocol(clinic), format="json").json()
    response = admin.patch(
        f"/api/v1/protocols/{created['id']}/", {"phases": [{"sessions": 10}]}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"]["phases"]["0"] == {"per_week": ["This field is required."]}
    kept = admin.get(f"/api/v1/protocols/{created['id']}/").json()
    assert kept["phases"] == created["phases"]
    # A whole phase list still replaces the old one in a PATCH.
    whole = [{"sessions": 25, "per_week": 5}]
    response = admin.patch(
        f"/api/v1/protocols/{created['id']}/",
        {"phases": whole, "sessions_total": 25},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["phases"] == [
        {
            "sessions": 25,
            "per_week": 5,
            "every_weeks": 1,
            "kind": "treatment",
            "kind_label": "Treatment",
        }
    ]
