"""The Zato-style service API: what a job's code sees when it runs.

A service is a class with a `name` and a `handle()` method. Inside `handle()` it
reads `self.request.payload` (the input, a JSON object), `self.request.raw_request`
(the schedule's `extra` text, unchanged, as Zato hands it over) and
`self.request.args`, writes `self.response.payload`, logs through `self.logger`
(the lines land in the run's log) and may write one result file. The same class
runs unchanged from a schedule, "run now", the API and `manage.py invoke`.

Remote systems are reached by the name of an outgoing connection (the
`connections` app), so no address or secret sits in the code or the input:
`self.out.rest["My Data Source"].get("/path")`, `self.out.redis["cache"]`,
`self.email.smtp["My SMTP"].send(to=[...], subject=..., ...)`. A failure raises
`ConnectionFailure` naming the connection; the run fails with that message.
"""

from __future__ import annotations

import csv
import io
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from connections.clients import Email, Outgoing


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
    # The first run of this run's retry chain (its own id when not a retry):
    # a key for work that must happen once however often the run is retried.
    chain_id: int | None = None


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
        self._out: Outgoing | None = None
        self._email: Email | None = None

    def handle(self) -> None:
        raise NotImplementedError

    @property
    def out(self) -> Outgoing:
        """Outgoing REST and Redis connections by name (made on first use)."""
        if self._out is None:
            from connections.clients import Outgoing

            self._out = Outgoing()
        return self._out

    @property
    def email(self) -> Email:
        """SMTP connections by name (made on first use)."""
        if self._email is None:
            from connections.clients import Email

            self._email = Email()
        return self._email

    def close_connections(self) -> None:
        """Close the clients this run opened (the runner calls it at the end)."""
        for group in (self._out, self._email):
            if group is not None:
                group.close()

    def result_file(self, name: str = "result.csv") -> ResultFile:
        """The run's one result file; calling again returns the same file."""
        if self.result is None:
            self.result = ResultFile(name)
        return self.result
