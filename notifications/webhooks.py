"""Twilio webhooks: inbound SMS keywords and delivery status callbacks.

No staff authentication: the provider's signature (X-Twilio-Signature, checked with
the SDK's RequestValidator against the configured auth token) proves the origin.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from notifications import services


def _signed(request: HttpRequest) -> bool:
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature or not settings.TWILIO_AUTH_TOKEN:
        return False
    validator = RequestValidator(settings.TWILIO_AUTH_TOKEN)
    return bool(validator.validate(request.build_absolute_uri(), request.POST.dict(), signature))


def _twiml(reply: str | None) -> HttpResponse:
    response = MessagingResponse()
    if reply:
        response.message(reply)
    return HttpResponse(str(response), content_type="application/xml")


@csrf_exempt
@require_POST
def inbound_sms(request: HttpRequest) -> HttpResponse:
    if not _signed(request):
        return HttpResponseForbidden("invalid signature")
    message_id = request.POST.get("MessageSid", "")
    if not message_id or len(message_id) > 64:
        return HttpResponseBadRequest("MessageSid is missing or malformed")
    reply = services.handle_inbound_sms(
        message_id, request.POST.get("From", ""), request.POST.get("Body", "")
    )
    return _twiml(reply)


@csrf_exempt
@require_POST
def sms_status(request: HttpRequest) -> HttpResponse:
    if not _signed(request):
        return HttpResponseForbidden("invalid signature")
    services.record_delivery_status(
        request.POST.get("MessageSid", ""), request.POST.get("MessageStatus", "")
    )
    return HttpResponse(status=204)
