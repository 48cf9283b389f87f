from __future__ import annotations

import threading
import time

import pytest
from celery.exceptions import SoftTimeLimitExceeded

from core.timelimits import soft_time_limit


def test_work_past_the_limit_is_interrupted_in_the_main_thread() -> None:
    started = time.monotonic()
    with pytest.raises(SoftTimeLimitExceeded), soft_time_limit(1):
        time.sleep(5)
    assert time.monotonic() - started < 3


def test_work_within_the_limit_is_left_alone_and_the_alarm_is_cleared() -> None:
    with soft_time_limit(2):
        pass
    time.sleep(2.5)  # a leftover alarm would fire here and fail the test


def test_outside_the_main_thread_there_is_no_limit() -> None:
    outcome: list[str] = []

    def work() -> None:
        with soft_time_limit(1):
            time.sleep(1.5)
        outcome.append("finished")

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert outcome == ["finished"]
