"""The pipeline's own figures: one run's streams, steps, checks and source freshness, in `ops`.

`RunRecorder` collects a run's figures in memory and `finish()` writes them in one transaction (the
recorder is one of the warehouse's single writers: it runs after the other writing steps). Re-running
`finish()` for the same run id replaces that run's rows, so a retried Airflow task stays idempotent.
Airflow tasks run in separate processes: each records its step into its own recorder (doraflow.pipeline.execute,
as the CLI does), spools it to a JSON file under `<warehouse>/ops_spool/<run_id>/` (`RunRecorder.spool`), and the
last task rebuilds the run's recorder with `from_spool()`.
The dbt model `marts.pipeline_runs` (dbt_project/models/ops/) is a view over these tables.
"""

from __future__ import annotations

import json
import re
import shutil
import uuid
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

TRIGGERS = ("cli", "demo", "airflow")

# The canonical DDL of the ops tables (portable between DuckDB and PostgreSQL). The dbt model
# dbt_project/models/ops/pipeline_runs.sql repeats it as a pre-hook so the view builds on a fresh
# warehouse; tests/test_ops.py keeps the two identical.
DDL = (
    "create schema if not exists ops",
    "create table if not exists ops.pipeline_runs (run_id varchar primary key, trigger varchar,"
    " status varchar, error varchar, started_at timestamptz, finished_at timestamptz,"
    " duration_seconds double precision)",
    "create table if not exists ops.stream_runs (run_id varchar, source varchar, stream varchar,"
    " scope varchar, requests bigint, not_modified bigint, pages bigint, records bigint, batches bigint,"
    " elapsed_seconds double precision)",
    "alter table ops.stream_runs add column if not exists graphql_points bigint",
    "create table if not exists ops.step_runs (run_id varchar, step varchar, started_at timestamptz,"
    " finished_at timestamptz, duration_seconds double precision, status varchar, detail varchar)",
    "create table if not exists ops.check_results (run_id varchar, checked_at timestamptz, suite varchar,"
    " expectation varchar, table_name varchar, column_name varchar, severity varchar, success boolean,"
    " failing_count bigint, observed_value double precision, sample varchar)",
    "create table if not exists ops.source_freshness (run_id varchar, table_name varchar, source varchar,"
    " row_count bigint, latest_extracted_at timestamptz, age_hours double precision)",
    "create table if not exists ops.dbt_source_freshness (run_id varchar, source varchar, table_name varchar,"
    " status varchar, max_loaded_at varchar, age_seconds double precision)",
    "create table if not exists ops.marts_gate (event_at timestamptz, event varchar, run_id varchar)",
)
TABLES = (
    "pipeline_runs",
    "stream_runs",
    "step_runs",
    "check_results",
    "source_freshness",
    "dbt_source_freshness",
)
ABANDONED = "abandoned"


def _now() -> datetime:
    return datetime.now(UTC)


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value))


def new_run_id(trigger: str, now: datetime | None = None) -> str:
    now = now or _now()
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{trigger}-{uuid.uuid4().hex[:8]}"


def airflow_run_id(dag_id: str, dag_run_id: str) -> str:
    """A stable run id for an Airflow DAG run (the same on every retry of its tasks)."""
    return "airflow-" + re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{dag_id}-{dag_run_id}")


@dataclass
class _Step:
    step: str
    started_at: datetime
    finished_at: datetime
    status: str
    detail: dict | None = None


@dataclass
class RunRecorder:
    """Collects one run's figures; `finish()` writes them in one transaction."""

    settings: Any
    trigger: str
    run_id: str = ""
    started_at: datetime = field(default_factory=_now)
    streams: list[dict[str, Any]] = field(default_factory=list)
    steps: list[_Step] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    freshness: list[dict[str, Any]] = field(default_factory=list)  # `dbt source freshness`, one row per table
    seconds: dict[str, float] = field(default_factory=dict)  # step name -> seconds, for the caller

    def __post_init__(self) -> None:
        if self.trigger not in TRIGGERS:
            raise ValueError(f"trigger must be one of {', '.join(TRIGGERS)}, got {self.trigger!r}")
        self.run_id = self.run_id or new_run_id(self.trigger, self.started_at)

    # -- collecting ------------------------------------------------------------------------------
    def record_streams(self, results) -> None:
        """Rows and requests per stream, from extractors' StreamResult objects (or their dicts)."""
        for result in results or []:
            data = asdict(result) if is_dataclass(result) else dict(result)
            batches = data.get("batches")
            self.streams.append(
                {
                    "source": data.get("source"),
                    "stream": data.get("stream"),
                    "scope": data.get("scope"),
                    "requests": int(data.get("requests") or 0),
                    "not_modified": int(data.get("not_modified") or 0),
                    "pages": int(data.get("pages") or 0),
                    "records": int(data.get("records") or 0),
                    "batches": len(batches) if isinstance(batches, (list, tuple)) else int(batches or 0),
                    "elapsed_seconds": float(data.get("elapsed_seconds") or 0.0),
                    "graphql_points": int(data.get("graphql_points") or 0),
                }
            )

    def record_step(
        self, name: str, started_at, finished_at, status: str, detail: dict | None = None
    ) -> None:
        self.steps.append(_Step(name, _as_datetime(started_at), _as_datetime(finished_at), status, detail))

    def record_checks(self, result, checked_at: datetime | None = None) -> None:
        """Every expectation outcome of a QualityResult (or its `to_dict()`)."""
        if result is None:
            return
        checked_at = checked_at or _now()
        items = result["results"] if isinstance(result, dict) else [asdict(r) for r in result.results]
        for item in items:
            self.checks.append({**item, "checked_at": checked_at})

    def record_freshness(self, rows) -> None:
        """The rows of doraflow.transform.dbt_source_freshness (source, table, status, max_loaded_at, age)."""
        self.freshness.extend(dict(row) for row in rows or [])

    # -- writing ---------------------------------------------------------------------------------
    def start(self) -> list[str]:
        """Write this run as 'running'; earlier runs still 'running' were killed: mark them abandoned.

        Called by the holder of the run lock (doraflow.warehouse.run_lock), so no other run can be alive.
        Returns the run ids marked abandoned.
        """
        from doraflow.warehouse import warehouse_cursor

        postgres = self.settings.warehouse_target == "postgres"

        def run(cursor, sql: str, params: tuple = ()) -> None:
            cursor.execute(sql.replace("?", "%s") if postgres else sql, params)

        with warehouse_cursor(self.settings) as cursor:
            for statement in DDL:
                run(cursor, statement)
            run(cursor, "select run_id from ops.pipeline_runs where status = 'running' and run_id <> ?",
                (self.run_id,))  # fmt: skip
            abandoned = [row[0] for row in cursor.fetchall()]
            run(
                cursor,
                "update ops.pipeline_runs set status = ?, error = ? where status = 'running' and run_id <> ?",
                (
                    ABANDONED,
                    f"killed or stopped before it finished (found by run {self.run_id})",
                    self.run_id,
                ),
            )
            run(cursor, "delete from ops.pipeline_runs where run_id = ?", (self.run_id,))
            run(cursor, "insert into ops.pipeline_runs values (?, ?, 'running', null, ?, null, null)",
                (self.run_id, self.trigger, self.started_at))  # fmt: skip
        return abandoned

    def finish(self, status: str, error: str | None = None) -> None:
        """Write this run's rows to ops.* in one transaction (replacing any earlier rows of this run)."""
        from doraflow.warehouse import warehouse_cursor

        finished = _now()
        postgres = self.settings.warehouse_target == "postgres"

        def run(cursor, sql: str, params: tuple = ()) -> None:
            cursor.execute(sql.replace("?", "%s") if postgres else sql, params)

        with warehouse_cursor(self.settings) as cursor:
            if not postgres:
                cursor.execute("begin transaction")
            try:
                for statement in DDL:
                    run(cursor, statement)
                for table in TABLES:
                    run(cursor, f"delete from ops.{table} where run_id = ?", (self.run_id,))
                run(
                    cursor,
                    "insert into ops.pipeline_runs values (?, ?, ?, ?, ?, ?, ?)",
                    (
                        self.run_id,
                        self.trigger,
                        status,
                        error,
                        self.started_at,
                        finished,
                        round((finished - self.started_at).total_seconds(), 3),
                    ),
                )
                for s in self.streams:
                    run(
                        cursor,
                        "insert into ops.stream_runs (run_id, source, stream, scope, requests, not_modified,"
                        " pages, records, batches, elapsed_seconds, graphql_points)"
                        " values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (self.run_id, s["source"], s["stream"], s["scope"], s["requests"], s["not_modified"],
                         s["pages"], s["records"], s["batches"], s["elapsed_seconds"], s["graphql_points"]),
                    )  # fmt: skip
                for step in _merged(self.steps):
                    run(
                        cursor,
                        "insert into ops.step_runs values (?, ?, ?, ?, ?, ?, ?)",
                        (self.run_id, step.step, step.started_at, step.finished_at,
                         round((step.finished_at - step.started_at).total_seconds(), 3), step.status,
                         json.dumps(step.detail, default=str) if step.detail else None),
                    )  # fmt: skip
                for c in self.checks:
                    run(
                        cursor,
                        "insert into ops.check_results values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (self.run_id, _as_datetime(c["checked_at"]), c["suite"], c["expectation"], c["table"],
                         c.get("column"), c["severity"], bool(c["success"]), int(c.get("failing_count") or 0),
                         c.get("observed_value"), json.dumps(c.get("sample") or [], default=str)),
                    )  # fmt: skip
                for f in self.freshness:
                    run(
                        cursor,
                        "insert into ops.dbt_source_freshness values (?, ?, ?, ?, ?, ?)",
                        (self.run_id, f.get("source"), f.get("table"), f.get("status"), f.get("max_loaded_at"),
                         f.get("age_seconds")),
                    )  # fmt: skip
                for row in _freshness(cursor, postgres, finished):
                    run(
                        cursor,
                        "insert into ops.source_freshness values (?, ?, ?, ?, ?, ?)",
                        (self.run_id, *row),
                    )
            except BaseException:
                if not postgres:
                    cursor.execute("rollback")
                raise
            if not postgres:
                cursor.execute("commit")

    # -- across processes (Airflow) ----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "trigger": self.trigger,
            "run_id": self.run_id,
            "started_at": self.started_at.isoformat(),
            "streams": self.streams,
            "steps": [
                {
                    **asdict(s),
                    "started_at": s.started_at.isoformat(),
                    "finished_at": s.finished_at.isoformat(),
                }
                for s in self.steps
            ],  # fmt: skip
            "checks": [{**c, "checked_at": _as_datetime(c["checked_at"]).isoformat()} for c in self.checks],
            "freshness": self.freshness,
        }

    def spool(self, name: str) -> Path:
        """Write this recorder's figures (one Airflow task's) to the run's spool; replaces the task's earlier try."""
        folder = spool_dir(self.settings, self.run_id)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({**self.to_dict(), "written_at": _now().isoformat()}, default=str),
                       encoding="utf-8")  # fmt: skip
        tmp.replace(path)
        return path

    @classmethod
    def from_spool(cls, settings, run_id: str, trigger: str = "airflow") -> RunRecorder:
        """Rebuild a run's recorder from the figures its tasks spooled (see `spool()`)."""
        folder = spool_dir(settings, run_id)
        recorder = cls(settings, trigger, run_id=run_id)
        files = sorted(folder.glob("*.json")) if folder.is_dir() else []
        for path in files:
            data = json.loads(path.read_text(encoding="utf-8"))
            started = data.get("run_started_at")
            if started and _as_datetime(started) < recorder.started_at:
                recorder.started_at = _as_datetime(started)
            recorder.record_streams(data.get("streams") or [])
            recorder.record_freshness(data.get("freshness") or [])
            for step in data.get("steps") or []:
                recorder.record_step(step["step"], step["started_at"], step["finished_at"], step["status"],
                                     step.get("detail"))  # fmt: skip
            for checks in data.get("checks") or []:
                if "suite" in checks:  # one expectation outcome, as RunRecorder.spool writes them
                    recorder.checks.append(checks)
                else:  # a QualityResult's to_dict(), as spool() writes it
                    recorder.record_checks(checks, checked_at=_as_datetime(data.get("written_at") or _now()))
        recorder.steps.sort(key=lambda s: s.started_at)
        if recorder.steps:
            # The tasks' own clocks: under `airflow dags test` a run's start_date is its logical date, which for
            # a backfilled slot lies in the past and would make an old slot look like the latest run.
            recorder.started_at = min(_as_datetime(step.started_at) for step in recorder.steps)
        return recorder


def spool_dir(settings, run_id: str) -> Path:
    return settings.warehouse_dir / "ops_spool" / run_id


def _merged(steps: list[_Step]) -> list[_Step]:
    """One row per step name: Airflow runs a step as several tasks (one extract per source), the CLI
    as one call; recorded the same way, both drivers give the same rows (first start, last finish, failed if
    any part failed)."""
    merged: dict[str, _Step] = {}
    for step in steps:
        seen = merged.get(step.step)
        if seen is None:
            merged[step.step] = _Step(step.step, step.started_at, step.finished_at, step.status, step.detail)
            continue
        seen.started_at = min(seen.started_at, step.started_at)
        seen.finished_at = max(seen.finished_at, step.finished_at)
        if step.status == "failed" and seen.status != "failed":
            seen.status, seen.detail = "failed", step.detail
    return list(merged.values())


# -- the marts gate: publish serves only marts that passed it -------------------------------------------------
# An event log: "building" before every dbt build (the marts may change from then on), "passed" or "failed"
# when the marts gate has checked them. Publish requires the latest event to be "passed", from any entry point.
def record_marts_event(settings, event: str, run_id: str | None) -> None:
    from doraflow.warehouse import warehouse_cursor

    postgres = settings.warehouse_target == "postgres"
    with warehouse_cursor(settings) as cursor:
        for statement in DDL:
            cursor.execute(statement)
        sql = "insert into ops.marts_gate values (?, ?, ?)"
        cursor.execute(sql.replace("?", "%s") if postgres else sql, (_now(), event, run_id))


def latest_marts_event(settings) -> tuple[str, datetime, str | None] | None:
    """(event, when, run id) of the marts' latest gate event, or None when there is none."""
    from doraflow.warehouse import warehouse_cursor

    with warehouse_cursor(settings) as cursor:
        cursor.execute(
            "select count(*) from information_schema.tables where table_schema = 'ops' and table_name = 'marts_gate'"
        )
        if not cursor.fetchone()[0]:
            return None
        cursor.execute("select event, event_at, run_id from ops.marts_gate order by event_at desc limit 1")
        row = cursor.fetchone()
    return (row[0], _as_datetime(row[1]), row[2]) if row else None


def marts_events_before(settings, when: datetime, limit: int = 2) -> list[tuple[str, datetime, str | None]]:
    """The marts' latest gate events before `when`, newest first: (event, when, run id)."""
    from doraflow.warehouse import warehouse_cursor

    with warehouse_cursor(settings) as cursor:
        cursor.execute(
            "select count(*) from information_schema.tables where table_schema = 'ops' and table_name = 'marts_gate'"
        )
        if not cursor.fetchone()[0]:
            return []
        _builds_sql(settings, cursor, "select event, event_at, run_id from ops.marts_gate where event_at < ?"
                    " order by event_at desc limit ?", (when, limit))  # fmt: skip
        rows = cursor.fetchall()
    return [(row[0], _as_datetime(row[1]), row[2]) for row in rows]


def clear_spool(settings, run_id: str) -> None:
    shutil.rmtree(spool_dir(settings, run_id), ignore_errors=True)


def _freshness(cursor, postgres: bool, now: datetime) -> list[tuple]:
    """(table, source, row count, latest _extracted_at, age in hours) for each raw table."""
    cursor.execute(
        "select table_name from information_schema.tables where table_schema = 'raw' order by table_name"
    )
    tables = [r[0] for r in cursor.fetchall() if "__" in r[0] and not r[0].startswith("_")]  # API streams
    rows = []
    for table in tables:
        cursor.execute(f'select count(*), max(_extracted_at) from raw."{table}"')
        count, latest = cursor.fetchone()
        latest = _as_datetime(latest) if latest is not None else None
        age = round((now - latest).total_seconds() / 3600, 3) if latest else None
        rows.append((f"raw.{table}", table.split("__", 1)[0], int(count), latest, age))
    return rows


# -- dbt builds: what each was built from, so a run with nothing new skips it (doraflow.transform.build_decision) --
# Not in DDL: no model reads this table, so marts.pipeline_runs' pre-hooks need not create it.
BUILDS_DDL = (
    "create schema if not exists ops",
    "create table if not exists ops.dbt_builds (build_id varchar primary key, run_id varchar,"
    " started_at timestamptz, finished_at timestamptz, status varchar, inputs varchar, outputs varchar)",
)


def _builds_sql(settings, cursor, sql: str, params: tuple = ()) -> None:
    postgres = settings.warehouse_target == "postgres"
    cursor.execute(sql.replace("?", "%s") if postgres else sql, params)


def record_build_start(settings, run_id: str | None, inputs: dict) -> str:
    """A 'building' row before dbt starts: a build killed from here on is never taken for a good one."""
    from doraflow.warehouse import warehouse_cursor

    build_id = uuid.uuid4().hex
    with warehouse_cursor(settings) as cursor:
        for statement in BUILDS_DDL:
            cursor.execute(statement)
        _builds_sql(settings, cursor, "insert into ops.dbt_builds values (?, ?, ?, null, 'building', ?, null)",
                    (build_id, run_id, _now(), json.dumps(inputs, sort_keys=True)))  # fmt: skip
    return build_id


def record_build_end(settings, build_id: str, status: str, outputs: dict | None) -> None:
    """The build's outcome ('success', 'failed', 'partial') and the tables it left ('success') or made ('partial')."""
    from doraflow.warehouse import warehouse_cursor

    with warehouse_cursor(settings) as cursor:
        _builds_sql(settings, cursor, "update ops.dbt_builds set finished_at = ?, status = ?, outputs = ? "
                    "where build_id = ?",
                    (_now(), status, json.dumps(outputs, sort_keys=True) if outputs is not None else None,
                     build_id))  # fmt: skip


def latest_build(settings) -> dict[str, Any] | None:
    """The latest dbt build: {status, started_at, inputs, outputs}, or None when none is recorded."""
    from doraflow.warehouse import warehouse_cursor

    with warehouse_cursor(settings) as cursor:
        cursor.execute(
            "select count(*) from information_schema.tables where table_schema = 'ops' and table_name = 'dbt_builds'"
        )
        if not cursor.fetchone()[0]:
            return None
        cursor.execute(
            "select status, started_at, inputs, outputs from ops.dbt_builds order by started_at desc limit 1"
        )
        row = cursor.fetchone()
    if row is None:
        return None
    return {
        "status": row[0],
        "started_at": _as_datetime(row[1]).astimezone(UTC),
        "inputs": json.loads(row[2] or "{}"),
        "outputs": json.loads(row[3]) if row[3] else None,
    }
