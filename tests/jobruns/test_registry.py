"""The service registry and the Zato-style service API."""

from __future__ import annotations

import logging

import pytest

from jobruns.jobs.base import CappedLogHandler, Request, RunInfo, Service
from jobruns.registry import (
    ServiceNotFound,
    all_services,
    get_service,
    register,
    service_exists,
)


def test_built_in_services_are_discovered_from_job_services_modules() -> None:
    names = {service.name for service in all_services()}

    assert {
        "core.echo",
        "core.sleep",
        "core.fail",
        "http.request",
        "reports.runs_csv",
    } <= names


def test_an_unknown_service_is_reported_by_name() -> None:
    assert not service_exists("no.such.service")
    with pytest.raises(ServiceNotFound, match=r"no\.such\.service"):
        get_service("no.such.service")


def test_a_second_class_cannot_take_a_registered_name() -> None:
    class Impostor(Service):
        name = "core.echo"

    with pytest.raises(ValueError, match="taken"):
        register(Impostor)


def test_a_service_needs_a_name() -> None:
    class Nameless(Service):
        pass

    with pytest.raises(ValueError, match="non-empty"):
        register(Nameless)


def test_a_service_sees_payload_raw_request_and_args_as_zato_hands_them() -> None:
    service_class = get_service("core.echo")
    service = service_class(
        request=Request(payload={"a": 1}, raw_request="k=v\n# note", args=["x"]),
        run=RunInfo(id=None, scheduled_for=None, trigger="cli"),
        logger=logging.getLogger("test"),
    )

    service.handle()

    assert service.response.payload == {
        "input": {"a": 1},
        "args": ["x"],
        "extra": "k=v\n# note",
    }


def test_the_run_log_is_capped_with_a_note_saying_so() -> None:
    handler = CappedLogHandler(max_bytes=1024)
    log = logging.Logger("capped")  # noqa: LOG001 (not kept in the registry)
    log.addHandler(handler)

    for number in range(200):
        log.info("line %d with some padding to fill the log", number)

    text = handler.text()
    assert len(text.encode()) < 1024 + 100
    assert text.endswith("[log truncated at 1024 bytes]")
    assert "line 0 " in text
