"""The reminder policy page (clinic admins): what the clinic sends, when, and how
often, with a preview of a typical week's messages (services/preview.py) for the policy
as saved or as being edited."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from clinic.capabilities import Capability
from clinic.web import Workplace, attempt, refusal_on_form, staff_page
from notifications.models import ReminderPolicy
from notifications.services.policy import policy_for, policy_update
from notifications.services.preview import preview_week

KIND_FIELDS = (
    "course_booked",
    "first_session",
    "day_before",
    "same_day",
    "session_moved",
    "makeup_booked",
    "session_cancelled",
    "missed_followup",
    "waitlist_offer",
)
TIME_FIELDS = (
    "every_day",
    "day_before_at",
    "same_day_minutes_before",
    "window_start",
    "window_end",
)
CAP_FIELDS = ("sms_per_day", "sms_per_week", "email_per_day", "email_per_week")
_TIME = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")


class ReminderPolicyForm(forms.ModelForm):
    class Meta:
        model = ReminderPolicy
        fields = [*KIND_FIELDS, *TIME_FIELDS, *CAP_FIELDS]
        widgets = {"day_before_at": _TIME, "window_start": _TIME, "window_end": _TIME}
        labels = {
            "course_booked": "Course booked",
            "first_session": "Before the first visit of a course",
            "day_before": "Day-before reminder",
            "same_day": "Same-day reminder",
            "session_moved": "Visit moved",
            "makeup_booked": "Make-up booked",
            "session_cancelled": "Visit cancelled by staff",
            "missed_followup": "After a missed visit",
            "waitlist_offer": "Waitlist: ask a waiting patient to call when an earlier "
            "start comes up (texts only)",
            "every_day": "Remind before every visit",
            "day_before_at": "Day-before reminder at",
            "same_day_minutes_before": "Same-day reminder, minutes before the visit",
            "window_start": "Send no message before",
            "window_end": "Send no message from",
            "sms_per_day": "Routine texts a day, at most",
            "sms_per_week": "Routine texts a week, at most",
            "email_per_day": "Routine emails a day, at most",
            "email_per_week": "Routine emails a week, at most",
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("window_start"), data.get("window_end")
        if start is not None and end is not None and end <= start:
            self.add_error("window_end", "The send window must end after it starts.")
        return data

    def _post_clean(self) -> None:
        pass  # policy_update validates the model

    def groups(self) -> list[tuple[str, list[Any]]]:
        return [
            ("Messages the clinic sends", [self[name] for name in KIND_FIELDS]),
            ("When", [self[name] for name in TIME_FIELDS]),
            ("Caps (a safety net: changes are never held back)", [self[n] for n in CAP_FIELDS]),
        ]


@require_http_methods(["GET", "HEAD", "POST"])
@staff_page(Capability.SET_UP_CLINIC)
def reminder_policy(request: HttpRequest, place: Workplace) -> HttpResponse:
    """``POST`` with ``preview`` shows the week the edited policy gives, saving nothing."""
    saved = policy_for(place.clinic)
    form = ReminderPolicyForm(request.POST or None, instance=ReminderPolicy(clinic=place.clinic))
    if not form.is_bound:
        form = ReminderPolicyForm(instance=saved)
    shown = saved
    status = 200
    if form.is_bound:
        status = 400
        if form.is_valid():
            fields = {name: form.cleaned_data[name] for name in form.Meta.fields}
            if "preview" in request.POST:
                shown, status = ReminderPolicy(clinic=place.clinic, **fields), 200
            else:
                policy, refusal = attempt(lambda: policy_update(place.clinic, **fields))
                if refusal is not None:
                    refusal_on_form(form, refusal)
                elif policy is not None:
                    messages.success(request, "The reminder policy is saved.")
                    return redirect("setup-reminders")
    monday, usual = preview_week(place.clinic, shown)
    _, daily = preview_week(place.clinic, shown, daily_patient=True)
    return render(
        request,
        "notifications/reminder_policy.html",
        {
            "form": form,
            "monday": monday,
            "previews": [
                ("A patient with the usual reminders", "usual", usual),
                ("A patient who asked to be reminded every day", "daily", daily),
            ],
            "previewing": shown is not saved,
            "tz": place.clinic.tz,
        },
        status=status,
    )
