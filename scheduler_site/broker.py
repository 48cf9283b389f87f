"""kombu's filesystem transport (the laptop broker), with messages written atomically.

kombu writes a message file in place: open, lock, write. A worker listing the
folder meanwhile moves the file away and reads it while it is still empty, and
dies of a JSONDecodeError ("Unrecoverable error"; seen with `make run`, where the
supervisor restarted the worker and the reaper re-sent the lost run). Its reader
does not take the lock, so locking cannot help. Here a message is written under a
name no reader matches and renamed into place: a rename within one folder is
atomic, so a reader only ever sees whole messages. Registered for `filesystem://`
URLs by `scheduler_site.celery`.
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{round(time.monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # "partial-<uuid>" has no "<queue>.msg" after its first dot: unread.
        partial = os.path.join(self.data_folder_out, f"partial-{uuid.uuid4().hex}")
        try:
            with open(partial, "wb") as message:
                message.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
