"""Source freshness in SQL from the sources' YAML gives what `dbt source freshness` gives on the same data.

Hand-made raw tables whose latest `_extracted_at` is a known age from now, against the rule every source's YAML
declares (warn after 2 days, error after 7 days): 1 day old passes, 3 days warns, 8 days errors; a table with no
row was loaded at 0001-01-01 to dbt (an error), a table never loaded is missing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from doraflow.config import load_settings
from doraflow.freshness import read_rules, source_freshness

DAY = timedelta(days=1)
AGES = {"github__deployments": 1 * DAY, "github__pull_requests": 3 * DAY, "pagerduty__incidents": 8 * DAY}
EMPTY = "jira__issues"
EXPECTED = {"github__deployments": "pass", "github__pull_requests": "warn", "pagerduty__incidents": "error",
            EMPTY: "error", "jira__projects": "missing"}  # fmt: skip


def make_tables(execute, now: datetime) -> None:
    execute("create schema if not exists raw")
    for table, age in AGES.items():
        execute(f"create table raw.{table} (_extracted_at timestamptz, payload varchar)")
        # an older row too: the latest one counts
        for when in (now - age, now - age - 3 * DAY):
            execute(f"insert into raw.{table} values ('{when.isoformat()}', '{{}}')")
    execute(f"create table raw.{EMPTY} (_extracted_at timestamptz, payload varchar)")


def test_the_rules_are_the_sources_yaml_with_a_table_over_its_source(tmp_path):
    (tmp_path / "_x__sources.yml").write_text(
        """
sources:
  - name: x
    schema: raw
    config:
      loaded_at_field: _extracted_at
      freshness: {warn_after: {count: 2, period: day}, error_after: {count: 7, period: day}}
    tables:
      - {name: a, identifier: x__a}
      - {name: b, config: {freshness: {warn_after: {count: 6, period: hour}}}}
      - {name: c, freshness: null}
  - name: y
    tables: [{name: d}]
""",
        encoding="utf-8",
    )
    rules = {rule.table: rule for rule in read_rules(tmp_path)}
    assert sorted(rules) == ["b", "x__a"]  # c turned off, y has no rule
    assert (rules["x__a"].warn_after, rules["x__a"].error_after) == (2 * 86400, 7 * 86400)
    assert (rules["b"].warn_after, rules["b"].error_after) == (
        6 * 3600,
        7 * 86400,
    )  # its warn, the source's error
    # the project's own rules: every API stream of the three sources
    project = read_rules()
    assert {rule.source for rule in project} == {"github", "jira", "pagerduty"}
    assert all(rule.loaded_at_field == "_extracted_at" and rule.schema == "raw" for rule in project)


@pytest.mark.slow
def test_sql_freshness_matches_dbt_source_freshness_on_duckdb(tmp_path):
    from doraflow.transform import dbt_source_freshness

    path = tmp_path / "dora.duckdb"
    connection = duckdb.connect(str(path))
    make_tables(connection.execute, datetime.now(UTC))
    connection.close()
    settings = load_settings({"WAREHOUSE_PATH": str(path)})
    ours = source_freshness(settings)
    dbt = dbt_source_freshness(settings)
    assert {row["table"]: row["status"] for row in ours if row["table"] in EXPECTED} == EXPECTED
    assert [(r["source"], r["table"], r["status"]) for r in ours] == [
        (r["source"], r["table"], r["status"]) for r in dbt
    ]
    by_table = {row["table"]: row for row in dbt}
    for row in ours:
        assert row["max_loaded_at"] == by_table[row["table"]]["max_loaded_at"]
        if row["age_seconds"] is not None:  # both from their own now(): the same age within the test's run
            assert abs(row["age_seconds"] - by_table[row["table"]]["age_seconds"]) < 600


def test_sql_freshness_on_postgres(tmp_path, postgres_database):
    import psycopg2

    connection = psycopg2.connect(postgres_database)
    with connection, connection.cursor() as cursor:
        make_tables(cursor.execute, datetime.now(UTC))
    connection.close()
    settings = load_settings(
        {
            "WAREHOUSE_TARGET": "postgres",
            "WAREHOUSE_POSTGRES_URL": postgres_database,
            "WAREHOUSE_PATH": str(tmp_path / "dora.duckdb"),
        }
    )
    rows = {row["table"]: row for row in source_freshness(settings)}
    assert {table: rows[table]["status"] for table in EXPECTED} == EXPECTED
    assert 86400 <= rows["github__deployments"]["age_seconds"] < 86400 + 600
    assert len(rows) == len(read_rules())
