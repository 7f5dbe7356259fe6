"""Every cookbook query runs on DuckDB and PostgreSQL against the same marts and returns the hand-worked rows.

The sample marts are placed in the current quarter (anchor = its first day), so "this quarter" covers every
row except d0, which is on the evening before the quarter began.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from test_serving_support import marts_statements

COOKBOOK = Path(__file__).resolve().parents[1] / "docs" / "cookbook"
QUERIES = sorted(path.stem for path in COOKBOOK.glob("*.sql"))


def _quarter_start(today: date) -> date:
    return date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)


def _this_week(today: date) -> date:
    return today - timedelta(days=today.weekday())


def _statements(today: date) -> list[str]:
    anchor = _quarter_start(today)
    return marts_statements(
        anchor,
        weeks_from=_this_week(today) - timedelta(days=7 * 13),  # 14 Mondays: 13 complete weeks + this week
        weeks=14,
        months=[anchor],
    )


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


def test_cookbook_has_the_four_documented_queries():
    assert QUERIES == [
        "four_keys_by_service_this_quarter",
        "incidents_caused_by_deployments",
        "weekly_trend",
        "worst_services",
    ]


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
