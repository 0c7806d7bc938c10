"""The shapes of docs/roles.md's rows (clinic/roles_doc.py holds the rows)."""

from __future__ import annotations

from dataclasses import dataclass

from clinic.capabilities import Capability

# A cell: a capability (its roles), a capability with a note after the roles, or text.
Cell = Capability | tuple[Capability, str] | str
NONE = "—"


@dataclass(frozen=True)
class Resource:
    """A row of the API's resource table; paths are full (``/api/v1/...``)."""

    paths: tuple[str, ...]
    read: Cell
    create: Cell
    update: Cell
    delete: Cell
    note: str = ""  # after the paths


@dataclass(frozen=True)
class Action:
    """A row of the API's action table; paths follow ``/api/v1``."""

    method: str
    paths: tuple[str, ...]
    who: Cell
    note: str = ""  # after the paths


@dataclass(frozen=True)
class Page:
    """A row of the staff page table; a path may start with its method (``POST /x/``)."""

    paths: tuple[str, ...]
    who: Cell
    label: str = ""
