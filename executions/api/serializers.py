from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers

from executions.models import Credential, Execution
from executions.services import credential_masked_fields

# Examples: real bodies of our API (the schema test validates them against it).
_EXECUTION_ID = "5f0c6f7e-3b1a-4c1e-9d2a-7e8f90a1b2c3"
_EXECUTION_PATH = f"/api/v1/executions/{_EXECUTION_ID}/"
_PENDING_EXECUTION = {
    "id": _EXECUTION_ID,
    "component": "woocommerce",
    "method": "verify_credentials",
    "model_method": "",
    "module": "",
    "config": {},
    "credential": "shop",
    "status": "pending",
    "requested_via": "api",
    "time_limit_seconds": 30,
    "created_at": "2030-01-07T12:00:00Z",
    "started_at": None,
    "finished_at": None,
    "expires_at": "2030-01-08T12:00:00Z",
    "links": {
        "self": _EXECUTION_PATH,
        "poll": f"{_EXECUTION_PATH}poll/",
        "result": f"{_EXECUTION_PATH}result/",
    },
}
# What a check that the shop refused answers: a verdict, not a failure.
VERIFY_REFUSED = {
    "verified": False,
    "reason": "the shop refused the consumer key and secret (HTTP 401: "
    "Consumer key is invalid.)",
}


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Verify a stored credential",
            value={
                "component": "woocommerce",
                "method": "verify_credentials",
                "credential": "shop",
            },
            request_only=True,
        ),
        OpenApiExample(
            "Select the categories of a shop",
            value={
                "component": "woocommerce",
                "method": "select_model",
                "module": "list_products",
                "model_method": "categories",
                "credential": "shop",
            },
            request_only=True,
        ),
    ]
)
class ExecutionCreateSerializer(serializers.Serializer):
    component = serializers.CharField(max_length=100)
    method = serializers.ChoiceField(choices=Execution.Method.choices)
    module = serializers.CharField(
        max_length=100,
        required=False,
        default="",
        allow_blank=True,
        help_text="Action or trigger key; required for get_meta_model and "
        "select_model.",
    )
    model_method = serializers.CharField(
        max_length=100,
        required=False,
        default="",
        allow_blank=True,
        help_text="Select-model method name; required for select_model.",
    )
    cfg = serializers.DictField(
        required=False,
        default=dict,
        help_text="Configuration; without a stored credential it may carry the "
        "credential fields (secret ones are kept encrypted and wiped after).",
    )
    credential = serializers.CharField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Name or id of a stored credential of the component.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        method = attrs["method"]
        if method != Execution.Method.VERIFY_CREDENTIALS and not attrs["module"]:
            raise serializers.ValidationError({"module": "Required for this method."})
        if method == Execution.Method.SELECT_MODEL and not attrs["model_method"]:
            raise serializers.ValidationError(
                {"model_method": "Required for select_model."}
            )
        return attrs


class ExecutionLinksSerializer(serializers.Serializer):
    self = serializers.CharField()
    poll = serializers.CharField()
    result = serializers.CharField()


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Accepted and pending",
            value=_PENDING_EXECUTION,
            status_codes=["200", "202"],
            response_only=True,
        ),
        OpenApiExample(
            "Ended, with inline credential fields",
            value={
                **_PENDING_EXECUTION,
                "config": {"url": "https://shop.example.com"},
                "credential": None,
                "requested_via": "v1",
                "status": "succeeded",
                "started_at": "2030-01-07T12:00:01Z",
                "finished_at": "2030-01-07T12:00:02Z",
                "expires_at": "2030-01-08T12:00:02Z",
            },
            response_only=True,
        ),
    ]
)
class ExecutionSerializer(serializers.ModelSerializer):
    # Null when the credential came inline (in `cfg`) or was deleted since.
    credential: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="name", read_only=True, allow_null=True
    )
    links = serializers.SerializerMethodField()

    class Meta:
        model = Execution
        fields = [
            "id",
            "component",
            "method",
            "model_method",
            "module",
            "config",
            "credential",
            "status",
            "requested_via",
            "time_limit_seconds",
            "created_at",
            "started_at",
            "finished_at",
            "expires_at",
            "links",
        ]
        read_only_fields = fields

    @extend_schema_field(ExecutionLinksSerializer)
    def get_links(self, execution: Execution) -> dict[str, str]:
        return execution_links(execution)


def execution_links(execution: Execution) -> dict[str, str]:
    return {
        "self": reverse("executions-api:execution-detail", args=[execution.pk]),
        "poll": reverse("executions-api:execution-poll", args=[execution.pk]),
        "result": reverse("executions-api:execution-result", args=[execution.pk]),
    }


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Still running",
            value={
                "id": _EXECUTION_ID,
                "status": "running",
                "created_at": "2030-01-07T12:00:00Z",
                "started_at": "2030-01-07T12:00:01Z",
            },
            response_only=True,
        )
    ]
)
class ExecutionStatusSerializer(serializers.ModelSerializer):
    class Meta:
        model = Execution
        fields = ["id", "status", "created_at", "started_at"]
        read_only_fields = fields


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Credentials refused",
            value={
                "id": _EXECUTION_ID,
                "status": "succeeded",
                "result": VERIFY_REFUSED,
                "error": "",
                "finished_at": "2030-01-07T12:00:02Z",
                "expires_at": "2030-01-08T12:00:02Z",
            },
            response_only=True,
        ),
        OpenApiExample(
            "Timed out",
            value={
                "id": _EXECUTION_ID,
                "status": "timed_out",
                "result": None,
                "error": "time limit of 30 s exceeded",
                "finished_at": "2030-01-07T12:00:31Z",
                "expires_at": "2030-01-08T12:00:31Z",
            },
            response_only=True,
        ),
    ]
)
class ExecutionResultSerializer(serializers.ModelSerializer):
    class Meta:
        model = Execution
        fields = ["id", "status", "result", "error", "finished_at", "expires_at"]
        read_only_fields = fields


_SELECT = {"label": "Category", "type": "select", "required": True, "secret": False}


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "WooCommerce",
            value={
                "name": "woocommerce",
                "title": "WooCommerce",
                "description": "Products and categories of a WooCommerce shop "
                "(REST API v3).",
                "version": "1.0.0",
                "credentials": {
                    "fields": {
                        "url": {
                            "label": "Shop URL",
                            "type": "url",
                            "required": True,
                            "secret": False,
                            "placeholder": "https://shop.example.com",
                        },
                        "consumer_key": {
                            "label": "Consumer key",
                            "type": "password",
                            "required": True,
                            "secret": True,
                        },
                        "consumer_secret": {
                            "label": "Consumer secret",
                            "type": "password",
                            "required": True,
                            "secret": True,
                        },
                    }
                },
                "actions": {
                    "list_products": {
                        "key": "list_products",
                        "title": "List products",
                        "description": "Writes the products of a category to a "
                        "CSV result file.",
                        "fields": {"category": {**_SELECT, "model": "categories"}},
                        "dynamic_metadata": True,
                        "service": "woocommerce.list_products",
                    }
                },
                "triggers": {},
                "select_models": ["categories"],
            },
            response_only=True,
        )
    ]
)
class ComponentSerializer(serializers.Serializer):
    name = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()
    version = serializers.CharField()
    credentials = serializers.JSONField(help_text="`{fields: {name: field}}`")
    actions = serializers.JSONField()
    triggers = serializers.JSONField()
    select_models = serializers.ListField(child=serializers.CharField())


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {},
        "description": "Field values. Secret ones are write-only: reads show them "
        "masked (`••••••1234` or `set`). On update, fields left out keep their "
        "stored values.",
    }
)
class CredentialFieldsField(serializers.Field):
    def to_representation(self, credential: Credential) -> dict[str, Any]:
        return credential_masked_fields(credential)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        return {"fields": data}


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A WooCommerce shop",
            value={
                "name": "shop",
                "component": "woocommerce",
                "fields": {
                    "url": "https://shop.example.com",
                    "consumer_key": "ck_4f1c2a9e8b7d6c5a4f1c2a9e8b7d6c5a1234",
                    "consumer_secret": "cs_9e8b7d6c5a4f1c2a9e8b7d6c5a4f1c2a7890",
                },
            },
            request_only=True,
        ),
        OpenApiExample(
            "Secret fields masked",
            value={
                "id": 3,
                "name": "shop",
                "component": "woocommerce",
                "fields": {
                    "url": "https://shop.example.com",
                    "consumer_key": "••••••1234",
                    "consumer_secret": "••••••7890",
                },
                "last_verification": VERIFY_REFUSED,
                "last_verified_at": "2030-01-07T12:00:02Z",
                "created_at": "2030-01-07T11:58:00Z",
                "updated_at": "2030-01-07T12:00:02Z",
                "verify_url": "/api/v1/credentials/shop/verify/",
            },
            response_only=True,
        ),
    ]
)
class CredentialSerializer(serializers.ModelSerializer):
    fields = CredentialFieldsField(source="*")  # type: ignore[assignment]
    verify_url = serializers.SerializerMethodField()

    class Meta:
        model = Credential
        fields = [
            "id",
            "name",
            "component",
            "fields",
            "last_verification",
            "last_verified_at",
            "created_at",
            "updated_at",
            "verify_url",
        ]
        read_only_fields = [
            "id",
            "last_verification",
            "last_verified_at",
            "created_at",
            "updated_at",
        ]

    @extend_schema_field(OpenApiTypes.STR)
    def get_verify_url(self, credential: Credential) -> str:
        return reverse("executions-api:credential-verify", args=[credential.name])

    def validate_component(self, value: str) -> str:
        if self.instance is not None and value != self.instance.component:
            raise serializers.ValidationError("A credential cannot change component.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is None and "fields" not in attrs:
            raise serializers.ValidationError({"fields": "This field is required."})
        return attrs
