"""Merge landed batches into `raw.<source>__<stream>` (the only writer of raw.*; one process at a time).

Set-based: DuckDB reads the landed `.jsonl.gz` files itself (`read_csv` of the lines, JSON parsed by
its JSON functions; no per-record Python), keys every record by the stream's natural key
(`extractors.streams.natural_key`, rebuilt in SQL by `_key_sql`), and merges each table with one
statement per step. One transaction per table ("commit group"): its rows, its quarantined records and
the lines of its batches in `raw._loaded_batches` commit together, so a load killed at any point
resumes at the first group not recorded and gives the same raw tables. DuckDB's automatic checkpoint
is deferred during the load and run once at its end (a checkpoint per commit re-compressed the growing
JSON columns and cost half of the load).

Merge rule, the same as replaying the batches one by one: per key the newest batch's version wins; a
stored row keeps its `_batch_id` when later batches carry the identical payload. Inside one batch a key
may appear twice (a list shifted while it was paged, documented API behaviour): the record with the
newest `updated_at` (Jira `fields.updated`) wins, else the last line; the duplicates are counted in
`raw._loaded_batches.duplicate_count` and reported in one line, never fatal. Records that cannot be
keyed go to `raw._quarantine` with the reason. PostgreSQL: the files are parsed by an in-memory DuckDB
with the same SQL and the keyed rows are merged in PostgreSQL (payload `jsonb`).
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from doraflow.config import Settings
from doraflow.errors import LoadError
from extractors.landing import BatchHeader, all_batch_files, read_header
from extractors.streams import STREAMS, StreamSpec, get_stream

Progress = Callable[[str], None]
KILL_AT_BATCH_ENV = (
    "DORAFLOW_KILL_LOAD_AT_BATCH"  # test hook: SIGKILL inside the transaction merging the Nth batch
)
KILL_AFTER_BATCHES_ENV = KILL_AT_BATCH_ENV  # former name
LOADED_TABLE = "raw._loaded_batches"
QUARANTINE_TABLE = "raw._quarantine"
LINE_DELIMITER = "\x1f"  # never in a landed line: json.dumps escapes every control character
VERSION_PATHS = ("$.updated_at", "$.fields.updated")  # a payload's own version, newest wins in a batch
PY_TYPE = (  # json_type -> the Python type name natural_key() reports
    "case {t} when 'VARCHAR' then 'str' when 'BIGINT' then 'int' when 'UBIGINT' then 'int' "
    "when 'HUGEINT' then 'int' when 'DOUBLE' then 'float' when 'BOOLEAN' then 'bool' "
    "when 'ARRAY' then 'list' when 'OBJECT' then 'dict' else 'NoneType' end"
)


@dataclass
class LoadResult:
    batches: int = 0
    records: int = 0
    inserted: int = 0
    updated: int = 0
    quarantined: int = 0
    duplicates: int = 0
    per_table: dict[str, dict[str, int]] = field(default_factory=dict)

    def line(self) -> str:
        return (
            f"loaded {self.batches} batch(es): {self.records} record(s), {self.inserted} inserted, "
            f"{self.updated} updated, {self.quarantined} quarantined, {self.duplicates} duplicate(s) in a batch"
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
            f"state {self.json}, loaded_at timestamptz, duplicate_count integer)"
        )
        # warehouses made before duplicates were counted
        statements.append(f"alter table {LOADED_TABLE} add column if not exists duplicate_count integer")
        statements.append(
            f"create table if not exists {QUARANTINE_TABLE} (batch_id varchar, source varchar, "
            "stream varchar, line_number integer, reason varchar, record text, quarantined_at timestamptz)"
        )
        return statements

    def stored_payload(self, alias: str) -> str:
        """A stored payload in the form staged payloads are compared in (DuckDB: minified JSON text)."""
        return f"{alias}.payload" if self.postgres else f"json({alias}.payload::varchar)"


def _connect(settings: Settings):
    from doraflow import warehouse

    if settings.warehouse_target == "postgres":
        connection = warehouse.postgres_connect(settings)
        connection.autocommit = False
        return connection
    connection = warehouse.duckdb_connect(settings)
    connection.execute("set enable_progress_bar = false")  # long merges must not draw bars on the terminal
    return connection


def _cursor(connection, dialect: _Dialect):
    return connection.cursor() if dialect.postgres else connection


def _begin(connection, dialect: _Dialect) -> None:
    if not dialect.postgres:
        connection.execute("begin transaction")


def _rollback(connection) -> None:
    """Roll back whatever is open; a failure before `begin` leaves nothing to roll back."""
    try:
        connection.rollback()
    except Exception:  # noqa: BLE001 - "no transaction is active" must not hide the real error
        pass


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


loaded_batch_ids = _loaded_ids


def pending_batches(settings: Settings) -> list[Path]:
    """Landed batch files not merged yet, in batch_id order."""
    loaded = _loaded_ids(settings)
    return [path for path in all_batch_files(settings.landing_dir) if path.name.split(".")[0] not in loaded]


def quarantine_command(batch_id: str) -> str:
    return f"doraflow landing quarantine {batch_id}"


def _unreadable(path: Path, what: str, error: BaseException) -> LoadError:
    batch_id = path.name.split(".")[0]
    return LoadError(
        f"landed batch {path} is {what} ({type(error).__name__}: {error}); "
        f"run `{quarantine_command(batch_id)}` to move it aside, then rerun (its streams are re-extracted)"
    )


def _header(path: Path) -> tuple[BatchHeader, StreamSpec]:
    try:
        header = read_header(path)
    except (OSError, ValueError, KeyError, EOFError, zlib.error) as error:
        raise _unreadable(path, "unreadable", error) from None
    try:
        return header, get_stream(header.source, header.stream)
    except KeyError:
        raise LoadError(
            f"landed batch {path} names an unknown stream {header.source}.{header.stream}"
        ) from None


def _check_complete(paths: Sequence[Path]) -> None:
    """Names the first batch whose gzip stream is cut or corrupt (called only after DuckDB failed)."""
    for path in paths:
        try:
            with gzip.open(path, "rb") as handle:
                while handle.read(1 << 20):
                    pass
        except (OSError, EOFError, zlib.error) as error:
            raise _unreadable(path, "truncated", error) from None


# -- SQL: parse, key, deduplicate ----------------------------------------------------------------------
def _json_path(parts: tuple[str, ...]) -> str:
    return "$." + ".".join(f'"{part}"' for part in parts)


def _key_sql(spec: StreamSpec) -> tuple[str, str, str]:
    """(paths, reason, key): natural_key() in SQL over `payload_type`, `parent_id`, `scope` and `fields`, the
    list `json_extract(payload, paths)` (the key fields, then VERSION_PATHS), so a payload is parsed once."""
    paths = [_json_path(f.path) for f in spec.key_fields] + list(VERSION_PATHS)
    reasons = [
        "when payload_type <> 'OBJECT' then 'payload is ' || "
        + PY_TYPE.format(t="payload_type")
        + " || ', expected a JSON object'"
    ]
    parts: list[str] = []
    if spec.key_scope:
        parts.append("scope")
    if spec.key_parent:
        reasons.append("when parent_id is null or parent_id = '' then 'missing parent_id'")
        parts.append("parent_id")
    for number, key_field in enumerate(spec.key_fields, start=1):
        kind = f"coalesce(json_type(fields[{number}]), 'NULL')"
        text = f"json_extract_string(fields[{number}], '$')"
        allowed = "('BIGINT', 'UBIGINT', 'HUGEINT')" if key_field.types == (int,) else "('VARCHAR')"
        expected = " or ".join(t.__name__ for t in key_field.types)
        name = f"''{key_field.name}''"
        reasons.append(f"when {kind} = 'NULL' then 'missing key field {name}'")
        reasons.append(
            f"when {kind} not in {allowed} then 'key field {name} is ' || "
            + PY_TYPE.format(t=kind)
            + f" || ', expected {expected}'"
        )
        if key_field.types == (str,):
            reasons.append(f"when trim({text}, ' \t\n\r') = '' then 'key field {name} is empty'")
        parts.append(text)
    paths_sql = "[" + ", ".join(f"'{path}'" for path in paths) + "]"
    return paths_sql, "case " + " ".join(reasons) + " end", "concat_ws('#', " + ", ".join(parts) + ")"


def _read_lines(duck, paths: Sequence[Path]) -> None:
    """`_raw_lines(_file, line)`: every line of the files, in file order (the header included)."""
    duck.execute(
        "create or replace temp table _raw_lines as select filename as _file, line from read_csv(?, "
        "columns = {'line': 'VARCHAR'}, delim = ?, quote = '', escape = '', header = false, "
        "auto_detect = false, filename = true, compression = 'gzip')",
        [[str(path) for path in paths], LINE_DELIMITER],
    )


def _stage(duck, spec: StreamSpec) -> None:
    """From `_raw_lines`: `_bad` (quarantine rows), `_stage` (one row per key and batch), `_batch_counts`.

    Each line is parsed once (`try(json_extract(line, [parent_id, payload]))`, NULL when it is not JSON) and
    each payload once more, for its key fields and version together."""
    paths, reason, key = _key_sql(spec)
    first_version = len(spec.key_fields) + 1
    versions = ", ".join(
        f"json_extract_string(fields[{first_version + n}], '$')" for n in range(len(VERSION_PATHS))
    )
    duck.execute(
        "create or replace temp table _keyed as "
        "with numbered as ("  # the scan keeps each file's line order, so rowids number the lines
        "  select b.batch_id, b.scope, b.extracted_at, l.line, l.rowid - f.first_row + 1 as line_number "
        "  from _raw_lines l join (select _file, min(rowid) as first_row from _raw_lines group by _file) f "
        "  on f._file = l._file join _batches b on b.path = l._file), "
        "parsed as ("
        "  select *, try(json_extract(line, ['$.parent_id', '$.payload'])) as parts from numbered "
        "  where line_number > 1), "
        "records as ("
        "  select batch_id, scope, extracted_at, line, line_number, "
        "  json_extract_string(parts[1], '$') as parent_id, parts[2] as payload, "
        "  case when parts is null then 'invalid JSON' "
        "  when parts[2] is null then 'record line is not {parent_id, payload}' end as line_reason "
        "  from parsed), "
        "typed as ("
        "  select *, case when line_reason is not null then null when left(payload, 1) = '{' then 'OBJECT' "
        "  else json_type(payload) end as payload_type, "
        f"  case when line_reason is null and left(payload, 1) = '{{' then json_extract(payload, {paths}) end "
        "  as fields from records), "
        "keyed as ("
        f"  select *, coalesce(line_reason, {reason}) as reason from typed) "
        "select batch_id, line_number, scope, extracted_at, parent_id, payload, reason, "
        "case when reason is not null then line end as line, "
        f"case when reason is null then {key} end as _key, "
        f"case when reason is null then coalesce({versions}) end as version from keyed"
    )
    duck.execute("drop table _raw_lines")
    duck.execute(
        "create or replace temp table _bad as select batch_id, line_number, reason, line "
        "from _keyed where reason is not null"
    )
    duck.execute(
        "create or replace temp table _batch_counts as select b.batch_id, "
        "coalesce(r.records, 0) as records, coalesce(r.bad, 0) as bad, "
        "coalesce(r.good, 0) - coalesce(r.keys, 0) as duplicates from _batches b left join ("
        "select batch_id, count(*) as records, count(*) filter (where reason is not null) as bad, "
        "count(*) filter (where reason is null) as good, count(distinct _key) as keys "
        "from _keyed group by batch_id) r using (batch_id)"
    )
    columns = "_key, scope as _scope, parent_id as _parent_id, payload, extracted_at as _extracted_at, "
    columns += "batch_id as _batch_id"
    duplicates = duck.execute("select coalesce(sum(duplicates), 0) from _batch_counts").fetchone()[0]
    if duplicates:  # keep one version per key and batch: the newest by its own version, else the last line
        duck.execute(
            f"create or replace temp table _deduplicated as select {columns} from ("
            "select *, row_number() over (partition by _key, batch_id "
            "order by version desc nulls last, line_number desc) as pick from _keyed where reason is null) "
            "where pick = 1"
        )
        duck.execute("create or replace temp view _stage as select * from _deduplicated")
    else:  # the usual case: no copy of the payloads
        duck.execute(
            f"create or replace temp view _stage as select {columns} from _keyed where reason is null"
        )


def _drop_stage(duck) -> None:
    duck.execute("drop view if exists _stage")
    duck.execute("drop table if exists _deduplicated")
    duck.execute("drop table if exists _keyed")


def _register_batches(duck, headers: Sequence[tuple[Path, BatchHeader]]) -> None:
    duck.execute(
        "create or replace temp table _batches as select * from (select unnest(?::varchar[]) as batch_id, "
        "unnest(?::varchar[]) as path, unnest(?::varchar[]) as scope, "
        "unnest(?::varchar[])::timestamptz as extracted_at)",
        [
            [h.batch_id for _, h in headers],
            [str(p) for p, _ in headers],
            [h.scope for _, h in headers],
            [h.extracted_at for _, h in headers],
        ],
    )


def _merge_sql(table: str, dialect: _Dialect) -> tuple[list[str], str, list[str]]:
    """(prepare, count, apply): merge `_stage` into `table` as if its batches were merged one by one in
    batch_id order.

    Only "contested" keys (staged by more than one batch, or stored already) need the replay: per key, the
    stored row and the staged versions form a sequence in batch_id order; a version "changes" the row when it
    differs from the one before. The row ends as the first version of the trailing run of identical payloads
    (so an identical re-read keeps its `_batch_id`); every change after the first element counts as an
    update. Every other key is a plain insert (most of a backfill), so wide payloads are sorted only where
    a comparison is needed."""
    stored = dialect.stored_payload("t")
    temp = "create temp table" + (" {name} on commit drop as " if dialect.postgres else " {name} as ")
    prepare = [
        temp.format(name="_contested") + "select _key from _stage group by _key having count(*) > 1 "
        f"union select t._key from {table} t where t._key in (select _key from _stage)",
        temp.format(name="_sequence")
        + "select _key, bool_or(stored) as has_stored, max(case when changed then _batch_id end) as run_start, "
        "max(case when stored then _batch_id end) as stored_batch, "
        "bool_or(stored and from_last = 1) as stored_is_last, "
        "count(*) filter (where changed) - 1 as changes from ("
        "select *, (cmp is distinct from lag(cmp) over (partition by _key order by _batch_id)) as changed, "
        "row_number() over (partition by _key order by _batch_id desc) as from_last from ("
        "select s._key, s._batch_id, false as stored, s.payload as cmp from _stage s "
        "where s._key in (select _key from _contested) "
        f"union all select t._key, t._batch_id, true, {stored} from {table} t "
        "where t._key in (select _key from _contested)) elements) marked group by _key",
    ]
    count = (
        "select (select count(*) from _stage s where not exists (select 1 from _contested c where c._key = s._key)) "
        "+ (select count(*) from _sequence where not has_stored), "
        "(select coalesce(sum(case when has_stored and stored_is_last then 0 else changes end), 0) from _sequence)"
    )
    columns = "s._key, s._scope, s._parent_id, s.payload, s._extracted_at, s._batch_id"
    apply = [
        f"update {table} as t set _scope = s._scope, _parent_id = s._parent_id, payload = s.payload, "
        "_extracted_at = s._extracted_at, _batch_id = s._batch_id from _stage s, _sequence q "
        "where q._key = t._key and s._key = q._key and s._batch_id = q.run_start "
        "and q.has_stored and not q.stored_is_last and q.run_start <> q.stored_batch",
        f"insert into {table} select {columns} "
        "from _stage s join _sequence q on s._key = q._key and s._batch_id = q.run_start "
        "where not q.has_stored",
        f"insert into {table} select {columns} from _stage s "
        "where not exists (select 1 from _contested c where c._key = s._key)",
    ]
    return prepare, count, apply


def _kill_hook(positions: Sequence[int]) -> None:
    limit = os.environ.get(KILL_AT_BATCH_ENV)
    if limit and int(limit) in positions:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class _Group:
    spec: StreamSpec
    members: list[tuple[Path, BatchHeader]] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)  # 1-based places of its batches in the load


def _groups(batches: Sequence[Path]) -> list[_Group]:
    """One commit group per table, in the order of each table's first pending batch."""
    groups: dict[str, _Group] = {}
    for number, path in enumerate(batches, start=1):
        header, spec = _header(path)
        group = groups.setdefault(spec.table, _Group(spec))
        group.members.append((path, header))
        group.positions.append(number)
    return list(groups.values())


def _push_stage_to_postgres(cursor, duck) -> None:
    from psycopg2.extras import execute_values

    cursor.execute(
        "create temp table _stage (_key varchar, _scope varchar, _parent_id varchar, payload jsonb, "
        "_extracted_at timestamptz, _batch_id varchar) on commit drop"
    )
    staged = duck.execute("select * from _stage")
    while chunk := staged.fetchmany(5000):
        execute_values(cursor, "insert into _stage values %s", chunk, page_size=1000)
    cursor.execute("create index on _stage (_key)")
    cursor.execute("analyze _stage")


@dataclass
class _GroupResult:
    records: int
    inserted: int
    updated: int
    quarantined: int
    duplicates: int
    bad_by_batch: dict[str, tuple[int, int]]  # batch_id -> (bad, records)
    duplicates_by_batch: dict[str, int]


def _merge_group(connection, duck, dialect: _Dialect, group: _Group) -> _GroupResult:
    """Stage, merge and record one table's pending batches in one transaction."""
    import duckdb

    paths = [path for path, _ in group.members]
    try:
        _register_batches(duck, group.members)
        _read_lines(duck, paths)
    except duckdb.Error as error:
        _check_complete(paths)
        raise LoadError(f"reading the landed batches of raw.{group.spec.table} failed: {error}") from None
    _stage(duck, group.spec)
    counts = {row[0]: row[1:] for row in duck.execute("select * from _batch_counts").fetchall()}
    bad = duck.execute("select batch_id, line_number, reason, line from _bad order by 1, 2").fetchall()
    headers = {h.batch_id: h for _, h in group.members}
    p = dialect.param
    cursor = _cursor(connection, dialect)
    _begin(connection, dialect)
    if dialect.postgres:
        _push_stage_to_postgres(cursor, duck)
    prepare, count, apply = _merge_sql(f"raw.{group.spec.table}", dialect)
    for statement in prepare:
        cursor.execute(statement)
    cursor.execute(count)
    inserted, updated = (int(value) for value in cursor.fetchall()[0])
    for statement in apply:
        cursor.execute(statement)
    if bad:
        cursor.executemany(
            f"insert into {QUARANTINE_TABLE} values ({p}, {p}, {p}, {p}, {p}, {p}, current_timestamp)",
            [
                (batch_id, headers[batch_id].source, headers[batch_id].stream, line, reason, text)
                for batch_id, line, reason, text in bad
            ],
        )
    cursor.executemany(
        f"insert into {LOADED_TABLE} (batch_id, source, stream, scope, record_count, quarantined_count, "
        f"state, loaded_at, duplicate_count) values ({p}, {p}, {p}, {p}, {p}, {p}, {p}, current_timestamp, {p})",
        [
            (
                h.batch_id,
                h.source,
                h.stream,
                h.scope,
                counts[h.batch_id][0],
                counts[h.batch_id][1],
                None if h.state is None else json.dumps(h.state),
                counts[h.batch_id][2],
            )
            for h in headers.values()
        ],
    )
    _kill_hook(group.positions)
    connection.commit()
    if not dialect.postgres:  # PostgreSQL drops them at commit
        connection.execute("drop table if exists _contested")
        connection.execute("drop table if exists _sequence")
    _drop_stage(duck)
    return _GroupResult(
        records=sum(c[0] for c in counts.values()),
        inserted=inserted,
        updated=updated,
        quarantined=len(bad),
        duplicates=sum(c[2] for c in counts.values()),
        bad_by_batch={b: (c[1], c[0]) for b, c in counts.items() if c[1]},
        duplicates_by_batch={b: c[2] for b, c in counts.items() if c[2]},
    )


def _staging_engine(connection, dialect: _Dialect, settings: Settings):
    """DuckDB that reads the files: the warehouse itself, or an in-memory one beside PostgreSQL."""
    if not dialect.postgres:
        return connection
    import duckdb

    from doraflow.warehouse import duckdb_config

    duck = duckdb.connect(":memory:", config=duckdb_config(settings))
    duck.execute("set enable_progress_bar = false")
    return duck


def load_pending_batches(
    settings: Settings, progress: Progress = print, batches: Sequence[Path] | None = None
) -> LoadResult:
    """Merge the pending landed batches (or exactly `batches`, e.g. the set a gate checked), one
    transaction per table, then checkpoint once."""
    if batches is None:
        batches = pending_batches(settings)
    else:
        loaded = _loaded_ids(settings)
        batches = sorted(
            (Path(b) for b in batches if Path(b).name.split(".")[0] not in loaded), key=lambda p: p.name
        )
    groups = _groups(batches)
    dialect = _Dialect(settings.warehouse_target)
    result = LoadResult()
    systematic: list[str] = []
    connection = _connect(settings)
    duck = None
    try:
        _ensure_tables(connection, dialect)
        duck = _staging_engine(connection, dialect, settings)
        if not dialect.postgres and groups:
            # one checkpoint for the whole load instead of one per commit (see the module docstring)
            connection.execute("set checkpoint_threshold = '1TB'")
        for group in groups:
            try:
                figures = _merge_group(connection, duck, dialect, group)
            except LoadError:
                _rollback(connection)
                raise
            except Exception as error:
                _rollback(connection)
                raise LoadError(
                    f"merging the landed batches of raw.{group.spec.table} failed: {type(error).__name__}: {error}"
                ) from None
            result.batches += len(group.members)
            result.records += figures.records
            result.inserted += figures.inserted
            result.updated += figures.updated
            result.quarantined += figures.quarantined
            result.duplicates += figures.duplicates
            result.per_table[group.spec.table] = {
                "records": figures.records,
                "inserted": figures.inserted,
                "updated": figures.updated,
                "quarantined": figures.quarantined,
                "duplicates": figures.duplicates,
            }
            for batch_id, (bad, records) in figures.bad_by_batch.items():
                progress(f"load {batch_id}: {bad} bad record(s) quarantined in {QUARANTINE_TABLE}")
                if bad == records:
                    systematic.append(f"raw.{group.spec.table} (batch {batch_id})")
            if figures.duplicates:
                progress(
                    f"load raw.{group.spec.table}: {figures.duplicates} duplicate key(s) inside "
                    f"{len(figures.duplicates_by_batch)} batch(es) (a list shifted while paged); kept the "
                    f"newest version of each, counted in {LOADED_TABLE}.duplicate_count"
                )
        if not dialect.postgres and groups:
            connection.execute("reset checkpoint_threshold")
            connection.execute("checkpoint")
    finally:
        if duck is not None and duck is not connection:
            duck.close()
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
