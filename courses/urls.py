"""Staff HTML pages of the courses app (the API lives in api.py, routed in clinic/urls.py;
the course, booking and dashboard pages are scheduling's)."""

from __future__ import annotations

from django.urls import URLPattern, path

from courses import relapse_views, screening_views, views

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
    path(
        "courses/<int:pk>/relapses/<int:relapse_id>/close/",
        relapse_views.relapse_close,
        name="relapse-close",
    ),
]

urlpatterns += [
    path("screenings/new/", screening_views.screening_new, name="screening-new"),
    path("screenings/<int:pk>/", screening_views.screening_detail, name="screening-detail"),
    path("screenings/<int:pk>/edit/", screening_views.screening_edit, name="screening-edit"),
    path("screenings/<int:pk>/decide/", screening_views.screening_decide, name="screening-decide"),
]
