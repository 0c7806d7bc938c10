"""The webhook endpoints API (clinic admins): ``/api/v1/webhook-endpoints/`` and each
endpoint's delivery log, ``/api/v1/webhook-endpoints/{id}/deliveries/``. The signing
secret is in the answer to the create (and to ``rotate-secret``), never again."""

from __future__ import annotations

from typing import Any, cast

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from clinic import dates
from clinic.capabilities import Capability
from clinic.serializers import clinic_field
from clinic.viewsets import ClinicScopedViewSet
from notifications import services
from notifications.models import WebhookDelivery, WebhookEndpoint, WebhookEvent

ENDPOINT_FIELDS = [
    "id",
    "clinic",
    "url",
    "description",
    "events",
    "active",
    "secret_hint",
    "created_at",
    "updated_at",
]


class WebhookEndpointSerializer(dates.BoundedModelSerializer):
    clinic = clinic_field()
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEvent.choices),
        allow_empty=False,
        max_length=len(WebhookEvent.values),
    )

    class Meta:
        model = WebhookEndpoint
        fields = ENDPOINT_FIELDS
        read_only_fields = ["id", "secret_hint", "created_at", "updated_at"]


class WebhookEndpointChangeSerializer(WebhookEndpointSerializer):
    """An endpoint stays in its clinic."""

    clinic = serializers.PrimaryKeyRelatedField(read_only=True)  # type: ignore[assignment,var-annotated]


class WebhookEndpointSecretSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(
        read_only=True,
        help_text="The signing secret: in this answer only. Keep it with the receiver.",
    )

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*ENDPOINT_FIELDS, "secret"]


class WebhookDeliverySerializer(dates.BoundedModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event_id",
            "event",
            "status",
            "attempts",
            "response_code",
            "last_error",
            "scheduled_for",
            "sent_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class WebhookEndpointViewSet(ClinicScopedViewSet):
    """A clinic's webhook endpoints (docs/webhooks.md). Disabling one (``active``
    false) cancels its pending deliveries: nothing more is sent to it."""

    queryset = WebhookEndpoint.objects.order_by("id")
    serializer_class = WebhookEndpointSerializer
    filterset_fields = ["clinic", "active"]
    read_capability = Capability.MANAGE_WEBHOOKS
    write_capability = Capability.MANAGE_WEBHOOKS

    def get_serializer_class(self) -> Any:
        if self.action in ("update", "partial_update"):
            return WebhookEndpointChangeSerializer
        if self.action == "deliveries":
            return WebhookDeliverySerializer
        return WebhookEndpointSerializer

    def _with_secret(self, endpoint: WebhookEndpoint, secret: str, code: int) -> Response:
        body = dict(WebhookEndpointSerializer(endpoint, context=self.get_serializer_context()).data)
        body["secret"] = secret
        return Response(body, status=code)

    @extend_schema(responses={201: WebhookEndpointSecretSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        clinic = data.pop("clinic")
        self.require_allowed_in(clinic.pk)
        endpoint, secret = services.webhook_endpoint_create(clinic, by=request.user, **data)
        return self._with_secret(endpoint, secret, status.HTTP_201_CREATED)

    def perform_update(self, serializer: serializers.BaseSerializer[Any]) -> None:
        endpoint = cast(WebhookEndpoint, serializer.instance)
        serializer.instance = services.webhook_endpoint_update(
            endpoint, **serializer.validated_data
        )

    def perform_destroy(self, instance: WebhookEndpoint) -> None:
        services.webhook_endpoint_delete(instance)

    @extend_schema(request=None, responses={200: WebhookEndpointSecretSerializer})
    @action(detail=True, methods=["post"], url_path="rotate-secret", filter_backends=[])
    def rotate_secret(self, request: Request, pk: str | None = None) -> Response:
        """A new signing secret, in this answer only; the old one stops working at once."""
        endpoint = self.get_object()
        secret = services.webhook_secret_rotate(endpoint)
        return self._with_secret(endpoint, secret, status.HTTP_200_OK)

    @extend_schema(responses=WebhookDeliverySerializer(many=True))
    @action(detail=True, methods=["get"], filter_backends=[])
    def deliveries(self, request: Request, pk: str | None = None) -> Response:
        """The endpoint's delivery log, newest first: status, attempts, the last
        response code and error."""
        endpoint = self.get_object()
        page = self.paginate_queryset(
            WebhookDelivery.objects.filter(endpoint=endpoint).order_by("-created_at", "-id")
        )
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)
