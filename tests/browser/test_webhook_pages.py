"""The webhook set-up pages in Chromium: a clinic admin registers an endpoint from the
set-up tabs, copies the secret shown once, opens the endpoint's page with its delivery
log and disables it. Both pages pass axe-core at 1440 and 390 px wide (screenshots in
test-artifacts/)."""

from __future__ import annotations

import re
from typing import Any

from django.utils import timezone
from playwright.sync_api import Page, expect

from clinic.models import Role
from notifications import services
from notifications.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from tests.browser.test_clinic_setup import _axe_at_both_widths


def test_a_clinic_admin_registers_reads_the_log_and_disables(
    page: Page, login: Any, staff: Any, clinic: Any
) -> None:
    violations: dict[str, Any] = {}
    login(staff(Role.CLINIC_ADMIN))
    page.goto("/setup/")
    page.get_by_role("navigation", name="Set-up").get_by_role("link", name="Webhooks").click()
    violations |= _axe_at_both_widths(page, "webhooks-empty")
    page.get_by_label("URL").fill("https://ehr.example.org/cadence")
    page.get_by_label("Description").fill("Our EHR")
    page.get_by_label(re.compile(r"assessment\.recorded")).uncheck()
    page.get_by_role("button", name="Register the endpoint").click()
    expect(page.get_by_role("heading", name=re.compile("copy its secret now"))).to_be_visible()
    endpoint = WebhookEndpoint.objects.get(clinic=clinic)
    secret = page.get_by_label(re.compile("^Signing secret")).input_value()
    assert secret == services.endpoint_secret(endpoint)
    assert "assessment.recorded" not in endpoint.events and len(endpoint.events) == 7
    violations |= _axe_at_both_widths(page, "webhooks-registered")

    WebhookDelivery.objects.create(
        endpoint=endpoint,
        event_id="00000000-0000-4000-8000-000000000001",
        event="session.booked",
        body="{}",
        scheduled_for=timezone.now(),
        status=DeliveryStatus.PENDING,
        attempts=1,
        response_code=503,
        last_error="answered 503",
    )
    page.get_by_role("link", name=re.compile("^Deliveries and settings")).click()
    expect(page.get_by_role("table")).to_contain_text("answered 503")
    violations |= _axe_at_both_widths(page, "webhook-endpoint")
    page.get_by_label(re.compile(r"Active \(unticked")).uncheck()
    page.get_by_role("button", name="Save the endpoint").click()
    expect(page.get_by_role("status")).to_contain_text("The endpoint is saved")
    expect(page.get_by_role("table")).to_contain_text("Cancelled")
    endpoint.refresh_from_db()
    assert endpoint.active is False
    assert violations == {}
