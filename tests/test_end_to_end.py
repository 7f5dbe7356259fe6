"""The whole chain against the simulator: extract -> landing -> raw -> dbt -> quality gate -> publish.

A first run builds the marts; a second run with nothing changed at the sources changes nothing; after the
simulator moves a day forward, the next run brings the new deployments in. The CLI demo prints the summary.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime

import duckdb
import pytest

from doraflow.config import load_settings
from doraflow.pipeline import run_pipeline
from simulator import Simulator, SimulatorConfig

pytestmark = pytest.mark.slow

MARTS = (
    "fct_deployments",
    "fct_changes",
    "fct_incidents",
    "dora_metrics",
    "dora_metrics_by_team",
    "dora_coverage",
)


def mart_rows(database, table):
    with duckdb.connect(str(database), read_only=True) as connection:
        return connection.execute(f"select * from marts.{table} order by all").fetchall()


def raw_counts(database):
    with duckdb.connect(str(database), read_only=True) as connection:
        tables = [
            row[0]
            for row in connection.execute(
                "select table_name from information_schema.tables where table_schema = 'raw' "
                "and table_name not like '\\_%' escape '\\'"
            ).fetchall()
        ]
        return {
            table: connection.execute(f"select count(*) from raw.{table}").fetchone()[0] for table in tables
        }


def published_runs(database):
    """marts.pipeline_runs of the serving copy: (run_id, status, is_latest), oldest first."""
    with duckdb.connect(str(database), read_only=True) as connection:
        return connection.execute(
            "select run_id, status, is_latest from marts.pipeline_runs order by started_at"
        ).fetchall()


def latest_deployment(database):
    with duckdb.connect(str(database), read_only=True) as connection:
        return connection.execute("select max(deployed_at) from marts.fct_deployments").fetchone()[0]


@pytest.fixture(scope="module")
def simulator():
    config = SimulatorConfig(
        seed=11, repositories=2, services=2, days=21, end_at=datetime(2026, 11, 20, tzinfo=UTC)
    )
    with Simulator(config) as sim:
        yield sim


def test_pipeline_runs_are_complete_idempotent_and_incremental(simulator, tmp_path):
    env = {**simulator.env(), "WAREHOUSE_PATH": str(tmp_path / "warehouse" / "dora.duckdb")}
    settings = load_settings(env)
    lines: list[str] = []

    first = run_pipeline(settings, progress=lines.append)
    assert first.status == "success"
    counts = raw_counts(settings.warehouse_path)
    truth = simulator.truth()
    assert {table: counts.get(table, 0) for table in truth} == truth
    assert settings.serving_path.is_file() and settings.report_path.is_file()
    before = {table: mart_rows(settings.serving_path, table) for table in MARTS}
    assert before["fct_deployments"], "the simulator's deployments reach the marts"
    # The serving copy knows the run that published it (BI tools show "last refreshed" from it).
    assert published_runs(settings.serving_path) == [(first.run_id, "success", True)]

    simulator.reset_request_counts()
    serving = settings.serving_path.stat()
    second = run_pipeline(settings, progress=lines.append)
    assert second.status == "success"
    assert raw_counts(settings.warehouse_path) == counts
    after = {table: mart_rows(settings.serving_path, table) for table in MARTS}
    assert after == before
    # Nothing changed: no build, and the copy in place is of these very marts, so it is kept as it was (its
    # latest run is still the one that published it; ops in the working warehouse has both).
    assert second.transform_result.skipped and second.publish_result.skipped
    assert settings.serving_path.stat().st_ino == serving.st_ino
    assert published_runs(settings.serving_path) == [(first.run_id, "success", True)]

    newest_before = latest_deployment(settings.serving_path)
    changes = simulator.advance(hours=24)
    run_pipeline(settings, progress=lines.append)
    new_counts = raw_counts(settings.warehouse_path)
    for table, changed in changes.items():
        assert new_counts.get(table, 0) == counts.get(table, 0) + changed["added"], table
    assert changes["github__deployments"]["added"] > 0
    assert len(mart_rows(settings.serving_path, "fct_deployments")) > len(before["fct_deployments"])
    assert latest_deployment(settings.serving_path) > newest_before


def test_demo_command_prints_the_summary(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "doraflow.cli", "demo", "--repositories", "2", "--days", "40"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "DORA summary" in out
    summary = out[out.index("DORA summary") :]
    for header in ("deploys", "lead time (median)", "change failure rate", "time to restore (median)"):
        assert header in summary
    assert "\nall " in summary
    report = tmp_path / "warehouse" / "demo" / "dora_report.html"
    assert f"report: {report}" in out
    # the demo fetches CI jobs (GITHUB_CI_JOBS=true): the summary and the report show them by stage
    assert "\nCI jobs by stage, all services, " in summary and "\nSlowest CI stage by service: " in summary
    assert 'data-chart="ci-stages"' in report.read_text(encoding="utf-8")
    # The demo's catalog (2 repositories: the monorepo acme/checkout as checkout and checkout-web, and payments, all
    # of team 'commerce', and the PagerDuty-only 'legacy-billing', also 'commerce') reaches the marts through
    # SERVICE_CATALOG_PATH.
    assert "service catalog: 4 entries from warehouse/demo/service_catalog.csv" in out
    with duckdb.connect(
        str(tmp_path / "warehouse" / "demo" / "dora_serving.duckdb"), read_only=True
    ) as serving:
        assert serving.execute("select service, team from marts.dim_services order by 1").fetchall() == [
            ("checkout", "commerce"),
            ("checkout-web", "commerce"),
            ("legacy-billing", "commerce"),
            ("payments", "commerce"),
        ]
        teams = serving.execute("select distinct team from marts.dora_metrics_by_team order by 1").fetchall()
        assert teams == [("all",), ("commerce",)]
        # the demo is untidy on purpose: regions are rollout steps, the monorepo's web deploys are its own service's
        kinds = dict(
            serving.execute(
                "select deployment_kind, count(*) from marts.fct_deployments where outcome = 'success' group by 1"
            ).fetchall()
        )
        assert kinds["rollout_step"] > 0 and kinds["release"] > 0
        assert (
            serving.execute(
                "select count(*) from marts.fct_deployments where service = 'checkout-web' and environment = 'web-production'"
            ).fetchone()[0]
            > 0
        )
    assert report.stat().st_size > 100_000  # plotly.js is embedded: the report opens offline
