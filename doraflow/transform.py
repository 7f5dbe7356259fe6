"""Run the dbt project (dbt_project/) programmatically on the configured warehouse.

`dbt_build` sets the profile's environment variables from `Settings` for the duration of the call (the
PostgreSQL password goes in `DBT_ENV_SECRET_PG_PASSWORD`, which dbt scrubs from its logs), passes
`Settings.dbt_vars()` as `--vars`, and turns any failing node into one `TransformError` line that names it.
A build that would change nothing is skipped (`build_decision`): each build records in `ops.dbt_builds` what it
was built from (the raw rows the loaded batches left, the dbt vars, the reporting date, the project's files, the
service catalog file, the warehouse and dbt's version) and the tables it left, and the next run builds only when
one of those differs or the last build did not succeed. Users can run the same project by hand:

    DBT_DUCKDB_PATH=warehouse/dora.duckdb dbt build --project-dir dbt_project --profiles-dir dbt_project
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse

from doraflow.config import Settings
from doraflow.errors import TransformError

PROJECT_DIR = Path(__file__).resolve().parents[1] / "dbt_project"
Progress = Callable[[str], None]

# dbtRunner is not re-entrant and reads the process environment: one call at a time per process.
_DBT_LOCK = threading.Lock()


@dataclass
class TransformResult:
    models: int = 0
    tests: int = 0
    seeds: int = 0
    failures: list[str] = field(default_factory=list)  # "node: message", empty when the build passed
    warnings: list[str] = field(default_factory=list)
    elapsed_seconds: float = 0.0
    skipped: bool = False  # nothing changed since the last successful build: dbt did not run (build_decision)
    rebuilt: list[str] = field(default_factory=list)  # "schema.name" of each model the build made


def dbt_environment(settings: Settings) -> dict[str, str]:
    """The environment variables dbt_project/profiles.yml reads, for the configured target."""
    if settings.warehouse_target == "postgres":
        if settings.postgres_url is None:
            raise TransformError("WAREHOUSE_TARGET is 'postgres' but WAREHOUSE_POSTGRES_URL is not set")
        url = urlparse(settings.postgres_url.reveal())
        return {
            "DBT_TARGET": "postgres",
            "DBT_PG_HOST": url.hostname or "localhost",
            "DBT_PG_PORT": str(url.port or 5432),
            "DBT_PG_USER": unquote(url.username or "postgres"),
            "DBT_ENV_SECRET_PG_PASSWORD": unquote(url.password or ""),
            "DBT_PG_DBNAME": unquote(url.path.lstrip("/")) or "postgres",
        }
    return {
        "DBT_TARGET": "duckdb",
        "DBT_DUCKDB_PATH": str(Path(settings.warehouse_path).resolve()),
        "DBT_DUCKDB_MEMORY_LIMIT": settings.duckdb_memory_limit or "80%",  # 80%: DuckDB's own default
    }


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _raw_tables(settings: Settings) -> list[str]:
    """Names of the tables in the warehouse's `raw` schema (empty when there is none yet)."""
    if settings.warehouse_target == "postgres":
        import psycopg2

        from doraflow.warehouse import postgres_connect

        try:
            connection = postgres_connect(settings)
        except psycopg2.Error as error:
            raise TransformError(f"cannot connect to {_where(settings)}: {_one_line(str(error))}") from None
        try:
            with connection.cursor() as cursor:
                cursor.execute("select table_name from information_schema.tables where table_schema = 'raw'")
                return sorted(row[0] for row in cursor.fetchall())
        finally:
            connection.close()
    import duckdb

    if not Path(settings.warehouse_path).is_file():
        return []
    try:
        connection = duckdb.connect(str(settings.warehouse_path), read_only=True)
    except duckdb.Error as error:
        raise TransformError(
            f"cannot open {settings.warehouse_path}: {_one_line(str(error))} (one process at a time: wait for "
            "the other run, or close the tool holding the file; BI tools should read the serving copy)"
        ) from None
    try:
        rows = connection.execute(
            "select table_name from information_schema.tables where table_schema = 'raw'"
        ).fetchall()
        return sorted(row[0] for row in rows)
    finally:
        connection.close()


def _where(settings: Settings) -> str:
    if settings.warehouse_target == "postgres":
        return "the PostgreSQL database of WAREHOUSE_POSTGRES_URL"
    return str(settings.warehouse_path)


def _require_raw_layer(settings: Settings) -> None:
    tables = [name for name in _raw_tables(settings) if "__" in name]
    if not tables:
        raise TransformError(
            f"no raw tables in {_where(settings)}: load landed batches first "
            "(`doraflow run`, or doraflow.raw_loader.load_pending_batches)"
        )


def _write_catalog(settings: Settings, progress: Progress) -> None:
    """The service catalog and team members files go into raw.service_catalog and raw.team_members first, so
    this build maps services and people by them."""
    from doraflow.service_catalog import write_service_catalog
    from doraflow.team_members import write_team_members

    entries = write_service_catalog(settings)
    if settings.service_catalog_path is not None:
        progress(
            f"service catalog: {entries} entr{'y' if entries == 1 else 'ies'} from {settings.service_catalog_path}"
        )
    members = write_team_members(settings)
    if settings.team_members_path is not None:
        progress(f"team members: {members} from {settings.team_members_path}")


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())[:300]


# Node kinds with a line each as they finish; tests (hundreds) get one only when they do not pass.
PROGRESS_EACH = ("model", "seed", "snapshot")


def node_progress(progress: Progress) -> Callable[[object], None]:
    """A dbtRunner callback printing one line per finished node, in the extract lines' style:
    `dbt model marts.dora_metrics: success, 1.2 s`."""

    def on_event(event) -> None:
        try:
            if event.info.name != "NodeFinished":
                return
            node, run = event.data.node_info, event.data.run_result
            kind, status = node.resource_type, run.status or node.node_status
            if kind not in PROGRESS_EACH and status in ("pass", "success", "skipped"):
                return
            relation = node.node_relation
            name = f"{relation.schema}.{relation.alias}" if relation.alias else node.node_name
            message = f" ({_one_line(run.message)})" if status in ("error", "fail", "warn") else ""
            progress(f"dbt {kind} {name}: {status}{message}, {run.execution_time:.1f} s")
        except Exception:  # noqa: BLE001 - a progress line must never break the build
            return

    return on_event


# dbt's own flags, as its environment variables so a user can set them otherwise (docs/benchmarks.md, "dbt build
# beside its compiled SQL"). No JSON artifacts: nothing here reads manifest.json or run_results.json, and writing
# them costs about 1 s of CPU per build (partial parsing keeps its own file); DBT_WRITE_JSON=true writes them (for
# `dbt docs` or benchmarks/benchmark_transform.py). No anonymous usage events: dbt posts them to its collector
# synchronously, 30 at a time, from every nightly build.
_DBT_DEFAULTS = {"DBT_WRITE_JSON": "false", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}


def _invoke(args: list[str], settings: Settings, progress: Progress, *, per_node: bool = False):
    """Run one dbt command; build output goes next to the warehouse, so parallel warehouses never collide.

    With `per_node`, each finished model (seed, snapshot; a test only when it does not pass) is reported
    through `progress` as it finishes, so a long build is never silent."""
    root_logger = logging.getLogger()
    root_handlers = list(root_logger.handlers)
    from dbt.cli.main import dbtRunner

    defaults = {name: os.environ.get(name, value) for name, value in _DBT_DEFAULTS.items()}
    with _DBT_LOCK, _environment({**defaults, **dbt_environment(settings)}):
        runner = dbtRunner(callbacks=[node_progress(progress)] if per_node else None)
        try:
            return runner.invoke(
                [
                    *args,
                    "--project-dir",
                    str(PROJECT_DIR),
                    "--profiles-dir",
                    str(PROJECT_DIR),
                    "--target-path",
                    str(Path(settings.warehouse_dir).resolve() / "dbt_target"),
                    "--log-path",
                    str(Path(settings.warehouse_dir).resolve() / "dbt_logs"),
                    "--vars",
                    json.dumps(settings.dbt_vars()),
                    "--quiet",
                ]
            )
        finally:
            _release_duckdb()
            # Importing dbt adds a handler to the root logger: left there, later libraries' INFO lines reach the
            # terminal.
            root_logger.handlers[:] = root_handlers


def _release_duckdb() -> None:
    """dbt-duckdb keeps its DuckDB instance open in the process: close it so later steps can open the file."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # dbt-duckdb not installed: nothing to release
        return
    environment = DuckDBConnectionManager._ENV
    DuckDBConnectionManager._ENV = None
    if environment is not None:
        try:
            environment.close()
        except Exception:  # noqa: BLE001 - best effort: the handle may already be closed
            pass
    gc.collect()


def dbt_build(
    settings: Settings,
    *,
    select: str | None = None,
    full_refresh: bool = False,
    progress: Progress = print,
    run_id: str | None = None,
) -> TransformResult:
    """`dbt build` (seeds, models, tests) on the configured warehouse; raises TransformError on failure.

    Every build is recorded in ops.dbt_builds ('building' first, then 'success', 'failed' or, with `select`,
    'partial' with the tables it made), so `build_decision` never skips after a build that failed, was killed or
    built a part only, and the marts gate after a partial build knows which marts it rebuilt."""
    from doraflow.ops import record_build_end, record_build_start

    _require_raw_layer(settings)
    inputs = build_inputs(settings)  # before the build: what it is built from
    build_id = record_build_start(settings, run_id, inputs)
    try:
        result = _build(settings, select=select, full_refresh=full_refresh, progress=progress)
    except BaseException:
        try:
            record_build_end(settings, build_id, "failed", None)
        except Exception:  # noqa: BLE001 - the build's own error is the one to report; 'building' also rebuilds
            pass
        raise
    tables = built_tables(settings)
    if select:  # what a partial build made: the marts gate checks only these marts (doraflow.pipeline)
        tables = {name: count for name, count in tables.items() if name in set(result.rebuilt)}
    record_build_end(settings, build_id, "partial" if select else "success", tables)
    return result


def _build(
    settings: Settings, *, select: str | None, full_refresh: bool, progress: Progress
) -> TransformResult:
    _write_catalog(settings, progress)
    # dbt's unit tests check the models' logic on fixed fixtures with pinned vars: they read no warehouse data, so
    # the nightly build would repeat them unchanged; they are 18 of its 414 nodes and 14 % of its thread-seconds
    # (docs/benchmarks.md). `dbt_unit_tests` runs them; the test suite does, on DuckDB and PostgreSQL.
    args = ["build", "--exclude-resource-type", "unit_test"]
    if select:
        # cautious: a test of a selected model that also reads an unselected one (a relationships test of a
        # downstream mart) would read a table this build did not make
        args += ["--select", select, "--indirect-selection", "cautious"]
    if full_refresh:
        args.append("--full-refresh")
    started = time.monotonic()
    outcome = _invoke(args, settings, progress, per_node=True)
    result = TransformResult(elapsed_seconds=round(time.monotonic() - started, 3))
    if outcome.result is None:
        cause = _one_line(str(outcome.exception)) if outcome.exception else "unknown error"
        raise TransformError(f"dbt build could not run on {_where(settings)}: {cause}")
    for node_result in outcome.result:
        node = node_result.node
        kind = node.resource_type
        status = str(node_result.status)
        if kind == "model":
            result.models += 1
            if status == "success":
                result.rebuilt.append(f"{node.schema}.{node.alias or node.name}")
        elif kind in ("test", "unit_test"):
            result.tests += 1
        elif kind == "seed":
            result.seeds += 1
        if status in ("error", "fail"):
            result.failures.append(f"{kind} {node.name}: {_one_line(node_result.message)}")
        elif status == "warn":
            result.warnings.append(f"{kind} {node.name}: {_one_line(node_result.message)}")
    progress(
        f"dbt build: {result.models} models, {result.tests} tests, {result.seeds} seeds, "
        f"{len(result.failures)} failure(s) in {result.elapsed_seconds:.1f}s"
    )
    for line in result.warnings:
        progress(f"dbt warning: {line}")
    if result.failures or not outcome.success:
        shown = "; ".join(result.failures[:3]) or _one_line(str(outcome.exception))
        more = f" (and {len(result.failures) - 3} more)" if len(result.failures) > 3 else ""
        raise TransformError(f"dbt build failed: {shown}{more}")
    return result


def dbt_unit_tests(
    settings: Settings, *, select: str | None = None, progress: Progress = print
) -> TransformResult:
    """dbt's unit tests alone (`dbt test --select test_type:unit`) on a warehouse a build has made (a unit test reads
    the column types of its model's inputs from there); with `select` (a `dbt_build` selection), those of the
    models it selects. Raises TransformError when they cannot run."""
    terms = select.split() if select else [""]
    selection = " ".join(f"test_type:unit,{term}" if term else "test_type:unit" for term in terms)
    started = time.monotonic()
    outcome = _invoke(["test", "--select", selection], settings, progress)
    result = TransformResult(elapsed_seconds=round(time.monotonic() - started, 3))
    if outcome.result is None:
        cause = _one_line(str(outcome.exception)) if outcome.exception else "unknown error"
        raise TransformError(f"dbt unit tests could not run on {_where(settings)}: {cause}")
    for node_result in outcome.result:
        result.tests += 1
        if str(node_result.status) in ("error", "fail"):
            result.failures.append(f"unit_test {node_result.node.name}: {_one_line(node_result.message)}")
    return result


def dbt_source_freshness(settings: Settings) -> list[dict]:
    """Freshness of every raw source table: [{source, table, status, max_loaded_at, age_seconds}].

    A table that does not exist yet (source not configured) reports status 'missing'.
    """
    _require_raw_layer(settings)
    existing = set(_raw_tables(settings))
    outcome = _invoke(["source", "freshness"], settings, print)
    rows: list[dict] = []
    for node_result in outcome.result or []:
        node = node_result.node
        identifier = getattr(node, "identifier", node.name)
        status = str(node_result.status)
        if identifier not in existing:
            status = "missing"
        rows.append(
            {
                "source": node.source_name,
                "table": identifier,
                "status": status,
                "max_loaded_at": str(getattr(node_result, "max_loaded_at", "") or "") or None,
                "age_seconds": getattr(node_result, "age", None),
            }
        )
    return sorted(rows, key=lambda row: (row["source"], row["table"]))


# -- skipping a build that would change nothing --------------------------------------------------------------------
# The schemas dbt writes (generate_schema_name: no prefix). Their tables are the build's output: one missing
# or, for a mart, with another row count than the build left forces a build.
BUILT_SCHEMAS = ("staging", "intermediate", "marts")
CHECKED_ROW_COUNTS = "marts"
# Written by dbt when the project is run by hand, not part of the project.
_NOT_PROJECT_FILES = ("target", "logs", "dbt_packages")


@dataclass
class BuildDecision:
    build: bool
    line: str  # one line: why the build runs, or that it is skipped


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def project_digest(project_dir: Path | None = None) -> str:
    """Content hash of the dbt project's files (models, macros, seeds, tests, dbt_project.yml, profiles.yml)."""
    project_dir = project_dir or PROJECT_DIR
    digest = hashlib.sha256()
    for path in sorted(project_dir.rglob("*")):
        parts = path.relative_to(project_dir).parts
        if not path.is_file() or parts[0] in _NOT_PROJECT_FILES:
            continue
        if any(part.startswith(".") or part == "__pycache__" for part in parts):
            continue
        digest.update("/".join(parts).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def reporting_date(settings: Settings, now: datetime | None = None) -> str:
    """The build's day: `as_of_date` when pinned, else today in the reporting time zone (as int_reporting_window
    reads it). A new day changes periods, open-incident ages and evidence windows; a later hour does not."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if settings.as_of_date is not None:
        return settings.as_of_date.isoformat()
    now = now or datetime.now(UTC)
    try:
        return now.astimezone(ZoneInfo(settings.reporting_timezone)).date().isoformat()
    except ZoneInfoNotFoundError:  # a zone DuckDB knows and Python not: the UTC day, named with the zone
        return f"{now.date().isoformat()} UTC ({settings.reporting_timezone})"


def _warehouse_identity(settings: Settings) -> str:
    if settings.warehouse_target == "postgres":
        url = urlparse(settings.postgres_url.reveal()) if settings.postgres_url else None
        if url is None:
            return "postgres"
        # No password: the fingerprint is stored and compared, never a secret.
        return f"postgres://{unquote(url.username or '')}@{url.hostname}:{url.port or 5432}/{url.path.lstrip('/')}"
    return f"duckdb:{Path(settings.warehouse_path).resolve()}"


def _dbt_version() -> str:
    names = ("dbt-core", "dbt-duckdb", "dbt-postgres")
    versions = []
    for name in names:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return ", ".join(versions)


def _raw_rows(settings: Settings) -> str:
    """Rows and a checksum of their `_batch_id`s per raw API table: a loaded batch that inserted or changed a row
    changes it; one that only re-read identical objects does not (the loader keeps their `_batch_id`)."""
    from doraflow.warehouse import warehouse_cursor

    checksum = "hashtext(_batch_id)" if settings.warehouse_target == "postgres" else "hash(_batch_id)"
    with warehouse_cursor(settings) as cursor:
        cursor.execute("select table_name from information_schema.tables where table_schema = 'raw'")
        tables = sorted(row[0] for row in cursor.fetchall() if "__" in row[0] and not row[0].startswith("_"))
        figures = {}
        if _has_ledger(cursor):
            # The reporting window opens on the first load's day (int_reporting_window): only its minimum counts.
            cursor.execute("select min(loaded_at) from raw._loaded_batches")
            figures["first load"] = str(cursor.fetchone()[0])
        for table in tables:
            cursor.execute(f'select count(*), coalesce(sum({checksum}), 0) from raw."{table}"')
            count, total = cursor.fetchone()
            figures[table] = f"{count}/{total}"
    rows = sum(int(value.split("/")[0]) for name, value in figures.items() if name != "first load")
    return f"{rows} rows in {len(tables)} tables, {_digest(figures)}"


def _has_ledger(cursor) -> bool:
    cursor.execute(
        "select count(*) from information_schema.tables where table_schema = 'raw' and table_name = '_loaded_batches'"
    )
    return bool(cursor.fetchone()[0])


# What a build is built from; a change in any of these makes the next run build. The keys name the change in the
# line that says why a build runs. No model is named: the project is hashed as a whole.
def build_inputs(settings: Settings) -> dict[str, str]:
    variables = settings.dbt_vars()
    variables.pop("as_of_date", None)  # the build's day: compared as "reporting date"
    catalog = settings.service_catalog_path
    return {
        "raw rows": _raw_rows(settings),
        "dbt vars": _digest(variables),
        "reporting date": reporting_date(settings),
        "dbt project files": project_digest(),
        "service catalog file": (
            f"{catalog}: {hashlib.sha256(catalog.read_bytes()).hexdigest()[:16]}"
            if catalog is not None and catalog.is_file()
            else str(catalog)
        ),
        "team members file": (
            f"{settings.team_members_path}: "
            f"{hashlib.sha256(settings.team_members_path.read_bytes()).hexdigest()[:16]}"
            if settings.team_members_path is not None and settings.team_members_path.is_file()
            else str(settings.team_members_path)
        ),
        "warehouse": _warehouse_identity(settings),
        "dbt version": _dbt_version(),
    }


def built_tables(settings: Settings) -> dict[str, int | None]:
    """The tables and views in the schemas dbt writes: "schema.name" -> row count (marts' tables) or None."""
    from doraflow.warehouse import warehouse_cursor

    names = ", ".join(f"'{schema}'" for schema in BUILT_SCHEMAS)
    with warehouse_cursor(settings) as cursor:
        cursor.execute(
            f"select table_schema, table_name, table_type from information_schema.tables "
            f"where table_schema in ({names})"
        )
        rows = cursor.fetchall()
        tables: dict[str, int | None] = {}
        for schema, name, kind in sorted(rows):
            count = None
            if schema == CHECKED_ROW_COUNTS and kind == "BASE TABLE":
                cursor.execute(f'select count(*) from {schema}."{name}"')
                count = int(cursor.fetchone()[0])
            tables[f"{schema}.{name}"] = count
    return tables


def _listed(names: list[str], limit: int = 3) -> str:
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def build_decision(settings: Settings) -> BuildDecision:
    """Whether `dbt build` would change anything since the last successful build, with the one line that says so."""
    from doraflow.ops import latest_build

    last = latest_build(settings)
    if last is None:
        return BuildDecision(True, "dbt build: no earlier build recorded on this warehouse")
    if last["status"] != "success":
        what = {"building": "did not finish", "failed": "failed", "partial": "built a selection only"}
        return BuildDecision(
            True,
            f"dbt build: the last build ({last['started_at']:%Y-%m-%d %H:%M:%S} UTC) "
            f"{what.get(last['status'], last['status'])}",
        )
    inputs = build_inputs(settings)
    changed = [name for name, value in inputs.items() if last["inputs"].get(name) != value]
    if changed:
        return BuildDecision(True, f"dbt build: {_listed(changed, 7)} changed since the last build")
    built, now = last["outputs"] or {}, built_tables(settings)
    missing = [name for name in built if name not in now]
    if missing:
        return BuildDecision(True, f"dbt build: {_listed(missing)} missing since the last build")
    altered = [name for name, count in built.items() if count is not None and now[name] != count]
    if altered:
        return BuildDecision(True, f"dbt build: {_listed(altered)} changed outside the build (row count)")
    return BuildDecision(
        False,
        f"dbt build skipped: nothing changed since the last build ({last['started_at']:%Y-%m-%d %H:%M:%S} UTC): "
        "no raw row loaded or changed, same settings, reporting date, dbt project, service catalog and marts "
        "(--full-build or TRANSFORM_SKIP_UNCHANGED=false builds anyway)",
    )
