"""OpenAPI links (a drf-spectacular postprocessing hook): how the id an answer carries
reaches the operations that take it, so a client (and a stateful fuzzer) can follow
create → read, update, delete and actions on that object.

Three kinds, all derived from the paths, so a new resource gets them without a line here:

- a create's 201 (``POST /api/v1/chairs/``) → every operation on ``/api/v1/chairs/{id}/...``,
  the id taken from the answer's ``id``;
- a list's 200 → the same operations, with the first result's ``id``;
- a create's 201 → the creates whose body names it (``POST /api/v1/clinics/`` →
  ``POST /api/v1/chairs/`` with ``clinic`` set to the new clinic's id; a protocol is
  named by its ``code``, a staff member's clinics by a list of ids), and the clinic's
  reminder policy (``/api/v1/reminder-policies/{clinic}/``);
- a list's 200 → the same creates, with the first result (``GET /api/v1/patients/`` →
  ``POST /api/v1/courses/`` with ``patient`` set to the first patient's id).

A link that fills body fields names only those fields: the client supplies the rest.
"""

from __future__ import annotations

from typing import Any

METHODS = ("get", "put", "patch", "post", "delete")
# A body field naming an object, the collection that creates such objects, and the
# member of the object the field takes (a protocol is named by its code).
REFERENCES = {
    "clinic": ("/api/v1/clinics/", "id"),
    "clinics": ("/api/v1/clinics/", "id"),
    "patient": ("/api/v1/patients/", "id"),
    "course": ("/api/v1/courses/", "id"),
    "chair": ("/api/v1/chairs/", "id"),
    "protocol": ("/api/v1/protocols/", "code"),
}


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _json_schema(schema: dict[str, Any], holder: dict[str, Any]) -> dict[str, Any]:
    content = holder.get("content", {}).get("application/json", {})
    return _resolve(schema, content.get("schema", {}))


def _has_id(schema: dict[str, Any], response: dict[str, Any]) -> bool:
    return "id" in _json_schema(schema, response).get("properties", {})


def _first_result_has_id(schema: dict[str, Any], response: dict[str, Any]) -> bool:
    results = _json_schema(schema, response).get("properties", {}).get("results")
    return bool(results) and "id" in _resolve(schema, results.get("items", {})).get(
        "properties", {}
    )


def _object_operations(
    paths: dict[str, Any], collection: str, parameter: str = "id"
) -> list[tuple[str, dict[str, Any]]]:
    """Each operation on one object of ``collection`` whose only path parameter is its id."""
    prefix = f"{collection}{{{parameter}}}/"
    return [
        (path, operation)
        for path, operations in paths.items()
        if path.startswith(prefix) and path.count("{") == 1
        for method, operation in operations.items()
        if method in METHODS
    ]


def _add_link(response: dict[str, Any], target: dict[str, Any], **link: Any) -> None:
    response.setdefault("links", {})[target["operationId"]] = {
        "operationId": target["operationId"],
        **link,
    }


def add_links(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    paths: dict[str, Any] = result.get("paths", {})
    for collection, operations in paths.items():
        if "{" in collection:
            continue
        created = operations.get("post", {}).get("responses", {}).get("201")
        listed = operations.get("get", {}).get("responses", {}).get("200")
        targets = _object_operations(paths, collection)
        if created is not None and _has_id(result, created):
            for _, target in targets:
                _add_link(created, target, parameters={"id": "$response.body#/id"})
        if listed is not None and _first_result_has_id(result, listed):
            for _, target in targets:
                _add_link(listed, target, parameters={"id": "$response.body#/results/0/id"})
    _add_reference_links(result, paths)
    return result


def _add_reference_links(result: dict[str, Any], paths: dict[str, Any]) -> None:
    for field, (collection, member) in REFERENCES.items():
        operations = paths.get(collection, {})
        created = operations.get("post", {}).get("responses", {}).get("201")
        listed = operations.get("get", {}).get("responses", {}).get("200")
        sources = []
        if created is not None and _has_id(result, created):
            sources.append((created, f"$response.body#/{member}"))
        if listed is not None and _first_result_has_id(result, listed):
            sources.append((listed, f"$response.body#/results/0/{member}"))
        for path, target in _creates_naming(result, paths, field):
            if path == collection:
                continue
            body = _json_schema(result, target.get("requestBody", {}))
            for response, expression in sources:
                many = body["properties"][field].get("type") == "array"
                value: Any = [expression] if many else expression
                _add_link(response, target, requestBody={field: value})
        if created is not None and _has_id(result, created):
            for _, target in _object_operations(paths, "/api/v1/reminder-policies/", field):
                _add_link(created, target, parameters={field: "$response.body#/id"})


def _creates_naming(
    result: dict[str, Any], paths: dict[str, Any], field: str
) -> list[tuple[str, dict[str, Any]]]:
    """The creates (a POST answering 201 on a collection) whose body has ``field``."""
    found = []
    for path, operations in paths.items():
        create = operations.get("post")
        if "{" in path or create is None or "201" not in create.get("responses", {}):
            continue
        body = _json_schema(result, create.get("requestBody", {}))
        if field in body.get("properties", {}):
            found.append((path, create))
    return found
