"""Staff HTML pages of the courses app (the API lives in api.py, routed in clinic/urls.py)."""

from __future__ import annotations

from django.urls import URLPattern, path  # noqa: F401

urlpatterns: list[URLPattern] = []
