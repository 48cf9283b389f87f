from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from jobruns.beat import dispatch_tick


@pytest.fixture
def alive_file(settings: Any, tmp_path: Path) -> Path:
    settings.BEAT_ALIVE_FILE = tmp_path / "beat.alive"
    return Path(settings.BEAT_ALIVE_FILE)


@pytest.mark.django_db(transaction=True)  # the tick manages its own connection
def test_a_completed_dispatch_tick_makes_beat_alive(alive_file: Path) -> None:
    with pytest.raises(CommandError, match="has not completed a dispatch tick yet"):
        call_command("beat_alive")

    dispatch_tick()

    call_command("beat_alive")  # no error: exit code 0


def test_beat_is_not_alive_when_its_last_tick_is_too_old(alive_file: Path) -> None:
    alive_file.touch()
    an_hour_ago = time.time() - 3600
    os.utime(alive_file, (an_hour_ago, an_hour_ago))

    with pytest.raises(CommandError, match=r"was 3600 s ago \(more than 60 s\)"):
        call_command("beat_alive")
    call_command("beat_alive", "--within", "7200")
