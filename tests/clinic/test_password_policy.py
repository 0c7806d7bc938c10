"""Password policy (issue 15, item 10): eight spaces and "Cadence2026" were accepted.

Twelve characters at least, none from Django's common-password list, not all one
character or spaces, not the product's name; on every page that sets a password.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from clinic import accounts
from clinic.models import Role

PASSWORD = "correct horse battery"  # tests.factories.UserFactory's
STRONG = "lilac tuesday orbit 7"

WEAK = [
    pytest.param(" " * 8, "password_too_short", id="eight-spaces"),
    pytest.param(" " * 14, "password_too_uniform", id="fourteen-spaces"),
    pytest.param("Cadence2026", "password_too_short", id="product-and-year"),
    pytest.param("Cadence2026!!", "password_product_name", id="product-and-year-long"),
    pytest.param("aaaaaaaaaaaaaaa", "password_too_uniform", id="one-letter"),
    pytest.param("password1234", "password_too_common", id="common"),
]


def _codes(response: Any) -> set[str]:
    form = response.context["form"]
    return {error.code for error in form.errors.as_data().get("new_password2", [])}


@pytest.mark.parametrize(("weak", "code"), WEAK)
def test_the_one_time_link_refuses_a_weak_password(
    weak: str, code: str, clinic: Any, staff: Any
) -> None:
    person = staff(Role.TECHNICIAN)
    client = Client()
    form = client.get(accounts.set_password_link(person, ""), follow=True)
    response = client.post(
        form.redirect_chain[-1][0], {"new_password1": weak, "new_password2": weak}
    )
    assert response.status_code == 200
    assert code in _codes(response)
    person.refresh_from_db()
    assert person.check_password(PASSWORD)


@pytest.mark.parametrize(("weak", "code"), WEAK)
def test_the_change_page_refuses_a_weak_password(
    weak: str, code: str, clinic: Any, staff: Any
) -> None:
    person = staff(Role.FRONT_DESK)
    client = Client()
    client.force_login(person)
    response = client.post(
        "/accounts/password/change/",
        {"old_password": PASSWORD, "new_password1": weak, "new_password2": weak},
    )
    assert response.status_code == 200
    assert code in _codes(response)
    person.refresh_from_db()
    assert person.check_password(PASSWORD)


def test_the_admin_refuses_a_superusers_weak_password(superuser: Any) -> None:
    client = Client()
    client.force_login(superuser)
    response = client.post(
        f"/admin/auth/user/{superuser.pk}/password/",
        {"password1": "Cadence2026", "password2": "Cadence2026"},
    )
    assert response.status_code == 200
    superuser.refresh_from_db()
    assert superuser.check_password(PASSWORD)


def test_a_strong_password_is_taken_from_the_link(clinic: Any, staff: Any) -> None:
    person = staff(Role.TECHNICIAN)
    client = Client()
    form = client.get(accounts.set_password_link(person, ""), follow=True)
    response = client.post(
        form.redirect_chain[-1][0], {"new_password1": STRONG, "new_password2": STRONG}
    )
    assert response.status_code == 302
    person.refresh_from_db()
    assert person.check_password(STRONG)
