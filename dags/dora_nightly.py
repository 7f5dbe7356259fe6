"""dora_nightly: extract -> check landed batches -> load -> dbt build -> check marts -> publish -> record ops.

Thin: every task calls the library (extractors, doraflow.pipeline, doraflow.ops); parsing this file does no
network or warehouse I/O. Parse-time values come from the environment only:
  DORA_NIGHTLY_SCHEDULE (cron, default "0 2 * * *"; the Airflow Variable `dora_nightly_schedule` wins
  when set and readable), DORA_TIMEZONE (IANA zone of the cron, default UTC), WAREHOUSE_PATH /
  WAREHOUSE_TARGET (where dbt writes; use an absolute WAREHOUSE_PATH under Airflow). Credentials are
  read inside tasks from the Connections `github`, `jira`, `pagerduty`
  (falling back to the CLI's environment variables). Every task that writes the warehouse runs in the
  pool `dora_warehouse` (one slot): `airflow pools set dora_warehouse 1 "doraflow single DuckDB writer"`.

Logical date: the extractors are incremental (a watermark per stream and scope, kept in the landed
batches), so a run extracts everything new since the last landed state, whatever its logical date; a
backfill over a date range therefore re-runs the incremental pipeline once per date (idempotent: the
loader merges by natural key). See docs/airflow.md.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import Asset, dag, get_current_context, task
from airflow.timetables.trigger import CronTriggerTimetable

from doraflow import airflow_settings as af
from doraflow.notify import on_failure
from extractors.streams import SOURCES, STREAMS

POOL = af.WAREHOUSE_POOL
RAW_ASSETS = [Asset(f"duckdb://warehouse/raw.{spec.table}") for spec in STREAMS]
PLANNED = [spec for spec in STREAMS if spec.planned]
STEP_NAMES = {  # the same step names the CLI records (doraflow.pipeline.run_pipeline)
    "check_landing": "check landed batches",
    "load": "load",
    "check_marts": "check marts",
    "publish": "publish",
}


def _schedule() -> CronTriggerTimetable:
    cron = af.schedule()
    try:  # the Variable is optional; without a metadata DB (tests, first parse) the env value stays
        from airflow.sdk import Variable

        cron = Variable.get(af.SCHEDULE_VARIABLE, default=None) or cron
    except Exception:  # noqa: BLE001
        pass
    return CronTriggerTimetable(cron, timezone=af.timezone_name())


def _run_id(context) -> str:
    from doraflow.ops import airflow_run_id

    return airflow_run_id(context["dag"].dag_id, context["run_id"])


def _timed(name: str, function, *, checks_of_error: bool = False):
    """Run `function(settings)` and spool the step's timing (and checks) for the record_ops task."""
    from datetime import UTC

    from doraflow.ops import spool

    context = get_current_context()
    settings = af.settings_from_airflow()
    run_id = _run_id(context)
    ti = context["ti"]
    spool_name = ti.task_id + (f"-{ti.map_index}" if ti.map_index not in (None, -1) else "")
    started = datetime.now(UTC)
    run_started = context["dag_run"].start_date if context.get("dag_run") else None
    try:
        result = function(settings)
    except Exception as error:
        spool(
            settings,
            run_id,
            spool_name,
            step={"step": name, "started_at": started, "finished_at": datetime.now(UTC),
                  "status": "failed", "detail": {"error": str(error)}},
            checks=getattr(error, "result", None) if checks_of_error else None,
            run_started_at=run_started,
        )  # fmt: skip
        raise
    return settings, run_id, spool_name, started, run_started, result


def _spool_success(settings, run_id, spool_name, name, started, run_started, **figures) -> None:
    from datetime import UTC

    from doraflow.ops import spool

    step = {"step": name, "started_at": started, "finished_at": datetime.now(UTC), "status": "success"}
    spool(settings, run_id, spool_name, step=step, run_started_at=run_started, **figures)


@task
def plan_scopes(source: str) -> list[str]:
    """The scopes (repositories, projects, account) of one configured source: ids only, no secrets.

    An unconfigured source plans no scope: its mapped extract tasks are skipped.
    """
    from extractors import plan_streams

    settings = af.settings_from_airflow()
    for line in settings.skipped_sources:
        print(line)
    if source not in settings.configured_sources:
        return []
    return list(dict.fromkeys(t.scope for t in plan_streams(settings, [source])))


@task(
    retries=af.extract_retries(),
    retry_delay=timedelta(seconds=30),
    retry_exponential_backoff=True,
    max_retry_delay=timedelta(minutes=10),
)
def extract_stream(source: str, stream: str, scope: str) -> dict[str, int | str]:
    """Extract one stream of one scope into landing batches (writes landing files only)."""
    from extractors import extract_stream as extract

    name = f"extract {source} {stream} {scope}"
    settings, run_id, spool_name, started, run_started, result = _timed(
        name, lambda s: extract(s, {"source": source, "stream": stream, "scope": scope})
    )
    _spool_success(settings, run_id, spool_name, name, started, run_started, streams=[result])
    return {"source": source, "stream": stream, "scope": scope, "requests": result.requests,
            "records": result.records, "batches": result.batches}  # fmt: skip


@task(trigger_rule="none_failed", pool=POOL)
def check_landing() -> dict[str, int]:
    """Great Expectations on the landed batches not merged yet; critical failures stop the run here."""
    from doraflow.pipeline import step_check_landing

    name = STEP_NAMES["check_landing"]
    settings, run_id, spool_name, started, run_started, result = _timed(
        name, step_check_landing, checks_of_error=True
    )
    _spool_success(settings, run_id, spool_name, name, started, run_started, checks=result)
    return {"critical_failures": len(result.critical_failures), "warnings": len(result.warnings)}


@task(pool=POOL, outlets=RAW_ASSETS)
def load() -> dict[str, int]:
    """Merge the landed batches into raw.*, then the service catalog file (emits the raw tables' Assets)."""
    from doraflow.pipeline import step_load
    from doraflow.service_catalog import write_service_catalog

    def load_raw_layer(settings):
        result = step_load(settings)
        # dbt runs under cosmos here, not through doraflow.transform.dbt_build, which writes it otherwise
        write_service_catalog(settings)
        return result

    name = STEP_NAMES["load"]
    settings, run_id, spool_name, started, run_started, result = _timed(name, load_raw_layer)
    _spool_success(settings, run_id, spool_name, name, started, run_started)
    figures = {k: v for k, v in vars(result).items() if isinstance(v, int) and not isinstance(v, bool)}
    return figures


@task(pool=POOL)
def check_marts() -> dict[str, int]:
    """Great Expectations on the marts; a critical failure stops the run before publish."""
    from doraflow.pipeline import step_check_marts

    name = STEP_NAMES["check_marts"]
    settings, run_id, spool_name, started, run_started, result = _timed(
        name, step_check_marts, checks_of_error=True
    )
    _spool_success(settings, run_id, spool_name, name, started, run_started, checks=result)
    return {"critical_failures": len(result.critical_failures), "warnings": len(result.warnings)}


@task(pool=POOL)
def publish() -> str:
    """Atomically replace the serving copy, Parquet exports and report (its pipeline_runs shows this run)."""
    from doraflow.ops import RunRecorder
    from doraflow.pipeline import step_publish

    def publish_this_run(settings):
        run_recorder = RunRecorder.from_spool(settings, _run_id(get_current_context()), "airflow")
        return step_publish(settings, run_recorder)

    name = STEP_NAMES["publish"]
    settings, run_id, spool_name, started, run_started, _ = _timed(name, publish_this_run)
    _spool_success(settings, run_id, spool_name, name, started, run_started)
    return str(settings.serving_path)


@task(trigger_rule="all_done", pool=POOL)
def record_ops() -> str:
    """Write this run's figures (streams, steps, checks, freshness) to ops.* in one transaction."""
    from doraflow.ops import RunRecorder, clear_spool

    context = get_current_context()
    settings = af.settings_from_airflow()
    run_id = _run_id(context)
    recorder = RunRecorder.from_spool(settings, run_id, "airflow")
    published = any(s.step == STEP_NAMES["publish"] and s.status == "success" for s in recorder.steps)
    failed = [s for s in recorder.steps if s.status == "failed"]
    error = None
    if failed:
        error = f"{failed[0].step}: {(failed[0].detail or {}).get('error', 'failed')}"
    elif not published:
        error = "the run stopped before publish (an upstream task failed or was skipped)"
    status = "success" if published and not failed else "failed"
    recorder.finish(status, error=error)
    clear_spool(settings, run_id)
    print(f"recorded run {run_id}: {status}")
    return run_id


def dbt_task_group():
    """dbt build as Airflow tasks (astronomer-cosmos), in the warehouse pool.

    The graph comes from `dbt ls` (refs inside macros, e.g. dora_metrics, need dbt's own parser). Cosmos
    would cache that listing in an Airflow Variable, i.e. write the metadata DB while parsing: off
    unless the deployment turns it on (AIRFLOW__COSMOS__ENABLE_CACHE_DBT_LS).
    """
    import os

    os.environ.setdefault("AIRFLOW__COSMOS__ENABLE_CACHE_DBT_LS", "False")
    os.environ.setdefault("AIRFLOW__COSMOS__ENABLE_TELEMETRY", "False")  # no calls home from tasks
    from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
    from cosmos.constants import InvocationMode, LoadMode, TestBehavior

    from doraflow.airflow_settings import dbt_parse_settings

    project_dir, env_vars, dbt_vars, target = dbt_parse_settings()
    return DbtTaskGroup(
        group_id="dbt_build",
        project_config=ProjectConfig(
            project_dir, env_vars=env_vars, dbt_vars=dbt_vars, install_dbt_deps=False
        ),
        profile_config=ProfileConfig(
            profile_name="doraflow", target_name=target, profiles_yml_filepath=project_dir / "profiles.yml"
        ),
        # dbt in a subprocess of the task (same venv, `dbt` on PATH): no DuckDB connection outlives the task's
        # dbt call, so later tasks sharing the process (`airflow dags test`) can open the warehouse
        execution_config=ExecutionConfig(invocation_mode=InvocationMode.SUBPROCESS),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_LS,
            test_behavior=TestBehavior.BUILD,
            should_detach_multiple_parents_tests=True,  # relationships tests run after both models
        ),
        operator_args={"pool": POOL, "install_deps": False},
        default_args={"retries": 0},
    )


@dag(
    dag_id="dora_nightly",
    schedule=_schedule(),
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["doraflow", "dora", "nightly"],
    doc_md=__doc__,
    default_args={
        "owner": "doraflow",
        "retries": af.task_retries(),
        "retry_delay": timedelta(minutes=2),
        "on_failure_callback": on_failure,
    },
)
def dora_nightly():
    scopes = {source: plan_scopes.override(task_id=f"plan_{source}")(source) for source in SOURCES}
    extracts = {}
    for spec in PLANNED:  # one mapped task per source and stream, one instance per scope
        extracts[spec.source, spec.name] = (
            extract_stream.override(task_id=f"extract_{spec.table}")
            .partial(source=spec.source, stream=spec.name)
            .expand(scope=scopes[spec.source])
        )
    for spec in PLANNED:
        for parent in spec.depends_on:
            extracts[spec.source, parent] >> extracts[spec.source, spec.name]
    checked = check_landing()
    list(extracts.values()) >> checked
    loaded = load()
    dbt = dbt_task_group()
    marts_checked = check_marts()
    published = publish()
    recorded = record_ops()
    checked >> loaded >> dbt >> marts_checked >> published >> recorded
    # record_ops runs whatever happened (all_done); this leaf keeps the run failed when publish did not run
    [published, recorded] >> EmptyOperator(task_id="run_succeeded")


dora_nightly()
