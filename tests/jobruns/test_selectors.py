"""The run lists' shared order: ties broken the way the run indexes are built."""

from __future__ import annotations

from jobruns.selectors import jobrun_ordering


def test_the_default_order_is_newest_first_by_queue_time_then_id() -> None:
    assert jobrun_ordering([]) == ["-queued_at", "-id"]


def test_a_time_key_is_tied_by_id_in_its_own_direction() -> None:
    assert jobrun_ordering(["started_at"]) == ["started_at", "id"]
    assert jobrun_ordering(["-finished_at"]) == ["-finished_at", "-id"]
    assert jobrun_ordering(["-fire_at"]) == ["-fire_at", "-id"]


def test_a_repeating_key_is_tied_by_queue_time_then_id_in_its_direction() -> None:
    # (status, queued_at, id) read forwards or backwards: one index scan each way.
    assert jobrun_ordering(["status"]) == ["status", "queued_at", "id"]
    assert jobrun_ordering(["-status"]) == ["-status", "-queued_at", "-id"]
    assert jobrun_ordering(["schedule_name", "-queued_at"]) == [
        "schedule_name",
        "-queued_at",
        "-id",
    ]


def test_an_order_that_names_the_id_is_kept_as_asked() -> None:
    assert jobrun_ordering(["-id"]) == ["-id"]
    assert jobrun_ordering(["status", "pk"]) == ["status", "pk"]
