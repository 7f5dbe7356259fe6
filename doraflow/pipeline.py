"""The pipeline: extract -> check landed batches -> load -> dbt build -> check marts -> publish.

The CLI and the Airflow DAGs call these same step functions. Each step imports its machinery when it
runs, so `doraflow --help` and DAG parsing stay fast and free of I/O. Only one step at a time writes
the warehouse; extraction writes landing files only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from doraflow.config import Settings
from doraflow.errors import DoraflowError, QualityGateError

Progress = Callable[[str], None]


def step_extract(settings: Settings, sources: Sequence[str] | None = None, progress: Progress = print):
    """Incremental extract of the configured sources (or the named ones) into landing batches."""
    for line in settings.skipped_sources:
        progress(line)
    if sources:
        unknown = sorted(set(sources) - {"github", "jira", "pagerduty"})
        if unknown:
            raise DoraflowError(
                f"unknown source(s) {', '.join(unknown)}: choose from github, jira, pagerduty"
            )
        unconfigured = [name for name in sources if name not in settings.configured_sources]
        if unconfigured:
            raise DoraflowError(
                f"source(s) {', '.join(unconfigured)} requested but not configured (see `doraflow --help`)"
            )
    elif not settings.configured_sources:
        progress("no source is configured: nothing to extract (try `doraflow demo`)")
        return []
    from extractors import extract_sources

    return extract_sources(settings, sources or None, progress=progress)


def step_check_landing(settings: Settings, progress: Progress = print):
    """Great Expectations on the landed batches not merged yet; stops the run on a critical failure."""
    from doraflow.quality import check_batches
    from doraflow.raw_loader import pending_batches

    batches = pending_batches(settings)
    result = check_batches(settings, batches)
    progress(f"checked {len(batches)} landed batch(es): {_quality_line(result)}")
    result.raise_for_critical()
    return result


def step_load(settings: Settings, progress: Progress = print):
    """Merge the landed batches into raw.* (one transaction per batch)."""
    from doraflow.raw_loader import load_pending_batches

    return load_pending_batches(settings, progress=progress)


def step_transform(settings: Settings, progress: Progress = print):
    """dbt build: staging -> intermediate -> marts, with every dbt test."""
    from doraflow.transform import dbt_build

    return dbt_build(settings, progress=progress)


def step_check_marts(settings: Settings, progress: Progress = print):
    """Great Expectations on the marts; stops the run before publish on a critical failure."""
    from doraflow.quality import check_marts

    result = check_marts(settings)
    progress(f"checked marts: {_quality_line(result)}")
    result.raise_for_critical()
    return result


def step_publish(settings: Settings, run_recorder=None, progress: Progress = print):
    """Atomically publish the serving copy, the Parquet exports and the HTML report.

    With `run_recorder` (a doraflow.ops.RunRecorder), the run's figures so far are first written to ops as
    succeeded, so the serving copy's `marts.pipeline_runs` includes the run that published it. That is true of
    every copy a reader can see: the copy replaces the old one only when publish succeeds, and the run's final
    figures (publish included, or the failure) replace these rows when the run ends.
    """
    from doraflow.publish import publish

    if run_recorder is not None:
        run_recorder.finish("success")

    return publish(settings, progress=progress)


def _quality_line(result) -> str:
    return f"{len(result.critical_failures)} critical failure(s), {len(result.warnings)} warning(s)"


@dataclass
class PipelineRun:
    run_id: str
    status: str = "running"
    error: str | None = None
    steps: dict[str, float] = field(default_factory=dict)  # step name -> seconds
    stream_results: list = field(default_factory=list)
    load_result: object | None = None
    transform_result: object | None = None
    publish_result: object | None = None


def run_pipeline(
    settings: Settings,
    sources: Sequence[str] | None = None,
    *,
    trigger: str = "cli",
    progress: Progress = print,
) -> PipelineRun:
    """Run every step in order and record the run's own figures in `ops`.

    On failure the error is recorded, the notification hook is called and the error is raised again;
    nothing after the failing step runs, so the published serving copy stays the previous good one.
    """
    from doraflow.notify import on_failure
    from doraflow.ops import RunRecorder

    recorder = RunRecorder(settings, trigger=trigger)
    run = PipelineRun(run_id=recorder.run_id)

    def timed(name: str, function, *args):
        progress(f"== {name}")
        started = datetime.now(UTC)
        clock = time.monotonic()
        try:
            result = (
                function(settings, *args, progress=progress)
                if args
                else function(settings, progress=progress)
            )
        except Exception as error:
            recorder.record_step(name, started, datetime.now(UTC), "failed", {"error": str(error)})
            if isinstance(error, QualityGateError) and getattr(error, "result", None) is not None:
                recorder.record_checks(error.result)  # the failed gate's checks stay queryable in ops
            raise
        run.steps[name] = round(time.monotonic() - clock, 3)
        recorder.record_step(name, started, datetime.now(UTC), "success")
        return result

    try:
        run.stream_results = timed("extract", step_extract, sources)
        recorder.record_streams(run.stream_results)
        recorder.record_checks(timed("check landed batches", step_check_landing))
        run.load_result = timed("load", step_load)
        run.transform_result = timed("transform", step_transform)
        recorder.record_checks(timed("check marts", step_check_marts))
        run.publish_result = timed("publish", step_publish, recorder)
    except Exception as error:
        run.status, run.error = "failed", str(error)
        recorder.finish("failed", error=str(error))
        on_failure(f"doraflow run {run.run_id} failed: {error}", settings=settings)
        raise
    run.status = "success"
    recorder.finish("success")
    return run
