"""Run the dbt project (dbt_project/) programmatically on the configured warehouse.

`dbt_build` sets the profile's environment variables from `Settings` for the duration of the call (the
PostgreSQL password goes in `DBT_ENV_SECRET_PG_PASSWORD`, which dbt scrubs from its logs), passes
`Settings.dbt_vars()` as `--vars`, and turns any failing node into one `TransformError` line that names it.
Users can run the same project by hand:

    DBT_DUCKDB_PATH=warehouse/dora.duckdb dbt build --project-dir dbt_project --profiles-dir dbt_project
"""

from __future__ import annotations

import gc
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
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
    """The service catalog file goes into raw.service_catalog first, so this build maps services by it."""
    from doraflow.service_catalog import write_service_catalog

    entries = write_service_catalog(settings)
    if settings.service_catalog_path is not None:
        progress(
            f"service catalog: {entries} entr{'y' if entries == 1 else 'ies'} from {settings.service_catalog_path}"
        )


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


def _invoke(args: list[str], settings: Settings, progress: Progress, *, per_node: bool = False):
    """Run one dbt command; build output goes next to the warehouse, so parallel warehouses never collide.

    With `per_node`, each finished model (seed, snapshot; a test only when it does not pass) is reported
    through `progress` as it finishes, so a long build is never silent."""
    root_logger = logging.getLogger()
    root_handlers = list(root_logger.handlers)
    from dbt.cli.main import dbtRunner

    with _DBT_LOCK, _environment(dbt_environment(settings)):
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
) -> TransformResult:
    """`dbt build` (seeds, models, tests) on the configured warehouse; raises TransformError on failure."""
    _require_raw_layer(settings)
    _write_catalog(settings, progress)
    args = ["build"]
    if select:
        args += ["--select", select]
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
