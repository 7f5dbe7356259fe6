"""Every cookbook query runs on DuckDB and PostgreSQL against the same marts and returns the hand-worked rows.

The sample marts are placed in the current quarter (anchor = its first day), so "this quarter" covers every
row except d0, which is on the evening before the quarter began. The flow marts' sample rows
(test_serving_support.flow_rows) sit in the quarter's first month, this month and the month before the quarter.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from test_serving_support import flow_marts_statements, marts_statements

COOKBOOK = Path(__file__).resolve().parents[1] / "docs" / "cookbook"
QUERIES = sorted(path.stem for path in COOKBOOK.glob("*.sql"))


def _quarter_start(today: date) -> date:
    return date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)


def _this_month(today: date) -> date:
    return today.replace(day=1)


def _this_week(today: date) -> date:
    return today - timedelta(days=today.weekday())


def _statements(today: date) -> list[str]:
    anchor = _quarter_start(today)
    return marts_statements(
        anchor,
        weeks_from=_this_week(today) - timedelta(days=7 * 13),  # 14 Mondays: 13 complete weeks + this week
        weeks=14,
        months=[anchor],
    ) + flow_marts_statements(anchor, _this_month(today))


def _plain(value):
    if isinstance(value, Decimal):
        return float(value)
    return value


def _run_duckdb(statements, sql):
    connection = duckdb.connect()
    try:
        connection.execute("set TimeZone = 'UTC'")
        for statement in statements:
            connection.execute(statement)
        cursor = connection.execute(sql)
        columns = [d[0] for d in cursor.description]
        return [dict(zip(columns, map(_plain, row), strict=True)) for row in cursor.fetchall()]
    finally:
        connection.close()


def _run_postgres(url, statements, sql):
    import psycopg2

    connection = psycopg2.connect(url)
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute("set time zone 'UTC'")
            for statement in statements:
                cursor.execute(statement)
            cursor.execute(sql)
            columns = [d[0] for d in cursor.description]
            return [dict(zip(columns, map(_plain, row), strict=True)) for row in cursor.fetchall()]
    finally:
        connection.close()


def _expected(name: str, today: date):
    quarter_days = (today - _quarter_start(today)).days + 1
    if name == "four_keys_by_service_this_quarter":
        # checkout: d1 and d3 succeeded (d0 is last quarter), d2 failed, d3 caused i1; lead times 100, 140, 30
        # -> median 100; restores i1 90 and i4 60 -> 75. search: d4, d5, d6; lead 600, 45, 50 -> 50; i2 30.
        return [
            {
                "service": "checkout",
                "deployments": 2,
                "deployments_per_day": round(2 / quarter_days, 3),
                "lead_time_median_minutes": 100.0,
                "change_failures": 1,
                "change_failure_rate": 0.5,
                "time_to_restore_median_minutes": 75.0,
                "failed_attempts": 1,
            },
            {
                "service": "search",
                "deployments": 3,
                "deployments_per_day": round(3 / quarter_days, 3),
                "lead_time_median_minutes": 50.0,
                "change_failures": 0,
                "change_failure_rate": 0.0,
                "time_to_restore_median_minutes": 30.0,
                "failed_attempts": 0,
            },
        ]
    if name == "worst_services":
        return [
            {
                "service": "checkout",
                "deployments": 2,
                "change_failures": 1,
                "change_failure_rate": 0.5,
                "incidents_resolved": 2,
                "time_to_restore_median_minutes": 75.0,
            },
            {
                "service": "search",
                "deployments": 3,
                "change_failures": 0,
                "change_failure_rate": 0.0,
                "incidents_resolved": 1,
                "time_to_restore_median_minutes": 30.0,
            },
        ]
    if name == "incidents_caused_by_deployments":
        # Only i1 names a deployment (d3, explicit); d3 deployed at +8d 09:00, i1 opened at +8d 10:00.
        return [
            {
                "incident_id": "i1",
                "deployment_id": "d3",
                "attribution_method": "explicit",
                "minutes_after_deployment": 60.0,
            }
        ]
    if name == "weekly_trend":
        # 12 complete weeks before this week's Monday; the 13th week back and this week are left out.
        monday = _this_week(today)
        return [{"week_start": monday - timedelta(days=7 * n)} for n in range(12, 0, -1)]
    if name == "value_stream_this_month":
        # this month's month rows of real services with changes: checkout (lead 400) then search (90); billing
        # shipped nothing, 'all'/'unmapped' are not services, last quarter's month and the week row are other periods
        return [
            {
                "service": "checkout",
                "changes": 4,
                "development_minutes": 60.0,
                "review_minutes": 240.0,
                "testing_minutes": 20.0,
                "staging_minutes": 30.0,
                "production_minutes": 10.0,
                "lead_time_median_minutes": 400.0,
                "bottleneck_stage": "review",
            },
            {
                "service": "search",
                "changes": 2,
                "development_minutes": 50.0,
                "review_minutes": 20.0,
                "testing_minutes": 15.0,
                "staging_minutes": None,  # bypassed: no staging stage
                "production_minutes": 5.0,
                "lead_time_median_minutes": 90.0,
                "bottleneck_stage": "development",
            },
        ]
    if name == "anti_patterns_this_quarter":
        # month rows from the quarter's start: checkout's long_ci_feedback (quarter's first month) and
        # manual_deployments (this month), search's staging_bypass; checkout's large_batches of the month before the
        # quarter and search's week row are left out. Ordered by service, month, signal.
        quarter, month = _quarter_start(today), _this_month(today)
        return [
            {
                "service": "checkout",
                "month_start": quarter,
                "signal": "long_ci_feedback",
                "measured_value": 14.0,
                "threshold": 10.0,
                "evidence_count": 2,
                "evidence_keys": "acme/checkout@c11,acme/checkout@c12",
            },
            {
                "service": "checkout",
                "month_start": month,
                "signal": "manual_deployments",
                "measured_value": 0.5,
                "threshold": 0.2,
                "evidence_count": 1,
                "evidence_keys": "d3",
            },
            {"service": "search", "month_start": quarter, "signal": "staging_bypass", "evidence_keys": "d4"},
        ]
    if name == "baseline_comparison":
        # month rows only (search's week row is left out); the regression first, then by service and metric
        return [
            {
                "service": "checkout",
                "metric": "lead_time_median_minutes",
                "latest_value": 450.0,
                "is_regression": True,
            },
            {
                "service": "checkout",
                "metric": "deployment_frequency_per_day",
                "baseline_value": 0.5,
                "change_vs_baseline": 0.5,
                "is_regression": False,
            },
            {
                "service": "search",
                "metric": "change_failure_rate",
                "change_vs_previous": -0.5,
                "is_regression": False,
            },
        ]
    if name == "jira_flow_distribution_this_quarter":
        # PAY in the quarter's first month: feature 3, defect 1, debt 0 (left out); this month, when it is another
        # one, defect 2 more. The month before the quarter (defect 5), the week row and the 'all' rows are left out.
        if _this_month(today) == _quarter_start(today):
            pay = [("feature", 3, 3 / 4), ("defect", 1, 1 / 4)]
        else:
            pay = [("defect", 3, 3 / 6), ("feature", 3, 3 / 6)]  # a tie: by work type
        rows = [{"project_key": "PAY", "work_type": k, "items_done": n, "distribution": s} for k, n, s in pay]
        return [*rows, {"project_key": "SRCH", "work_type": "feature", "items_done": 2, "distribution": 1.0}]
    raise AssertionError(f"no expectation written for cookbook query {name}")


def _check(name, rows, today):
    expected = _expected(name, today)
    assert len(rows) == len(expected), rows
    for row, wanted in zip(rows, expected, strict=True):
        for key, value in wanted.items():
            got = row[key]
            if hasattr(got, "date") and not isinstance(value, type(got)):
                got = got.date()
            if isinstance(value, float):
                assert got == pytest.approx(value), (key, row)
            else:
                assert got == value, (key, row)


def test_cookbook_has_the_documented_queries():
    assert QUERIES == [
        "anti_patterns_this_quarter",
        "baseline_comparison",
        "four_keys_by_service_this_quarter",
        "incidents_caused_by_deployments",
        "jira_flow_distribution_this_quarter",
        "value_stream_this_month",
        "weekly_trend",
        "worst_services",
    ]
    documented = (COOKBOOK.parent / "bi.md").read_text(encoding="utf-8")
    assert [name for name in QUERIES if f"(cookbook/{name}.sql)" not in documented] == []


@pytest.mark.parametrize("name", QUERIES)
def test_cookbook_query_on_duckdb(name):
    today = datetime.now(UTC).date()  # both databases run in UTC below
    rows = _run_duckdb(_statements(today), (COOKBOOK / f"{name}.sql").read_text())
    _check(name, rows, today)


@pytest.mark.postgres
def test_cookbook_queries_on_postgres(postgres_database):
    today = datetime.now(UTC).date()  # both databases run in UTC below
    statements = _statements(today)
    for name in QUERIES:
        import psycopg2

        # A fresh schema each time: drop what the previous query's load created.
        connection = psycopg2.connect(postgres_database)
        with connection, connection.cursor() as cursor:
            cursor.execute("drop schema if exists marts cascade")
        connection.close()
        rows = _run_postgres(postgres_database, statements, (COOKBOOK / f"{name}.sql").read_text())
        _check(name, rows, today)
