"""Reads of job runs that several interfaces share (admin, native API, OpenSpecimen)."""

from __future__ import annotations

import mimetypes
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO

from django.core.files.storage import default_storage

from jobruns.models import JobRun


@dataclass(frozen=True)
class ResultFile:
    """An open result file with the name and type a download should carry."""

    handle: IO[bytes]
    filename: str
    content_type: str


class ResultFileMissing(LookupError):
    """The run has no result file (`gone` False) or it was removed (`gone` True)."""

    def __init__(self, run: JobRun, *, gone: bool) -> None:
        self.gone = gone
        self.run_id = run.pk
        super().__init__(
            "The result file is gone (pruned?)."
            if gone
            else "This run has no result file."
        )


def jobrun_result_file(*, run: JobRun) -> ResultFile:
    """Open the run's result file; ResultFileMissing when there is none to send.

    One place for the download that the admin, the native API and the
    OpenSpecimen endpoint each answer in their own shape.
    """
    name = run.result_file.name
    if not name:
        raise ResultFileMissing(run, gone=False)
    try:
        handle = default_storage.open(name, "rb")
    except FileNotFoundError:
        raise ResultFileMissing(run, gone=True) from None
    filename = posixpath.basename(name)
    content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    return ResultFile(handle=handle, filename=filename, content_type=content_type)


# Keys that hardly repeat: a tie on one is broken by id alone. (fire_at is
# Conductor's Coalesce(scheduled_for, queued_at), indexed with id after it.)
_NEAR_UNIQUE_KEYS = {"queued_at", "started_at", "finished_at", "fire_at"}


def jobrun_ordering(keys: Sequence[str]) -> list[str]:
    """`keys` ("status", "-queued_at", ...) with ties broken the way the run
    lists' indexes are built: by queued_at then id, in the direction of the
    last key (by id alone after a time). The order is total, so offset pages
    neither repeat nor skip runs, and each offered order is one index scan:
    "-status" alone would end in "-id" after a 980,000-run group, which only a
    sort of that whole group can answer.
    """
    ordering = [key for key in keys if key.lstrip("-") not in ("id", "pk")]
    if len(ordering) < len(keys):
        # An explicit id already decides every tie; keep it where it was.
        return list(keys)
    if not ordering:
        return ["-queued_at", "-id"]
    sign = "-" if ordering[-1].startswith("-") else ""
    last = ordering[-1].lstrip("-")
    tiebreak = ["id"] if last in _NEAR_UNIQUE_KEYS else ["queued_at", "id"]
    return [*ordering, *(sign + key for key in tiebreak)]
