"""A SQLAlchemy dialect for reading DuckDB files (the serving copy) that reflects with SQLAlchemy 2.1.

BI tools (Superset, pandas, notebooks) list schemas, tables and columns through SQLAlchemy's inspector before a
user can add a dataset. duckdb-engine 0.17.0 (the newest release) inherits PostgreSQL's catalog queries for
that, and with SQLAlchemy >= 2.0.45 they break on DuckDB:

- column reflection joins `pg_catalog.pg_collation` on `collnamespace`, a column DuckDB's emulated
  `pg_collation` does not have ("Referenced table pg_catalog.pg_collation not found"); and behind it,
  duckdb-engine calls `_get_columns_info` with the SQLAlchemy 2.0 arguments, which 2.1 changed;
- schemas come back as `<file name>.<schema>` (`dora_serving.marts`), DuckDB's internal catalogs included.

This dialect is duckdb-engine's with those answers taken from DuckDB's own catalog functions
(`duckdb_columns()`, `duckdb_schemas()`), which need no PostgreSQL emulation. Use it with the URL scheme
`duckdb+doraflow://` (registered as an entry point when doraflow is installed; elsewhere, e.g. in Superset,
`sqlalchemy.dialects.registry.register("duckdb.doraflow", "doraflow.sqlalchemy_duckdb", "Dialect")`, or copy
this one file: it imports only SQLAlchemy and duckdb-engine). See docs/bi.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from duckdb_engine import Dialect as DuckDBEngineDialect
from sqlalchemy import text
from sqlalchemy import types as sqltypes
from sqlalchemy.engine.reflection import ObjectKind, ReflectionDefaults

# DuckDB type names (duckdb_columns().data_type, parameters stripped) -> SQLAlchemy types.
DUCKDB_TYPES: dict[str, type[sqltypes.TypeEngine]] = {
    "VARCHAR": sqltypes.String,
    "BOOLEAN": sqltypes.Boolean,
    "TINYINT": sqltypes.SmallInteger,
    "SMALLINT": sqltypes.SmallInteger,
    "INTEGER": sqltypes.Integer,
    "BIGINT": sqltypes.BigInteger,
    "HUGEINT": sqltypes.Numeric,
    "UTINYINT": sqltypes.SmallInteger,
    "USMALLINT": sqltypes.Integer,
    "UINTEGER": sqltypes.BigInteger,
    "UBIGINT": sqltypes.Numeric,
    "FLOAT": sqltypes.Float,
    "DOUBLE": sqltypes.Double,
    "DATE": sqltypes.Date,
    "TIME": sqltypes.Time,
    "INTERVAL": sqltypes.Interval,
    "UUID": sqltypes.Uuid,
    "BLOB": sqltypes.LargeBinary,
    "JSON": sqltypes.JSON,
}


def duckdb_type(data_type: str) -> sqltypes.TypeEngine:
    """The SQLAlchemy type of a DuckDB column type (`DECIMAL(18,3)`, `TIMESTAMP WITH TIME ZONE`, ...)."""
    name = data_type.upper()
    if name.startswith("TIMESTAMP"):
        return sqltypes.DateTime(timezone="TIME ZONE" in name or name == "TIMESTAMPTZ")
    decimal = re.fullmatch(r"DECIMAL\((\d+),\s*(\d+)\)", name)
    if decimal:
        return sqltypes.Numeric(int(decimal.group(1)), int(decimal.group(2)))
    if name.endswith("[]"):
        return sqltypes.ARRAY(duckdb_type(data_type[:-2]))
    base = re.sub(r"\(.*", "", name).strip()
    type_class = DUCKDB_TYPES.get(base)
    return type_class() if type_class is not None else sqltypes.NullType()


class Dialect(DuckDBEngineDialect):
    """duckdb-engine with reflection answered from DuckDB's catalog functions."""

    driver = "doraflow"
    supports_statement_cache = False

    def _split_schema(self, connection: Any, schema: str | None) -> tuple[str, str]:
        """(catalog, schema) of a name as this dialect lists it: `marts`, or `other_db.marts`."""
        default_catalog, default_schema = connection.execute(
            text("select current_database(), current_schema()")
        ).one()
        if schema is None:
            return default_catalog, default_schema
        catalog, name = self.identifier_preparer._separate(schema)
        return (catalog or default_catalog), name

    def get_schema_names(self, connection: Any, **kw: Any) -> list[str]:
        # The file's own schemas by plain name (`marts`), other attached databases as `db.schema`;
        # DuckDB's internal catalogs (system, temp) are not the user's.
        rows = connection.execute(
            text(
                "select database_name, schema_name, database_name = current_database() as is_default "
                "from duckdb_schemas() where database_name not in ('system', 'temp') "
                "and schema_name not in ('information_schema', 'pg_catalog') order by 3 desc, 1, 2"
            )
        ).fetchall()
        names = [name if is_default else f"{database}.{name}" for database, name, is_default in rows]
        return names

    def _relations(self, connection: Any, schema: str | None, filter_names: Any, kind: Any) -> list[str]:
        """Names of the tables and/or views (per `kind`) of `schema`, limited to `filter_names`."""
        names: list[str] = []
        if kind is None or ObjectKind.TABLE in kind:
            names += self.get_table_names(connection, schema)
        if kind is None or ObjectKind.VIEW in kind or ObjectKind.MATERIALIZED_VIEW in kind:
            names += self.get_view_names(connection, schema)
        if filter_names:
            wanted = set(filter_names)
            names = [name for name in names if name in wanted]
        return names

    def get_multi_columns(
        self,
        connection: Any,
        schema: str | None = None,
        filter_names: Any = None,
        kind: Any = None,
        **kw: Any,
    ) -> list:
        catalog, schema_name = self._split_schema(connection, schema)
        relations = self._relations(connection, schema, filter_names, kind)
        columns: dict[tuple[str | None, str], list[dict[str, Any]]] = {
            (schema, name): [] for name in relations
        }
        rows = connection.execute(
            text(
                "select table_name, column_name, data_type, is_nullable, column_default, comment "
                "from duckdb_columns() where database_name = :catalog and schema_name = :schema "
                "order by table_name, column_index"
            ).bindparams(catalog=catalog, schema=schema_name)
        )
        for table_name, column_name, data_type, is_nullable, default, comment in rows:
            if (schema, table_name) in columns:
                columns[(schema, table_name)].append(
                    {
                        "name": column_name,
                        "type": duckdb_type(data_type),
                        "nullable": bool(is_nullable),
                        "default": default,
                        "autoincrement": False,
                        "comment": comment,
                    }
                )
        return list(columns.items())

    def _constraints(self, connection: Any, schema: str | None, relations: list[str], constraint_type: str):
        catalog, schema_name = self._split_schema(connection, schema)
        rows = connection.execute(
            text(
                "select table_name, constraint_name, constraint_column_names, expression, referenced_table, "
                "referenced_column_names from duckdb_constraints() where database_name = :catalog "
                "and schema_name = :schema and constraint_type = :constraint_type "
                "order by table_name, constraint_index"
            ).bindparams(catalog=catalog, schema=schema_name, constraint_type=constraint_type)
        )
        wanted = set(relations)
        return [row for row in rows if row[0] in wanted]

    def _constraints_by_relation(
        self,
        connection: Any,
        schema: str | None,
        filter_names: Any,
        kind: Any,
        constraint_type: str,
        entry: Callable[..., dict],
    ) -> list:
        """A get_multi_* answer: every relation with its constraints of that type, each as `entry(name, columns,
        expression, referred_table, referred_columns)` returns it; [] for a relation without one."""
        relations = self._relations(connection, schema, filter_names, kind)
        result: dict = {(schema, name): [] for name in relations}
        for row in self._constraints(connection, schema, relations, constraint_type):
            result[(schema, row[0])].append(entry(*row[1:]))
        return list(result.items())

    def get_multi_pk_constraint(
        self,
        connection: Any,
        schema: str | None = None,
        filter_names: Any = None,
        kind: Any = None,
        **kw: Any,
    ) -> list:
        relations = self._relations(connection, schema, filter_names, kind)
        result: dict = {(schema, name): ReflectionDefaults.pk_constraint() for name in relations}
        for table, name, columns, *_ in self._constraints(connection, schema, relations, "PRIMARY KEY"):
            result[(schema, table)] = {"name": name, "constrained_columns": list(columns)}
        return list(result.items())

    def get_multi_unique_constraints(
        self,
        connection: Any,
        schema: str | None = None,
        filter_names: Any = None,
        kind: Any = None,
        **kw: Any,
    ) -> list:
        return self._constraints_by_relation(
            connection,
            schema,
            filter_names,
            kind,
            "UNIQUE",
            lambda name, columns, *_: {"name": name, "column_names": list(columns)},
        )

    def get_multi_check_constraints(
        self,
        connection: Any,
        schema: str | None = None,
        filter_names: Any = None,
        kind: Any = None,
        **kw: Any,
    ) -> list:
        return self._constraints_by_relation(
            connection,
            schema,
            filter_names,
            kind,
            "CHECK",
            lambda name, _, expression, *__: {"name": name, "sqltext": expression},
        )

    def get_multi_foreign_keys(
        self,
        connection: Any,
        schema: str | None = None,
        filter_names: Any = None,
        kind: Any = None,
        **kw: Any,
    ) -> list:
        return self._constraints_by_relation(
            connection,
            schema,
            filter_names,
            kind,
            "FOREIGN KEY",
            lambda name, columns, _, referred, referred_columns: {
                "name": name,
                "constrained_columns": list(columns),
                "referred_schema": schema,
                "referred_table": referred,
                "referred_columns": list(referred_columns),
            },
        )

    def get_multi_indexes(
        self,
        connection: Any,
        schema: str | None = None,
        filter_names: Any = None,
        kind: Any = None,
        **kw: Any,
    ) -> list:
        # Secondary indexes are not part of a table's shape for readers; DuckDB's ART indexes are internal.
        return [((schema, name), []) for name in self._relations(connection, schema, filter_names, kind)]

    def get_multi_table_comment(
        self,
        connection: Any,
        schema: str | None = None,
        filter_names: Any = None,
        kind: Any = None,
        **kw: Any,
    ) -> list:
        catalog, schema_name = self._split_schema(connection, schema)
        relations = self._relations(connection, schema, filter_names, kind)
        result: dict = {(schema, name): ReflectionDefaults.table_comment() for name in relations}
        rows = connection.execute(
            text(
                "select table_name, comment from duckdb_tables() where database_name = :catalog "
                "and schema_name = :schema union all select view_name, comment from duckdb_views() "
                "where database_name = :catalog and schema_name = :schema"
            ).bindparams(catalog=catalog, schema=schema_name)
        )
        for name, comment in rows:
            if (schema, name) in result and comment:
                result[(schema, name)] = {"text": comment}
        return list(result.items())

    def get_multi_table_options(
        self,
        connection: Any,
        schema: str | None = None,
        filter_names: Any = None,
        kind: Any = None,
        **kw: Any,
    ) -> list:
        # PostgreSQL's storage options (access method, tablespace, inheritance) have no DuckDB counterpart.
        return [((schema, name), {}) for name in self._relations(connection, schema, filter_names, kind)]

    def _relation_names(self, connection: Any, function: str, column: str, schema: str | None) -> list[str]:
        catalog, schema_name = self._split_schema(connection, schema)
        rows = connection.execute(
            text(
                f"select {column} from {function}() where database_name = :catalog and schema_name = :schema "
                "and not internal order by 1"
            ).bindparams(catalog=catalog, schema=schema_name)
        )
        return [name for (name,) in rows]

    def get_table_names(self, connection: Any, schema: str | None = None, **kw: Any) -> list[str]:
        # duckdb-engine lists every schema's tables when no schema is given; reflection then looks for
        # them in `main` and fails. Here no schema means the default one, as everywhere in SQLAlchemy.
        return self._relation_names(connection, "duckdb_tables", "table_name", schema)

    def get_view_names(self, connection: Any, schema: str | None = None, **kw: Any) -> list[str]:
        return self._relation_names(connection, "duckdb_views", "view_name", schema)
