"""The reference integration: GET from a REST source, keep it in Redis, e-mail it.

Every remote is a named outgoing connection, so the schedule's input holds
names, never addresses or secrets. Each step that fails fails the run with a
message naming the step (`rest`, `redis`, `smtp`) and the connection.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

from django.utils import timezone

from connections.clients import Attachment, ConnectionFailure
from connections.services import sent_email_get, sent_email_record
from jobruns.jobs.base import Service, ServiceError
from jobruns.registry import register

T = TypeVar("T")
_NAME = {"type": "string", "minLength": 1}
_ADDRESSES = {"type": "array", "items": {"type": "string", "pattern": "@"}}


@register
class RestToRedisEmail(Service):
    name = "sync.rest_to_redis_email"
    description = (
        "GETs `path` from the REST connection `rest`, stores the body under `key` "
        "in the Redis connection `redis` (SET) and e-mails it as an attachment "
        "through the SMTP connection `smtp`. A retry never sends the e-mail twice."
    )
    input_schema = {
        "type": "object",
        "required": ["rest", "path", "redis", "key", "smtp", "to", "subject"],
        "properties": {
            "rest": _NAME,
            "path": {"type": "string"},
            "redis": _NAME,
            "key": _NAME,
            "smtp": _NAME,
            "to": {**_ADDRESSES, "minItems": 1},
            "cc": _ADDRESSES,
            "subject": {"type": "string"},
            "body": {"type": "string"},
            "attachment_name": _NAME,
        },
    }

    def handle(self) -> None:
        p = self.request.payload
        response = self._step("rest", lambda: self.out.rest[p["rest"]].get(p["path"]))
        data = response.content
        self.logger.info(
            "rest: GET %s from %r answered %s (%d bytes)",
            p["path"], p["rest"], response.status_code, len(data),
        )  # fmt: skip
        self._step("redis", lambda: self.out.redis[p["redis"]].set(p["key"], data))
        self.logger.info(
            "redis: SET %s on %r (%d bytes)", p["key"], p["redis"], len(data)
        )
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        attachment = Attachment(
            p.get("attachment_name") or _file_name(p["path"]), data, content_type
        )
        self._step("smtp", lambda: self._send_once(attachment))
        self.response.payload = {
            "bytes": len(data),
            "redis_key": p["key"],
            "email_to": list(p["to"]),
            "email_cc": list(p.get("cc", [])),
        }

    def _step(self, step: str, action: Callable[[], T]) -> T:
        try:
            return action()
        except ConnectionFailure as exc:
            raise ServiceError(f"step {step} failed: {exc}") from None

    def _send_once(self, attachment: Attachment) -> str:
        """Send unless an earlier attempt of this run already did.

        The Message-ID is recorded the moment the server accepted the message,
        before the session closes, so a failure after that (or a worker lost
        before the run finished) leads to a retry that finds it and skips.
        """
        p = self.request.payload
        key = f"{self.name}:run-chain:{self.run.chain_id}"
        earlier = sent_email_get(key=key) if self.run.chain_id else None
        if earlier is not None:
            self.logger.info(
                "smtp: already sent as %s by an earlier attempt; not sent again",
                earlier.message_id,
            )
            return earlier.message_id

        def record(message_id: str) -> None:
            if self.run.chain_id:
                sent_email_record(
                    key=key,
                    connection_name=p["smtp"],
                    message_id=message_id,
                    now=timezone.now(),
                )

        message_id = self.email.smtp[p["smtp"]].send(
            to=p["to"],
            cc=p.get("cc", []),
            subject=p["subject"],
            body=p.get("body", ""),
            attachments=[attachment],
            on_accepted=record,
        )
        self.logger.info(
            "smtp: sent %s to %s (cc %s) via %r",
            message_id, ", ".join(p["to"]), ", ".join(p.get("cc", [])) or "-",
            p["smtp"],
        )  # fmt: skip
        return message_id


def _file_name(path: str) -> str:
    return posixpath.basename(urlsplit(path).path) or "data"
