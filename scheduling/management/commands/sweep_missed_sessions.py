from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from scheduling import services


class Command(BaseCommand):
    help = (
        "Mark overdue sessions as missed (no check-in by end + grace), book make-ups and "
        "recompute risk. Safe to run at any time, also while the beat task runs."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        course_ids = services.sweep_missed_sessions()
        makeups = services.arrange_makeups_and_refresh(course_ids)
        self.stdout.write(
            f"{len(course_ids)} course(s) had sessions marked missed; {makeups} make-up(s) booked."
        )
