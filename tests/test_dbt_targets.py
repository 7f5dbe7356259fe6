"""dbt_build: identical marts on both targets with the simulator's data, clear errors, unconfigured sources.

The same check on the hand-made scenario is in tests/test_metrics_golden.py (it reuses that DuckDB build).
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from doraflow.config import load_settings
from doraflow.errors import TransformError
from doraflow.transform import dbt_build, dbt_source_freshness

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "metrics"))
import golden_scenario as scenario  # noqa: E402
from marts_compare import assert_same_marts  # noqa: E402

TODAY = date(2024, 3, 1)


def test_missing_raw_layer_is_a_clear_error(tmp_path):
    settings = load_settings({"WAREHOUSE_PATH": str(tmp_path / "absent.duckdb")}, today=TODAY)
    with pytest.raises(TransformError, match=r"no raw tables in .*absent\.duckdb: load landed batches first"):
        dbt_build(settings, progress=lambda line: None)
    assert not (tmp_path / "absent.duckdb").exists()


@pytest.mark.slow
def test_unconfigured_sources_read_as_empty_and_failing_tests_are_named(tmp_path):
    """Only GitHub is loaded: marts build with no incidents. Then a bad status fails a named dbt test."""
    path = tmp_path / "dora.duckdb"
    github_tables = tuple(table for table in scenario.TABLES if table.startswith("github__"))
    scenario.write_duckdb(path, tables=github_tables)
    settings = load_settings({"WAREHOUSE_PATH": str(path)}, today=TODAY)
    result = dbt_build(settings, progress=lambda line: None)
    assert result.failures == []
    connection = duckdb.connect(str(path))
    try:
        assert connection.execute("select count(*) from marts.fct_incidents").fetchone() == (0,)
        # 9 terminal production deployments of the scenario (docstring), none attributed an incident
        assert connection.execute(
            "select count(*), sum(incident_count) from marts.fct_deployments"
        ).fetchone() == (9, 0)
        connection.close()
        # Freshness: the scenario was extracted on 2024-02-08, far beyond error_after (7 days); tables of
        # the sources that were never loaded are reported missing.
        freshness = {row["table"]: row["status"] for row in dbt_source_freshness(settings)}
        assert freshness["github__deployments"] == "error"
        assert freshness["pagerduty__incidents"] == "missing"
        assert freshness["jira__issues"] == "missing"
        assert len(freshness) == len(scenario.TABLES)
        connection = duckdb.connect(str(path))
        # now load PagerDuty with an incident whose status PagerDuty never answers
        rows = scenario.raw_rows()
        rows["pagerduty__incidents"][0][3]["status"] = "exploded"
        connection.close()
        scenario.write_duckdb(path, rows=rows, tables=("pagerduty__incidents",))
    finally:
        connection.close()
    with pytest.raises(TransformError) as error:
        dbt_build(settings, progress=lambda line: None)
    message = str(error.value)
    assert "\n" not in message
    assert "accepted_values_fct_incidents_status" in message


@pytest.mark.postgres
@pytest.mark.slow
def test_simulator_data_gives_identical_marts_on_both_targets(tmp_path, postgres_database):
    """The real chain: simulator -> extractors -> landing -> loader (into both targets) -> dbt on both."""
    from doraflow.raw_loader import load_pending_batches
    from extractors import extract_sources
    from simulator import Simulator, SimulatorConfig

    warehouse = str(tmp_path / "dora.duckdb")
    with Simulator(SimulatorConfig(seed=11, repositories=2, days=20)) as simulator:
        env = simulator.env()
        duck_settings = load_settings({**env, "WAREHOUSE_PATH": warehouse})
        extract_sources(duck_settings, None, progress=lambda line: None)
    pg_settings = load_settings(
        {
            **env,
            "WAREHOUSE_PATH": warehouse,
            "WAREHOUSE_TARGET": "postgres",
            "WAREHOUSE_POSTGRES_URL": postgres_database,
        }
    )
    load_pending_batches(duck_settings, progress=lambda line: None)
    load_pending_batches(pg_settings, progress=lambda line: None)  # same landed batches, second warehouse
    dbt_build(duck_settings, progress=lambda line: None)
    dbt_build(pg_settings, progress=lambda line: None)

    import psycopg2

    duck = duckdb.connect(warehouse, read_only=True)
    pg = psycopg2.connect(postgres_database)
    try:
        deployments = duck.execute("select count(*) from marts.fct_deployments").fetchone()[0]
        assert deployments > 10  # the simulator deploys about twice a day per repository
        assert_same_marts(duck, pg, require_rows=("fct_deployments", "fct_changes", "dora_metrics"))
        # the simulator's flow detail reaches the flow marts: staged changes, CI re-runs, slow CI in repository 1
        staged, bypassed = duck.execute(
            "select count(staged_at), count(*) filter (where is_staging_bypass) from marts.fct_value_stream"
        ).fetchone()
        assert staged > 0 and bypassed > 0
        signals = {
            row[0] for row in duck.execute("select distinct signal from marts.flow_signals").fetchall()
        }
        assert "long_ci_feedback" in signals
    finally:
        duck.close()
        pg.close()


def test_a_locked_warehouse_and_an_unreachable_postgres_are_one_line_errors(tmp_path):
    import subprocess

    path = tmp_path / "dora.duckdb"
    scenario.write_duckdb(path, tables=("github__deployments",))
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, sys; c = duckdb.connect({str(path)!r}); print('ready', flush=True); "
            "sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        settings = load_settings({"WAREHOUSE_PATH": str(path)}, today=TODAY)
        with pytest.raises(TransformError, match=r"cannot open .*dora\.duckdb: .*one process at a time"):
            dbt_build(settings, progress=lambda line: None)
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)

    secret = "pw-never-shown"
    settings = load_settings(
        {"WAREHOUSE_TARGET": "postgres", "WAREHOUSE_POSTGRES_URL": f"postgresql://u:{secret}@127.0.0.1:1/db"},
        today=TODAY,
    )
    with pytest.raises(TransformError, match="cannot connect to the PostgreSQL database") as error:
        dbt_build(settings, progress=lambda line: None)
    assert secret not in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("target", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_null_in_a_constrained_mart_column_fails_the_build_naming_the_model_and_column(
    tmp_path, monkeypatch, request, target
):
    """A mart column's `not_null` is a constraint of its contract (no dbt test): the engine refuses the row.

    dim_services' has_incidents is `constraints: [{type: not_null}]` in the marts' YAML. A copy of the project whose
    dim_services gives the first service a NULL has_incidents must fail the build on both targets, in one line
    naming the model and the column."""
    import shutil

    import doraflow.transform as transform

    project = tmp_path / "dbt_project"
    shutil.copytree(transform.PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    model = project / "models" / "marts" / "dim_services.sql"
    final = "has_deployments, has_incidents\nfrom final"
    assert final in model.read_text()
    broken = (
        "has_deployments,\n    case when service = (select min(service) from final) then null else has_incidents end"
        " as has_incidents\nfrom final"
    )
    model.write_text(model.read_text().replace(final, broken))
    monkeypatch.setattr(transform, "PROJECT_DIR", project)
    env = {"WAREHOUSE_PATH": str(tmp_path / "dora.duckdb")}
    if target == "postgres":
        url = request.getfixturevalue("postgres_database")
        env.update({"WAREHOUSE_TARGET": "postgres", "WAREHOUSE_POSTGRES_URL": url})
        scenario.write_postgres(url)
    else:
        scenario.write_duckdb(tmp_path / "dora.duckdb")
    settings = load_settings(env, today=TODAY)
    with pytest.raises(TransformError) as error:
        dbt_build(settings, select="+dim_services", progress=lambda line: None)
    message = str(error.value)
    assert "\n" not in message
    # DuckDB: "NOT NULL constraint failed: dim_services__dbt_tmp.has_incidents"; PostgreSQL: 'null value in column
    # "has_incidents" of relation "dim_services__dbt_tmp" violates not-null constraint'
    assert "model dim_services:" in message and "has_incidents" in message, message
    assert "null" in message.lower(), message


def test_a_model_key_test_names_each_broken_rule(tmp_path):
    """`key` (dbt_project/tests/generic/key.sql) is a staging or intermediate model's unique and not_null tests in
    one node: stg_pagerduty__incidents' key is incident_id, unique and never NULL."""
    path = tmp_path / "dora.duckdb"
    rows = scenario.raw_rows()
    incidents = rows["pagerduty__incidents"]
    first, second, third = (incident[3] for incident in incidents[:3])
    second["id"] = first["id"]  # one incident_id on two rows: 1 duplicated key
    third["id"] = None  # 1 NULL incident_id
    scenario.write_duckdb(path, rows=rows, tables=("pagerduty__incidents",))
    settings = load_settings({"WAREHOUSE_PATH": str(path)}, today=TODAY)
    with pytest.raises(TransformError) as error:
        dbt_build(settings, select="stg_pagerduty__incidents", progress=lambda line: None)
    message = str(error.value)
    # the test's two rows: ('null incident_id', 1) and ('duplicate incident_id', 1)
    assert "test key_stg_pagerduty__incidents_incident_id__incident_id: Got 2 results" in message, message
    connection = duckdb.connect(str(path), read_only=True)
    try:
        compiled = (tmp_path / "dbt_target").rglob(
            "key_stg_pagerduty__incidents_incident_id__incident_id.sql"
        )
        sql = next(file for file in compiled if "compiled" in file.parts).read_text()
        problems = connection.execute(f"select * from ({sql}) as broken order by problem").fetchall()
    finally:
        connection.close()
    assert problems == [("duplicate incident_id", 1), ("null incident_id", 1)]
    # nothing reads dbt's JSON artifacts: the build skips them unless DBT_WRITE_JSON=true (doraflow.transform)
    assert not (tmp_path / "dbt_target" / "run_results.json").exists()
