"""The search/executions grammar, parsed without a database."""

from __future__ import annotations

import pytest

from compat.conductor.search import (
    QueryError,
    parse_query,
    parse_sort,
)


def test_the_oss_clauses_are_read_and_joined_by_and() -> None:
    query = parse_query(
        "scheduleName IN (a, b) AND state IN (EXECUTED,FAILED) AND "
        "scheduledTime>100 AND scheduledTime<200 AND workflowName=echo "
        "AND executionId=7"
    )
    assert query.schedule_names == {"a", "b"}
    assert query.states == {"EXECUTED", "FAILED"}
    assert query.times == [("scheduledTime", ">", 100), ("scheduledTime", "<", 200)]
    assert query.workflow_name == "echo"
    assert query.execution_ids == {"7"}


def test_a_bare_clause_is_a_schedule_name_and_and_is_case_insensitive() -> None:
    query = parse_query("nightly and state IN (POLLED)")
    assert query.schedule_names == {"nightly"}
    assert query.states == {"POLLED"}


def test_the_docs_variant_is_read_leniently() -> None:
    query = parse_query("scheduleName='x' AND status='COMPLETED' AND owner='me'")
    assert query.schedule_names == {"x"}
    assert query.states == {"EXECUTED"}


def test_two_clauses_on_one_field_must_both_hold() -> None:
    assert parse_query("scheduleName IN (a,b) AND scheduleName=b").schedule_names == {
        "b"
    }


def test_an_empty_or_star_query_matches_everything() -> None:
    for text in (None, "", "*"):
        query = parse_query(text)
        assert query.schedule_names is None
        assert query.states is None


def test_a_time_that_is_no_number_is_an_error_that_says_so() -> None:
    with pytest.raises(QueryError, match="epoch milliseconds"):
        parse_query("scheduledTime>yesterday")


def test_sort_defaults_to_newest_fire_first_and_maps_start_time() -> None:
    assert parse_sort(None) == [("scheduledTime", True)]
    assert parse_sort("scheduleName:ASC,startTime") == [
        ("scheduleName", False),
        ("executionTime", True),
    ]
    assert parse_sort("nonsense:ASC") == [("scheduledTime", True)]
