"""The clinic set-up pages (clinic/setup_views.py), under /setup/."""

from __future__ import annotations

from django.urls import URLPattern, path

from clinic import setup_views

urlpatterns: list[URLPattern] = [
    path("", setup_views.clinic_settings, name="setup-clinic"),
    path("chairs/", setup_views.chairs, name="setup-chairs"),
    path("chairs/<int:pk>/", setup_views.chair_edit, name="setup-chair-edit"),
    path("staff/", setup_views.staff, name="setup-staff"),
    path("staff/<int:pk>/role/", setup_views.staff_role, name="setup-staff-role"),
    path("staff/<int:pk>/remove/", setup_views.staff_remove, name="setup-staff-remove"),
    path("clinics/new/", setup_views.new_clinic, name="setup-new-clinic"),
]
