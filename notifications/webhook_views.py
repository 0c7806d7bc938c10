"""The webhook pages of the clinic set-up (clinic admins): the clinic's endpoints with
a form to register one (its signing secret is shown on the answer to that form, once),
and an endpoint's page to change or disable it, with its delivery log."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from clinic.capabilities import Capability
from clinic.web import Workplace, attempt, refusal_on_form, staff_page
from notifications import services
from notifications.models import WebhookDelivery, WebhookEndpoint, WebhookEvent

LOG_ROWS = 50


class WebhookEndpointForm(forms.Form):
    url = forms.URLField(
        label="URL",
        max_length=500,
        assume_scheme="https",
        widget=forms.URLInput(attrs={"size": 60}),
        help_text="An https:// address of your receiver.",
    )
    description = forms.CharField(label="Description", max_length=200, required=False)
    events = forms.MultipleChoiceField(
        label="Events", choices=WebhookEvent.choices, widget=forms.CheckboxSelectMultiple
    )


class WebhookEndpointChangeForm(WebhookEndpointForm):
    active = forms.BooleanField(
        label="Active (unticked: nothing more is sent, pending deliveries are cancelled)",
        required=False,
    )


def _fields(form: forms.Form) -> dict[str, Any]:
    return {name: form.cleaned_data[name] for name in form.fields}


@require_http_methods(["GET", "HEAD", "POST"])
@staff_page(Capability.MANAGE_WEBHOOKS)
def endpoints(request: HttpRequest, place: Workplace) -> HttpResponse:
    """The clinic's endpoints and a form to add one. The answer to a successful add
    shows the secret (not a redirect: the secret is in no later page)."""
    form = WebhookEndpointForm(request.POST or None, initial={"events": WebhookEvent.values})
    created: tuple[WebhookEndpoint, str] | None = None
    if request.method == "POST" and form.is_valid():
        created, refusal = attempt(
            lambda: services.webhook_endpoint_create(place.clinic, by=request.user, **_fields(form))
        )
        if refusal is not None:
            refusal_on_form(form, refusal)
        else:
            form = WebhookEndpointForm(initial={"events": WebhookEvent.values})
    listed = WebhookEndpoint.objects.filter(clinic=place.clinic).order_by("id")
    status = 201 if created else (400 if form.is_bound else 200)
    return render(
        request,
        "notifications/webhooks/endpoints.html",
        {
            "endpoints": listed,
            "form": form,
            "created": created,
            "labels": dict(WebhookEvent.choices),
        },
        status=status,
    )


@require_http_methods(["GET", "HEAD", "POST"])
@staff_page(Capability.MANAGE_WEBHOOKS)
def endpoint_detail(request: HttpRequest, place: Workplace, pk: int) -> HttpResponse:
    """Change or disable an endpoint, give it a new secret, or remove it; below, its
    latest deliveries."""
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk, clinic=place.clinic)
    initial = {
        "url": endpoint.url,
        "description": endpoint.description,
        "events": endpoint.events,
        "active": endpoint.active,
    }
    action = request.POST.get("action", "save")
    form = WebhookEndpointChangeForm(
        request.POST if action == "save" and request.method == "POST" else None, initial=initial
    )
    secret = None
    if request.method == "POST" and action == "delete":
        services.webhook_endpoint_delete(endpoint)
        messages.success(request, "The endpoint is removed.")
        return redirect("setup-webhooks")
    if request.method == "POST" and action == "rotate":
        secret = services.webhook_secret_rotate(endpoint)
    elif form.is_bound and form.is_valid():
        saved, refusal = attempt(
            lambda: services.webhook_endpoint_update(endpoint, **_fields(form))
        )
        if refusal is not None:
            refusal_on_form(form, refusal)
        elif saved is not None:
            messages.success(request, "The endpoint is saved.")
            return redirect("setup-webhook", pk=endpoint.pk)
    log = WebhookDelivery.objects.filter(endpoint=endpoint).order_by("-created_at", "-id")
    return render(
        request,
        "notifications/webhooks/endpoint.html",
        {
            "endpoint": endpoint,
            "form": form,
            "secret": secret,
            "deliveries": log[:LOG_ROWS],
            "log_rows": LOG_ROWS,
        },
        status=400 if form.is_bound and form.errors else 200,
    )
