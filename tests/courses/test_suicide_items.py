# ruff: noqa: F811  (the fixtures imported from tests/scheduling/conftest.py)
"""Every scale's suicide item raises the safety flag, and a total entered alone still
needs that item answered: through the API and the course page alike."""

from __future__ import annotations

from collections.abc import Callable
from html import unescape
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from clinic.models import Role
from courses.models import Assessment, SafetyFlag, StaffAlert
from tests.scheduling.conftest import (  # noqa: F401
    chairs,
    frozen_now,
    make_course,
    psychiatrist,
)

pytestmark = pytest.mark.usefixtures("frozen_now")
REQUIRED = "Give the answer to PHQ-9 item 9 (thoughts of self-harm), even with the total only."


def test_a_phq9_total_alone_is_refused_by_the_api_and_the_page(
    make_course: Callable[..., Any], api_as: Callable[[str], APIClient], client: Client, staff: Any
) -> None:
    course = make_course()
    body = {"course": course.pk, "instrument": "phq9", "score": 20, "administered_on": "2026-11-24"}
    response = api_as(Role.PSYCHIATRIST).post("/api/v1/assessments/", body, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"suicide_item": [REQUIRED]}

    client.force_login(staff(Role.TECHNICIAN))
    form = {"instrument": "phq9", "score": "20", "administered_on": "2026-11-24"}
    response = client.post(f"/courses/{course.pk}/assessments/", form)
    assert response.status_code == 400
    assert REQUIRED in unescape(response.content.decode())
    assert not Assessment.objects.exists()


def test_a_total_with_item_9_above_0_raises_the_flag_and_alerts(
    make_course: Callable[..., Any], api_as: Callable[[str], APIClient]
) -> None:
    course = make_course()
    body = {
        "course": course.pk,
        "instrument": "phq9",
        "score": 20,
        "suicide_item": 1,
        "administered_on": "2026-11-24",
    }
    response = api_as(Role.TECHNICIAN).post("/api/v1/assessments/", body, format="json")
    assert response.status_code == 201
    assert response.json()["suicide_item"] == 1
    flag = SafetyFlag.objects.get(course=course)
    assert flag.item_value == 1
    alert = StaffAlert.objects.get(kind="safety_flag")
    assert alert.detail.startswith("PHQ-9 item 9 (thoughts of self-harm) answered 1 on")
    listed = api_as(Role.FRONT_DESK).get(f"/api/v1/assessments/{response.json()['id']}/")
    assert "suicide_item" not in listed.json()  # an item answer: clinicians only


def test_a_madrs_entered_on_the_page_flags_item_10_from_2(
    make_course: Callable[..., Any], client: Client, staff: Any
) -> None:
    course = make_course()
    client.force_login(staff(Role.PSYCHIATRIST))
    items = "0 0 0 0 0 0 0 0 0 2"
    form = {"instrument": "madrs", "items": items, "administered_on": "2026-11-24"}
    response = client.post(f"/courses/{course.pk}/assessments/", form)
    assert response.status_code == 302
    alert = StaffAlert.objects.get(kind="safety_flag")
    assert alert.detail.startswith("MADRS item 10 (thoughts of self-harm) answered 2 on")
