"""`airflow dags test dora_nightly` end to end against the simulator (SQLite metadata DB in tmp_path), then
`doraflow run` on the same data: the two drivers of doraflow.pipeline record the same figures."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

sys.path.insert(0, str(REPO / "tests" / "fixtures" / "metrics"))
from marts_compare import sorted_rows  # noqa: E402


def airflow(
    args: list[str], env: dict[str, str], cwd: Path, timeout: int = 600
) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "airflow"), *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip


def failed_tasks(home: Path) -> list[tuple]:
    import sqlite3

    with sqlite3.connect(home / "airflow.db") as db:
        return db.execute(
            "select task_id, map_index, state from task_instance where state not in ('success', 'skipped')"
        ).fetchall()


def marts_snapshot(warehouse: Path) -> dict[str, list]:
    """The marts' rows, sorted, floats rounded as marts_compare does: DuckDB's parallel aggregation adds a mean's
    terms in no fixed order, so two builds of the same data may differ in a float's last bit."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {
            table: sorted_rows(con.cursor(), table)
            for table in ("fct_deployments", "fct_changes", "fct_incidents", "dora_metrics")
        }


@pytest.mark.slow
def test_dags_test_runs_the_whole_chain(tmp_path):
    from simulator import Simulator, SimulatorConfig

    warehouse = tmp_path / "warehouse" / "dora.duckdb"
    home = tmp_path / "airflow_home"
    with Simulator(SimulatorConfig(seed=7, repositories=2, days=20)) as sim:
        env = {
            **{
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("AIRFLOW", "DORA_", "GITHUB", "JIRA", "PAGER"))
            },
            **sim.env(),
            "WAREHOUSE_PATH": str(warehouse),
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "DORA_EXTRACT_RETRIES": "0",  # dags test would wait out the retry delays
            "DORA_TASK_RETRIES": "0",
            "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
        }
        for args in (["db", "migrate"], ["pools", "set", "dora_warehouse", "1", "doraflow single writer"]):
            done = airflow(args, env, tmp_path)
            assert done.returncode == 0, done.stderr[-3000:]
        # A run killed earlier (its 'running' row left behind): the DAG run marks it abandoned, as the CLI does.
        warehouse.parent.mkdir(parents=True)
        from doraflow.ops import DDL

        with duckdb.connect(str(warehouse)) as con:
            for statement in DDL:
                con.execute(statement)
            con.execute(
                "insert into ops.pipeline_runs values ('killed-run', 'airflow', 'running', null, now(), null, null)"
            )
        done = airflow(["dags", "test", "dora_nightly"], env, tmp_path)
        log = done.stdout + done.stderr
        (tmp_path / "dags_test.log").write_text(log, encoding="utf-8")
        assert done.returncode == 0, f"{failed_tasks(home)}; log: {tmp_path / 'dags_test.log'}"
        assert sim.env()["GITHUB_TOKEN"] not in log  # secrets never reach the task logs

        # The other driver on the same data: `doraflow run` converges to the same marts (nothing new to extract)
        # and records the run with the same figures as the DAG did. --full-build: with the build skipped the
        # marts gate would not check again the marts the DAG's gate passed, and its checks are compared below.
        first_marts = marts_snapshot(warehouse)
        done = subprocess.run([str(BIN / "doraflow"), "run", "--full-build"], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=600)  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        assert marts_snapshot(warehouse) == first_marts

        # Nothing changed since: the DAG skips the build and publish, and announces no Asset for that run.
        done = airflow(["dags", "test", "dora_nightly"], env, tmp_path)
        assert done.returncode == 0, f"{failed_tasks(home)}; {(done.stdout + done.stderr)[-3000:]}"
        assert "publish skipped: " in done.stdout + done.stderr

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        *runs, unchanged_run = con.execute(
            "select run_id, trigger, status, error from ops.pipeline_runs where run_id <> 'killed-run' "
            "order by started_at"
        ).fetchall()
        assert unchanged_run[1:] == ("airflow", "success", None)
        killed = con.execute(
            "select status, error from ops.pipeline_runs where run_id = 'killed-run'"
        ).fetchone()
        assert killed[0] == "abandoned" and killed[1].startswith(
            "killed or stopped before it finished (found by run airflow-"
        )
        assert [run[1:] for run in runs] == [("airflow", "success", None), ("cli", "success", None)]
        assert runs[0][0].startswith("airflow-dora_nightly-manual__")
        streams = con.execute("select source, count(*), sum(records) from ops.stream_runs "
                              "where run_id = ? group by source order by source", [runs[0][0]]).fetchall()  # fmt: skip
        assert [s[0] for s in streams] == ["github", "jira", "pagerduty"] and all(s[2] > 0 for s in streams)
        # both drivers record the same steps, in the same order, with every figure of marts.pipeline_runs set
        steps = {
            run_id: [r[0] for r in con.execute("select step from ops.step_runs where run_id = ? order by started_at",
                                               [run_id]).fetchall()]
            for run_id, *_ in runs
        }  # fmt: skip
        from doraflow.pipeline import STEPS

        assert steps[runs[0][0]] == steps[runs[1][0]] == [step.name for step in STEPS]
        figures = con.execute(
            "select * from marts.pipeline_runs where run_id <> 'killed-run' order by started_at"
        )
        columns = [d[0] for d in figures.description]
        rows = [dict(zip(columns, row, strict=True)) for row in figures.fetchall()]
        for name in (
            "extract_seconds",
            "load_seconds",
            "transform_seconds",
            "publish_seconds",
            "checks_evaluated",
        ):
            assert rows[0][name] is not None and rows[1][name] is not None, name
        marts_checks = [con.execute("select suite, count(*) from ops.check_results where run_id = ? and suite like "
                                    "'marts.%' group by suite order by suite", [r[0]]).fetchall() for r in runs]  # fmt: skip
        assert marts_checks[0] == marts_checks[1] and marts_checks[0]  # the same gate, the same checks
        for table in ("stream_runs", "check_results", "dbt_source_freshness", "source_freshness"):
            counts = [con.execute(f"select count(*) from ops.{table} where run_id = ?", [r[0]]).fetchone()[0]
                      for r in runs]  # fmt: skip
            assert counts[0] > 0 and counts[1] > 0, table
        critical = con.execute("select count(*) from ops.check_results where severity = 'critical' "
                               "and not success").fetchone()[0]  # fmt: skip
        assert critical == 0
        assert con.execute("select count(*) from ops.check_results").fetchone()[0] > 50
        assert con.execute("select count(*) from marts.fct_deployments").fetchone()[0] > 0
        latest = con.execute(
            "select status, is_latest, records_extracted from marts.pipeline_runs where run_id = ?",
            [runs[0][0]],
        ).fetchall()
        assert latest[0][:2] == ("success", False) and latest[0][2] == sum(s[2] for s in streams)
    finally:
        con.close()
    serving = duckdb.connect(str(warehouse.parent / "dora_serving.duckdb"), read_only=True)
    try:  # the serving copy shows the run that published it (and the first run, before it)
        published = serving.execute(
            "select run_id, status, is_latest from marts.pipeline_runs order by started_at"
        )
        assert published.fetchall() == [
            ("killed-run", "abandoned", False),
            (runs[0][0], "success", False),
            (runs[1][0], "success", True),
        ]
    finally:
        serving.close()
    assert (warehouse.parent / "data_docs" / "marts" / "index.html").is_file()
    assert not any((warehouse.parent / "ops_spool").glob("*/*.json"))  # spool cleared after recording
    # the mapped extracts carry their scopes as their name (map_index_template) in the UI
    import sqlite3

    with sqlite3.connect(home / "airflow.db") as db:
        names = {
            r[0] for r in db.execute("select rendered_map_index from task_instance where map_index >= 0")
        }
        publish_states = db.execute(
            "select run_id, state from task_instance where task_id = 'publish' order by start_date"
        ).fetchall()
        succeeded = db.execute("select state from task_instance where task_id = 'run_succeeded'").fetchall()
        announced = {r[0] for r in db.execute("select distinct source_run_id from asset_event "
                                              "where source_task_id = 'publish'")}  # fmt: skip
    # the first DAG run published and announced the marts; the unchanged one skipped publish, announced nothing
    # and still succeeded
    assert [state for _, state in publish_states] == ["success", "skipped"]
    assert succeeded == [("success",), ("success",)]
    assert announced == {publish_states[0][0]}
    # one instance per configured source, named by its scopes (docs/airflow.md)
    github = [name for name in names if name.startswith("github ")]
    assert "pagerduty" in names and len(github) == 1 and "acme/payments" in github[0], names
