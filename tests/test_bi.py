"""docs/bi.md: the SQLAlchemy example runs as printed; the PostgreSQL read-only role sees `marts` only."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg2
import pytest
from psycopg2 import errors
from test_serving_support import build_duckdb_marts, sample_settings

from doraflow.publish import build_serving_copy

REPO_ROOT = Path(__file__).resolve().parents[1]
BI_DOC = REPO_ROOT / "docs" / "bi.md"
ROLE_SQL = REPO_ROOT / "doraflow" / "sql" / "postgres_readonly_role.sql"


def _python_example() -> str:
    text = BI_DOC.read_text(encoding="utf-8")
    match = re.search(
        r"<!-- tested: tests/test_bi\.py::test_sqlalchemy_example_from_the_docs -->\n```python\n(.*?)```",
        text,
        re.S,
    )
    assert match, "the tested SQLAlchemy example is missing from docs/bi.md"
    return match.group(1)


def test_sqlalchemy_example_from_the_docs(tmp_path, monkeypatch, capsys):
    warehouse = tmp_path / "warehouse" / "dora.duckdb"
    warehouse.parent.mkdir()
    build_duckdb_marts(warehouse)
    settings = sample_settings(warehouse)
    build_serving_copy(settings, settings.serving_path, tmp_path)
    monkeypatch.chdir(tmp_path)  # the example uses the relative path warehouse/dora_serving.duckdb
    namespace: dict = {}
    exec(compile(_python_example(), "docs/bi.md", "exec"), namespace)
    # Latest months first, services in name order: November then October for checkout and search.
    assert [(str(row.period_start), row.service) for row in namespace["rows"]] == [
        ("2026-11-01", "checkout"),
        ("2026-11-01", "search"),
        ("2026-10-01", "checkout"),
        ("2026-10-01", "search"),
    ]
    assert len(capsys.readouterr().out.splitlines()) == 4
    # The engine is read-only: a write is refused.
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    with pytest.raises(SQLAlchemyError, match="read-only"):
        with namespace["engine"].connect() as connection:
            connection.execute(text("delete from marts.fct_deployments"))


def test_docs_show_the_role_sql_as_shipped():
    assert ROLE_SQL.read_text(encoding="utf-8").strip() in BI_DOC.read_text(encoding="utf-8")


def _connect_as(url: str, user: str):
    return psycopg2.connect(re.sub(r"//[^@/]+@", f"//{user}@", url))


@pytest.mark.postgres
def test_readonly_role_reads_marts_and_nothing_else(postgres_database):
    admin = psycopg2.connect(postgres_database)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("drop role if exists bi_user")
        if _role_exists(cursor, "dora_reader"):  # left by an earlier run on the same server
            cursor.execute("drop owned by dora_reader")
        cursor.execute("drop role if exists dora_reader")
        cursor.execute("drop role if exists dora_owner")
        cursor.execute("create role dora_owner login createrole")
        dbname = postgres_database.rsplit("/", 1)[1]
        cursor.execute(f'grant all on database "{dbname}" to dora_owner')
    admin.close()

    # The warehouse owner (the dbt role) builds raw and marts, then runs the shipped file.
    owner = _connect_as(postgres_database, "dora_owner")
    owner.autocommit = True
    with owner.cursor() as cursor:
        cursor.execute("create schema raw; create table raw.secrets as select 'token' as payload")
        cursor.execute(
            "create schema marts; create table marts.fct_deployments as select 'd1' as deployment_id"
        )
        cursor.execute(ROLE_SQL.read_text(encoding="utf-8"))
        cursor.execute(ROLE_SQL.read_text(encoding="utf-8"))  # idempotent: a second run changes nothing
        cursor.execute("create role bi_user login in role dora_reader")

    reader = _connect_as(postgres_database, "bi_user")
    reader.autocommit = True
    try:
        with reader.cursor() as cursor:
            cursor.execute("select deployment_id from marts.fct_deployments")
            assert cursor.fetchall() == [("d1",)]
            with pytest.raises(errors.InsufficientPrivilege, match="permission denied"):
                cursor.execute("select * from raw.secrets")
            with pytest.raises(errors.InsufficientPrivilege, match="permission denied"):
                cursor.execute("delete from marts.fct_deployments")
            with pytest.raises(errors.InsufficientPrivilege, match="permission denied"):
                cursor.execute("create table marts.mine (x int)")

        # dbt rebuilds a mart (drop + create): the reader can still select it, thanks to default privileges.
        with owner.cursor() as cursor:
            cursor.execute("drop table marts.fct_deployments")
            cursor.execute("create table marts.fct_deployments as select 'd2' as deployment_id")
            cursor.execute("create table marts.fct_incidents as select 'i1' as incident_id")
        with reader.cursor() as cursor:
            cursor.execute("select deployment_id from marts.fct_deployments")
            assert cursor.fetchall() == [("d2",)]
            cursor.execute("select incident_id from marts.fct_incidents")
            assert cursor.fetchall() == [("i1",)]
    finally:
        reader.close()
        owner.close()


def _role_exists(cursor, name: str) -> bool:
    cursor.execute("select 1 from pg_roles where rolname = %s", (name,))
    return cursor.fetchone() is not None
