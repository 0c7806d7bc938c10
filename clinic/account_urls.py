"""A person's own password (set from an emailed one-time link, changed when logged in),
second factor (clinic/mfa_views.py) and API tokens (clinic/token_pages.py).

Django's views with Cadence's templates; see clinic/accounts.py for the rules.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import views as auth_views
from django.urls import path

from clinic import mfa_views, token_pages
from clinic.accounts import StaffPasswordResetForm, link_hours

TEMPLATES = "clinic/account/"


class LinkHours:
    """Tells the templates how long a link works (read when the page is drawn)."""

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context: dict[str, Any] = super().get_context_data(**kwargs)  # type: ignore[misc]
        context["link_hours"] = link_hours()
        return context


class PasswordResetView(LinkHours, auth_views.PasswordResetView):
    form_class = StaffPasswordResetForm
    template_name = TEMPLATES + "password_reset_form.html"
    email_template_name = TEMPLATES + "password_reset_email.txt"
    subject_template_name = TEMPLATES + "password_reset_subject.txt"

    def form_valid(self, form: Any) -> Any:
        self.extra_email_context = {"link_hours": link_hours()}
        return super().form_valid(form)


class PasswordResetDoneView(LinkHours, auth_views.PasswordResetDoneView):
    template_name = TEMPLATES + "password_reset_done.html"


urlpatterns = [
    path("mfa/", mfa_views.manage, name="mfa-manage"),
    path("mfa/setup/", mfa_views.setup, name="mfa-setup"),
    path("mfa/verify/", mfa_views.verify, name="mfa-verify"),
    path("mfa/recovery-codes/", mfa_views.recovery_codes, name="mfa-recovery-codes"),
    path("mfa/remove/", mfa_views.remove, name="mfa-remove"),
    path("password/reset/", PasswordResetView.as_view(), name="password_reset"),
    path("password/reset/sent/", PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name=TEMPLATES + "password_reset_confirm.html"
        ),
        name="password_reset_confirm",
    ),
    path(
        "reset/done/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name=TEMPLATES + "password_reset_complete.html"
        ),
        name="password_reset_complete",
    ),
    path(
        "password/change/",
        auth_views.PasswordChangeView.as_view(
            template_name=TEMPLATES + "password_change_form.html"
        ),
        name="password_change",
    ),
    path(
        "password/change/done/",
        auth_views.PasswordChangeDoneView.as_view(
            template_name=TEMPLATES + "password_change_done.html"
        ),
        name="password_change_done",
    ),
    path("tokens/", token_pages.api_tokens, name="api-tokens"),
    path("tokens/<int:pk>/revoke/", token_pages.api_token_revoke, name="api-token-revoke"),
]
