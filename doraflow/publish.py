"""Publish a good run to the readers: the serving copy, the Parquet exports and the HTML report.

Readers (BI tools, notebooks, the report) never open the working warehouse, which the pipeline writes. After
the quality gate has passed, `publish()` builds, next to the working file:

- `warehouse/dora_serving.duckdb`: the `marts` schema only, as plain tables, written with DuckDB storage
  version v1.0.0 so that older DuckDB readers (BI drivers bundle their own DuckDB) can open it;
- `warehouse/exports/<mart>.parquet`: one Parquet file per mart;
- `warehouse/dora_report.html`: the self-contained report (`doraflow.report`).

Everything is built under temporary names first and then swapped in, so a failure leaves the previous
publication untouched and a reader never sees a half-built state:

- the serving copy is replaced with `os.replace` (an atomic rename): a reader that holds the old file open
  keeps reading a consistent old copy (the old inode lives until it closes), a reader that opens the path
  afterwards gets the new one;
- `exports` is a symbolic link to a versioned directory (`exports.versions/<publish id>/`); the new directory
  is written completely, then the link is replaced atomically. The previous version is kept so a reader in the
  middle of reading it is not cut off; older ones are removed;
- the report is written to a temporary file and renamed.

A publish killed half-way (SIGKILL, power loss) leaves its parts behind: `.dora_serving.duckdb.<id>.tmp`,
`.publish-<id>/`, `exports.versions/<id>/`. Each publish holds an exclusive `flock` on `.publish-<id>/lock` while
it runs, so the next publish knows a leftover whose lock is free belongs to a dead publish and removes it
(`_clean_dead_publishes`); a live one (lock held) is never touched. After the swap, the versions kept are the new
one and the one the link pointed to before it (readers may be in the middle of reading it): a version left by
a killed publish never takes the place of the one readers use.

After the three swaps, publish writes its record, `warehouse/dora_publication.json`: which build's marts it
published (`ops.dbt_builds`), for which report day and report settings, and the identity (inode, mtime, size) of
the files it swapped in. A run whose build was skipped asks `current_publication` and skips publish when that
record still describes the files in place (`doraflow.pipeline.step_publish`). The record is removed before the
first swap and written after the last, so a publish killed in between leaves none and the next run publishes.

With `WAREHOUSE_TARGET=postgres` the marts live in PostgreSQL. Publish then reads every `marts` table in one
read-only REPEATABLE READ transaction (one consistent snapshot) and writes the same DuckDB serving copy,
exports and report from it; BI tools may also query PostgreSQL directly with the read-only role of
`doraflow/sql/postgres_readonly_role.sql` (see docs/bi.md).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import stat
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from doraflow.config import Settings
from doraflow.errors import PublishError
from doraflow.warehouse import duckdb_config

MARTS_SCHEMA = "marts"
SERVING_STORAGE_VERSION = "v1.0.0"
PUBLISH_DIR_PREFIX = ".publish-"
PUBLISH_ID = re.compile(r"^\d{8}T\d{12}Z-[0-9a-f]{6}$")
LEGACY_LEFTOVER_SECONDS = 3600  # leftovers of publishes before the lock file: removed when older than this
PUBLICATION_RECORD = "dora_publication.json"  # beside the serving copy: what the current publication is of

# PostgreSQL data types (information_schema.columns.data_type) -> DuckDB column types for the serving copy.
POSTGRES_TO_DUCKDB_TYPES = {
    "text": "VARCHAR",
    "character varying": "VARCHAR",
    "character": "VARCHAR",
    "name": "VARCHAR",
    "uuid": "VARCHAR",
    "json": "VARCHAR",
    "jsonb": "VARCHAR",
    "smallint": "SMALLINT",
    "integer": "INTEGER",
    "bigint": "BIGINT",
    "numeric": "DOUBLE",
    "real": "DOUBLE",
    "double precision": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp with time zone": "TIMESTAMPTZ",
    "timestamp without time zone": "TIMESTAMP",
    "time without time zone": "TIME",
    "interval": "INTERVAL",
}


@dataclass(frozen=True)
class PublishResult:
    serving_path: Path
    exports_dir: Path
    report_path: Path
    row_counts: dict[str, int] = field(default_factory=dict)  # mart -> rows published
    source: str = "duckdb"  # where the marts were read: 'duckdb' or 'postgres'
    elapsed_seconds: float = 0.0
    skipped: bool = False  # nothing to publish: the current publication is of these very marts

    @property
    def tables(self) -> tuple[str, ...]:
        return tuple(self.row_counts)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _copy_marts_from_duckdb(settings: Settings, connection: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Copy every table and view of `marts` in the working DuckDB file into the attached `serving` db."""
    source = settings.warehouse_path
    if not source.is_file():
        raise PublishError(
            f"the working warehouse {source} does not exist: run `doraflow run` (extract, load, transform) "
            "before publishing"
        )
    try:
        connection.execute(f"attach {_sql_string(str(source))} as working (read_only)")
    except duckdb.Error as error:
        raise PublishError(
            f"cannot open the working warehouse {source} read-only ({_first_line(error)}); another "
            "process may be writing it: publish runs after the pipeline's writing steps"
        ) from None
    names = [
        row[0]
        for row in connection.execute(
            "select table_name from information_schema.tables "
            "where table_catalog = 'working' and table_schema = ? order by table_name",
            [MARTS_SCHEMA],
        ).fetchall()
    ]
    if not names:
        raise PublishError(
            f"the working warehouse {source} has no tables in schema '{MARTS_SCHEMA}': run the transform "
            "step (dbt build) before publishing"
        )
    counts: dict[str, int] = {}
    for name in names:
        table = f"{MARTS_SCHEMA}.{_quote(name)}"
        try:
            connection.execute(f"create table serving.{table} as select * from working.{table}")
        except duckdb.Error as error:
            raise PublishError(
                f"cannot copy marts.{name} into the serving copy: {_first_line(error)}"
            ) from None
        counts[name] = connection.execute(f"select count(*) from serving.{table}").fetchone()[0]
    connection.execute("detach working")
    return counts


def _copy_marts_from_postgres(
    settings: Settings, connection: duckdb.DuckDBPyConnection, workdir: Path
) -> dict[str, int]:
    """Copy every table and view of `marts` in PostgreSQL (one snapshot) into the attached `serving` db."""
    import psycopg2

    if settings.postgres_url is None:
        raise PublishError("WAREHOUSE_TARGET is 'postgres' but WAREHOUSE_POSTGRES_URL is not set")
    try:
        pg = psycopg2.connect(settings.postgres_url.reveal())
    except psycopg2.Error as error:
        # psycopg2's message can echo the connection string's host and user, never the password.
        raise PublishError(f"cannot connect to WAREHOUSE_POSTGRES_URL: {_first_line(error)}") from None
    counts: dict[str, int] = {}
    try:
        pg.set_session(isolation_level="REPEATABLE READ", readonly=True)
        with pg.cursor() as cursor:
            cursor.execute("set time zone 'UTC'")
            cursor.execute(
                "select table_name, column_name, data_type from information_schema.columns "
                "where table_schema = %s order by table_name, ordinal_position",
                (MARTS_SCHEMA,),
            )
            columns: dict[str, list[tuple[str, str]]] = {}
            for table_name, column_name, data_type in cursor.fetchall():
                columns.setdefault(table_name, []).append((column_name, data_type))
            if not columns:
                raise PublishError(
                    f"PostgreSQL (WAREHOUSE_POSTGRES_URL) has no tables in schema '{MARTS_SCHEMA}': run the "
                    "transform step (dbt build) before publishing"
                )
            for name, table_columns in columns.items():
                csv_path = workdir / f"{name}.csv"
                select_list = ", ".join(_quote(column) for column, _ in table_columns)
                with csv_path.open("w", encoding="utf-8", newline="") as handle:
                    cursor.copy_expert(
                        f"copy (select {select_list} from {MARTS_SCHEMA}.{_quote(name)}) to stdout "
                        "with (format csv, header true, null '\\N')",
                        handle,
                    )
                duck_columns = ", ".join(
                    f"{_sql_string(column)}: '{POSTGRES_TO_DUCKDB_TYPES.get(data_type, 'VARCHAR')}'"
                    for column, data_type in table_columns
                )
                connection.execute(
                    f"create table serving.{MARTS_SCHEMA}.{_quote(name)} as select * from read_csv("
                    f"{_sql_string(str(csv_path))}, header = true, nullstr = '\\N', quote = '\"', "
                    f"escape = '\"', columns = {{{duck_columns}}}, auto_detect = false)"
                )
                counts[name] = connection.execute(
                    f"select count(*) from serving.{MARTS_SCHEMA}.{_quote(name)}"
                ).fetchone()[0]
                csv_path.unlink()
        pg.rollback()
    except psycopg2.Error as error:
        raise PublishError(f"cannot read the marts from PostgreSQL: {_first_line(error)}") from None
    except duckdb.Error as error:
        raise PublishError(
            f"cannot copy the PostgreSQL marts into the serving copy: {_first_line(error)}"
        ) from None
    finally:
        pg.close()
    return counts


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def build_serving_copy(settings: Settings, target: Path, workdir: Path) -> dict[str, int]:
    """Write the marts into a new DuckDB file `target` (storage v1.0.0); returns the row count per mart."""
    connection = duckdb.connect(config=duckdb_config(settings))
    try:
        connection.execute(
            f"attach {_sql_string(str(target))} as serving (storage_version '{SERVING_STORAGE_VERSION}')"
        )
        connection.execute(f"create schema serving.{MARTS_SCHEMA}")
        if settings.warehouse_target == "postgres":
            counts = _copy_marts_from_postgres(settings, connection, workdir)
        else:
            counts = _copy_marts_from_duckdb(settings, connection)
        connection.execute("checkpoint serving")
        connection.execute("detach serving")
    finally:
        connection.close()
    return counts


def export_parquet(serving_file: Path, directory: Path, tables: list[str]) -> None:
    """Write one Parquet file per mart of `serving_file` into `directory` (which must exist)."""
    connection = duckdb.connect(str(serving_file), read_only=True)
    try:
        for name in tables:
            path = directory / f"{name}.parquet"
            connection.execute(
                f"copy {MARTS_SCHEMA}.{_quote(name)} to {_sql_string(str(path))} (format parquet)"
            )
    except duckdb.Error as error:
        raise PublishError(
            f"cannot write the Parquet export of a mart into {directory}: {_first_line(error)}"
        ) from None
    finally:
        connection.close()


def _live_publish_ids(warehouse_dir: Path) -> set[str]:
    """Publish ids whose `.publish-<id>/lock` is held by a running publish."""
    live = set()
    for folder in warehouse_dir.glob(f"{PUBLISH_DIR_PREFIX}*"):
        publish_id = folder.name[len(PUBLISH_DIR_PREFIX) :]
        if PUBLISH_ID.match(publish_id) and _lock_is_held(folder / "lock"):
            live.add(publish_id)
    return live


def _lock_is_held(path: Path) -> bool:
    try:
        handle = path.open("a")
    except OSError:
        return False
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        handle.close()  # closing releases a lock taken here
    return False


def _current_version(exports_dir: Path) -> str | None:
    return Path(os.readlink(exports_dir)).name if exports_dir.is_symlink() else None


def _clean_dead_publishes(settings: Settings, progress: Callable[[str], object]) -> None:
    """Remove what killed publishes left: their temporary files, work folders and unlinked export versions."""
    warehouse_dir = settings.warehouse_dir
    live = _live_publish_ids(warehouse_dir)
    current = _current_version(settings.exports_dir)
    now = time.time()
    removed = 0
    patterns = (
        (f".{settings.serving_path.name}.", ".tmp"),
        (f".{settings.serving_path.name}.", ".tmp.wal"),
        (f".{settings.report_path.name}.", ".tmp"),
        (f".{PUBLICATION_RECORD}.", ".tmp"),
    )
    for path in list(warehouse_dir.iterdir()):
        name = path.name
        publish_id = None
        if name.startswith(PUBLISH_DIR_PREFIX):
            publish_id = name[len(PUBLISH_DIR_PREFIX) :]
        for prefix, suffix in patterns:
            if name.startswith(prefix) and name.endswith(suffix):
                publish_id = name[len(prefix) : -len(suffix)]
        if publish_id is None or publish_id in live:
            continue
        if not PUBLISH_ID.match(publish_id) and now - path.lstat().st_mtime < LEGACY_LEFTOVER_SECONDS:
            continue  # an older layout's random name: only when clearly abandoned
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed += 1
    versions_dir = warehouse_dir / f"{settings.exports_dir.name}.versions"
    if versions_dir.is_dir():
        dead = {path.name[len(PUBLISH_DIR_PREFIX) :] for path in warehouse_dir.glob(f"{PUBLISH_DIR_PREFIX}*")}
        for version in versions_dir.iterdir():
            if version.name != current and version.name not in live and version.name in dead:
                shutil.rmtree(version, ignore_errors=True)
                removed += 1
    if removed:
        progress(f"publish: removed {removed} leftover(s) of a publish that was killed")


def _swap_exports(exports_dir: Path, new_version: Path, live: set[str] = frozenset()) -> None:
    """Point the `exports` link at `new_version` atomically; keep the version it pointed to before (readers
    may still be reading it), drop other older ones. Newer names and live publishes are left alone."""
    previous = _current_version(exports_dir)
    link_tmp = exports_dir.with_name(f".{exports_dir.name}.link-{uuid.uuid4().hex[:8]}")
    relative = os.path.relpath(new_version, exports_dir.parent)
    os.symlink(relative, link_tmp, target_is_directory=True)
    if exports_dir.exists() and not exports_dir.is_symlink():
        # A plain directory from an earlier layout: move it into the versions folder once (not atomic, once).
        legacy = new_version.parent / f"00000000-legacy-{uuid.uuid4().hex[:8]}"  # sorts as the oldest
        os.rename(exports_dir, legacy)
        previous = None
    os.replace(link_tmp, exports_dir)
    older = sorted(
        path for path in new_version.parent.iterdir() if path.is_dir() and path.name < new_version.name
    )
    if previous is None and older:
        previous = older[-1].name  # no link before (first publish after a migration): keep the newest
    for path in older:
        if path.name != previous and path.name not in live:
            shutil.rmtree(path, ignore_errors=True)


def publication_record_path(settings: Settings) -> Path:
    return settings.warehouse_dir / PUBLICATION_RECORD


def publication_key(settings: Settings, build: dict[str, Any] | None) -> dict[str, Any]:
    """What a publication is made from: the marts' build, the report's day and settings, the publishing code.

    `build` is `doraflow.ops.latest_build`: with nothing built since, the marts are those it left (a skipped build
    checks their row counts). The report's period and open periods depend on its day; the targets, time zone and
    edition on what it shows; the code of publish and the report on how it is written.
    """
    from doraflow.report.data import report_day
    from doraflow.transform import _warehouse_identity  # the build decision's own (never the password)

    code = hashlib.sha256()
    for path in sorted([Path(__file__), *Path(__file__).with_name("report").glob("*.py")]):
        code.update(path.name.encode() + b"\0" + path.read_bytes())
    return {
        "build": None if build is None else f"{build['status']} {build['started_at'].isoformat()}",
        "warehouse": _warehouse_identity(settings),
        "report day": report_day(settings.reporting_timezone).isoformat(),
        "report settings": {
            "targets": [
                settings.targets.deployments_per_day,
                settings.targets.lead_time_minutes,
                settings.targets.change_failure_rate,
                settings.targets.time_to_restore_minutes,
            ],
            "reporting timezone": settings.reporting_timezone,
            "benchmark edition": settings.benchmark_edition,
        },
        "publish code": code.hexdigest()[:16],
        "paths": [str(settings.serving_path), str(settings.exports_dir), str(settings.report_path)],
    }


def _identity(path: Path) -> list[int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return [info.st_ino, info.st_mtime_ns, info.st_size]


def _built_from(settings: Settings) -> dict[str, Any] | None:
    """The build the marts just copied come from (publish holds the run lock: no build since), None if unknown."""
    from doraflow.ops import latest_build

    try:
        return latest_build(settings)
    except Exception:  # noqa: BLE001 - the record then matches no build: the next run publishes
        return None


def _record_publication(
    settings: Settings, key: dict[str, Any], publish_id: str, counts: dict[str, int]
) -> None:
    """Write the record of the publication just swapped in (after the last swap: see the module's docstring)."""
    record = {
        "key": key,
        "published_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "publish_id": publish_id,
        "row_counts": counts,
        "serving": _identity(settings.serving_path),
        "report": _identity(settings.report_path),
        "exports": _current_version(settings.exports_dir),
    }
    target = publication_record_path(settings)
    temporary = target.with_name(f".{target.name}.{publish_id}.tmp")
    temporary.write_text(json.dumps(record, indent=1), encoding="utf-8")
    os.replace(temporary, target)


def current_publication(settings: Settings, build: dict[str, Any] | None) -> dict[str, Any] | None:
    """The record of the publication in place when it was made from `build` with today's key, else None.

    None too when any part is not the one that publish swapped in: the serving copy or the report removed or
    replaced (inode, mtime, size), the exports link pointing elsewhere or a Parquet file missing.
    """
    if build is None or build["status"] != "success":
        return None
    try:
        record = json.loads(publication_record_path(settings).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("key") != publication_key(settings, build):
        return None
    if record.get("serving") is None or record["serving"] != _identity(settings.serving_path):
        return None
    if record.get("report") is None or record["report"] != _identity(settings.report_path):
        return None
    version = _current_version(settings.exports_dir)
    if version is None or version != record.get("exports"):
        return None
    if not all(
        (settings.exports_dir / f"{name}.parquet").is_file() for name in record.get("row_counts") or {}
    ):
        return None
    return record


def publish(settings: Settings, progress: Callable[[str], object] = print) -> PublishResult:
    """Build the serving copy, the Parquet exports and the report, then swap all three in."""
    from doraflow.report import write_report

    started = time.monotonic()
    warehouse_dir = settings.warehouse_dir
    warehouse_dir.mkdir(parents=True, exist_ok=True)
    publish_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ") + "-" + uuid.uuid4().hex[:6]
    serving_tmp = warehouse_dir / f".{settings.serving_path.name}.{publish_id}.tmp"
    versions_dir = warehouse_dir / f"{settings.exports_dir.name}.versions"
    export_version = versions_dir / publish_id
    report_tmp = warehouse_dir / f".{settings.report_path.name}.{publish_id}.tmp"
    _clean_dead_publishes(settings, progress)
    workdir = warehouse_dir / f"{PUBLISH_DIR_PREFIX}{publish_id}"
    workdir.mkdir()
    lock = (workdir / "lock").open("w")
    fcntl.flock(lock, fcntl.LOCK_EX)  # marks this publish alive until it ends, however it ends
    swapped = False
    try:
        progress(f"publish: copying the marts from {settings.warehouse_target} into a new serving copy")
        counts = build_serving_copy(settings, serving_tmp, workdir)
        key = publication_key(settings, _built_from(settings))
        for name, rows in counts.items():
            progress(f"publish: marts.{name}: {rows} rows")
        export_version.mkdir(parents=True)
        export_parquet(serving_tmp, export_version, list(counts))
        progress(f"publish: {len(counts)} Parquet exports written")
        write_report(settings, serving_tmp, output=report_tmp, published_as=settings.serving_path)
        os.chmod(serving_tmp, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        # The swaps: each is atomic; together they take microseconds, after every part was built.
        # A WAL beside the serving copy can only come from someone who opened it read-write against the
        # rules; replayed onto the new file it would corrupt it, so it goes.
        Path(f"{settings.serving_path}.wal").unlink(missing_ok=True)
        publication_record_path(settings).unlink(missing_ok=True)  # written again only after the last swap
        os.replace(serving_tmp, settings.serving_path)
        swapped = True
        _swap_exports(settings.exports_dir, export_version, _live_publish_ids(warehouse_dir))
        os.replace(report_tmp, settings.report_path)
        _record_publication(settings, key, publish_id, counts)
    except PublishError:
        raise
    except (OSError, duckdb.Error) as error:
        raise PublishError(f"publishing into {warehouse_dir} failed: {_first_line(error)}") from None
    finally:
        lock.close()
        shutil.rmtree(workdir, ignore_errors=True)
        record_tmp = warehouse_dir / f".{PUBLICATION_RECORD}.{publish_id}.tmp"
        for leftover in (serving_tmp, Path(f"{serving_tmp}.wal"), report_tmp, record_tmp):
            leftover.unlink(missing_ok=True)
        if not swapped and export_version.exists():
            shutil.rmtree(export_version, ignore_errors=True)
    elapsed = time.monotonic() - started
    progress(
        f"publish: serving copy {settings.serving_path}, exports {settings.exports_dir}, "
        f"report {settings.report_path} ({elapsed:.1f}s)"
    )
    return PublishResult(
        serving_path=settings.serving_path,
        exports_dir=settings.exports_dir,
        report_path=settings.report_path,
        row_counts=counts,
        source=settings.warehouse_target,
        elapsed_seconds=round(elapsed, 3),
    )
