from __future__ import annotations

from celery import shared_task

from courses import risk


@shared_task(name="courses.tasks.recompute_risk_nightly")
def recompute_risk_nightly() -> int:
    """Nightly: time passing alone (a treatment gap, an expiring authorization) changes
    risk, so every open course is re-evaluated."""
    return risk.recompute_open_courses()
