"""The Zato-style service API: what a job's code sees when it runs.

A service is a class with a `name` and a `handle()` method. Inside `handle()` it
reads `self.request.payload` (the input, a JSON object), `self.request.raw_request`
(the schedule's `extra` text, unchanged, as Zato hands it over) and
`self.request.args`, writes `self.response.payload`, logs through `self.logger`
(the lines land in the run's log) and may write one result file. The same class
runs unchanged from a schedule, "run now", the API and `manage.py invoke`.
"""

from __future__ import annotations

import csv
import io
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar


class ServiceError(Exception):
    """Raised by a service to fail its run with a message and no traceback noise."""


@dataclass
class Request:
    payload: dict[str, Any] = field(default_factory=dict)
    raw_request: str = ""
    args: list[str] = field(default_factory=list)


@dataclass
class Response:
    payload: Any = None


@dataclass(frozen=True)
class RunInfo:
    """What a service may know about the run executing it."""

    id: int | None
    scheduled_for: datetime | None
    trigger: str
    attempt: int = 1
    schedule_name: str = ""
    correlation_id: str = ""


class ResultFile:
    """An in-memory text file that is also a CSV writer; stored after `handle()`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.buffer = io.StringIO()
        self._writer = csv.writer(self.buffer)

    def write(self, text: str) -> int:
        return self.buffer.write(text)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow(row)

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        self._writer.writerows(rows)

    def getvalue(self) -> str:
        return self.buffer.getvalue()


class CappedLogHandler(logging.Handler):
    """Keeps a run's log lines in memory, up to `max_bytes`, then notes the cut."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(level=logging.DEBUG)
        self.max_bytes = max_bytes
        self.size = 0
        self.lines: list[str] = []
        self.truncated = False
        # Each line starts with its UTC instant (ISO 8601, "Z"), so every reader
        # can show it in its own zone: the admin shows the viewer's.
        formatter = logging.Formatter(
            "%(asctime)s %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%SZ"
        )
        formatter.converter = time.gmtime
        self.setFormatter(formatter)

    def emit(self, record: logging.LogRecord) -> None:
        if self.truncated:
            return
        line = self.format(record)
        size = len(line.encode("utf-8", "replace")) + 1
        if self.size + size > self.max_bytes:
            self.truncated = True
            return
        self.size += size
        self.lines.append(line)

    def text(self) -> str:
        body = "\n".join(self.lines)
        if self.truncated:
            body += f"\n[log truncated at {self.max_bytes} bytes]"
        return body


class Service:
    """Subclass, set `name`, implement `handle()`; register with `@register`."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    input_schema: ClassVar[dict[str, Any] | None] = None

    def __init__(
        self, *, request: Request, run: RunInfo, logger: logging.Logger
    ) -> None:
        self.request = request
        self.response = Response()
        self.run = run
        self.logger = logger
        self.result: ResultFile | None = None

    def handle(self) -> None:
        raise NotImplementedError

    def result_file(self, name: str = "result.csv") -> ResultFile:
        """The run's one result file; calling again returns the same file."""
        if self.result is None:
            self.result = ResultFile(name)
        return self.result
