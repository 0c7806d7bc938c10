"""Who may see and change what: clinic membership and capability checks.

A staff member's memberships are loaded once per request and cached on the user object,
so permission checks never add queries per row. What each role may do is in
:mod:`clinic.capabilities`; the checks here ask one clinic at a time.
"""

from __future__ import annotations

from typing import Any

from clinic.capabilities import Capability, roles_for
from clinic.models import StaffMembership

_CACHE_ATTR = "_cadence_roles"


def roles_by_clinic(user: Any) -> dict[int, str]:
    """Map clinic id -> the user's role there (empty for anonymous users)."""
    if not getattr(user, "is_authenticated", False):
        return {}
    cached: dict[int, str] | None = getattr(user, _CACHE_ATTR, None)
    if cached is None:
        cached = dict(
            StaffMembership.objects.filter(user_id=user.pk).values_list("clinic_id", "role")
        )
        setattr(user, _CACHE_ATTR, cached)
    return cached


def forget_roles(user: Any) -> None:
    if hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)


def is_superuser(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_superuser)


def clinic_ids(user: Any) -> set[int] | None:
    """Clinics the user belongs to, whatever the role; None means every clinic
    (superuser)."""
    if is_superuser(user):
        return None
    return set(roles_by_clinic(user))


def clinic_ids_with(user: Any, capability: Capability) -> set[int] | None:
    """Clinics where the user's role holds ``capability``; None means every clinic
    (superuser)."""
    if is_superuser(user):
        return None
    allowed = roles_for(capability)
    return {clinic_id for clinic_id, role in roles_by_clinic(user).items() if role in allowed}


def has_capability(user: Any, clinic_id: int | None, capability: Capability) -> bool:
    if is_superuser(user):
        return True
    if clinic_id is None:
        return False
    return roles_by_clinic(user).get(clinic_id) in roles_for(capability)


def can_see_clinic(user: Any, clinic_id: int) -> bool:
    return is_superuser(user) or clinic_id in roles_by_clinic(user)
