"""DAG integrity: dora_nightly parses without import errors, network or warehouse work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Runs in a fresh interpreter: Airflow reads AIRFLOW_HOME at import, and sockets are blocked before it loads.
PROBE = r"""
import json, socket, sys
attempts = []
def refuse(self, address, *args, **kwargs):
    attempts.append(str(address))
    raise OSError("network blocked by test_dag")
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = lambda address, *a, **k: refuse(None, address)

from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
dag = bag.dags.get("dora_nightly")
out = {"errors": {k: v[-400:] for k, v in bag.import_errors.items()}, "dags": sorted(bag.dags),
       "attempts": attempts}
if dag is not None:
    dag.check_cycle() if hasattr(dag, "check_cycle") else None
    tasks = {t.task_id: {"owner": t.owner, "retries": t.retries, "pool": t.pool,
                         "trigger_rule": getattr(t.trigger_rule, "value", str(t.trigger_rule)), "upstream": sorted(t.upstream_task_ids),
                         "backoff": bool(getattr(t, "retry_exponential_backoff", False)),
                         "callbacks": len(t.on_failure_callback or []) if isinstance(t.on_failure_callback, list)
                                      else int(t.on_failure_callback is not None),
                         "outlets": [getattr(o, "uri", str(o)) for o in t.outlets],
                         "map_index_template": getattr(t, "map_index_template", None)}
             for t in dag.tasks}
    out.update(tags=sorted(dag.tags), max_active_runs=dag.max_active_runs, catchup=dag.catchup,
               tasks=tasks, timetable=str(dag.timetable.summary), tz=str(dag.timetable._timezone))
    import importlib.util
    spec = importlib.util.spec_from_file_location("dora_nightly_labels", dag.fileloc)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out["labels"] = [module.extract_label("github", ["acme/a", "acme/b"]), module.extract_label("pagerduty", ["pagerduty"]),
                     module.extract_label("github", [f"acme/r{i}" for i in range(5)])]
print("RESULT" + json.dumps(out))
"""


def parse(tmp_path: Path, **env: str) -> dict:
    home = tmp_path / "airflow_home"
    environment = {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AIRFLOW", "DORA_", "GITHUB", "JIRA", "PAGER"))
        },
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        **env,
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(REPO / "dags")],
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    line = [x for x in done.stdout.splitlines() if x.startswith("RESULT")]
    assert line, done.stderr[-3000:]
    return json.loads(line[-1][len("RESULT") :])


@pytest.fixture(scope="module")
def parsed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dagbag")
    warehouse = tmp / "does-not-exist" / "dora.duckdb"
    result = parse(
        tmp, WAREHOUSE_PATH=str(warehouse), DORA_TIMEZONE="Europe/Paris", DORA_NIGHTLY_SCHEDULE="30 3 * * *"
    )
    result["warehouse_dir"] = warehouse.parent
    return result


def test_no_import_errors_and_no_side_effects(parsed):
    assert parsed["errors"] == {}
    assert parsed["dags"] == ["dora_nightly"]
    assert parsed["attempts"] == []  # no network, not even to an Airflow API server
    assert not parsed["warehouse_dir"].exists()  # no warehouse work while parsing


def test_schedule_and_run_settings(parsed):
    assert parsed["timetable"] == "30 3 * * *" and parsed["tz"] == "Europe/Paris"
    assert parsed["max_active_runs"] == 1 and parsed["catchup"] is False
    assert {"doraflow", "dora"} <= set(parsed["tags"])


def test_owners_retries_callbacks_and_pools(parsed):
    tasks = parsed["tasks"]
    assert all(t["owner"] == "doraflow" for t in tasks.values())
    # one alert per DAG run (record_ops' notifier), not one per failed mapped task
    assert all(t["callbacks"] == 0 for t in tasks.values())
    extracts = {k: v for k, v in tasks.items() if k.startswith("extract_")}
    # one mapped task per source: its one instance extracts the source's scopes in parallel, as the CLI does
    assert sorted(extracts) == ["extract_github", "extract_jira", "extract_pagerduty"]
    assert all(t["retries"] == 3 and t["backoff"] for t in extracts.values())
    assert all(t["pool"] != "dora_warehouse" for t in extracts.values())  # extracts write landing files only
    assert all(t["map_index_template"] == "{{ extract_label }}" for t in extracts.values())
    writers = [
        "check_landing",
        "load",
        "transform",
        "source_freshness",
        "check_marts",
        "publish",
        "record_ops",
    ]
    assert all(tasks[name]["pool"] == "dora_warehouse" for name in writers)


def test_the_dag_runs_the_pipelines_steps(parsed):
    from doraflow.pipeline import STEPS

    tasks = parsed["tasks"]
    chain = [step.task_id for step in STEPS if step.task_id != "extract"]
    assert all(name in tasks for name in chain)
    for before, after in zip(chain, chain[1:], strict=False):  # the pipeline's order, one task per step
        assert before in tasks[after]["upstream"]
    assert not [k for k in tasks if k.startswith("dbt_build")]  # one dbt invocation, as the CLI


def test_extract_instances_are_named_by_their_scopes(parsed):
    # map_index_template's value: the source, then its scopes (three at most, then how many more)
    assert parsed["labels"] == [
        "github acme/a, acme/b",
        "pagerduty",  # its one scope is the account itself
        "github acme/r0, acme/r1, acme/r2 and 2 more",  # 5 scopes: 3 named + 2
    ]


def test_graph_order(parsed):
    tasks = parsed["tasks"]
    for source in ("github", "jira", "pagerduty"):  # each source's extract expands over the scopes it planned
        assert tasks[f"extract_{source}"]["upstream"] == [f"plan_{source}"]
    assert set(tasks["check_landing"]["upstream"]) == {k for k in tasks if k.startswith("extract_")}
    assert tasks["check_landing"]["trigger_rule"] == "none_failed"
    assert tasks["load"]["upstream"] == ["check_landing"]
    assert "duckdb://warehouse/raw.pagerduty__incidents" in tasks["load"]["outlets"]
    # marts and the serving copy are announced by publish only, i.e. after the marts gate
    assert "duckdb://warehouse/marts.dora_metrics" in tasks["publish"]["outlets"]
    assert "doraflow://serving/dora_serving.duckdb" in tasks["publish"]["outlets"]
    assert not [o for k, t in tasks.items() if k != "publish" for o in t["outlets"] if "marts." in o]
    assert tasks["publish"]["upstream"] == ["check_marts"]
    assert tasks["record_ops"]["upstream"] == ["publish"] and tasks["record_ops"]["trigger_rule"].endswith(
        "all_done"
    )
    assert sorted(tasks["run_succeeded"]["upstream"]) == ["publish", "record_ops"]


def test_bad_parse_time_setting_is_an_import_error_naming_it(tmp_path):
    result = parse(tmp_path, WAREHOUSE_PATH=str(tmp_path / "w" / "d.duckdb"), DORA_TIMEZONE="Mars/Olympus")
    assert "DORA_TIMEZONE must be an IANA time zone" in json.dumps(result["errors"])
