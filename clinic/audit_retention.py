"""Audit events are kept AUDIT_RETENTION_YEARS (six at least, HIPAA's retention of
documentation, 45 CFR 164.316(b)(2)), then purged.

On PostgreSQL a trigger (migration ``clinic.0009``) refuses every UPDATE of the audit
tables and every DELETE, except a DELETE in a transaction that set ``cadence.audit_purge``
to ``on`` of a row older than the retention (the trigger reads the same number, passed as
``cadence.audit_retention_years``, and refuses fewer than six). So the application's
database user cannot rewrite or shorten the trail, only this purge removes expired rows.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from clinic.models import AuditEvent, AuditEventPatient


def retention_cutoff(now: dt.datetime | None = None) -> dt.datetime:
    now = now or timezone.now()
    years = int(settings.AUDIT_RETENTION_YEARS)
    try:
        return now.replace(year=now.year - years)
    except ValueError:  # 29 February
        return now.replace(year=now.year - years, day=28)


def purge_expired_audit_events() -> int:
    """Delete the events older than the retention, with their patient links; returns the
    number of events deleted."""
    cutoff = retention_cutoff()
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('cadence.audit_purge', 'on', true)")
                cursor.execute(
                    "SELECT set_config('cadence.audit_retention_years', %s, true)",
                    [str(int(settings.AUDIT_RETENTION_YEARS))],
                )
        expired = AuditEvent.objects.filter(at__lt=cutoff)
        AuditEventPatient.objects.filter(event__in=expired.values("id"))._raw_delete(
            AuditEventPatient.objects.db
        )
        return int(expired._raw_delete(AuditEvent.objects.db))
