from django.apps import AppConfig


class InteropConfig(AppConfig):
    """FHIR R4, read-only (docs/fhir.md): the highest app, as it reads every other."""

    name = "interop"
