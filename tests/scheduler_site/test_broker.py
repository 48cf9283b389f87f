"""The laptop broker writes each message whole before a worker can see it."""

from __future__ import annotations

import os
from pathlib import Path
from queue import Empty
from typing import Any

import pytest
from kombu import Connection

from scheduler_site import broker


def _channel(folder: Path) -> Any:
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder)}
    connection = Connection("filesystem://", transport_options=options)
    return connection, connection.default_channel


def test_every_filesystem_url_gets_the_atomic_writer(tmp_path: Path) -> None:
    connection, channel = _channel(tmp_path)
    with connection:
        assert isinstance(channel, broker.Channel)


def test_a_reader_never_sees_a_message_before_it_is_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    connection, channel = _channel(tmp_path)
    seen_while_writing: list[object] = []
    real_replace = os.replace

    def replace_after_a_read(source: str, target: str) -> None:
        # The moment kombu's own writer was unsafe: the file exists, the rename
        # has not happened. A worker polling now must find nothing to take.
        assert Path(source).read_bytes(), "written whole before the rename"
        try:
            seen_while_writing.append(channel._get("runs"))
        except Empty:
            seen_while_writing.append("Empty")
        real_replace(source, target)

    monkeypatch.setattr(broker.os, "replace", replace_after_a_read)
    with connection:
        channel._put("runs", {"body": "whole"})
        assert seen_while_writing == ["Empty"]
        assert channel._get("runs") == {"body": "whole"}
        assert list(tmp_path.iterdir()) == [], "nothing partial left behind"
