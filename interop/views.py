"""The FHIR R4 endpoints under /fhir/R4/ (read-only; docs/fhir.md).

Who may read what is the API's rule: a row of a clinic the reader does not belong to
is unknown (404); a member whose role there lacks the type's capability is refused
(403). Searches see the clinics where the reader's role holds the capability. Reads of
patient data are audit events (clinic.audit_trail.note_read), as the API's are.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import exceptions, permissions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from clinic import access, audit_trail
from clinic.authentication import BearerTokenAuthentication
from clinic.capabilities import Capability
from clinic.models import Clinic
from interop import errors, everything, search
from interop.metadata import capability_statement
from interop.rendering import FhirJSONRenderer, FhirOnly
from interop.resources import Sight
from interop.types import TYPES, Context, ResourceType

BASE_PATH = "/fhir/R4"


def base_url(request: Request) -> str:
    return request.build_absolute_uri(BASE_PATH)


def sight_of(user: Any) -> Sight:
    if access.is_superuser(user):
        return Sight(everywhere=True)
    contact = access.clinic_ids_with(user, Capability.READ_PATIENT_CONTACT) or set()
    items = access.clinic_ids_with(user, Capability.READ_CLINICAL_DETAIL) or set()
    return Sight(contact=frozenset(contact), item_answers=frozenset(items))


def entry(request: Request, resource: dict[str, Any], mode: str = "match") -> dict[str, Any]:
    return {
        "fullUrl": f"{base_url(request)}/{resource['resourceType']}/{resource['id']}",
        "resource": resource,
        "search": {"mode": mode},
    }


def type_named(name: str) -> ResourceType:
    spec = TYPES.get(name)
    if spec is None:
        raise errors.FhirError(
            404, "not-supported", "unknown_type", f"{name} is not a resource type served here."
        )
    return spec


def row_id(raw: str, what: str) -> int:
    if not raw.isdigit() or len(raw) > 18:
        raise errors.not_found(what)
    return int(raw)


class FhirView(APIView):
    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [permissions.IsAuthenticated]
    renderer_classes = [FhirJSONRenderer]
    content_negotiation_class = FhirOnly
    http_method_names = ["get", "head"]
    # Not in the OpenAPI document: FHIR describes itself (GET /fhir/R4/metadata).
    schema = None

    def handle_exception(self, exc: Exception) -> Response:
        found = errors.outcome_for(exc)
        if found is None:
            return super().handle_exception(exc)
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            # As DRF does: a 401 names the scheme to authenticate with.
            response = Response(found[1], status=401)
            response["WWW-Authenticate"] = "Bearer"
            return response
        status_code, body = found
        return Response(body, status=status_code)

    def visible_row(self, spec: ResourceType, pk: str) -> Any:
        """The row, or 404 outside the reader's clinics and 403 without the capability."""
        what = f"{spec.name}/{pk}"
        row = spec.rows(access.clinic_ids(self.request.user)).filter(pk=row_id(pk, what)).first()
        if row is None:
            raise errors.not_found(what)
        if not any(
            access.has_capability(self.request.user, clinic_id, spec.capability)
            for clinic_id in spec.clinic_of(row)
        ):
            raise exceptions.PermissionDenied(
                f"Your role may not read {spec.name} resources in this clinic."
            )
        return row


class MetadataView(FhirView):
    """Open to anyone, as FHIR clients ask before they authenticate: it names no data."""

    authentication_classes: list[type[Any]] = []
    permission_classes = [permissions.AllowAny]

    def get(self, request: Request) -> Response:
        return Response(capability_statement(base_url(request)))


class ReadView(FhirView):
    def get(self, request: Request, resource_type: str, pk: str) -> Response:
        spec = type_named(resource_type)
        row = self.visible_row(spec, pk)
        if spec.patient_data:
            audit_trail.note_read([row], object_id=str(row.pk))
        return Response(spec.build(row, sight_of(request.user)))


class SearchView(FhirView):
    def get(self, request: Request, resource_type: str) -> Response:
        spec = type_named(resource_type)
        clinics = access.clinic_ids_with(request.user, spec.capability)
        if clinics is not None and not clinics:
            raise exceptions.PermissionDenied(f"Your role may not read {spec.name} resources.")
        params = {name: request.query_params.getlist(name) for name in request.query_params}
        paging = search.parse(params, spec.params)
        rows: QuerySet[Any] = spec.rows(clinics)
        context = Context(clinics=self._clinics(spec, params, clinics))
        for name, (_, apply) in spec.params.items():
            if params.get(name):
                rows = apply(rows, params[name], context)
        total = rows.count()
        page = list(rows[paging.offset : paging.offset + paging.count]) if total else []
        if spec.patient_data and page:
            audit_trail.note_read(page)
        sight = sight_of(request.user)
        return Response(
            search.searchset(
                [entry(request, spec.build(row, sight)) for row in page],
                total=total,
                base_url=f"{base_url(request)}/{spec.name}",
                params=params,
                paging=paging,
            )
        )

    @staticmethod
    def _clinics(
        spec: ResourceType, params: dict[str, list[str]], ids: set[int] | None
    ) -> list[Clinic]:
        if not (spec.needs_clinics and params.get("date")):
            return []
        found = Clinic.objects.all() if ids is None else Clinic.objects.filter(pk__in=ids)
        return list(found.only("id", "timezone"))


class EverythingView(FhirView):
    def get(self, request: Request, pk: str) -> Response:
        spec = TYPES["Patient"]
        search.parse_everything({n: request.query_params.getlist(n) for n in request.query_params})
        patient = self.visible_row(spec, pk)
        record = everything.patient_record(patient, request.user, sight_of(request.user))
        return Response(
            search.searchset(
                [entry(request, resource, mode) for resource, mode in record],
                total=sum(1 for _, mode in record if mode == "match"),
                base_url=f"{base_url(request)}/Patient/{patient.pk}/$everything",
                params={},
                paging=None,
            )
        )
