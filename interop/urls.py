"""/fhir/R4/ (included by the root URLconf). A trailing slash is allowed, not needed."""

from __future__ import annotations

from django.urls import path, re_path

from interop import views

urlpatterns = [
    path("metadata", views.MetadataView.as_view(), name="fhir-metadata"),
    re_path(
        r"^Patient/(?P<pk>[^/]+)/\$everything/?$",
        views.EverythingView.as_view(),
        name="fhir-everything",
    ),
    re_path(r"^(?P<resource_type>[A-Za-z]+)/?$", views.SearchView.as_view(), name="fhir-search"),
    re_path(
        r"^(?P<resource_type>[A-Za-z]+)/(?P<pk>[^/]+)/?$",
        views.ReadView.as_view(),
        name="fhir-read",
    ),
]
