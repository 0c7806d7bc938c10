"""Staff HTML pages of the scheduling app (the API lives in api.py, routed in clinic/urls.py)."""

from __future__ import annotations

from django.urls import URLPattern, path

from scheduling import (
    adverse_event_views,
    booster_views,
    closure_views,
    course_plan_views,
    course_schedule_views,
    course_status_views,
    course_views,
    move_views,
    prescribe_views,
    views,
    waitlist_views,
)

urlpatterns: list[URLPattern] = [
    path("board/", views.board_page, name="board-page"),
    path("waitlist/", waitlist_views.waitlist_page, name="waitlist-page"),
    path(
        "waitlist/<int:pk>/book-offer/",
        waitlist_views.waitlist_book_offer,
        name="waitlist-book-offer",
    ),
    path(
        "waitlist/<int:pk>/dismiss-offer/",
        waitlist_views.waitlist_dismiss_offer,
        name="waitlist-dismiss-offer",
    ),
    path("waitlist/<int:pk>/remove/", waitlist_views.waitlist_remove, name="waitlist-remove"),
    path("capacity/", waitlist_views.capacity_forecast_page, name="capacity-forecast-page"),
    path("board/sessions/<int:pk>/check-in/", views.session_check_in, name="session-check-in"),
    path(
        "board/sessions/<int:pk>/mark-missed/",
        views.session_mark_missed,
        name="session-mark-missed",
    ),
    path("board/sessions/<int:pk>/cancel/", views.session_cancel, name="session-cancel"),
    path("board/sessions/<int:pk>/undo/", views.session_undo, name="session-undo"),
    path("board/sessions/<int:pk>/move/", move_views.session_move, name="session-move"),
    path("today/", views.technician_today, name="technician-today"),
    path("today/sessions/<int:pk>/complete/", views.session_complete, name="session-complete"),
    path("closures/", views.closures_page, name="closures-page"),
    path("closures/<int:pk>/rebook/", views.closure_rebook, name="closure-rebook"),
    path("closures/<int:pk>/edit/", closure_views.closure_edit, name="closure-edit"),
    path("closures/<int:pk>/delete/", closure_views.closure_delete, name="closure-delete"),
    path("setup/chairs/<int:pk>/blocks/", closure_views.chair_blocks, name="chair-blocks-page"),
    path(
        "setup/chairs/<int:pk>/blocks/<int:block>/edit/",
        closure_views.chair_block_edit,
        name="chair-block-edit",
    ),
    path(
        "setup/chairs/<int:pk>/blocks/<int:block>/delete/",
        closure_views.chair_block_delete,
        name="chair-block-delete",
    ),
    path("courses/book/", course_views.course_book, name="course-book"),
    path("courses/book/patients/", course_views.booking_patients, name="course-book-patients"),
    path(
        "courses/book/patient-status/",
        course_views.booking_patient_status,
        name="course-book-patient-status",
    ),
    path("courses/prescribe/", prescribe_views.course_prescribe, name="course-prescribe"),
    path(
        "courses/<int:pk>/status/<str:action>/",
        course_status_views.course_action,
        name="course-action",
    ),
    path(
        "courses/<int:pk>/lengthen/",
        course_plan_views.course_lengthen_page,
        name="course-lengthen",
    ),
    path(
        "courses/<int:pk>/switch-protocol/",
        course_plan_views.course_switch_protocol_page,
        name="course-switch-protocol",
    ),
    path("courses/<int:pk>/booster/", booster_views.course_booster, name="course-booster"),
    path(
        "courses/<int:pk>/book/",
        course_schedule_views.course_schedule,
        name="course-schedule",
    ),
    path(
        "courses/<int:pk>/authorizations/new/",
        course_status_views.authorization_add,
        name="course-authorization-add",
    ),
    path("courses/mine/", course_views.psychiatrist_dashboard, name="psychiatrist-dashboard"),
    path("courses/<int:pk>/", course_views.course_detail, name="course-detail"),
    path(
        "courses/<int:pk>/assessments/", course_views.assessment_add, name="course-assessment-add"
    ),
    path(
        "courses/<int:pk>/motor-thresholds/",
        course_views.motor_threshold_add,
        name="course-motor-threshold-add",
    ),
    path(
        "courses/<int:pk>/adverse-events/<int:event_id>/review/",
        adverse_event_views.adverse_event_review,
        name="adverse-event-review",
    ),
    path(
        "courses/<int:pk>/prescription/",
        course_views.course_prescribe,
        name="course-prescription",
    ),
]
