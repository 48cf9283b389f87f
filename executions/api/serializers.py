from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from executions.models import Credential, Execution
from executions.services import credential_masked_fields


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


class ExecutionSerializer(serializers.ModelSerializer):
    credential = serializers.SlugRelatedField(slug_field="name", read_only=True)
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


class ExecutionStatusSerializer(serializers.ModelSerializer):
    class Meta:
        model = Execution
        fields = ["id", "status", "created_at", "started_at"]
        read_only_fields = fields


class ExecutionResultSerializer(serializers.ModelSerializer):
    class Meta:
        model = Execution
        fields = ["id", "status", "result", "error", "finished_at", "expires_at"]
        read_only_fields = fields


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
