"""Merge landed batches into `raw.<source>__<stream>` (the only writer of raw.*; one process at a time).

One transaction per batch: its rows, its quarantined records and its line in `raw._loaded_batches`
commit together, so a load killed at any point resumes at the first batch not recorded. Rows are
keyed by the stream's natural key (`extractors.streams.natural_key`); a record replaces the stored one
when its batch is newer and its payload differs. Records that cannot be keyed go to `raw._quarantine`
with the reason, never stopping the good ones. Works on DuckDB and on PostgreSQL (payload `jsonb`).
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from doraflow.config import Settings
from doraflow.errors import LoadError
from extractors.landing import all_batch_files, read_header, read_records
from extractors.streams import STREAMS, BadRecord, get_stream, natural_key

Progress = Callable[[str], None]
KILL_AFTER_BATCHES_ENV = (
    "DORAFLOW_KILL_LOAD_AT_BATCH"  # test hook: SIGKILL inside the Nth batch's transaction
)
LOADED_TABLE = "raw._loaded_batches"
QUARANTINE_TABLE = "raw._quarantine"


@dataclass
class LoadResult:
    batches: int = 0
    records: int = 0
    inserted: int = 0
    updated: int = 0
    quarantined: int = 0
    per_table: dict[str, dict[str, int]] = field(default_factory=dict)

    def line(self) -> str:
        return (
            f"loaded {self.batches} batch(es): {self.records} record(s), {self.inserted} inserted, "
            f"{self.updated} updated, {self.quarantined} quarantined"
        )


class _Dialect:
    def __init__(self, target: str) -> None:
        self.postgres = target == "postgres"
        self.json = "jsonb" if self.postgres else "json"
        self.param = "%s" if self.postgres else "?"

    def ddl(self) -> list[str]:
        statements = ["create schema if not exists raw"]
        for spec in STREAMS:
            statements.append(
                f"create table if not exists raw.{spec.table} (_key varchar primary key, _scope varchar, "
                f"_parent_id varchar, payload {self.json}, _extracted_at timestamptz, _batch_id varchar)"
            )
        statements.append(
            f"create table if not exists {LOADED_TABLE} (batch_id varchar primary key, source varchar, "
            "stream varchar, scope varchar, record_count integer, quarantined_count integer, "
            f"state {self.json}, loaded_at timestamptz)"
        )
        statements.append(
            f"create table if not exists {QUARANTINE_TABLE} (batch_id varchar, source varchar, "
            "stream varchar, line_number integer, reason varchar, record text, quarantined_at timestamptz)"
        )
        return statements


def _connect(settings: Settings):
    from doraflow import warehouse

    if settings.warehouse_target == "postgres":
        connection = warehouse.postgres_connect(settings)
        connection.autocommit = False
        return connection
    connection = warehouse.duckdb_connect(settings)
    connection.execute(
        "set enable_progress_bar = false"
    )  # long merges must not draw bars on the user's terminal
    return connection


def _begin(connection, dialect: _Dialect) -> None:
    if not dialect.postgres:
        connection.execute("begin transaction")


def _cursor(connection, dialect: _Dialect):
    return connection.cursor() if dialect.postgres else connection


def _ensure_tables(connection, dialect: _Dialect) -> None:
    cursor = _cursor(connection, dialect)
    _begin(connection, dialect)
    for statement in dialect.ddl():
        cursor.execute(statement)
    connection.commit()


def _loaded_ids(settings: Settings) -> set[str]:
    """batch_ids recorded in raw._loaded_batches (empty when the warehouse or the table does not exist)."""
    if settings.warehouse_target == "postgres":
        connection = _connect(settings)
        try:
            with connection.cursor() as cursor:
                cursor.execute("select to_regclass('raw._loaded_batches') is not null")
                if not cursor.fetchone()[0]:
                    return set()
                cursor.execute(f"select batch_id from {LOADED_TABLE}")
                return {row[0] for row in cursor.fetchall()}
        finally:
            connection.close()
    if not settings.warehouse_path.exists():
        return set()
    import duckdb

    connection = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        exists = connection.execute(
            "select count(*) from information_schema.tables where table_schema = 'raw' and table_name = "
            "'_loaded_batches'"
        ).fetchone()[0]
        if not exists:
            return set()
        return {row[0] for row in connection.execute(f"select batch_id from {LOADED_TABLE}").fetchall()}
    finally:
        connection.close()


def pending_batches(settings: Settings) -> list[Path]:
    """Landed batch files not merged yet, in batch_id order."""
    loaded = _loaded_ids(settings)
    return [path for path in all_batch_files(settings.landing_dir) if path.name.split(".")[0] not in loaded]


def _parse_batch(path: Path):
    """(header, good rows {key: row}, quarantined [(line, reason, text)], record_count)."""
    try:
        header = read_header(path)
    except (OSError, ValueError, KeyError, EOFError) as error:
        raise LoadError(
            f"landed batch {path} is unreadable ({type(error).__name__}: {error}); move it aside"
        ) from None
    try:
        spec = get_stream(header.source, header.stream)
    except KeyError:
        raise LoadError(
            f"landed batch {path} names an unknown stream {header.source}.{header.stream}"
        ) from None
    rows: dict[str, tuple] = {}
    bad: list[tuple[int, str, str]] = []
    count = 0
    try:
        for line_number, text in read_records(path):
            count += 1
            try:
                record = json.loads(text)
            except ValueError as error:
                bad.append((line_number, f"invalid JSON ({error.msg})", text))
                continue
            if not isinstance(record, dict) or "payload" not in record:
                bad.append((line_number, "record line is not {parent_id, payload}", text))
                continue
            parent_id = record.get("parent_id")
            try:
                key = natural_key(spec, header.scope, parent_id, record["payload"])
            except BadRecord as reason:
                bad.append((line_number, str(reason), text))
                continue
            rows[key] = (
                key,
                header.scope,
                None if parent_id is None else str(parent_id),
                json.dumps(record["payload"]),
                header.extracted_at,
                header.batch_id,
            )
    except (OSError, EOFError) as error:
        raise LoadError(f"landed batch {path} is truncated ({error}); move it aside and re-extract") from None
    return spec, header, list(rows.values()), bad, count


def _kill_hook(number: int) -> None:
    limit = os.environ.get(KILL_AFTER_BATCHES_ENV)
    if limit and number >= int(limit):
        os.kill(os.getpid(), signal.SIGKILL)


def _merge_duckdb(connection, table: str, rows: list[tuple], batch_id: str) -> tuple[int, int]:
    """Merge one batch's rows into a DuckDB table; reads stored payloads only for keys that may change.

    The joins touch only the `_key`/`_batch_id` columns; payloads are compared for the (few) keys already
    stored by an older batch, so a growing table is not re-read in full for every batch."""
    import pandas as pd

    frame = pd.DataFrame(
        rows, columns=["_key", "_scope", "_parent_id", "payload", "_extracted_at", "_batch_id"]
    )
    connection.register("_stage_frame", frame)
    try:
        existing = connection.execute(
            f"select t._key, t._batch_id from _stage_frame s join {table} t on t._key = s._key"
        ).fetchall()
        inserted = len(rows) - len(existing)
        candidates = [key for key, stored_batch in existing if stored_batch < batch_id]
        changed: list[str] = []
        if candidates:
            staged = {row[0]: row[3] for row in rows}
            stored = connection.execute(
                f"select _key, cast(payload as varchar) from {table} where list_contains(?, _key)",
                [candidates],
            ).fetchall()
            changed = [key for key, payload in stored if payload != staged[key]]
        if changed:
            connection.execute(
                f"update {table} as t set _scope = s._scope, _parent_id = s._parent_id, payload = s.payload::json, "
                "_extracted_at = s._extracted_at::timestamptz, _batch_id = s._batch_id from _stage_frame s "
                "where t._key = s._key and list_contains(?, s._key)",
                [changed],
            )
        if inserted:
            connection.execute(
                f"insert into {table} select s._key, s._scope, s._parent_id, s.payload::json, "
                "s._extracted_at::timestamptz, s._batch_id from _stage_frame s "
                f"where not exists (select 1 from {table} t where t._key = s._key)"
            )
    finally:
        connection.unregister("_stage_frame")
    return inserted, len(changed)


def _merge_batch(
    connection, dialect: _Dialect, path: Path, number: int
) -> tuple[str, int, int, int, int, bool]:
    spec, header, rows, bad, count = _parse_batch(path)
    table = f"raw.{spec.table}"
    p = dialect.param
    cursor = _cursor(connection, dialect)
    _begin(connection, dialect)
    inserted = updated = 0
    if rows:
        if dialect.postgres:
            from psycopg2.extras import execute_values

            cursor.execute(
                "create temp table _stage (_key varchar, _scope varchar, _parent_id varchar, payload jsonb, "
                "_extracted_at timestamptz, _batch_id varchar) on commit drop"
            )
            execute_values(cursor, "insert into _stage values %s", rows, page_size=1000)
            stage, payload, moment = "_stage", "s.payload", "s._extracted_at"
            differs = "t.payload is distinct from s.payload"
        else:
            inserted, updated = _merge_duckdb(connection, table, rows, header.batch_id)
    if dialect.postgres and rows:
        newer = f"t._batch_id < s._batch_id and {differs}"
        cursor.execute(
            "select count(*) filter (where t._key is null), "
            f"count(*) filter (where t._key is not null and {newer}) "
            f"from {stage} s left join {table} t on t._key = s._key"
        )
        inserted, updated = cursor.fetchall()[0]
        if updated:
            cursor.execute(
                f"update {table} as t set _scope = s._scope, _parent_id = s._parent_id, payload = {payload}, "
                f"_extracted_at = {moment}, _batch_id = s._batch_id from {stage} s "
                f"where t._key = s._key and {newer}"
            )
        if inserted:
            cursor.execute(
                f"insert into {table} select s._key, s._scope, s._parent_id, {payload}, {moment}, s._batch_id "
                f"from {stage} s where not exists (select 1 from {table} t where t._key = s._key)"
            )
    for line_number, reason, text in bad:
        cursor.execute(
            f"insert into {QUARANTINE_TABLE} values ({p}, {p}, {p}, {p}, {p}, {p}, current_timestamp)",
            (header.batch_id, header.source, header.stream, line_number, reason, text),
        )
    cursor.execute(
        f"insert into {LOADED_TABLE} values ({p}, {p}, {p}, {p}, {p}, {p}, {p}, current_timestamp)",
        (
            header.batch_id,
            header.source,
            header.stream,
            header.scope,
            count,
            len(bad),
            None if header.state is None else json.dumps(header.state),
        ),
    )
    _kill_hook(number)
    connection.commit()
    systematic = count > 0 and len(bad) == count
    return spec.table, count, inserted, updated, len(bad), systematic


def load_pending_batches(
    settings: Settings, progress: Progress = print, batches: list[Path] | None = None
) -> LoadResult:
    """Merge every pending landed batch (or those of `batches` still pending), oldest first, one transaction each.

    The pipeline passes `batches`: the set the landing gate passed, so nothing unchecked is merged.
    """
    pending = pending_batches(settings)
    if batches is not None:
        wanted = {Path(path).name for path in batches}
        pending = [path for path in pending if path.name in wanted]
    batches = pending
    dialect = _Dialect(settings.warehouse_target)
    result = LoadResult()
    connection = _connect(settings)
    systematic: list[str] = []
    try:
        _ensure_tables(connection, dialect)
        for number, path in enumerate(batches, start=1):
            try:
                table, count, inserted, updated, bad, all_bad = _merge_batch(
                    connection, dialect, path, number
                )
            except LoadError:
                connection.rollback()
                raise
            except Exception as error:
                connection.rollback()
                raise LoadError(
                    f"merging landed batch {path.name} failed: {type(error).__name__}: {error}"
                ) from None
            result.batches += 1
            result.records += count
            result.inserted += inserted
            result.updated += updated
            result.quarantined += bad
            figures = result.per_table.setdefault(
                table, {"records": 0, "inserted": 0, "updated": 0, "quarantined": 0}
            )
            figures["records"] += count
            figures["inserted"] += inserted
            figures["updated"] += updated
            figures["quarantined"] += bad
            if bad:
                progress(f"load {path.name}: {bad} bad record(s) quarantined in {QUARANTINE_TABLE}")
            if all_bad and count >= 1:
                systematic.append(f"raw.{table} (batch {path.name})")
    finally:
        connection.close()
    progress(result.line())
    if systematic:
        raise LoadError(
            f"every record of {len(systematic)} batch(es) was quarantined, e.g. {systematic[0]}: "
            f"the API shape changed or a key field is missing; see {QUARANTINE_TABLE} for the reasons"
        )
    return result


def replay_landing(settings: Settings, progress: Progress = print) -> LoadResult:
    """Rebuild raw.* from every landed batch: drops the raw tables this loader owns, then loads them all."""
    dialect = _Dialect(settings.warehouse_target)
    connection = _connect(settings)
    try:
        cursor = _cursor(connection, dialect)
        _begin(connection, dialect)
        for spec in STREAMS:
            cursor.execute(f"drop table if exists raw.{spec.table}")
        cursor.execute(f"drop table if exists {LOADED_TABLE}")
        cursor.execute(f"drop table if exists {QUARANTINE_TABLE}")
        connection.commit()
    finally:
        connection.close()
    return load_pending_batches(settings, progress=progress)
