"""docs/bi.md: the SQLAlchemy example runs as printed, BI-style reflection (schemas, tables, columns, table
autoload) works on a published serving copy with the pinned SQLAlchemy; the PostgreSQL read-only role sees
`marts` only."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg2
import pytest
from psycopg2 import errors
from test_serving_support import REPORT_ANCHOR, build_duckdb_marts, fact_rows, sample_settings

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


@pytest.fixture(scope="module")
def serving_copy(tmp_path_factory) -> Path:
    """A serving copy published from the hand-made marts, as BI tools open it."""
    root = tmp_path_factory.mktemp("bi")
    warehouse = root / "warehouse" / "dora.duckdb"
    warehouse.parent.mkdir()
    build_duckdb_marts(warehouse)
    settings = sample_settings(warehouse)
    build_serving_copy(settings, settings.serving_path, root)
    return settings.serving_path


def _reader_engine(path: Path):
    from sqlalchemy import create_engine

    return create_engine(f"duckdb+doraflow:///{path}", connect_args={"read_only": True})


def test_inspector_lists_schemas_tables_and_columns_of_every_mart(serving_copy):
    """What Superset does when a user adds a dataset: list schemas, then tables, then each table's columns."""
    import duckdb
    from sqlalchemy import inspect, types

    with duckdb.connect(str(serving_copy), read_only=True) as con:
        expected = {}
        for table, column, data_type in con.execute(
            "select table_name, column_name, data_type from duckdb_columns() where schema_name = 'marts' "
            "order by table_name, column_index"
        ).fetchall():
            expected.setdefault(table, []).append((column, data_type))
    assert {"dora_metrics", "fct_deployments", "dim_services", "fct_incidents"} <= set(expected)

    engine = _reader_engine(serving_copy)
    inspector = inspect(engine)
    # The file's own schema by its plain name, not `dora_serving.marts`; DuckDB's internal catalogs hidden.
    assert inspector.get_schema_names() == ["main", "marts"]
    assert inspector.get_table_names(schema="marts") == sorted(expected)
    assert inspector.get_table_names() == []  # the default schema `main` is empty
    for table, columns in expected.items():
        reflected = inspector.get_columns(table, schema="marts")
        assert [column["name"] for column in reflected] == [name for name, _ in columns], table
    by_name = {column["name"]: column["type"] for column in inspector.get_columns("dora_metrics", "marts")}
    assert isinstance(by_name["period_start"], types.Date)
    assert isinstance(by_name["deployments"], types.BigInteger)
    assert isinstance(by_name["lead_time_p90_minutes"], types.Double)
    assert isinstance(by_name["service"], types.String)
    created_at = {c["name"]: c["type"] for c in inspector.get_columns("fct_deployments", "marts")}[
        "created_at"
    ]
    assert isinstance(created_at, types.DateTime) and created_at.timezone is True
    engine.dispose()


def test_table_autoload_and_query_through_the_reflected_table(serving_copy):
    from sqlalchemy import MetaData, Table, func, select

    engine = _reader_engine(serving_copy)
    table = Table("fct_deployments", MetaData(), schema="marts", autoload_with=engine)
    with engine.connect() as connection:
        successes = connection.execute(
            select(func.count()).select_from(table).where(table.c.outcome == "success")
        ).scalar()
        total = connection.execute(select(func.count()).select_from(table)).scalar()
    assert total == sum(1 for row in fact_rows(REPORT_ANCHOR)["fct_deployments"])
    assert successes == sum(1 for row in fact_rows(REPORT_ANCHOR)["fct_deployments"] if row[9] == "success")
    metadata = MetaData()
    metadata.reflect(bind=engine, schema="marts")
    assert sorted(metadata.tables) == [
        "marts.dim_services",
        "marts.dora_coverage",
        "marts.dora_metrics",
        "marts.dora_metrics_by_team",
        "marts.fct_changes",
        "marts.fct_deployments",
        "marts.fct_incidents",
    ]
    engine.dispose()


def test_reflection_reads_constraints_and_comments(tmp_path):
    """Keys, checks and comments come from DuckDB's own catalog (the serving copy has none; other files may)."""
    import duckdb
    from sqlalchemy import MetaData, Table, inspect

    path = tmp_path / "keys.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create table teams (team_id integer primary key, name varchar unique)")
        con.execute(
            "create table services (service varchar primary key, team_id integer references teams (team_id), "
            "weight integer check (weight > 0))"
        )
        con.execute("comment on table services is 'one row per service'")
        con.execute("create view named_services as select service from services")
    engine = _reader_engine(path)
    inspector = inspect(engine)
    assert inspector.get_table_names() == ["services", "teams"]
    assert inspector.get_view_names() == ["named_services"]
    assert inspector.get_pk_constraint("services")["constrained_columns"] == ["service"]
    assert [u["column_names"] for u in inspector.get_unique_constraints("teams")] == [["name"]]
    (foreign_key,) = inspector.get_foreign_keys("services")
    assert (foreign_key["constrained_columns"], foreign_key["referred_table"]) == (["team_id"], "teams")
    assert foreign_key["referred_columns"] == ["team_id"]
    assert [c["sqltext"] for c in inspector.get_check_constraints("services")] == ["(weight > 0)"]
    assert inspector.get_table_comment("services") == {"text": "one row per service"}
    assert [c["name"] for c in inspector.get_columns("named_services")] == ["service"]
    services = Table("services", MetaData(), autoload_with=engine)
    assert [c.name for c in services.primary_key] == ["service"]
    engine.dispose()


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


def test_exposures_name_every_mart_the_serving_copy_publishes():
    """dbt lineage shows the readers: the serving copy exposes every mart model, the report what it reads."""
    import yaml

    exposures = {
        exposure["name"]: exposure
        for exposure in yaml.safe_load(
            (REPO_ROOT / "dbt_project" / "models" / "marts" / "_marts__exposures.yml").read_text()
        )["exposures"]
    }
    marts = {path.stem for path in (REPO_ROOT / "dbt_project" / "models" / "marts").glob("*.sql")}
    serving = {
        re.fullmatch(r"ref\('(\w+)'\)", ref).group(1) for ref in exposures["dora_serving_copy"]["depends_on"]
    }
    assert serving == marts | {"pipeline_runs"}
    report = {re.fullmatch(r"ref\('(\w+)'\)", ref).group(1) for ref in exposures["dora_report"]["depends_on"]}
    read_by_report = set(
        re.findall(r"marts\.\{?(\w+)", (REPO_ROOT / "doraflow" / "report" / "data.py").read_text())
    )
    assert read_by_report - {"table"} <= report <= serving
