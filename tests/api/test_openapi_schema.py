"""The OpenAPI document keeps its promise: every operation summarised, typed,
with its errors and an example, and every example valid against its own schema.

The schema is generated in-process, as `/api/schema/` serves it. Each test
collects every offending operation and fails once with the whole list.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from functools import cache
from typing import Any

from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from jsonschema import Draft202012Validator

PROBLEM = "application/problem+json"
PROBLEM_REF = "#/components/schemas/Problem"
# The native API and the elastic.io-compatible executions (v1 and v2).
PREFIXES = ("/api/v1/", "/v1/exec/", "/v2/components/", "/v2/exec/")
WRITE_METHODS = {"post", "put", "patch"}
# Writes whose whole meaning is in the path: they take no body.
NO_REQUEST_BODY = {
    "schedules_resume_create",
    "schedules_resume_all_create",
    "runs_cancel_create",
    "runs_retry_create",
    "credentials_verify_create",
    "connections_test_create",
}
# Answered on every native operation by our AutoSchema.
ALWAYS_PROBLEMS = {"400", "401", "403", "404"}

Operation = tuple[str, str, dict[str, Any]]


@cache
def _schema() -> dict[str, Any]:
    # Rendered and parsed back: plain JSON, as a client receives it.
    generated = SchemaGenerator().get_schema(request=None, public=True)
    schema: dict[str, Any] = json.loads(OpenApiJsonRenderer().render(generated))
    return schema


def _operations() -> Iterator[Operation]:
    for path, item in _schema()["paths"].items():
        if not path.startswith(PREFIXES):
            continue
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                yield path, method, operation


def _name(path: str, method: str) -> str:
    return f"{method.upper()} {path}"


def _success(operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        code: response
        for code, response in operation["responses"].items()
        if code.startswith("2")
    }


def _problems(operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        code: response
        for code, response in operation["responses"].items()
        if code.startswith("4")
    }


def _assert_none(offences: list[str]) -> None:
    assert not offences, f"{len(offences)} offending operation(s):\n" + "\n".join(
        offences
    )


def test_the_schema_documents_the_native_and_elastic_io_apis() -> None:
    paths = {path for path, _, _ in _operations()}
    for prefix in PREFIXES:
        assert any(path.startswith(prefix) for path in paths), prefix
    assert len(list(_operations())) >= 54


def test_every_operation_has_a_summary() -> None:
    _assert_none(
        [
            _name(path, method)
            for path, method, operation in _operations()
            if not str(operation.get("summary", "")).strip()
        ]
    )


def _untyped_success(code: str, response: dict[str, Any]) -> str | None:
    content = response.get("content")
    if not content:
        # Only "no content" and "accepted, see Location" may go without a body.
        if code == "204" or (code == "202" and response.get("headers")):
            return None
        return f"{code} has no body"
    untyped = [media for media, body in content.items() if not body.get("schema")]
    return f"{code} {untyped} without a schema" if untyped else None


def test_every_operation_answers_a_typed_success() -> None:
    offences = []
    for path, method, operation in _operations():
        success = _success(operation)
        problems = [
            problem
            for code, response in success.items()
            if (problem := _untyped_success(code, response))
        ]
        if not success or problems:
            offences.append(f"{_name(path, method)}: {problems or 'no 2xx'}")
    _assert_none(offences)


def test_every_accepted_or_redirect_answer_documents_its_location() -> None:
    """202 (queued: poll here) and 303 (ended: the result is here) both point on."""
    _assert_none(
        [
            f"{_name(path, method)}: {code}"
            for path, method, operation in _operations()
            for code, response in operation["responses"].items()
            if code in {"202", "303"} and "Location" not in response.get("headers", {})
        ]
    )


def test_every_write_that_takes_a_body_declares_its_schema() -> None:
    offences = []
    for path, method, operation in _operations():
        if method not in WRITE_METHODS:
            continue
        body = operation.get("requestBody")
        if operation["operationId"] in NO_REQUEST_BODY:
            if body:
                offences.append(f"{_name(path, method)}: unexpected request body")
        elif not body or not all(
            media.get("schema") for media in body["content"].values()
        ):
            offences.append(f"{_name(path, method)}: no typed request body")
    _assert_none(offences)


def test_every_native_operation_documents_its_problems() -> None:
    offences = []
    for path, method, operation in _operations():
        if not path.startswith("/api/v1/"):
            continue
        problems = _problems(operation)
        missing = ALWAYS_PROBLEMS - set(problems)
        if method in WRITE_METHODS:
            missing |= {"413", "415"} - set(problems)
        wrong = [
            code
            for code, response in problems.items()
            if set(response.get("content", {})) != {PROBLEM}
            or response["content"][PROBLEM]["schema"] != {"$ref": PROBLEM_REF}
            or not response["content"][PROBLEM].get("examples")
        ]
        if missing or wrong:
            offences.append(
                f"{_name(path, method)}: missing {sorted(missing)}, "
                f"not problem+json with an example {sorted(wrong)}"
            )
    _assert_none(offences)


def _has_example(media: dict[str, Any]) -> bool:
    return bool(media.get("examples")) or "example" in media


def test_every_request_and_success_body_has_an_example() -> None:
    """Looked for in the operation's own bodies: a shared problem example won't do."""
    offences = []
    for path, method, operation in _operations():
        bodies = [
            (f"{code} {media_type}", media)
            for code, response in _success(operation).items()
            for media_type, media in response.get("content", {}).items()
        ]
        request = operation.get("requestBody", {}).get("content", {})
        bodies += [
            (f"request {media_type}", media) for media_type, media in request.items()
        ]
        bare = [where for where, media in bodies if not _has_example(media)]
        if bare:
            offences.append(f"{_name(path, method)}: no example for {bare}")
    _assert_none(offences)


def test_the_operations_with_neither_body_are_the_deletes() -> None:
    """An operation without a request or success body cannot show one: only deletes."""
    bodiless = [
        _name(path, method)
        for path, method, operation in _operations()
        if "requestBody" not in operation
        and not any(r.get("content") for r in _success(operation).values())
    ]
    assert all(name.startswith("DELETE ") for name in bodiless), bodiless


# --- examples against their schemas ---------------------------------------------
def _json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema: `nullable`, and objects closed.

    Closing objects that list their properties means an example with a field
    the API no longer has fails, as does one that lacks a required field.
    """
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _json_schema(value) for key, value in node.items()}
    if "properties" in node and "additionalProperties" not in node:
        node["additionalProperties"] = False
    if node.pop("nullable", False):
        node = {"anyOf": [node, {"type": "null"}]}
    return node


@cache
def _components() -> dict[str, Any]:
    return {"schemas": _json_schema(copy.deepcopy(_schema()["components"]["schemas"]))}


def _examples(operation: dict[str, Any]) -> Iterator[tuple[str, Any, Any]]:
    """(where, schema, value) of every example of the operation."""
    places = [("request", operation.get("requestBody", {}))]
    places += list(operation["responses"].items())
    for where, part in places:
        for media_type, media in part.get("content", {}).items():
            values = {
                name: e.get("value") for name, e in media.get("examples", {}).items()
            }
            if "example" in media:
                values["example"] = media["example"]
            for name, value in values.items():
                yield f"{where} {media_type} {name}", media.get("schema", {}), value


def test_every_example_validates_against_its_own_schema() -> None:
    offences = []
    for path, method, operation in _operations():
        for where, schema, value in _examples(operation):
            validator = Draft202012Validator(
                {"allOf": [_json_schema(schema)], "components": _components()},
                format_checker=Draft202012Validator.FORMAT_CHECKER,
            )
            errors = sorted(validator.iter_errors(value), key=lambda e: e.json_path)
            offences += [
                f"{_name(path, method)} {where} at {error.json_path}: "
                f"{error.message[:200]}"
                for error in errors
            ]
    _assert_none(offences)


def test_a_stale_example_fails_validation() -> None:
    """The check above is not vacuous: a field the API lacks is caught."""
    validator = Draft202012Validator(
        {"allOf": [{"$ref": PROBLEM_REF}], "components": _components()}
    )
    good = {
        "type": "https://scheduler.invalid/problems/not-found",
        "title": "Not found",
        "status": 404,
        "detail": "No such resource.",
        "instance": None,
    }
    assert validator.is_valid(good)
    assert not validator.is_valid({**good, "renamed_detail": "x"})
    assert not validator.is_valid({**good, "status": "404"})
