"""The capability table is the one place that says who may do what: every capability
is granted to known roles and asked for somewhere, no other module names a role,
docs/roles.md is written from the table, and each of its cells names the capability
the endpoint or page really asks for."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse

from clinic import roles_doc, roles_render
from clinic.capabilities import CAPABILITIES, Capability
from clinic.management.commands.roles_doc import roles_doc_path
from clinic.models import Role
from clinic.web import NAVIGATION

ROOT = Path(__file__).resolve().parents[2]
APPS = ("clinic", "courses", "scheduling", "notifications", "interop")
TABLE = Path("clinic/capabilities.py")

# Modules that may name roles, and why. Nothing else may: a permission check asks for a
# capability (clinic/capabilities.py) instead.
MAY_NAME_ROLES = {
    TABLE: "the capability table itself",
    Path("clinic/models.py"): "defines the Role choices",
    Path("clinic/demo.py"): "demo data: the role each demo login is given, not a permission",
}
ROLE_MEMBERS = {role.name for role in Role}
# "technician" and "psychiatrist" are also field names (a course's psychiatrist, a
# treatment record's technician), so only these role values are looked for as text;
# comparisons with a role and role filters catch the others.
UNAMBIGUOUS_ROLE_VALUES = {Role.FRONT_DESK.value, Role.CLINIC_ADMIN.value}
ROLE_KEYWORD = re.compile(r"(^|__)role(__in)?$")


def _app_sources() -> Iterator[Path]:
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if "migrations" not in relative.parts:
                yield relative


def _names_a_role(node: ast.AST) -> str | None:
    """Why ``node`` names a role, or None."""
    if isinstance(node, ast.Attribute) and node.attr in ROLE_MEMBERS:
        return f"Role member {node.attr}"
    if isinstance(node, ast.Constant) and node.value in UNAMBIGUOUS_ROLE_VALUES:
        return f"role value {node.value!r}"
    if isinstance(node, ast.Compare):
        # ``role in roles_for(...)`` asks the table; ``role == "technician"`` does not.
        operands = [node.left, *node.comparators]
        about_role = any(
            (isinstance(o, ast.Attribute) and o.attr == "role")
            or (isinstance(o, ast.Name) and o.id == "role")
            for o in operands
        )
        if about_role and any(_literal_text(o) for o in operands):
            return "a role compared with text"
    if (
        isinstance(node, ast.keyword)
        and node.arg
        and ROLE_KEYWORD.search(node.arg)
        and _literal_text(node.value)
    ):
        return f"a role filter {node.arg}= with text"
    return None


def _literal_text(node: ast.AST) -> bool:
    """A string literal, or a tuple, list or set holding one."""
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return any(_literal_text(element) for element in node.elts)
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _role_mentions(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        reason = _names_a_role(node)
        if reason:
            found.append(f"line {getattr(node, 'lineno', '?')}: {reason}")
    return found


def test_every_capability_grants_known_roles_and_says_what_it_allows() -> None:
    assert list(CAPABILITIES) == list(Capability)
    for capability, grant in CAPABILITIES.items():
        assert grant.roles <= set(Role.values), capability
        assert all(type(role) is str for role in grant.roles), capability
        assert grant.what and "\n" not in grant.what and "|" not in grant.what, capability


def test_every_capability_is_asked_for_by_the_apps() -> None:
    used: set[str] = set()
    for path in _app_sources():
        if path in (TABLE, Path("clinic/roles_doc.py")):
            continue  # the table, and the document written from it
        used |= set(re.findall(r"\bCapability\.([A-Z_]+)\b", (ROOT / path).read_text()))
    assert {c.name for c in Capability} - used == set()


def test_no_module_outside_the_capability_table_names_a_role() -> None:
    offenders = {
        str(path): mentions
        for path in _app_sources()
        if path not in MAY_NAME_ROLES and (mentions := _role_mentions((ROOT / path).read_text()))
    }
    assert offenders == {}


def test_no_template_compares_roles() -> None:
    # Templates get booleans from their views (may_add, can_review_flags, ...).
    pattern = re.compile(r"front_desk|clinic_admin|\brole\s*(==|!=)|\bif\b[^%]*\brole\b")
    offenders = [
        str(path.relative_to(ROOT))
        for app in APPS
        for path in sorted((ROOT / app).rglob("templates/**/*.html"))
        if pattern.search(path.read_text())
    ]
    assert offenders == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("x = (Role.FRONT_DESK, Role.CLINIC_ADMIN)", 2),
        ("if place.role == 'psychiatrist': pass", 1),
        ("ok = role in {'technician'}", 1),
        ("q = M.objects.filter(memberships__role='psychiatrist')", 1),
        ("q = M.objects.filter(role__in=['front_desk'])", 2),
        ("if place.role is None: pass", 0),
        ("ok = place.role in roles_for(Capability.CHECK_IN)", 0),
        ("q = M.objects.filter(role__in=roles_for(Capability.PRESCRIBE))", 0),
        ("data.setdefault('psychiatrist', user)", 0),
    ],
)
def test_the_role_scan_finds_what_it_should(source: str, expected: int) -> None:
    assert len(_role_mentions(source)) == expected


def test_docs_roles_md_is_written_from_the_capability_table() -> None:
    current = roles_doc_path().read_text(encoding="utf-8")
    assert roles_render.render(current) == current, "run `python manage.py roles_doc`"


def test_every_capability_appears_in_docs_roles_md() -> None:
    text = roles_doc_path().read_text(encoding="utf-8")
    for capability in Capability:
        assert f"`{capability.name}`" in text


# --- the documented capability of each endpoint and page is the one it asks for ---------


def _concrete(path: str) -> str:
    """A path the URLconf resolves: ids filled in, method and query left out."""
    path = path.split(" ", 1)[-1].split("?", 1)[0]
    return re.sub(r"\{\w+\}|<\w+>", "1", path)


def _asked_for(path: str, method: str) -> Capability | None:
    """The capability the view behind ``method path`` asks for, when it says."""
    view = resolve(path).func
    cls: Any = getattr(view, "cls", None)
    if cls is not None and hasattr(cls, "capability_for"):
        action = getattr(view, "actions", {}).get(method.lower())
        assert action is not None, f"{method} {path} is not routed"
        return cls().capability_for(action, method)  # type: ignore[no-any-return]
    if cls is not None and hasattr(cls, "capability"):
        return cls.capability  # type: ignore[no-any-return]
    return getattr(view, "capability", None)


def _api_cells() -> Iterator[tuple[str, str, roles_doc.Cell]]:
    for resource in roles_doc.RESOURCES:
        for path in resource.paths:
            detail = _concrete(path) if "{" in path else f"{path}1/"
            listing = None if "{" in path else path
            if listing:
                yield listing, "GET", resource.read
                yield listing, "POST", resource.create
            else:
                yield detail, "GET", resource.read
            yield detail, "PATCH", resource.update
            yield detail, "DELETE", resource.delete
    for action in roles_doc.ACTIONS:
        for path in action.paths:
            yield "/api/v1" + _concrete(path), action.method, action.who


def test_documented_api_cells_name_the_capability_the_view_asks_for() -> None:
    checked = 0
    for path, method, cell in _api_cells():
        documented = roles_render.cell_capability(cell)
        if documented is None:
            continue
        asked = _asked_for(path, method)
        if asked is None:
            continue  # a view that checks no capability itself (board, availability)
        assert asked == documented, (method, path)
        checked += 1
    assert checked >= 60


def _staff_pages(
    patterns: list[URLPattern | URLResolver], prefix: str = ""
) -> Iterator[tuple[str, Any]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _staff_pages(pattern.url_patterns, prefix + str(pattern.pattern))
        elif hasattr(pattern.callback, "capability"):
            yield prefix + str(pattern.pattern), pattern.callback


def test_every_staff_page_is_documented_with_the_capability_it_asks_for() -> None:
    documented: dict[Any, Capability] = {}
    for page in roles_doc.PAGES:
        capability = roles_render.cell_capability(page.who)
        assert capability is not None
        for path in page.paths:
            view = resolve(_concrete(path)).func
            asked = getattr(view, "capability", None)
            assert asked in (None, capability), path  # None: a page outside @staff_page
            documented[view] = capability
    pages = list(_staff_pages(get_resolver().url_patterns))
    assert len(pages) >= 15
    for route, view in pages:
        assert documented.get(view) == view.capability, f"/{route} is not in docs/roles.md"


def test_navigation_links_ask_for_the_capability_of_their_page() -> None:
    for label, name, capability in NAVIGATION:
        asked = getattr(resolve(reverse(name)).func, "capability", capability)
        assert asked == capability, label
