"""The tables of docs/roles.md, written from the capability table and the rows of
:mod:`clinic.roles_doc`.

The document keeps its prose; each table sits between a pair of markers
(``<!-- roles_doc:NAME -->`` ... ``<!-- /roles_doc:NAME -->``) and is replaced by
:func:`render`. ``python manage.py roles_doc`` writes the file, ``--check`` only
compares, and a test fails when the committed file is not what :func:`render` gives.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from clinic.capabilities import CAPABILITIES, Capability, roles_for
from clinic.models import Role
from clinic.roles_doc import ACTIONS, FHIR, PAGES, RESOURCES, Action, Cell, Page


def roles_text(capability: Capability) -> str:
    roles = roles_for(capability)
    if roles == frozenset(Role.values):
        return "all roles"
    if not roles:
        return "superusers only"
    return ", ".join(role for role in Role.values if role in roles)


def _with_roles(note: str) -> str:
    """Write each ``{CAPABILITY}`` of a note as its roles."""
    return re.sub(r"\{([A-Z_]+)\}", lambda m: roles_text(Capability[m.group(1)]), note)


def cell_capability(cell: Cell) -> Capability | None:
    if isinstance(cell, Capability):
        return cell
    if isinstance(cell, tuple):
        return cell[0]
    return None


def _cell(cell: Cell) -> str:
    if isinstance(cell, Capability):
        return roles_text(cell)
    if isinstance(cell, tuple):
        capability, note = cell
        return roles_text(capability) + _with_roles(note)
    return cell


def _code(text: str) -> str:
    return f"`{text}`"


def _action_paths(action: Action) -> str:
    first, *others = action.paths
    shown = [_code(f"{action.method} {first}")]
    shown += [_code("/" + path.rstrip("/").rsplit("/", 1)[1] + "/") for path in others]
    return ", ".join(shown) + action.note


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def capability_table() -> str:
    header = ("capability", "what it lets a person do", *(_code(role) for role in Role.values))
    rows = [
        (
            _code(capability.name),
            grant.what,
            *("✓" if role in grant.roles else "" for role in Role.values),
        )
        for capability, grant in CAPABILITIES.items()
    ]
    return _table(header, rows)


def resource_table() -> str:
    rows = [
        (
            ", ".join(_code(path) for path in resource.paths) + resource.note,
            *(
                _cell(cell)
                for cell in (resource.read, resource.create, resource.update, resource.delete)
            ),
        )
        for resource in RESOURCES
    ]
    return _table(("resource", "read", "create", "update", "delete"), rows)


def _capability_name(cell: Cell) -> str:
    capability = cell_capability(cell)
    return _code(capability.name) if capability else ""


def action_table() -> str:
    rows = [(_action_paths(a), _cell(a.who), _capability_name(a.who)) for a in ACTIONS]
    return _table(("action", "who", "capability"), rows)


def _page_rows(pages: Sequence[Page]) -> list[tuple[str, ...]]:
    return [
        (
            ", ".join(_code(path) for path in page.paths)
            + (f" {page.label}" if page.label else ""),
            _cell(page.who),
            _capability_name(page.who),
        )
        for page in pages
    ]


def page_table() -> str:
    return _table(("page", "who", "capability"), _page_rows(PAGES))


def fhir_table() -> str:
    return _table(("interaction", "who", "capability"), _page_rows(FHIR))


SECTIONS = {
    "capabilities": capability_table,
    "api-resources": resource_table,
    "api-actions": action_table,
    "pages": page_table,
    "fhir": fhir_table,
}


def render(document: str) -> str:
    """``document`` with every marked section written afresh from the tables."""
    for name, build in SECTIONS.items():
        start, end = f"<!-- roles_doc:{name} -->", f"<!-- /roles_doc:{name} -->"
        found = re.search(re.escape(start) + r".*?" + re.escape(end), document, re.DOTALL)
        if found is None:
            raise ValueError(f"docs/roles.md lacks the markers of the {name!r} section.")
        section = f"{start}\n{build()}\n{end}"
        document = document[: found.start()] + section + document[found.end() :]
    return document
