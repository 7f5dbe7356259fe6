"""The pipeline, defined once: its steps, their order, what each reads and writes, and how a run is recorded.

    extract -> check landed batches -> load -> transform -> source freshness -> check marts -> publish

Two thin drivers run it: `run_pipeline` (the CLI: every step in this process, under the run lock) and the
Airflow DAG (dags/dora_nightly.py: one task per step, mapped per source for extract). Both call
`execute()` for every step, so a step is timed, recorded in `ops` and locked the same way whichever drives it.
A step hands the next what it needs in a `Handoff` (JSON, so Airflow passes it as an XCom): e.g. load merges
exactly the batches the landing gate passed. Each step imports its machinery when it runs, so `doraflow --help`
and DAG parsing stay fast and free of I/O.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from doraflow.config import Settings
from doraflow.errors import DoraflowError, PublishError, QualityGateError

Progress = Callable[[str], None]
SOURCE_NAMES = ("github", "jira", "pagerduty")
NO_SOURCE = (
    "no source configured: set the GITHUB_*, JIRA_* or PAGERDUTY_* variables (docs/configuration.md), or pass "
    "--allow-no-source to rebuild from the batches already landed"
)


@dataclass
class Handoff:
    """What a step hands the next ones (JSON-able: under Airflow it travels as an XCom)."""

    sources: list[str] | None = None  # limit the extract to these sources (None: every configured one)
    shared_extract: bool = False  # an Airflow extract task: shares the extract lock with its run's other ones
    allow_no_source: bool = False  # a run without any configured source is refused unless this is set
    checked_batches: list[str] | None = None  # file names of the landed batches the landing gate passed
    require_source: bool = (
        False  # the landing gate refuses a run with no source (Airflow: extract is its own tasks)
    )
    full_build: bool = False  # build even when nothing changed since the last build (`--full-build`)
    select: str | None = None  # build only these dbt nodes (`doraflow transform --select`): a partial build
    docs_after_publish: bool = False  # the gates' Data Docs are rendered after publish (run_pipeline)
    build_skipped: bool = False  # transform found nothing changed: the marts are the last build's

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Handoff:
        return cls(**{k: v for k, v in (data or {}).items() if k in cls.__dataclass_fields__})


# -- the steps --------------------------------------------------------------------------------------------------
def step_extract(settings: Settings, handoff: Handoff, progress: Progress = print):
    """Incremental extract of the configured sources (or the named ones) into landing batches."""
    sources = handoff.sources
    for line in settings.skipped_sources:
        progress(line)
    if sources:
        unknown = sorted(set(sources) - set(SOURCE_NAMES))
        if unknown:
            raise DoraflowError(
                f"unknown source(s) {', '.join(unknown)}: choose from {', '.join(SOURCE_NAMES)}"
            )
        unconfigured = [name for name in sources if name not in settings.configured_sources]
        if unconfigured:
            raise DoraflowError(
                f"source(s) {', '.join(unconfigured)} requested but not configured (see `doraflow --help`)"
            )
    elif not settings.configured_sources:
        require_a_source(settings, handoff, progress)
        return []
    from extractors import extract_sources

    return extract_sources(settings, sources or None, progress=progress)


def require_a_source(settings: Settings, handoff: Handoff, progress: Progress = print) -> None:
    """A run with no source would publish a stale copy as a new success: refused unless asked for."""
    if settings.configured_sources:
        return
    if not handoff.allow_no_source:
        raise DoraflowError(NO_SOURCE)
    progress(
        "no source is configured (--allow-no-source): nothing to extract, rebuilding from landed batches"
    )


@dataclass
class LandingGate:
    """The landing gate's verdict and the batches it judged (the only ones load may merge)."""

    result: Any  # doraflow.quality.QualityResult
    batches: list[Path] = field(default_factory=list)

    @property
    def checks(self):
        return self.result


def check_landing(
    settings: Settings, batches: list[Path] | None = None, progress: Progress = print, *, render: bool = True
) -> LandingGate:
    """Great Expectations on the given landed batches (default: every pending one); raises on a critical failure.

    `render=False`: the Data Docs pages are left to `render_gate_docs` (after publish), unless the gate fails."""
    from doraflow.quality import check_batches
    from doraflow.raw_loader import pending_batches

    batches = pending_batches(settings) if batches is None else batches
    result = check_batches(settings, batches, render=render)
    progress(f"checked {len(batches)} landed batch(es): {_quality_line(result)}")
    if not render and result.critical_failures:  # no publish follows: the failure's pages now
        render_gate_docs(settings, "landing")
    result.raise_for_critical()
    return LandingGate(result, batches)


def step_check_landing(settings: Settings, handoff: Handoff, progress: Progress = print) -> LandingGate:
    """The landing gate on the pending batches; hands load the exact set it passed."""
    if handoff.require_source:
        require_a_source(settings, handoff, progress)
    gate = check_landing(settings, progress=progress, render=not handoff.docs_after_publish)
    handoff.checked_batches = [path.name for path in gate.batches]
    return gate


def step_load(settings: Settings, handoff: Handoff, progress: Progress = print):
    """Merge into raw.* exactly the batches the landing gate passed (one transaction per batch).

    Without a handoff from the gate (`doraflow load` alone), the gate runs here first, on what is loaded.
    """
    from doraflow.raw_loader import load_pending_batches, pending_batches

    if handoff.checked_batches is None:
        gate = check_landing(settings, progress=progress)
        batches = gate.batches
    else:
        passed = set(handoff.checked_batches)
        pending = pending_batches(settings)
        batches = [path for path in pending if path.name in passed]
        later = len(pending) - len(batches)
        if later:
            progress(f"load: {later} batch(es) landed after the landing gate wait for the next run")
    return load_pending_batches(settings, progress=progress, batches=batches)


def step_transform(
    settings: Settings, handoff: Handoff, progress: Progress = print, run_id: str | None = None
):
    """dbt build: staging -> intermediate -> marts, with every dbt test. The marts are unchecked from here on.

    Skipped, in one line, when nothing changed since the last successful build (doraflow.transform.build_decision):
    the marts stay as built and the marts gate still checks them before publish.
    """
    from doraflow.ops import record_marts_event
    from doraflow.transform import TransformResult, build_decision, dbt_build

    if settings.transform_skip_unchanged and not handoff.full_build and not handoff.select:
        decision = build_decision(settings)
        progress(decision.line)
        if not decision.build:
            handoff.build_skipped = True
            return TransformResult(skipped=True)
    record_marts_event(settings, "building", run_id)
    return dbt_build(settings, select=handoff.select, progress=progress, run_id=run_id)


def step_source_freshness(settings: Settings, handoff: Handoff, progress: Progress = print):
    """The sources' freshness rules on the raw tables: recorded in ops.dbt_source_freshness, never stops the run.

    The rules are dbt's (the sources' YAML), evaluated in SQL as `dbt source freshness` does (doraflow.freshness),
    without dbt's start-up.
    """
    from doraflow.freshness import source_freshness

    rows = source_freshness(settings)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    stale = [f"{row['source']}.{row['table']}" for row in rows if row["status"] in ("warn", "error")]
    progress(
        "source freshness: "
        + (", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no source table")
        + (f" (stale: {', '.join(stale[:5])})" if stale else "")
    )
    return rows


def step_check_marts(
    settings: Settings, handoff: Handoff, progress: Progress = print, run_id: str | None = None
):
    """Great Expectations on the marts; records the verdict publish requires, stops the run on a critical failure.

    Not run again, in one line, when this run's build was skipped and the gate already passed these very marts
    (`marts_already_passed`): the gate's log stays as it was, so publish's rule is unchanged. After a partial
    build, only the marts it rebuilt (`marts_gate_scope`).
    """
    from doraflow.ops import record_marts_event
    from doraflow.quality import QualityResult, check_marts

    if handoff.build_skipped:
        line = marts_already_passed(settings)
        if line:
            progress(line)
            return QualityResult()
    marts, line = marts_gate_scope(settings)
    if line:
        progress(line)
    later = handoff.docs_after_publish
    result = check_marts(settings, marts=marts, render=not later)
    progress(f"checked marts: {_quality_line(result)}")
    record_marts_event(settings, "failed" if result.critical_failures else "passed", run_id)
    if later and result.critical_failures:  # no publish follows: the failure's pages now
        render_gate_docs(settings, "marts")
    result.raise_for_critical()
    return result


def render_gate_docs(settings: Settings, *gates: str) -> None:
    """The gates' Data Docs pages of the runs they stored and did not render (`Handoff.docs_after_publish`)."""
    from doraflow.quality.gx_store import render_docs

    for gate in gates:
        render_docs(settings, gate)


def marts_gate_scope(settings: Settings) -> tuple[list[str] | None, str | None]:
    """The marts the gate checks (None: all of them) and the line saying which it left as they were.

    Every mart, unless the latest build was partial (`doraflow transform --select`) and the gate's verdict just
    before that build was a pass: then the marts that build rebuilt (ops.dbt_builds keeps the tables a partial
    build made), with the gate's own rules on them; the others are the marts that pass covered, untouched since.
    A pass of those is therefore a pass of every mart, which is what publish and a later skipped build rely on
    (`marts_already_passed`); when the gate had not passed the marts before the partial build (a failure, a
    build killed half-way, no verdict yet), it checks them all.
    """
    from doraflow.ops import latest_build, marts_events_before
    from doraflow.quality.marts import read_contract

    build = latest_build(settings)
    if build is None or build["status"] != "partial" or build["outputs"] is None:
        return None, None
    before = marts_events_before(settings, build["started_at"], limit=2)
    if before and before[0][0] == "building":  # that build's own event (step_transform records it first)
        before = before[1:]
    names = [contract.name for contract in read_contract()]
    rebuilt = [name for name in names if f"marts.{name}" in build["outputs"]]
    when = f"{build['started_at']:%Y-%m-%d %H:%M:%S} UTC"
    if not before or before[0][0] != "passed":
        state = "never checked" if not before else {"failed": "failed", "building": "rebuilt"}[before[0][0]]
        return None, (
            f"marts gate: checking every mart: the partial build at {when} rebuilt "
            f"{', '.join(rebuilt) or 'no mart'}, and before it the marts were {state}, not passed"
        )
    left = [name for name in names if name not in rebuilt]
    return rebuilt, (
        f"marts gate: checking the marts the partial build at {when} rebuilt: {', '.join(rebuilt) or 'none'};"
        f" left as they were (passed the gate at {before[0][1]:%Y-%m-%d %H:%M:%S} UTC): {', '.join(left) or 'none'}"
    )


def marts_already_passed(settings: Settings) -> str | None:
    """The line saying the marts gate need not run again, or None when it must.

    Only after a skipped build (nothing changed since the last successful build, its marts' row counts as it
    left them): the gate's latest event must be "passed" (every build records "building" before it starts, so
    no build ran since) and no older than the last successful build. The marts' contract is part of the dbt
    project the build decision hashes, so a changed contract builds, and checks, again.
    """
    from doraflow.ops import latest_build, latest_marts_event

    event, build = latest_marts_event(settings), latest_build(settings)
    if event is None or event[0] != "passed" or build is None or build["status"] != "success":
        return None
    if event[1] < build["started_at"]:
        return None
    return (
        f"marts gate skipped: the build was skipped and these marts passed the gate at "
        f"{event[1]:%Y-%m-%d %H:%M:%S} UTC (run {event[2]}); publish still requires that pass"
    )


def step_publish(settings: Settings, handoff: Handoff, progress: Progress = print, run_recorder=None):
    """Atomically publish the serving copy, the Parquet exports and the HTML report, of marts that passed the gate.

    With `run_recorder` (a doraflow.ops.RunRecorder), the run's figures so far are first written to ops as
    succeeded, so the serving copy's `marts.pipeline_runs` includes the run that published it. That is true of
    every copy a reader can see: the copy replaces the old one only when publish succeeds, and the run's final
    figures (publish included, or the failure) replace these rows when the run ends.

    Skipped, in one line, when this run's build was skipped and the publication in place was made from that very
    build, for today's report day and settings (`doraflow.publish.current_publication`): it would be rebuilt
    identical, but for the runs its `marts.pipeline_runs` lists (the working warehouse's ops has them all).
    """
    from doraflow.publish import PublishResult, current_publication, publish
    from doraflow.regressions import report_regressions

    require_checked_marts(settings)
    record = None
    if handoff.build_skipped and not handoff.full_build:
        from doraflow.ops import latest_build

        build = latest_build(settings)
        record = current_publication(settings, build)
    try:
        if record is not None:
            progress(
                f"publish skipped: the serving copy, exports and report are those of the build at "
                f"{build['started_at']:%Y-%m-%d %H:%M:%S} UTC (published at {record['published_at']}), and "
                f"the marts, report day and report settings are unchanged since"
            )
            result = PublishResult(
                serving_path=settings.serving_path,
                exports_dir=settings.exports_dir,
                report_path=settings.report_path,
                row_counts=record["row_counts"],
                source=settings.warehouse_target,
                skipped=True,
            )
        else:
            if run_recorder is not None:
                run_recorder.finish("success")
            result = publish(settings, progress=progress)
    finally:
        if handoff.docs_after_publish:  # in publish's shadow: the gates' pages never delay the serving copy
            render_gate_docs(settings, "landing", "marts")
    report_regressions(settings, progress=progress)  # the feedback loop: a slide against the baseline is said
    return result


def require_checked_marts(settings: Settings) -> None:
    """Refuse to publish marts the marts gate has not passed since they were last built."""
    from doraflow.ops import latest_marts_event

    latest = latest_marts_event(settings)
    if latest is not None and latest[0] == "passed":
        return
    if latest is None:
        state = "the marts gate has never passed on this warehouse"
    elif latest[0] == "failed":
        state = f"the marts failed the marts gate at {latest[1]:%Y-%m-%d %H:%M:%S} UTC"
    else:
        state = f"the marts were rebuilt at {latest[1]:%Y-%m-%d %H:%M:%S} UTC and not checked since"
    raise PublishError(
        f"not publishing: {state}; run `doraflow check marts` (or a full `doraflow run`) and publish when it passes"
    )


def _quality_line(result) -> str:
    return f"{len(result.critical_failures)} critical failure(s), {len(result.warnings)} warning(s)"


@dataclass(frozen=True)
class Step:
    """One step of the pipeline: the one place its name, function, inputs and outputs are defined."""

    name: str  # as recorded in ops.step_runs and printed ("== load")
    task_id: str  # its Airflow task
    function: Callable[..., Any]
    reads: str
    writes: str
    holds_warehouse: bool  # writes (or locks) the warehouse: one at a time, under the run lock and the pool
    records: str | None = None  # what of its result goes to ops: "streams", "checks" or "freshness"


STEPS: tuple[Step, ...] = (
    Step("extract", "extract", step_extract, "source APIs, the landed batches' state", "landing batches", False,
         "streams"),
    Step("check landed batches", "check_landing", step_check_landing, "pending landed batches",
         "ops check results", True, "checks"),
    Step("load", "load", step_load, "the batches the landing gate passed", "raw.*", True),
    Step("transform", "transform", step_transform, "raw.*, the service catalog file",
         "raw.service_catalog, staging, intermediate, marts", True),
    Step("source freshness", "source_freshness", step_source_freshness, "raw.*",
         "ops.dbt_source_freshness", True, "freshness"),
    Step("check marts", "check_marts", step_check_marts, "marts.*", "ops check results, the marts gate", True,
         "checks"),
    Step("publish", "publish", step_publish, "marts.* that passed the gate",
         "serving copy, Parquet exports, HTML report", True),
)  # fmt: skip
STEP = {step.task_id: step for step in STEPS}


# -- running and recording a step (both drivers) ----------------------------------------------------------------
def execute(
    step: Step,
    settings: Settings,
    handoff: Handoff,
    recorder,
    progress: Progress = print,
    *,
    run_recorder=None,
):
    """Run one step: under the run lock when it holds the warehouse, timed, its figures added to `recorder`.

    `run_recorder` is the whole run's recorder (publish writes it before swapping the copy in); `run_pipeline`
    passes the same object as `recorder`, an Airflow task its own recorder and the one rebuilt from the spool.
    """
    from doraflow.warehouse import ensure_writable, extract_lock, run_lock

    progress(f"== {step.name}")
    started = datetime.now(UTC)
    clock = time.monotonic()
    kwargs: dict[str, Any] = {"progress": progress}
    if step.function in (step_transform, step_check_marts):
        kwargs["run_id"] = recorder.run_id
    if step.function is step_publish:
        kwargs["run_recorder"] = run_recorder  # None for a publish run alone: it is no pipeline run
    try:
        if step.holds_warehouse:
            with run_lock(settings, recorder.run_id):
                # a held, read-only or unreachable warehouse: one line, before any work
                ensure_writable(settings)
                result = step.function(settings, handoff, **kwargs)
        elif step.function is step_extract:
            # Airflow's mapped extract tasks share the extract lock; a run, or `doraflow extract`, holds it alone
            with extract_lock(settings, recorder.run_id, shared=handoff.shared_extract):
                result = step.function(settings, handoff, **kwargs)
        else:
            result = step.function(settings, handoff, **kwargs)
    except Exception as error:
        recorder.record_step(step.name, started, datetime.now(UTC), "failed", {"error": str(error)})
        if isinstance(error, QualityGateError) and getattr(error, "result", None) is not None:
            recorder.record_checks(error.result)  # the failed gate's checks stay queryable in ops
        raise
    recorder.record_step(step.name, started, datetime.now(UTC), "success")
    if step.records == "streams":
        recorder.record_streams(result)
    elif step.records == "checks":
        recorder.record_checks(result.checks if isinstance(result, LandingGate) else result)
    elif step.records == "freshness":
        recorder.record_freshness(result)
    recorder.seconds[step.name] = recorder.seconds.get(step.name, 0.0) + round(time.monotonic() - clock, 3)
    return result


def run_outcome(recorder) -> tuple[str, str | None]:
    """(status, error) of a run from its recorded steps: success only when publish succeeded and nothing failed."""
    failed = [s for s in recorder.steps if s.status == "failed"]
    if failed:
        return "failed", f"{failed[0].step}: {(failed[0].detail or {}).get('error', 'failed')}"
    if not any(s.step == STEP["publish"].name and s.status == "success" for s in recorder.steps):
        return "failed", "the run stopped before publish (an earlier step failed or was skipped)"
    return "success", None


def finish_run(
    settings: Settings,
    recorder,
    status: str,
    error: str | None,
    progress: Progress = print,
    *,
    alert: bool = True,
) -> tuple[str, str | None]:
    """Write the run's record to ops; when the warehouse itself fails, a line in the run log beside it instead.

    On failure, the alert goes out whatever happened to the record (`alert=False`: the caller sends it, as the
    DAG's notifier does). Returns the final (status, error).
    """
    from doraflow.notify import on_failure
    from doraflow.warehouse import run_lock

    try:
        with run_lock(settings, recorder.run_id):
            recorder.finish(status, error=error)
    except Exception as record_error:  # noqa: BLE001 - the warehouse is the problem: say so beside it
        from doraflow.warehouse import describe_open_error

        cause = (
            str(record_error)
            if isinstance(record_error, DoraflowError)
            else describe_open_error(settings, record_error)
        )
        log_line(settings, recorder.run_id, status, error, f"not recorded in ops: {cause}")
        if error is None:
            error = f"the run could not be recorded: {cause}"
            status = "failed"
    if status != "success" and alert:
        on_failure(f"doraflow run {recorder.run_id} failed: {error}", settings=settings)
    return status, error


RUN_LOG = "doraflow-runs.log"


def log_line(settings: Settings, run_id: str, status: str, error: str | None, note: str = "") -> None:
    """Append one line to the run log beside the warehouse (used when ops cannot be written)."""
    line = " | ".join(
        part
        for part in (datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), run_id, status, error or "", note)
        if part
    )
    try:
        settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
        with open(settings.warehouse_dir / RUN_LOG, "a", encoding="utf-8") as log:
            log.write(" ".join(line.split()) + "\n")
    except OSError:
        pass  # a read-only or full folder: the alert and the one-line error still say it


# -- the CLI's driver -------------------------------------------------------------------------------------------
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
    allow_no_source: bool = False,
    full_build: bool = False,
) -> PipelineRun:
    """Run every step in order, in this process, under the run lock, and record the run in `ops`.

    On failure the error is recorded, the notification hook is called and the error is raised again;
    nothing after the failing step runs, so the published serving copy stays the previous good one.
    """
    from doraflow.ops import RunRecorder
    from doraflow.warehouse import ensure_writable, run_lock

    recorder = RunRecorder(settings, trigger=trigger)
    run = PipelineRun(run_id=recorder.run_id)
    handoff = Handoff(
        sources=list(sources) if sources else None,
        allow_no_source=allow_no_source,
        full_build=full_build,
        docs_after_publish=True,
    )
    results: dict[str, Any] = {}
    try:
        with run_lock(settings, recorder.run_id):
            ensure_writable(settings)
            if not settings.configured_sources and not allow_no_source:
                raise DoraflowError(NO_SOURCE)
            for abandoned in recorder.start():
                progress(f"run {abandoned} did not finish (killed?): recorded as abandoned")
            try:
                for step in STEPS:
                    results[step.task_id] = execute(
                        step, settings, handoff, recorder, progress, run_recorder=recorder
                    )
            except Exception as error:
                run.status, run.error = "failed", str(error)
                finish_run(settings, recorder, "failed", str(error), progress)
                render_gate_docs(settings, "landing", "marts")  # what the gates stored before the failure
                raise
            run.status = "success"
            finish_run(settings, recorder, "success", None, progress)
    except Exception as error:
        if (
            run.status == "running"
        ):  # failed before any step: lock held elsewhere, warehouse unusable, no source
            run.status, run.error = "failed", str(error)
            log_line(settings, recorder.run_id, "failed", str(error))
            from doraflow.notify import on_failure

            on_failure(f"doraflow run {recorder.run_id} failed: {error}", settings=settings)
        raise
    finally:
        run.steps = dict(recorder.seconds)
    run.stream_results = results.get("extract") or []
    run.load_result = results.get("load")
    run.transform_result = results.get("transform")
    run.publish_result = results.get("publish")
    return run


def run_step(task_id: str, settings: Settings, progress: Progress = print, handoff: Handoff | None = None):
    """One step on its own (`doraflow load`, `doraflow publish`, ...): locked and gated as in a run.

    Its timing is not a run's, so it is not written to ops.pipeline_runs; the gates' verdicts are (marts gate).
    """
    from doraflow.ops import RunRecorder

    return execute(
        STEP[task_id], settings, handoff or Handoff(), RunRecorder(settings, trigger="cli"), progress
    )
