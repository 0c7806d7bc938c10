"""Staff HTML pages of the courses app (the API lives in api.py, routed in clinic/urls.py)."""

from __future__ import annotations

from django.urls import URLPattern, path

from courses import views

urlpatterns: list[URLPattern] = [
    path("courses/book/", views.course_book, name="course-book"),
    path("courses/book/patients/", views.booking_patients, name="course-book-patients"),
    path(
        "courses/book/patient-status/",
        views.booking_patient_status,
        name="course-book-patient-status",
    ),
    path("courses/mine/", views.psychiatrist_dashboard, name="psychiatrist-dashboard"),
    path("courses/<int:pk>/", views.course_detail, name="course-detail"),
    path("courses/<int:pk>/assessments/", views.assessment_add, name="course-assessment-add"),
    path(
        "courses/<int:pk>/motor-thresholds/",
        views.motor_threshold_add,
        name="course-motor-threshold-add",
    ),
    path(
        "courses/safety-flags/<int:pk>/acknowledge/",
        views.safety_flag_acknowledge,
        name="safety-flag-acknowledge",
    ),
    path(
        "courses/alerts/<int:pk>/acknowledge/",
        views.staff_alert_acknowledge,
        name="staff-alert-acknowledge",
    ),
]
