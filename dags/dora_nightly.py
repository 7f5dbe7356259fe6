"""dora_nightly: extract -> check landed batches -> load -> transform -> source freshness -> check marts -> publish.

A thin driver of doraflow.pipeline: every task runs one of its `STEPS` through `pipeline.execute` (the same
timing, recording, locking and gates as `doraflow run`), and `record_ops` writes the run to ops as the CLI
does. Parsing this file runs no subprocess and does no network, warehouse or dbt work (< 2 s; see
benchmarks/benchmark_airflow.py). Parse-time values come from the environment only:
  DORA_NIGHTLY_SCHEDULE (cron, default "0 2 * * *"; the Airflow Variable `dora_nightly_schedule` wins
  when set and readable), DORA_TIMEZONE (IANA zone of the cron, default UTC), WAREHOUSE_PATH (where the
  serving copy Asset lives; use an absolute path under Airflow). Credentials are read inside tasks from the
  Connections `github`, `jira`, `pagerduty` (falling back to the CLI's environment variables). Every task
  that writes the warehouse runs in the pool `dora_warehouse` (one slot) and under the warehouse's run lock:
  `airflow pools set dora_warehouse 1 "doraflow single DuckDB writer"`.

Logical date: the extractors are incremental (a watermark per stream and scope, kept in the landed
batches), so a run extracts everything new since the last landed state, whatever its logical date; a
backfill over a date range therefore re-runs the incremental pipeline once per date (idempotent: the
loader merges by natural key). See docs/airflow.md.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import Asset, Param, dag, get_current_context, task
from airflow.timetables.trigger import CronTriggerTimetable

from doraflow import airflow_settings as af
from doraflow.pipeline import STEP, Handoff
from extractors.streams import SOURCES, STREAMS

POOL = af.WAREHOUSE_POOL
RAW_ASSETS = [Asset(f"duckdb://warehouse/raw.{spec.table}") for spec in STREAMS]
MARTS = sorted(
    p.stem for p in (Path(af.__file__).resolve().parents[1] / "dbt_project/models/marts").glob("*.sql")
)
# Announced only by publish, i.e. after the marts gate passed: a DAG scheduled on them sees checked data.
PUBLISHED_ASSETS = [Asset(f"duckdb://warehouse/marts.{name}") for name in MARTS] + [
    Asset("doraflow://serving/dora_serving.duckdb")
]


def _schedule() -> CronTriggerTimetable:
    cron = af.schedule()
    try:  # the Variable is optional; without a metadata DB (tests, first parse) the env value stays
        from airflow.sdk import Variable

        cron = Variable.get(af.SCHEDULE_VARIABLE, default=None) or cron
    except Exception:  # noqa: BLE001
        pass
    return CronTriggerTimetable(cron, timezone=af.timezone_name())


def _drive(task_id: str, handoff: dict | None = None, *, spool_as: str | None = None) -> dict:
    """Run one pipeline step in this task and spool its figures for record_ops; returns the handoff."""
    import gc

    from doraflow.ops import RunRecorder, airflow_run_id
    from doraflow.pipeline import execute

    # The task's process holds Airflow's objects (about 600k under `airflow dags test`, 20k in a bare Python with
    # DuckDB): every garbage collection the step's allocations trigger would walk them all (parsing JSON pages ran
    # 1.7x slower). Frozen, they are left out; they live as long as the task anyway. Airflow's LocalExecutor and
    # DAG processor freeze the same way.
    gc.freeze()
    context = get_current_context()
    settings = af.settings_from_airflow()
    run_id = airflow_run_id(context["dag"].dag_id, context["run_id"])
    state = Handoff.from_dict(handoff)
    state.allow_no_source = bool(context["params"].get("allow_no_source"))
    recorder = RunRecorder(settings, "airflow", run_id=run_id)
    run_recorder = RunRecorder.from_spool(settings, run_id) if task_id == "publish" else None
    if (
        task_id == "check_landing"
    ):  # the run's first task that holds the warehouse: as the CLI does at its start
        from doraflow.warehouse import run_lock

        with run_lock(settings, run_id):
            for abandoned in recorder.start():  # this run is 'running' until record_ops writes its outcome
                print(f"run {abandoned} did not finish (killed?): recorded as abandoned")
    try:
        result = execute(STEP[task_id], settings, state, recorder, print, run_recorder=run_recorder)
    finally:
        recorder.spool(spool_as or task_id)
        gc.unfreeze()  # what the step left behind is collectable again (`dags test` runs every task in one process)
    if getattr(result, "skipped", False) and task_id == "publish":
        # Nothing new was published: a skipped task announces no Asset, so the DAGs scheduled on the marts do not
        # run again on unchanged data (the step's line above says why it was skipped).
        from airflow.sdk.exceptions import AirflowSkipException

        raise AirflowSkipException("publish skipped: the publication in place is of this build")
    return state.to_dict()


@task
def plan_scopes(source: str) -> list[dict]:
    """One source's extract, when it is configured: the source and its scopes (repositories, projects, account),
    ids only, no secrets. An unconfigured source plans nothing: its mapped extract task is skipped.
    """
    from extractors import plan_streams

    settings = af.settings_from_airflow()
    for line in settings.skipped_sources:
        print(line)
    if source not in settings.configured_sources:
        return []
    return [
        {"source": source, "scopes": list(dict.fromkeys(t.scope for t in plan_streams(settings, [source])))}
    ]


def extract_label(source: str, scopes: list[str]) -> str:
    """The mapped instance's name in the UI and alerts: "github acme/payments, acme/web", "pagerduty"."""
    scopes = [scope for scope in scopes if scope != source]
    shown = ", ".join(scopes[:3]) + (f" and {len(scopes) - 3} more" if len(scopes) > 3 else "")
    return f"{source} {shown}" if shown else source


@task(
    retries=af.extract_retries(),
    retry_delay=timedelta(seconds=30),
    retry_exponential_backoff=True,
    max_retry_delay=timedelta(minutes=10),
    map_index_template="{{ extract_label }}",
)
def extract(planned: dict) -> None:
    """Extract one source into landing batches (writes landing files only), as `doraflow run` extracts it: its
    scopes in parallel (EXTRACT_CONCURRENCY threads), each scope's streams in order, a failing scope named.

    One task per source, not per stream and scope: under `airflow dags test` the tasks run one at a time, and
    each Airflow task costs its own start-up, state writes and XComs (docs/airflow.md, Speed)."""
    context = get_current_context()
    context["extract_label"] = extract_label(planned["source"], planned["scopes"])
    ti = context["ti"]
    _drive(
        "extract",
        {"sources": [planned["source"]], "shared_extract": True},
        spool_as=f"{ti.task_id}-{ti.map_index}",
    )


@task(trigger_rule="none_failed", pool=POOL)
def check_landing() -> dict:
    """The landing gate; hands load the exact set of batches it passed. No source configured: fails (recorded as
    the step's failure), unless the run's param allow_no_source is set."""
    # the gates' Data Docs pages are drawn after publish (or by record_ops when the run fails), as `doraflow run`
    # does: they delay neither a gate's verdict nor the serving copy
    return _drive("check_landing", {"require_source": True, "docs_after_publish": True})


@task(pool=POOL, outlets=RAW_ASSETS)
def load(handoff: dict) -> dict:
    """Merge exactly the batches the landing gate passed into raw.* (emits the raw tables' Assets)."""
    return _drive("load", handoff)


@task(pool=POOL)
def transform(handoff: dict) -> dict:
    """dbt build (one dbt invocation, as the CLI: the service catalog file and dbt vars are read now)."""
    return _drive("transform", handoff)


@task(pool=POOL)
def source_freshness(handoff: dict) -> dict:
    """`dbt source freshness`, recorded in ops."""
    return _drive("source_freshness", handoff)


@task(pool=POOL)
def check_marts(handoff: dict) -> dict:
    """The marts gate; a critical failure stops the run before publish."""
    return _drive("check_marts", handoff)


@task(pool=POOL, outlets=PUBLISHED_ASSETS)
def publish(handoff: dict) -> dict:
    """Atomically replace the serving copy, Parquet exports and report; then announce the marts' Assets. Skipped
    (no Asset announced) when nothing changed since the publication in place (docs/airflow.md)."""
    return _drive("publish", handoff)


@task(trigger_rule="all_done", pool=POOL)
def record_ops() -> str:
    """Write this run's figures to ops (as `doraflow run` does); on failure, one alert listing the failed tasks."""
    from doraflow.airflow_notify import WebhookNotifier
    from doraflow.ops import RunRecorder, airflow_run_id, clear_spool
    from doraflow.pipeline import finish_run, render_gate_docs, run_outcome

    context = get_current_context()
    settings = af.settings_from_airflow()
    run_id = airflow_run_id(context["dag"].dag_id, context["run_id"])
    recorder = RunRecorder.from_spool(settings, run_id, "airflow")
    status, error = run_outcome(recorder)
    finish_run(settings, recorder, status, error, print, alert=False)
    if status != "success":
        render_gate_docs(settings, "landing", "marts")  # what the gates stored before the failure
        failed_steps = sorted({s.step for s in recorder.steps if s.status == "failed"})
        WebhookNotifier(error=error, steps=failed_steps)(context)
    clear_spool(settings, run_id)
    print(f"recorded run {run_id}: {status}")
    return run_id


@dag(
    dag_id="dora_nightly",
    schedule=_schedule(),
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["doraflow", "dora", "nightly"],
    doc_md=__doc__,
    params={
        "allow_no_source": Param(
            False,
            type="boolean",
            description="run even when no source is configured (rebuild from landed batches)",
        ),
    },  # fmt: skip
    default_args={
        "owner": "doraflow",
        "retries": af.task_retries(),
        "retry_delay": timedelta(minutes=2),
    },
)
def dora_nightly():
    extracts = [  # a task per source (named in alerts), its one instance named by its scopes in the UI
        extract.override(task_id=f"extract_{source}").expand(
            planned=plan_scopes.override(task_id=f"plan_{source}")(source)
        )
        for source in SOURCES
    ]
    checked = check_landing()
    extracts >> checked
    published = publish(check_marts(source_freshness(transform(load(checked)))))
    recorded = record_ops()
    published >> recorded
    # record_ops runs whatever happened (all_done); this leaf keeps the run failed when publish failed, and runs
    # when publish was skipped (nothing changed: the publication in place is of this build)
    [published, recorded] >> EmptyOperator(task_id="run_succeeded", trigger_rule="none_failed")


dora_nightly()
