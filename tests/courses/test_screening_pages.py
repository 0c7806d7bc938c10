"""The screening pages (issue 13, "Screening and prescribing"): a screening recorded
with its failed trials (rows added and removed) and every safety question answered,
cleared or declined with a reason; an absolute contraindication cannot be cleared, the
page says why and the service refuses a forged post too. Who may do what."""

from __future__ import annotations

from collections.abc import Callable
from html import unescape
from typing import Any

import pytest
from django.test import Client

from clinic.models import Role
from courses.models import Screening, ScreeningStatus
from courses.screening_forms import QUESTIONS
from tests.factories import ClinicFactory, PatientFactory, ScreeningFactory

ROLES = [Role.FRONT_DESK, Role.TECHNICIAN, Role.PSYCHIATRIST, Role.CLINIC_ADMIN]


def _answers(**yes: bool) -> dict[str, str]:
    return {name: "yes" if yes.get(name) else "no" for name in QUESTIONS}


def _trials(*rows: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "trials-TOTAL_FORMS": str(len(rows)),
        "trials-INITIAL_FORMS": "0",
        "trials-MIN_NUM_FORMS": "0",
        "trials-MAX_NUM_FORMS": "30",
    }
    for n, row in enumerate(rows):
        for name, value in row.items():
            data[f"trials-{n}-{name}"] = value
    return data


def _trial(drug: str, weeks: int = 8, **fields: Any) -> dict[str, Any]:
    return {
        "drug": drug,
        "dose": "150 mg",
        "weeks": str(weeks),
        "adherence": "full",
        "outcome": "no_response",
        **fields,
    }


def _login(client: Client, actor: str, staff: Callable[..., Any], superuser: Any) -> None:
    if actor == "superuser":
        client.force_login(superuser)
    elif actor == "outsider":
        client.force_login(staff(Role.PSYCHIATRIST, in_clinic=ClinicFactory(slug="elsewhere")))
    elif actor != "anonymous":
        client.force_login(staff(actor))


@pytest.mark.parametrize(
    ("actor", "status"),
    [
        ("anonymous", 302),
        ("superuser", 200),
        ("outsider", 404),
        (Role.FRONT_DESK, 403),
        (Role.TECHNICIAN, 200),
        (Role.PSYCHIATRIST, 200),
        (Role.CLINIC_ADMIN, 403),
    ],
)
def test_who_may_record_and_see_a_screening(
    actor: str, status: int, client: Client, clinic: Any, staff: Any, superuser: Any
) -> None:
    patient = PatientFactory(clinic=clinic)
    screening = ScreeningFactory(patient=patient)
    _login(client, actor, staff, superuser)
    for url in (
        f"/screenings/new/?patient={patient.pk}",
        f"/screenings/{screening.pk}/",
        f"/screenings/{screening.pk}/edit/",
    ):
        response = client.get(url)
        assert response.status_code == status, url
        if actor == "anonymous":
            assert "/accounts/login/" in response["Location"]
    posted = client.post(
        f"/screenings/new/?patient={patient.pk}", {**_answers(), **_trials(_trial("sertraline"))}
    )
    assert posted.status_code == (302 if status == 200 else status)
    assert Screening.objects.filter(patient=patient).count() == (2 if status == 200 else 1)


@pytest.mark.parametrize(
    ("actor", "status"),
    [
        ("anonymous", 302),
        ("superuser", 302),
        ("outsider", 404),
        (Role.FRONT_DESK, 403),
        (Role.TECHNICIAN, 403),
        (Role.PSYCHIATRIST, 302),
        (Role.CLINIC_ADMIN, 403),
    ],
)
def test_who_may_clear_a_screening(
    actor: str, status: int, client: Client, clinic: Any, staff: Any, superuser: Any
) -> None:
    screening = ScreeningFactory(patient=PatientFactory(clinic=clinic))
    _login(client, actor, staff, superuser)
    response = client.post(f"/screenings/{screening.pk}/decide/", {"action": "clear", "reason": ""})
    assert response.status_code == status
    screening.refresh_from_db()
    cleared = actor in ("superuser", Role.PSYCHIATRIST)
    assert screening.status == (ScreeningStatus.CLEARED if cleared else ScreeningStatus.PENDING)
    if cleared:
        assert response["Location"] == f"/screenings/{screening.pk}/"


def test_a_screening_is_recorded_with_rows_added_and_removed_then_cleared(
    page_as: Callable[[str], Client], clinic: Any
) -> None:
    patient = PatientFactory(clinic=clinic)
    client = page_as(Role.PSYCHIATRIST)
    url = f"/screenings/new/?patient={patient.pk}"
    page = unescape(client.get(url).content.decode())
    assert "Trial 1" in page and 'name="trials-0-drug"' in page
    # No answer is preset: a "no" is someone's answer.
    assert "checked" not in page
    # "Add a trial" posts back with one row more, keeping what was typed.
    added = client.post(url, {**_answers(), **_trials(_trial("sertraline")), "add_trial": "1"})
    text = unescape(added.content.decode())
    assert added.status_code == 200 and "Trial 2" in text and 'value="sertraline"' in text
    # Three rows, the third removed: two trials are kept.
    response = client.post(
        url,
        {
            **_answers(seizure_history=True),
            **_trials(_trial("sertraline"), _trial("bupropion"), _trial("x", DELETE="on")),
            "current_medications": "lithium 300 mg",
        },
    )
    screening = Screening.objects.get(patient=patient)
    assert response["Location"] == f"/screenings/{screening.pk}/"
    assert [t.drug for t in screening.failed_trials.all()] == ["sertraline", "bupropion"]
    assert screening.seizure_history and not screening.metal_in_head
    assert screening.current_medications == "lithium 300 mg"
    detail = unescape(client.get(response["Location"]).content.decode())
    assert "Clear for treatment" in detail and "Any history of seizures or epilepsy" in detail
    # A positive relative answer needs a reason: refused on the page, with the message.
    refused = client.post(f"/screenings/{screening.pk}/decide/", {"action": "clear"})
    assert refused.status_code == 400
    assert "Record why treatment is safe" in unescape(refused.content.decode())
    client.post(
        f"/screenings/{screening.pk}/decide/",
        {"action": "clear", "reason": "Seizure at age 4 with fever; none since."},
    )
    screening.refresh_from_db()
    assert screening.status == ScreeningStatus.CLEARED


def test_an_unanswered_question_is_an_error(page_as: Callable[[str], Client], clinic: Any) -> None:
    patient = PatientFactory(clinic=clinic)
    answers = _answers()
    del answers["pregnancy"]
    response = page_as(Role.TECHNICIAN).post(
        f"/screenings/new/?patient={patient.pk}", {**answers, **_trials()}
    )
    assert response.status_code == 400
    assert "Answer yes or no." in response.content.decode()
    assert not Screening.objects.filter(patient=patient).exists()


def test_an_absolute_contraindication_cannot_be_cleared_and_the_page_says_why(
    page_as: Callable[[str], Client], clinic: Any
) -> None:
    screening = ScreeningFactory(patient=PatientFactory(clinic=clinic), cochlear_implant=True)
    screening.status = ScreeningStatus.CONTRAINDICATED
    screening.save()
    client = page_as(Role.PSYCHIATRIST)
    page = unescape(client.get(f"/screenings/{screening.pk}/").content.decode())
    assert "This screening cannot be cleared" in page and "A cochlear implant" in page
    assert 'value="clear"' not in page and 'value="decline"' in page
    # A forged "clear" is refused by the service (409, its message on the page).
    forged = client.post(
        f"/screenings/{screening.pk}/decide/", {"action": "clear", "reason": "sure"}
    )
    assert forged.status_code == 409
    assert "TMS cannot be cleared" in unescape(forged.content.decode())
    screening.refresh_from_db()
    assert screening.status == ScreeningStatus.CONTRAINDICATED


def test_too_few_adequate_trials_are_refused_on_the_page(
    page_as: Callable[[str], Client], clinic: Any
) -> None:
    screening = ScreeningFactory(patient=PatientFactory(clinic=clinic), trials=False)
    response = page_as(Role.PSYCHIATRIST).post(
        f"/screenings/{screening.pk}/decide/", {"action": "clear"}
    )
    assert response.status_code == 409
    assert "the clinic requires" in unescape(response.content.decode())


def test_declining_needs_a_reason(page_as: Callable[[str], Client], clinic: Any) -> None:
    screening = ScreeningFactory(patient=PatientFactory(clinic=clinic))
    client = page_as(Role.PSYCHIATRIST)
    assert (
        client.post(f"/screenings/{screening.pk}/decide/", {"action": "decline"}).status_code == 400
    )
    client.post(
        f"/screenings/{screening.pk}/decide/", {"action": "decline", "reason": "Prefers ECT."}
    )
    screening.refresh_from_db()
    assert screening.status == ScreeningStatus.CONTRAINDICATED
    assert screening.decision_reason == "Prefers ECT."


def test_a_correction_keeps_the_trials_and_sends_it_back_for_a_decision(
    page_as: Callable[[str], Client], clinic: Any, staff: Any
) -> None:
    patient = PatientFactory(clinic=clinic)
    client = page_as(Role.PSYCHIATRIST)
    screening = ScreeningFactory(patient=patient)
    client.post(f"/screenings/{screening.pk}/decide/", {"action": "clear"})
    page = unescape(client.get(f"/screenings/{screening.pk}/edit/").content.decode())
    # The correction starts from what was recorded: the trials and every answer.
    assert 'value="sertraline"' in page and 'value="bupropion"' in page
    assert page.count("checked") == len(QUESTIONS)
    response = client.post(
        f"/screenings/{screening.pk}/edit/",
        {**_answers(), **_trials(_trial("sertraline"), _trial("bupropion"))},
    )
    assert response.status_code == 302
    screening.refresh_from_db()
    assert screening.status == ScreeningStatus.PENDING
    assert screening.failed_trials.count() == 2


def test_the_screening_page_reads_a_fixed_number_of_queries(
    page_as: Callable[[str], Client], clinic: Any, django_assert_num_queries: Any
) -> None:
    from courses.models import FailedTrial

    client = page_as(Role.PSYCHIATRIST)
    few = ScreeningFactory(patient=PatientFactory(clinic=clinic))
    many = ScreeningFactory(patient=PatientFactory(clinic=clinic))
    for n in range(8):
        FailedTrial.objects.create(
            screening=many, drug=f"drug {n}", dose="1 mg", weeks=8, outcome="no_response"
        )
    client.get(f"/screenings/{few.pk}/")  # the session and the workplace warm up
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        client.get(f"/screenings/{few.pk}/")
    with CaptureQueriesContext(connection) as large:
        assert client.get(f"/screenings/{many.pk}/").status_code == 200
    assert len(large) == len(small) <= 11  # 10, and the second factor's device (django-otp)
