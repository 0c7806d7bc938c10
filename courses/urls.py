"""Staff HTML pages of the courses app (the API lives in api.py, routed in clinic/urls.py;
the course, booking and dashboard pages are scheduling's)."""

from __future__ import annotations

from django.urls import URLPattern, path

from courses import views

urlpatterns: list[URLPattern] = [
    path(
        "courses/safety-flags/<int:pk>/acknowledge/",
        views.safety_flag_acknowledge,
        name="safety-flag-acknowledge",
    ),
    path(
        "courses/alerts/acknowledge/",
        views.staff_alerts_acknowledge,
        name="staff-alerts-acknowledge",
    ),
    path(
        "courses/alerts/<int:pk>/acknowledge/",
        views.staff_alert_acknowledge,
        name="staff-alert-acknowledge",
    ),
]
