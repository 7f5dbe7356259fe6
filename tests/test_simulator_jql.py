"""The JQL subset the simulated Jira understands."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from simulator import jql


def test_clauses_joined_by_and_then_order_by():
    query = jql.parse(
        'project in (PAY, "CORE") AND updated >= "2024-05-01 10:15" ORDER BY updated ASC, key DESC'
    )
    assert [(c.field, c.op, c.values) for c in query.clauses] == [
        ("project", "in", ["PAY", "CORE"]),
        ("updated", ">=", ["2024-05-01 10:15"]),
    ]
    assert query.order == [("updated", False), ("key", True)]
    assert query.bounded


def test_operators_and_quoting():
    query = jql.parse("project = 'PAY' and created < 2024-01-31 and status != Done and key not in (PAY-1)")
    assert [(c.field, c.op) for c in query.clauses] == [
        ("project", "="),
        ("created", "<"),
        ("status", "!="),
        ("key", "not in"),
    ]
    assert query.clauses[1].values == ["2024-01-31"]


def test_unbounded_and_invalid_queries():
    assert not jql.parse("status = Done ORDER BY created DESC").bounded
    assert not jql.parse("").bounded
    for text in (
        "project PAY",
        "project in PAY",
        "project = PAY OR project = CORE",
        "ORDER BY",
        "project =",
        "project = PAY updated > -1d",
    ):
        with pytest.raises(jql.JqlError):
            jql.parse(text)


def test_times_are_read_in_utc_and_relative_to_the_clock():
    expected = datetime(2024, 5, 1, 10, 15, tzinfo=UTC).timestamp()
    assert jql.parse_time("2024-05-01 10:15", 0) == expected
    assert jql.parse_time("2024/05/01 10:15", 0) == expected
    assert jql.parse_time("2024-05-01", 0) == datetime(2024, 5, 1, tzinfo=UTC).timestamp()
    clock = 1_000_000.0
    assert jql.parse_time("-2d", clock) == clock - 2 * 86400
    assert jql.parse_time("-3h", clock) == clock - 3 * 3600
    assert jql.parse_time("-1w", clock) == clock - 7 * 86400
    with pytest.raises(jql.JqlError, match="Date value"):
        jql.parse_time("yesterday", clock)
