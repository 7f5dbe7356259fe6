"""Connections to the warehouse: the DuckDB file at WAREHOUSE_PATH, or PostgreSQL.

Only one process may write the DuckDB file at a time; the pipeline's writing steps run one after the
other (Airflow: the `dora_warehouse` pool of one slot). Readers use the serving copy instead.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from doraflow.config import Settings
from doraflow.errors import DoraflowError

SCHEMAS = ("raw", "staging", "intermediate", "marts", "ops")


def duckdb_connect(settings: Settings, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the working DuckDB file (created with its folder on first write)."""
    if not read_only:
        settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    return duckdb.connect(str(settings.warehouse_path), read_only=read_only, config=duckdb_config(settings))


def duckdb_config(settings: Settings) -> dict[str, str]:
    """DuckDB settings of every doraflow connection (dbt gets the same through its profile)."""
    return {"memory_limit": settings.duckdb_memory_limit} if settings.duckdb_memory_limit else {}


def postgres_connect(settings: Settings, **options):
    """A psycopg2 connection to WAREHOUSE_POSTGRES_URL (autocommit off)."""
    import psycopg2

    if settings.postgres_url is None:
        raise RuntimeError("WAREHOUSE_POSTGRES_URL is not set")
    return psycopg2.connect(settings.postgres_url.reveal(), connect_timeout=10, **options)


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


# -- failures to open the warehouse, in one line ------------------------------------------------------------
class WarehouseUnavailable(DoraflowError):
    """The warehouse cannot be opened or written: the message names the cause and the fix."""


def describe_open_error(settings: Settings, error: BaseException) -> str:
    """One line naming why the warehouse could not be opened, and what to do about it."""
    text = " ".join(str(error).split())
    lowered = text.lower()
    if settings.warehouse_target == "postgres":
        where = _postgres_where(settings)
        if "password authentication failed" in lowered or "no password supplied" in lowered:
            return (
                f"PostgreSQL at {where} refused the login: fix the user or password in WAREHOUSE_POSTGRES_URL"
            )
        if "does not exist" in lowered and "database" in lowered:
            return (
                f"PostgreSQL at {where}: the database does not exist: create it or fix WAREHOUSE_POSTGRES_URL"
            )
        if "connection refused" in lowered or "could not connect" in lowered or "timeout" in lowered:
            return (
                f"PostgreSQL at {where} is not reachable (connection refused): start the server or fix the host "
                "and port in WAREHOUSE_POSTGRES_URL"
            )
        return f"PostgreSQL at {where} could not be opened: {text[:200]}"
    path = settings.warehouse_path
    if "lock" in lowered and ("conflicting" in lowered or "could not set lock" in lowered):
        holder = re.search(r"\(PID (\d+)\)", text)
        by = f" by process {holder.group(1)}" if holder else " by another process"
        return (
            f"the warehouse {path} is held{by}: wait for it or stop it (BI tools and notebooks should read the "
            "serving copy, not the warehouse)"
        )
    if "no space left" in lowered or "disk full" in lowered:
        return f"the disk holding {path.parent} is full: free some space and rerun (nothing was lost)"
    if "read-only" in lowered or "permission denied" in lowered or "read only" in lowered:
        return (
            f"the warehouse {path} cannot be written (read-only or permission denied): make {path.parent} "
            "writable for this user, or point WAREHOUSE_PATH at a writable folder"
        )
    return f"the warehouse {path} could not be opened: {text[:200]}"


def _postgres_where(settings: Settings) -> str:
    from urllib.parse import urlparse

    url = urlparse(settings.postgres_url.reveal()) if settings.postgres_url else None
    if url is None:
        return "WAREHOUSE_POSTGRES_URL (not set)"
    try:
        port = url.port or 5432
    except ValueError:
        port = "?"
    return f"{url.hostname or 'localhost'}:{port}/{url.path.lstrip('/') or 'postgres'}"


def ensure_writable(settings: Settings) -> None:
    """Open the warehouse for writing once, so a run fails before any request when it cannot."""
    try:
        if settings.warehouse_target == "postgres":
            postgres_connect(settings).close()
        else:
            probe = settings.warehouse_path.parent / f".{settings.warehouse_path.name}.write-probe"
            settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
            probe.write_bytes(b"")  # DuckDB opens a read-only folder's file without complaint: ask the folder
            probe.unlink()
            duckdb_connect(settings).close()
    except WarehouseUnavailable:
        raise
    except Exception as error:  # duckdb.Error, psycopg2.Error, OSError: all are "cannot open"
        raise WarehouseUnavailable(describe_open_error(settings, error)) from None


# -- the run lock ---------------------------------------------------------------------------------------------
# One run at a time per warehouse. On DuckDB: an flock on `<warehouse>.run.lock` (the kernel drops it when the
# holder dies, so a killed run never jams the next; the file's content only names the holder). On PostgreSQL:
# a session advisory lock, dropped with the session; the holder is named by its connection's application_name.
POSTGRES_LOCK_KEY = 0x646F7261  # "dora"
_held: dict[str, object] = {}  # lock key -> handle, so the steps of a run held by this process re-enter


class RunLocked(DoraflowError):
    """Another run holds the warehouse."""


def _holder(run_id: str) -> dict[str, object]:
    return {
        "run_id": run_id,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
    }


def _holder_line(settings: Settings, holder: dict | None, doing: str = "") -> str:
    where = _postgres_where(settings) if settings.warehouse_target == "postgres" else settings.warehouse_path
    if not holder:
        who = "another doraflow run"
    else:
        who = (
            f"run {holder.get('run_id')} (pid {holder.get('pid')} on {holder.get('host')}, "
            f"started {holder.get('started_at')})"
        )
    return f"the warehouse {where} is in use by {who}{doing}: wait for it to finish, then rerun"


def lock_path(settings: Settings) -> Path:
    return settings.warehouse_path.with_name(settings.warehouse_path.name + ".run.lock")


def extract_lock_path(settings: Settings) -> Path:
    return settings.warehouse_path.with_name(settings.warehouse_path.name + ".extract.lock")


@contextmanager
def run_lock(settings: Settings, run_id: str) -> Iterator[None]:
    """Hold the warehouse's run lock, or raise RunLocked at once naming the holder (re-entrant).

    It holds the extract lock too, exclusively: a run never starts while another run's extract tasks work.
    """
    key = _lock_key(settings)
    if key in _held:
        yield
        return
    if settings.warehouse_target == "postgres":
        handle = _lock_postgres(settings, run_id)
    else:
        handle = _lock_duckdb(settings, run_id)
        try:
            extract = _lock_extract_duckdb(settings, run_id, shared=False)
        except BaseException:
            handle.truncate(0)
            handle.close()
            raise
    _held[key] = handle
    try:
        yield
    finally:
        del _held[key]
        if settings.warehouse_target == "postgres":
            handle.close()  # ends the session: the advisory locks go with it
        else:
            extract.truncate(0)
            extract.close()
            handle.truncate(0)
            handle.close()  # closing the file drops the flock


@contextmanager
def extract_lock(settings: Settings, run_id: str, *, shared: bool = True) -> Iterator[None]:
    """The extract lock, shared: held by each mapped extract task of one Airflow run, all at once.

    `shared=False`: held alone, by an extract outside a run (`doraflow extract`).

    A run (`run_lock`: the CLI's whole run, a DAG task that writes the warehouse) holds it exclusively, so a
    `doraflow run` started while a DAG run's tasks extract is refused in one line naming that run, and those
    tasks are refused while a run holds the warehouse; the tasks of another run are refused too (its holder
    is named), so the API budget is never spent twice. Re-entrant under the run lock (`airflow dags test`).
    """
    if _lock_key(settings) in _held:
        yield
        return
    if settings.warehouse_target == "postgres":
        handle = _lock_extract_postgres(settings, run_id, shared=shared)
    else:
        handle = _lock_extract_duckdb(settings, run_id, shared=shared)
    try:
        yield
    finally:
        handle.close()  # the last task of the run to let go leaves the holder's record: the next taker rewrites it


def _lock_key(settings: Settings) -> str:
    if settings.warehouse_target == "postgres":
        return "postgres:" + _postgres_where(settings)
    return "duckdb:" + str(lock_path(settings).resolve())


def _lock_duckdb(settings: Settings, run_id: str):
    path = lock_path(settings)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held open for the whole run
    except OSError as error:
        raise WarehouseUnavailable(describe_open_error(settings, error)) from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        try:
            holder = json.loads(handle.read() or "null")
        except ValueError:
            holder = None
        handle.close()
        raise RunLocked(_holder_line(settings, holder)) from None
    handle.seek(0)
    handle.truncate(0)
    handle.write(json.dumps(_holder(run_id)))
    handle.flush()
    return handle


def _read_holder(handle) -> dict | None:
    handle.seek(0)
    try:
        holder = json.loads(handle.read() or "null")
    except ValueError:
        return None
    return holder if isinstance(holder, dict) else None


def _lock_extract_duckdb(settings: Settings, run_id: str, *, shared: bool):
    """flock on `<warehouse>.extract.lock`: LOCK_EX for a run, LOCK_SH for the extract tasks of one run.

    Who holds it is written in the file by its first taker; a guard file, held for the instant of the decision,
    makes "take it, read or write who holds it" one step between doraflow processes.
    """
    path = extract_lock_path(settings)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held open while extracting
        guard = open(path.with_name(path.name + ".guard"), "a")  # noqa: SIM115 - closed below
    except OSError as error:
        raise WarehouseUnavailable(describe_open_error(settings, error)) from None
    with guard:
        fcntl.flock(guard, fcntl.LOCK_EX)  # blocks only while another process decides
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(handle)
            joined = shared and holder is not None and holder.get("run_id") == run_id
            if joined:  # a task of the same run holds it shared
                try:
                    fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
                except BlockingIOError:
                    joined = False
            if not joined:
                handle.close()
                doing = ", extracting" if (holder or {}).get("extracting") else ""
                raise RunLocked(_holder_line(settings, holder, doing)) from None
            return handle
        try:
            handle.seek(0)
            handle.truncate(0)
            handle.write(json.dumps({**_holder(run_id), "extracting": shared}))
            handle.flush()
        except OSError as error:  # e.g. a full disk: one line, as for the run lock's own folder
            with suppress(OSError):
                handle.close()  # flushes what could not be written: the file is closed all the same
            raise WarehouseUnavailable(describe_open_error(settings, error)) from None
        if shared:  # the run's other extract tasks may join: every taker passes the guard, so none slips in
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
    return handle


# the extract lock's key on PostgreSQL ("dorb"): taken shared by extract tasks, exclusively with the run lock
POSTGRES_EXTRACT_KEY = 0x646F7262


def _postgres_holders(cursor, key: int) -> list[dict | None]:
    cursor.execute(
        "select h.holder from pg_locks l join ops.run_lock_holders h on h.backend_pid = l.pid"
        " where l.locktype = 'advisory' and l.objid = %s and l.granted and l.pid <> pg_backend_pid()",
        (key,),
    )
    found = []
    for (text,) in cursor.fetchall():
        try:
            found.append(json.loads(text))
        except ValueError:
            found.append(None)
    return found


def _lock_extract_postgres(settings: Settings, run_id: str, *, shared: bool = True):
    """pg_advisory_lock_shared for an extract task; refused when a run, or another run's tasks, hold it."""
    holder = _holder(run_id)
    try:
        connection = postgres_connect(settings, application_name=f"doraflow extract {run_id}"[:63])
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("create schema if not exists ops")
            cursor.execute(
                "create table if not exists ops.run_lock_holders (backend_pid integer, holder varchar)"
            )
            take = "pg_try_advisory_lock_shared" if shared else "pg_try_advisory_lock"
            cursor.execute(f"select {take}(%s)", (POSTGRES_EXTRACT_KEY,))
            acquired = cursor.fetchone()[0]
            others = [
                h
                for h in _postgres_holders(cursor, POSTGRES_EXTRACT_KEY)
                if (h or {}).get("run_id") != run_id
            ]
            if acquired and not others:
                cursor.execute("delete from ops.run_lock_holders where backend_pid = pg_backend_pid()"
                               " or backend_pid not in (select pid from pg_stat_activity)")  # fmt: skip
                cursor.execute(
                    "insert into ops.run_lock_holders values (pg_backend_pid(), %s)", (json.dumps(holder),)
                )
                return connection
    except Exception as error:  # noqa: BLE001 - psycopg2.Error: the server is down or refuses us
        raise WarehouseUnavailable(describe_open_error(settings, error)) from None
    connection.close()
    raise RunLocked(_holder_line(settings, others[0] if others else None, ", extracting"))


def _lock_postgres(settings: Settings, run_id: str):
    holder = _holder(run_id)
    try:
        connection = postgres_connect(settings, application_name=f"doraflow run lock {run_id}"[:63])
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("select pg_try_advisory_lock(%s)", (POSTGRES_LOCK_KEY,))
            acquired = cursor.fetchone()[0]
            key = POSTGRES_LOCK_KEY
            if acquired:  # and the extract lock, exclusively: no extract task of another run is at work
                cursor.execute("select pg_try_advisory_lock(%s)", (POSTGRES_EXTRACT_KEY,))
                if not cursor.fetchone()[0]:
                    acquired, key = False, POSTGRES_EXTRACT_KEY
            # the holder's name, keyed by its session: a killed holder's row is ignored (its session is gone)
            cursor.execute("create schema if not exists ops")
            cursor.execute(
                "create table if not exists ops.run_lock_holders (backend_pid integer, holder varchar)"
            )
            if acquired:
                cursor.execute("delete from ops.run_lock_holders where backend_pid = pg_backend_pid()"
                               " or backend_pid not in (select pid from pg_stat_activity)")  # fmt: skip
                cursor.execute(
                    "insert into ops.run_lock_holders values (pg_backend_pid(), %s)", (json.dumps(holder),)
                )
                return connection
            cursor.execute(
                "select h.holder from pg_locks l join ops.run_lock_holders h on h.backend_pid = l.pid"
                " where l.locktype = 'advisory' and l.objid = %s and l.granted and l.pid <> pg_backend_pid()",
                (key,),
            )
            row = cursor.fetchone()
    except Exception as error:  # noqa: BLE001 - psycopg2.Error: the server is down or refuses us
        raise WarehouseUnavailable(describe_open_error(settings, error)) from None
    connection.close()
    try:
        found = json.loads(row[0]) if row else None
    except ValueError:
        found = None
    raise RunLocked(_holder_line(settings, found, ", extracting" if key == POSTGRES_EXTRACT_KEY else ""))
