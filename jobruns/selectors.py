"""Reads of job runs that several interfaces share (admin, native API, OpenSpecimen)."""

from __future__ import annotations

import mimetypes
import posixpath
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
