"""WAREHOUSE_TARGET=postgres: publish reads the marts from PostgreSQL (one snapshot) into the same serving copy."""

from __future__ import annotations

import duckdb
import psycopg2
import pytest
from test_serving_support import (
    REPORT_ANCHOR,
    REPORT_MONTHS,
    REPORT_TODAY,
    REPORT_WEEKS_FROM,
    marts_statements,
    sample_settings,
)

from doraflow.errors import PublishError
from doraflow.publish import publish
from doraflow.report import embedded_data, write_report

pytestmark = pytest.mark.postgres


def _load(url: str) -> None:
    connection = psycopg2.connect(url)
    with connection, connection.cursor() as cursor:
        for statement in marts_statements(
            REPORT_ANCHOR, weeks_from=REPORT_WEEKS_FROM, weeks=9, months=REPORT_MONTHS
        ):
            cursor.execute(statement)
        cursor.execute("create schema raw; create table raw.secrets as select 'not for readers' as payload")
    connection.close()


def test_publish_from_postgres_copies_every_mart_with_its_types(tmp_path, postgres_database):
    _load(postgres_database)
    settings = sample_settings(
        tmp_path / "dora.duckdb", WAREHOUSE_TARGET="postgres", WAREHOUSE_POSTGRES_URL=postgres_database
    )
    result = publish(settings, progress=lambda _m: None)
    assert result.source == "postgres"
    assert result.row_counts["fct_deployments"] == 7 and result.row_counts["dora_metrics"] == 36

    pg = psycopg2.connect(postgres_database)
    with pg.cursor() as cursor:
        cursor.execute("set time zone 'UTC'")
        cursor.execute("select * from marts.fct_deployments order by deployment_id")
        expected = cursor.fetchall()
    pg.close()
    serving = duckdb.connect(str(settings.serving_path), read_only=True)
    try:
        got = serving.execute("select * from marts.fct_deployments order by deployment_id").fetchall()
        types = dict(
            serving.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_name = 'dora_metrics' and column_name in ('period_start', 'deployments', "
                "'change_failure_rate', 'deployment_frequency_tier')"
            ).fetchall()
        )
        schemas = {
            r[0] for r in serving.execute("select table_schema from information_schema.tables").fetchall()
        }
    finally:
        serving.close()
    assert got == expected  # timestamps (UTC instants), NULLs, booleans, floats: all equal
    assert types == {
        "period_start": "DATE",
        "deployments": "BIGINT",
        "change_failure_rate": "DOUBLE",
        "deployment_frequency_tier": "VARCHAR",
    }
    assert schemas == {"marts"}

    # The report built from it shows the same October figures as from DuckDB: 4 deployments (seed 1).
    report = write_report(settings, output=tmp_path / "r.html", today=REPORT_TODAY)
    data = embedded_data(report.read_text(encoding="utf-8"))
    assert data["period"]["start"] == "2026-10-01"
    assert data["scorecards"]["service"]["all"]["counts"]["deployments"] == 4
    assert [row["deployment_id"] for row in data["deployments"]] == ["d1", "d2", "d3", "d4", "d5"]
    assert sorted(p.name for p in settings.exports_dir.iterdir())[0] == "dim_services.parquet"


def test_postgres_without_marts_says_to_transform(tmp_path, postgres_database):
    settings = sample_settings(
        tmp_path / "dora.duckdb", WAREHOUSE_TARGET="postgres", WAREHOUSE_POSTGRES_URL=postgres_database
    )
    with pytest.raises(PublishError, match="no tables in schema 'marts'"):
        publish(settings, progress=lambda _m: None)
    assert not settings.serving_path.exists()


def test_unreachable_postgres_never_shows_the_password(tmp_path):
    url = "postgresql://dora:s3cret-pass@127.0.0.1:1/warehouse"
    settings = sample_settings(
        tmp_path / "dora.duckdb", WAREHOUSE_TARGET="postgres", WAREHOUSE_POSTGRES_URL=url
    )
    with pytest.raises(PublishError, match="cannot connect to WAREHOUSE_POSTGRES_URL") as caught:
        publish(settings, progress=lambda _m: None)
    assert "s3cret-pass" not in str(caught.value)
