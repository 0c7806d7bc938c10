"""OpenAPI links (a drf-spectacular postprocessing hook): how the id an answer carries
reaches the operations that take it, so a client (and a stateful fuzzer) can follow
create → read, update, delete and actions on that object.

Three kinds, all derived from the paths, so a new resource gets them without a line here:

- a create's 201 (``POST /api/v1/chairs/``) → every operation on ``/api/v1/chairs/{id}/...``,
  the id taken from the answer's ``id``;
- a list's 200 → the same operations, with the first result's ``id``;
- a create's 201 → the creates whose body names it (``POST /api/v1/clinics/`` →
  ``POST /api/v1/chairs/`` with ``clinic`` set to the new clinic's id), and the
  clinic's reminder policy (``/api/v1/reminder-policies/{clinic}/``).
"""

from __future__ import annotations

from typing import Any

METHODS = ("get", "put", "patch", "post", "delete")
# A body field naming an object, and the collection that creates such objects.
REFERENCES = {
    "clinic": "/api/v1/clinics/",
    "patient": "/api/v1/patients/",
    "course": "/api/v1/courses/",
    "chair": "/api/v1/chairs/",
    "protocol": "/api/v1/protocols/",
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
    for field, collection in REFERENCES.items():
        created = paths.get(collection, {}).get("post", {}).get("responses", {}).get("201")
        if created is None or not _has_id(result, created):
            continue
        for path, operations in paths.items():
            create = operations.get("post")
            if (
                "{" in path
                or path == collection
                or create is None
                or "201" not in create.get("responses", {})
            ):
                continue
            body = _json_schema(result, create.get("requestBody", {}))
            if field in body.get("properties", {}):
                _add_link(created, create, requestBody={field: "$response.body#/id"})
        for _, target in _object_operations(paths, "/api/v1/reminder-policies/", field):
            _add_link(created, target, parameters={field: "$response.body#/id"})
