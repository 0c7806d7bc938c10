"""The audit trail of patient data (issue 15, item 3): who read or changed which
patient's data, when, from where, in which request.

How events are captured, so that a new page or endpoint is covered without knowing
about this module (docs/architecture.md, "The audit trail"):

- **Reads.** :class:`AuditMiddleware` opens a scope per request. Every ``Patient`` row
  loaded from the database during the request (``Patient.from_db``) is noted, with its
  clinic. At the end of the request the scope becomes one ``view`` event per clinic
  (``export`` when the response is a download), named by the URL's name, with the
  patients' ids. The API's viewsets describe their reads more precisely
  (:func:`note_read`: the model, the object's id, the patients of the returned page,
  even when no ``Patient`` row was loaded).
- **Writes.** Models holding patient data are registered (:func:`register`, each app in
  its ``AppConfig.ready()``); ``pre_save``/``post_save``/``post_delete`` write a
  ``create``/``update``/``delete`` event inside the writer's transaction (a rolled back
  change leaves no event), with the changed field names and, for the fields the
  registration names non-clinical, old and new values.
- **Refusals.** A 403 answered to a signed-in person is a ``denied`` event.

Outside a request (Celery tasks, commands) writes are recorded with no actor and the
channel ``system``; reads there are not people looking at data and are not recorded.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, cast

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models
from django.db.models.signals import post_delete, post_save, pre_save
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from clinic import access
from clinic.audit_scope import Read, Scope, _scope
from clinic.client_address import client_address
from clinic.models import AuditAction, AuditEvent, AuditOutcome, Patient

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")


@dataclass(frozen=True)
class Registration:
    patient: str  # attribute path to the patient's id, e.g. "course.patient_id"
    clinic: str  # attribute path to the clinic's id
    non_clinical: frozenset[str]  # fields whose old and new values are kept


_REGISTRY: dict[type[models.Model], Registration] = {}


def register(
    model: type[models.Model], *, patient: str, clinic: str, non_clinical: Iterable[str] = ()
) -> None:
    """Audit every create, update and delete of ``model``'s rows."""
    for name in non_clinical:
        model._meta.get_field(name)  # a misspelt name fails at start-up, not on a delete
    _REGISTRY[model] = Registration(patient, clinic, frozenset(non_clinical))
    uid = f"audit:{model._meta.label_lower}"
    pre_save.connect(_remember_old_values, sender=model, dispatch_uid=uid)
    post_save.connect(_record_save, sender=model, dispatch_uid=uid)
    post_delete.connect(_record_delete, sender=model, dispatch_uid=uid)


def registered() -> dict[type[models.Model], Registration]:
    return dict(_REGISTRY)


# --- capturing -----------------------------------------------------------------------


def _follow(obj: Any, path: str, *, cached_only: bool) -> Any:
    """The value at ``path``; with ``cached_only`` None instead of a query."""
    *hops, last = path.split(".")
    for hop in hops:
        if obj is None:
            return None
        if cached_only and not obj._meta.get_field(hop).is_cached(obj):
            return None
        obj = getattr(obj, hop)
    return None if obj is None else getattr(obj, last, None)


def patient_of(obj: models.Model, *, cached_only: bool = False) -> tuple[int, int | None] | None:
    """(patient id, clinic id) of a registered row, or None."""
    if isinstance(obj, Patient):
        return (obj.pk, obj.clinic_id) if obj.pk is not None else None
    registration = _REGISTRY.get(type(obj))
    if registration is None:
        return None
    patient_id = _follow(obj, registration.patient, cached_only=cached_only)
    if patient_id is None:
        return None
    return int(patient_id), _follow(obj, registration.clinic, cached_only=cached_only)


def note_read(
    objects: Iterable[models.Model], *, object_id: str = "", action: str = AuditAction.VIEW
) -> None:
    """Describe a read of these rows (the API's list page or one object)."""
    scope = _scope.get()
    if scope is None:
        return
    rows = list(objects)
    if not rows:
        return
    patients: dict[int, int | None] = {}
    if type(rows[0]) is Patient:
        # The patient list's page of 500: one pass, no per-row lookups.
        patients = {row.id: row.clinic_id for row in cast(list[Patient], rows)}
    else:
        for row in rows:
            found = patient_of(row, cached_only=not object_id)
            if found is not None:
                patients[found[0]] = found[1]
    if patients:
        scope.reads.append(Read(action, rows[0]._meta.label_lower, object_id, patients))


# --- writing -------------------------------------------------------------------------


def _json(value: Any) -> Any:
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def _attnames(model: type[models.Model]) -> dict[str, str]:
    return {f.name: f.attname for f in model._meta.concrete_fields}


def _values(instance: models.Model, names: Iterable[str]) -> dict[str, Any]:
    attnames = _attnames(type(instance))
    return {name: getattr(instance, attnames[name]) for name in names}


def _field_names(model: type[models.Model]) -> list[str]:
    return [f.name for f in model._meta.concrete_fields if not f.primary_key]


def _remember_old_values(sender: Any, instance: models.Model, raw: bool = False, **kw: Any) -> None:
    if raw or instance._state.adding or instance.pk is None:
        return
    attnames = _attnames(sender)
    by_attname = {attname: name for name, attname in attnames.items()}
    given = kw.get("update_fields")
    names = [by_attname.get(n, n) for n in given] if given else _field_names(sender)
    names = [name for name in names if name in attnames]
    row = sender._base_manager.filter(pk=instance.pk).values(*(attnames[n] for n in names)).first()
    if row is not None:
        old = {name: row[attnames[name]] for name in names}
        instance._audit_old = old  # type: ignore[attr-defined]


def _record_save(
    sender: Any, instance: models.Model, created: bool, raw: bool = False, **kw: Any
) -> None:
    if raw:
        return
    registration = _REGISTRY[sender]
    if created:
        given = {
            n: v for n, v in _values(instance, _field_names(sender)).items() if v not in (None, "")
        }
        names = sorted(given)
        changes = {n: [None, v] for n, v in given.items() if n in registration.non_clinical}
        action = AuditAction.CREATE
    else:
        old: dict[str, Any] = instance.__dict__.pop("_audit_old", {})
        new = _values(instance, old)
        names = [n for n in old if old[n] != new[n]]
        changes = {n: [old[n], new[n]] for n in names if n in registration.non_clinical}
        action = AuditAction.UPDATE
    _write_change(instance, action, names, changes)


def _record_delete(sender: Any, instance: models.Model, **kw: Any) -> None:
    registration = _REGISTRY[sender]
    kept = _values(instance, sorted(registration.non_clinical))
    _write_change(instance, AuditAction.DELETE, [], {n: [v, None] for n, v in kept.items()})


def _write_change(
    instance: models.Model, action: str, names: list[str], changes: dict[str, Any]
) -> None:
    found = patient_of(instance)
    patients = {found[0]: found[1]} if found else {}
    clinic_id = found[1] if found else None
    scope = _scope.get()
    event = _event(
        scope,
        action=action,
        clinic_id=clinic_id,
        object_type=instance._meta.label_lower,
        object_id=str(instance.pk),
        patient_ids=sorted(patients),
    )
    event.fields = names
    event.changes = _json(changes)
    write_events([event])


def _actor(scope: Scope | None) -> Any:
    if scope is None:
        return None
    user = getattr(scope.request, "user", None)
    return user if getattr(user, "is_authenticated", False) else None


def channel_of(request: HttpRequest | None) -> str:
    path = getattr(request, "path", "") or ""
    if request is None:
        return "system"
    if path.startswith(("/api/", "/fhir/")):
        return "api"
    if path.startswith("/admin/"):
        return "admin"
    if path.startswith("/p/"):
        return "patient_link"
    if path.startswith("/webhooks/"):
        return "webhook"
    return "page"


def _event(
    scope: Scope | None,
    *,
    action: str,
    clinic_id: int | None,
    object_type: str,
    object_id: str = "",
    patient_ids: list[int] | None = None,
    outcome: str = AuditOutcome.OK,
) -> AuditEvent:
    actor = _actor(scope)
    request = scope.request if scope is not None else None
    role = ""
    if actor is not None and clinic_id is not None:
        role = access.roles_by_clinic(actor).get(clinic_id, "")
    if actor is not None and not role and actor.is_superuser:
        role = "superuser"
    return AuditEvent(
        at=timezone.now(),
        actor=actor,
        username=actor.get_username() if actor is not None else "",
        action=action,
        outcome=outcome,
        client_address=client_address(request) if request is not None else None,
        channel=channel_of(request),
        actor_role=role,
        clinic_id=clinic_id,
        object_type=object_type[:64],
        object_id=object_id[:64],
        patient_ids=patient_ids or [],
        request_id=scope.request_id if scope is not None else "",
        path=(request.path[:255] if request is not None else ""),
    )


def write_events(events: list[AuditEvent], *, wait_for_flush: bool = True) -> None:
    """Insert the events, one statement an event, so a list read of 500 patients costs
    one INSERT of one row: on PostgreSQL its patients are found by the GIN index on
    ``patient_ids`` (migration 0020); on SQLite a trigger writes their link rows
    (migration 0016).

    With ``wait_for_flush`` False, an event written on PostgreSQL outside a transaction
    commits asynchronously (``synchronous_commit`` off for that statement's own
    transaction only): the request does not wait for the WAL to reach the disk, which
    cost the patient list more than the INSERT. A crash of the database server can then
    lose the last fraction of a second's events (docs/security.md)."""
    for event in events:
        if wait_for_flush or connection.vendor != "postgresql" or connection.in_atomic_block:
            event.save(force_insert=True)
        else:
            _insert_without_waiting(event)


_INSERT_WITHOUT_WAITING: dict[str, str] = {}  # connection alias -> SQL


def _insert_without_waiting(event: AuditEvent) -> None:
    fields = [f for f in AuditEvent._meta.concrete_fields if not f.primary_key]
    sql = _INSERT_WITHOUT_WAITING.get(connection.alias)
    if sql is None:
        quote = connection.ops.quote_name
        columns = ", ".join(quote(cast(str, f.column)) for f in fields)
        # INSERT ... SELECT types no parameter by its column as VALUES does: cast each.
        values = ", ".join(f"CAST(%s AS {f.cast_db_type(connection)})" for f in fields)
        sql = _INSERT_WITHOUT_WAITING[connection.alias] = (
            f"INSERT INTO {quote(AuditEvent._meta.db_table)} ({columns}) "  # noqa: S608 - our names
            f"SELECT {values} FROM (SELECT set_config('synchronous_commit', 'off', true)) AS s "
            "RETURNING id"
        )
    params = [f.get_db_prep_save(f.pre_save(event, True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        (event.pk,) = cursor.fetchone() or (None,)
    event._state.adding = False
    event._state.db = connection.alias


# --- the request ---------------------------------------------------------------------


def _request_id(request: HttpRequest) -> str:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    return given if _SANE_REQUEST_ID.match(given) else uuid.uuid4().hex


def _is_download(response: HttpResponse) -> bool:
    kind = response.get("Content-Type", "")
    return "attachment" in response.get("Content-Disposition", "") or kind.startswith("text/csv")


def _page_name(request: HttpRequest) -> tuple[str, str]:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "page:unknown", ""
    name = match.view_name or match.url_name or "unknown"
    object_id = next(
        (str(v) for k, v in match.kwargs.items() if k in {"pk", "id"} or k.endswith("_id")), ""
    )
    return f"page:{name}", object_id


def _resolve_clinics(request: HttpRequest, patients: dict[int, int | None]) -> None:
    """Fill in the clinics not known: the page's clinic (staff pages show their
    clinic's patients), else one query."""
    unknown = [p for p, c in patients.items() if c is None]
    if not unknown:
        return
    place = getattr(request, "_cadence_workplace", None)
    if place:
        patients.update(dict.fromkeys(unknown, int(place.clinic.pk)))
        return
    found = Patient.objects.filter(pk__in=unknown).values_list("id", "clinic_id")
    patients.update(dict(found))


def _by_clinic(patients: dict[int, int | None]) -> dict[int | None, list[int]]:
    grouped: dict[int | None, list[int]] = {}
    for patient_id, clinic_id in patients.items():
        grouped.setdefault(clinic_id, []).append(patient_id)
    return {clinic_id: sorted(ids) for clinic_id, ids in grouped.items()}


def events_for(scope: Scope, response: HttpResponse) -> list[AuditEvent]:
    """What the request did, as events: its described reads, then a read of the patients
    loaded that no description named, or a refusal."""
    request = scope.request
    actor = _actor(scope)
    events: list[AuditEvent] = []
    if response.status_code == 403:
        if actor is not None:
            object_type, object_id = _page_name(request)
            events.append(
                _event(
                    scope,
                    action=AuditAction.DENIED,
                    clinic_id=_workplace_clinic(request),
                    object_type=object_type,
                    object_id=object_id,
                    outcome=AuditOutcome.REFUSED,
                )
            )
        return events
    if response.status_code >= 400:
        return events
    download = _is_download(response)
    described: set[int] = set()
    for read in scope.reads:
        for clinic_id, ids in _by_clinic(read.patients).items():
            action = AuditAction.EXPORT if download else read.action
            events.append(
                _event(
                    scope,
                    action=action,
                    clinic_id=clinic_id,
                    object_type=read.object_type,
                    object_id=read.object_id,
                    patient_ids=ids,
                )
            )
        described.update(read.patients)
    rest = {p: c for p, c in scope.patients.items() if p not in described}
    _resolve_clinics(request, rest)
    if rest or (download and not scope.reads and actor is not None):
        object_type, object_id = _page_name(request)
        groups = _by_clinic(rest) or {_workplace_clinic(request): []}
        for clinic_id, ids in groups.items():
            events.append(
                _event(
                    scope,
                    action=AuditAction.EXPORT if download else AuditAction.VIEW,
                    clinic_id=clinic_id,
                    object_type=object_type,
                    object_id=object_id,
                    patient_ids=ids,
                )
            )
    return events


def _workplace_clinic(request: HttpRequest) -> int | None:
    """The clinic a refusal or an aggregate export is filed under: the page's clinic, or
    the only clinic of a person who belongs to one."""
    place = getattr(request, "_cadence_workplace", None)
    if place:
        return int(place.clinic.pk)
    clinics = list(access.roles_by_clinic(getattr(request, "user", None)))
    return clinics[0] if len(clinics) == 1 else None


class AuditMiddleware:
    """Gives the request its id (``X-Request-ID`` when sane, else a new one; echoed in
    the response) and writes the request's audit events when it ends."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        scope = Scope(request, _request_id(request))
        request.request_id = scope.request_id  # type: ignore[attr-defined]
        token = _scope.set(scope)
        try:
            response = self.get_response(request)
            events = events_for(scope, response)
            if events:
                write_events(events, wait_for_flush=settings.AUDIT_SYNCHRONOUS_COMMIT)
        finally:
            _scope.reset(token)
        response[REQUEST_ID_HEADER] = scope.request_id
        return response
