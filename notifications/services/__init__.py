"""Every write of the notifications app, one module per concern:

- ``policy``: a clinic's reminder policy and who can be reached;
- ``consent``: the consent ledger;
- ``outbox``: the messages a change causes, and the periodic planning of reminders;
- ``watch_checkins``: the periodic planning of the relapse watch's questionnaire links;
- ``dispatch``: claiming a batch, sending it and delivery status;
- ``inbound``: STOP / START / HELP, YES confirming the next visit, other texts to
  the front desk's inbox;
- ``lease``: the claim and lease of an outbox row, shared by messages and webhooks;
- ``webhooks``: a clinic's webhook endpoints and the deliveries an event writes;
- ``webhook_send``: signing and posting a delivery, retries with backoff.

Nothing is lost or sent twice: rows are written in the same transaction as the change
that causes them, each has a unique idempotency key, workers claim a batch of rows with
one conditional update and a lease before sending, and a sweeper returns rows whose
lease ran out (a crashed worker) to the queue. Only ids travel through the broker.
"""

from notifications.services.consent import consent_record
from notifications.services.dispatch import (
    BatchResult,
    claim,
    claim_batch,
    due_ids,
    record_delivery_status,
    release_expired_leases,
    send,
    send_batch,
)
from notifications.services.inbound import (
    handle_inbound_sms,
    keyword_of,
    reply_mark_handled,
    sender_of,
)
from notifications.services.outbox import (
    cancel_pending,
    notify_course_booked,
    notify_makeups,
    notify_missed,
    notify_waitlist_offers,
    plan_reminders,
    reroute_pending,
    session_changed,
    session_reinstated,
    sessions_released,
    sessions_withdrawn,
)
from notifications.services.policy import (
    policy_for,
    policy_update,
    reachable_channels,
    reminder_time,
    within_window,
)
from notifications.services.watch_checkins import plan_watch_checkins
from notifications.services.webhook_send import (
    due_webhook_ids,
    release_expired_webhook_leases,
    signature,
    webhook_send,
)
from notifications.services.webhooks import (
    endpoint_secret,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_update,
    webhook_secret_rotate,
)

__all__ = [
    "BatchResult",
    "cancel_pending",
    "claim",
    "claim_batch",
    "consent_record",
    "due_ids",
    "due_webhook_ids",
    "endpoint_secret",
    "handle_inbound_sms",
    "keyword_of",
    "notify_course_booked",
    "notify_makeups",
    "notify_missed",
    "notify_waitlist_offers",
    "plan_reminders",
    "plan_watch_checkins",
    "policy_for",
    "policy_update",
    "reachable_channels",
    "record_delivery_status",
    "release_expired_leases",
    "release_expired_webhook_leases",
    "reminder_time",
    "reply_mark_handled",
    "reroute_pending",
    "send",
    "send_batch",
    "sender_of",
    "session_changed",
    "session_reinstated",
    "sessions_released",
    "sessions_withdrawn",
    "signature",
    "webhook_endpoint_create",
    "webhook_endpoint_delete",
    "webhook_endpoint_update",
    "webhook_secret_rotate",
    "webhook_send",
    "within_window",
]
