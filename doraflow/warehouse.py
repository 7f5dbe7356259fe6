"""Connections to the warehouse: the DuckDB file at WAREHOUSE_PATH, or PostgreSQL.

Only one process may write the DuckDB file at a time; the pipeline's writing steps run one after the
other (Airflow: the `dora_warehouse` pool of one slot). Readers use the serving copy instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from doraflow.config import Settings

SCHEMAS = ("raw", "staging", "intermediate", "marts", "ops")


def duckdb_connect(settings: Settings, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the working DuckDB file (created with its folder on first write)."""
    if not read_only:
        settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    return duckdb.connect(str(settings.warehouse_path), read_only=read_only, config=duckdb_config(settings))


def duckdb_config(settings: Settings) -> dict[str, str]:
    """DuckDB settings of every doraflow connection (dbt gets the same through its profile)."""
    return {"memory_limit": settings.duckdb_memory_limit} if settings.duckdb_memory_limit else {}


def postgres_connect(settings: Settings):
    """A psycopg2 connection to WAREHOUSE_POSTGRES_URL (autocommit off)."""
    import psycopg2

    if settings.postgres_url is None:
        raise RuntimeError("WAREHOUSE_POSTGRES_URL is not set")
    return psycopg2.connect(settings.postgres_url.reveal())


@contextmanager
def warehouse_cursor(settings: Settings, *, read_only: bool = False) -> Iterator[object]:
    """A DB-API cursor on the configured target; commits on success, rolls back on error."""
    if settings.warehouse_target == "postgres":
        connection = postgres_connect(settings)
        try:
            with connection:
                with connection.cursor() as cursor:
                    yield cursor
        finally:
            connection.close()
    else:
        connection = duckdb_connect(settings, read_only=read_only)
        try:
            cursor = connection.cursor()
            yield cursor
            cursor.close()
        finally:
            connection.close()
