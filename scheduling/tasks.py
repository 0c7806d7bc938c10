from __future__ import annotations

from functools import partial

from celery import shared_task
from django.db import transaction

from scheduling import risk, services

MAKEUP_BATCH = 50


@shared_task(name="scheduling.tasks.sweep_missed_sessions")
def sweep_missed_sessions() -> int:
    """Every 5 minutes: mark overdue sessions missed, recompute those courses' risk,
    and queue their make-ups (course ids only go to the broker)."""
    course_ids = services.sweep_missed_sessions()
    for start in range(0, len(course_ids), MAKEUP_BATCH):
        batch = course_ids[start : start + MAKEUP_BATCH]
        transaction.on_commit(partial(arrange_makeups.delay, batch))
    return len(course_ids)


@shared_task(name="scheduling.tasks.arrange_makeups")
def arrange_makeups(course_ids: list[int]) -> int:
    return services.arrange_makeups_and_refresh(course_ids)


@shared_task(name="scheduling.tasks.recompute_risk_nightly")
def recompute_risk_nightly() -> int:
    """Nightly: time passing alone (a treatment gap, an expiring authorization) changes
    risk, so every open course is re-evaluated."""
    return risk.recompute_open_courses()


@shared_task(name="scheduling.tasks.refresh_waitlist")
def refresh_waitlist(clinic_id: int) -> int:
    """The clinic's capacity changed: work out its waiting courses' earliest starts
    again (scheduling.services.waitlist_refresh); the number of new offers."""
    return len(services.waitlist_refresh(clinic_id))
