"""Staff HTML pages of the scheduling app (the API lives in api.py, routed in clinic/urls.py)."""

from __future__ import annotations

from django.urls import URLPattern, path

from scheduling import views

urlpatterns: list[URLPattern] = [
    path("board/", views.board_page, name="board-page"),
    path("board/sessions/<int:pk>/check-in/", views.session_check_in, name="session-check-in"),
    path(
        "board/sessions/<int:pk>/mark-missed/",
        views.session_mark_missed,
        name="session-mark-missed",
    ),
    path("board/sessions/<int:pk>/cancel/", views.session_cancel, name="session-cancel"),
    path("board/sessions/<int:pk>/move/", views.session_move, name="session-move"),
    path("today/", views.technician_today, name="technician-today"),
    path("today/sessions/<int:pk>/complete/", views.session_complete, name="session-complete"),
    path("closures/", views.closures_page, name="closures-page"),
    path("closures/<int:pk>/rebook/", views.closure_rebook, name="closure-rebook"),
]
