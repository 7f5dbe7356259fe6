"""What the settings files (SERVICE_CATALOG_PATH, TEAM_MEMBERS_PATH) share: reading a CSV with a header into
rows numbered by their line, and replacing the raw table that mirrors the file before each dbt build.

Each file's own module keeps its columns and its rules; this module keeps the file format and the write
contract the same for both: one-line errors naming the setting, the file and the line; one transaction, so a
reader sees the old rows or the new ones.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from doraflow.config import ConfigError
from doraflow.errors import LoadError


def read_rows(
    path: Path, setting: str, columns: Sequence[str], required: str
) -> tuple[str, list[tuple[int, dict[str, str | None]]]]:
    """(where, [(line, {column: value or None}), ...]): blank lines skipped, values stripped, empty = None.

    `where` (`SETTING 'path'`) starts every error message of the caller. Raises ConfigError for a missing or
    unreadable file, a header without `required` or with unknown or repeated columns, and a line whose number of
    values differs from the header's."""
    where = f"{setting} {str(path)!r}"
    if not path.is_file():
        raise ConfigError(f"{where}: no such file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{where}: cannot read it as UTF-8 text ({error})") from None
    reader = csv.reader(text.splitlines())
    header = [name.strip().lower() for name in next(reader, [])]
    if required not in header:
        raise ConfigError(f"{where}: the first line must be a header naming the columns {', '.join(columns)}")
    unknown = [name for name in header if name not in columns]
    if unknown or len(set(header)) != len(header):
        raise ConfigError(
            f"{where}: header {','.join(header)!r} has unknown or repeated columns; allowed: {', '.join(columns)}"
        )
    rows: list[tuple[int, dict[str, str | None]]] = []
    for line, values in enumerate(reader, start=2):
        if not any(value.strip() for value in values):
            continue
        if len(values) != len(header):
            raise ConfigError(f"{where} line {line}: {len(values)} values for {len(header)} columns")
        rows.append(
            (line, {name: (value.strip() or None) for name, value in zip(header, values, strict=True)})
        )
    return where, rows


def replace_table(
    settings,
    what: str,
    table: str,
    create_columns: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[object]],
    added_columns: Sequence[str] = (),
) -> int:
    """Replace `table` (`raw.<name>`, created with `create_columns` when absent) with `rows` of `columns`, in one
    transaction; `added_columns` are text columns a table written by an older doraflow may lack. Returns the
    number of rows. Raises LoadError naming `what` and the warehouse, in one line."""
    from doraflow.warehouse import warehouse_cursor

    postgres = settings.warehouse_target == "postgres"
    try:
        with warehouse_cursor(settings) as cursor:
            if not postgres:
                cursor.execute("begin transaction")  # PostgreSQL: warehouse_cursor's transaction
            cursor.execute("create schema if not exists raw")
            cursor.execute(f"create table if not exists {table} ({create_columns})")
            for column in added_columns:
                cursor.execute(f"alter table {table} add column if not exists {column} text")
            cursor.execute(f"delete from {table}")
            if rows:
                placeholders = ", ".join(["%s" if postgres else "?"] * len(columns))
                cursor.executemany(
                    f"insert into {table} ({', '.join(columns)}) values ({placeholders})",
                    [tuple(r) for r in rows],
                )
            if not postgres:
                cursor.execute("commit")
    except Exception as error:  # noqa: BLE001 - duckdb.Error or psycopg2.Error, reported in one line
        where = "PostgreSQL" if postgres else str(settings.warehouse_path)
        message = " ".join(str(error).split())[:300]
        raise LoadError(f"cannot write the {what} into {where}: {message}") from None
    return len(rows)
