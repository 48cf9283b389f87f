"""Our AutoSchema: every native-API error documented as problem details.

drf-spectacular documents error responses as ``application/json`` and only
where a view lists them; our API answers every error as
``application/problem+json`` (core.api.errors). Declaring that here,
once, keeps the schema true for generated clients and for schemathesis.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_examples_list

from core.api.schema import PROBLEM_EXAMPLES, ProblemSerializer

PROBLEM_MEDIA_TYPE = "application/problem+json"
_ALWAYS = {
    400: "Invalid input (body, query or path); `errors` names each bad field.",
    401: "Not signed in.",
    403: "Signed in without the permission this needs.",
    404: "No such resource.",
    429: "Too many requests; retry after the Retry-After header.",
}
_WITH_BODY = {
    413: "Request body too large.",
    415: "Unsupported media type.",
}


class ProblemDetailsAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        if direction != "response" or not self.path.startswith("/api/v1/"):
            return responses
        codes = dict(_ALWAYS)
        if self.method in {"POST", "PUT", "PATCH"}:
            codes.update(_WITH_BODY)
        for key in list(responses):
            if key.isdigit() and 400 <= int(key) < 500:
                codes.setdefault(int(key), responses[key].get("description", ""))
        for code, description in codes.items():
            existing = responses.get(str(code))
            if existing is None:
                responses[str(code)] = {
                    "description": description,
                    "content": self._problem_content(code, None),
                }
            else:
                existing["content"] = self._problem_content(code, existing)
        return responses

    def _problem_content(
        self, code: int, existing: dict[str, Any] | None
    ) -> dict[str, Any]:
        """The problem body; the view's own example for this code, else ours."""
        declared = (existing or {}).get("content", {}).get(PROBLEM_MEDIA_TYPE, {})
        examples = declared.get("examples") or build_examples_list(
            [e for e in PROBLEM_EXAMPLES if str(code) in (e.status_codes or ())]
        )
        body: dict[str, Any] = {"schema": self._problem_ref()}
        if examples:
            body["examples"] = examples
        return {PROBLEM_MEDIA_TYPE: body}

    def _problem_ref(self) -> dict[str, str]:
        component = self.resolve_serializer(ProblemSerializer, "response")
        return component.ref  # type: ignore[no-any-return]
