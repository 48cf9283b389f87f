"""The service the chaos tests schedule: it writes down every start, then sleeps.

Each start appends one line (run id, attempt, pid) to the file named in its
input. The run table cannot show a run executed twice (the second claim is
refused, or the row looks the same), but a second line for one run id can.
Loaded by workers through SCHEDULER_SERVICE_MODULES.
"""

from __future__ import annotations

import json
import os
import time

from jobruns.jobs.base import Service
from jobruns.registry import register

NAME = "chaos.record"


@register
class Record(Service):
    name = NAME
    description = "Appends (run id, attempt, pid) to input.log, sleeps input.seconds."
    input_schema = {
        "type": "object",
        "required": ["log"],
        "properties": {
            "log": {"type": "string"},
            "seconds": {"type": "number", "minimum": 0},
            "tag": {"type": "string"},
        },
    }

    def handle(self) -> None:
        line = json.dumps(
            {
                "run": self.run.id,
                "attempt": self.run.attempt,
                "pid": os.getpid(),
                "tag": self.request.payload.get("tag", ""),
            }
        )
        # O_APPEND: one write() of a short line is atomic, whichever process
        # of whichever worker writes at the same time.
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
        fd = os.open(self.request.payload["log"], flags)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)
        time.sleep(float(self.request.payload.get("seconds", 0)))
        self.response.payload = {"recorded": True}
