"""Runs expectation suites as SQL where the data is, and hands the outcomes to Great Expectations.

A suite is declared as code (`Target` + `Check`s, each a GX Core expectation class name and its arguments).
Each check is compiled to a SQL condition that selects its unexpected rows; one query per target counts them
all in one scan (DuckDB over the landed files or the warehouse, PostgreSQL for a PostgreSQL warehouse), and a
second query fetches a few failing rows only for the checks that failed. GX's own SQL data source does not
work on DuckDB and its pandas one needs every row in Python; computing in SQL keeps the gate near the
engine's speed while the results keep GX's shape (`doraflow.quality.gx_store` stores them through a
Checkpoint and renders Data Docs).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from doraflow.quality import CRITICAL, CheckResult

SAMPLE_SIZE = 5


@dataclass(frozen=True)
class Check:
    """One expectation: the GX class name, its arguments and its severity."""

    expectation: str  # e.g. "ExpectColumnValuesToBeUnique"
    kwargs: dict[str, Any]
    severity: str = CRITICAL
    row_filter: str | None = None  # SQL condition: only these rows are checked (a dbt test's `where`)


@dataclass
class Target:
    """A table (or landed stream) and the checks of its suite."""

    suite: str
    table: str
    checks: list[Check]
    relation: str  # SQL of the rows: a table name or a parenthesised query
    sample_columns: list[str] = field(default_factory=list)  # identify a failing row in samples


@dataclass
class Outcome:
    """One check's figures, in the fields GX puts in an expectation's `result`."""

    check: Check
    success: bool
    element_count: int
    unexpected_count: int = 0
    missing_count: int = 0
    observed_value: Any = None
    sample: list[Any] = field(default_factory=list)


@dataclass
class TargetOutcome:
    target: Target
    outcomes: list[Outcome]


class Engine:
    """Runs SQL on DuckDB or PostgreSQL; `rows(sql)` returns tuples and `columns` the last query's names."""

    def __init__(self, connection, dialect: str):
        self.connection = connection
        self.dialect = dialect  # 'duckdb' | 'postgres'
        self.columns: list[str] = []

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        if self.dialect == "postgres":
            with self.connection.cursor() as cursor:
                cursor.execute(sql.replace("?", "%s") if params else sql, params or None)
                self.columns = [d[0] for d in cursor.description or []]
                return cursor.fetchall()
        cursor = self.connection.execute(sql, list(params))
        self.columns = [d[0] for d in cursor.description or []]
        return cursor.fetchall()

    def regex_search(self, column_sql: str, pattern: str) -> str:
        literal = sql_literal(pattern)
        if self.dialect == "postgres":
            return f"({column_sql} ~ {literal})"
        return f"regexp_matches({column_sql}, {literal})"


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_literal(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


@dataclass(frozen=True)
class _Compiled:
    unexpected: str | None  # condition selecting the unexpected rows (None: a table-level check)
    missing: str | None = None  # condition counting missing values (GX's missing_count)
    unique_over: tuple[
        str, ...
    ] = ()  # uniqueness: the quoted columns grouped on (a hash aggregate, not a sort)


def _compile(check: Check, engine: Engine) -> _Compiled:
    kwargs = check.kwargs
    name = check.expectation
    if name == "ExpectTableRowCountToBeBetween":
        return _Compiled(None)
    if "column" in kwargs:
        column = quote(kwargs["column"])
        missing = f"{column} is null"
        present = f"{column} is not null"
        if name == "ExpectColumnValuesToNotBeNull":
            return _Compiled(missing, missing)
        if name == "ExpectColumnValuesToBeNull":
            return _Compiled(present)
        if name == "ExpectColumnValuesToBeUnique":
            return _Compiled(present, missing, (column,))
        if name == "ExpectColumnValuesToBeInSet":
            values = ", ".join(sql_literal(v) for v in kwargs["value_set"])
            return _Compiled(f"{present} and {column} not in ({values})", missing)
        if name == "ExpectColumnValuesToBeBetween":
            bounds = []
            if kwargs.get("min_value") is not None:
                bounds.append(f"{column} < {sql_literal(kwargs['min_value'])}")
            if kwargs.get("max_value") is not None:
                bounds.append(f"{column} > {sql_literal(kwargs['max_value'])}")
            return _Compiled(f"{present} and ({' or '.join(bounds) or 'false'})", missing)
        if name == "ExpectColumnValuesToMatchRegex":
            text = f"cast({column} as {'text' if engine.dialect == 'postgres' else 'varchar'})"
            return _Compiled(f"{present} and not {engine.regex_search(text, kwargs['regex'])}", missing)
    if "column_list" in kwargs and name == "ExpectCompoundColumnsToBeUnique":
        columns = [quote(c) for c in kwargs["column_list"]]
        all_missing = " and ".join(f"{c} is null" for c in columns)
        return _Compiled(f"not ({all_missing})", all_missing, tuple(columns))
    if "column_A" in kwargs:
        a, b = quote(kwargs["column_A"]), quote(kwargs["column_B"])
        ignore = kwargs.get("ignore_row_if", "both_values_are_missing")
        skip = {
            "either_value_is_missing": f"({a} is null or {b} is null)",
            "both_values_are_missing": f"({a} is null and {b} is null)",
            "neither": "false",
        }[ignore]
        if name == "ExpectColumnPairValuesAToBeGreaterThanB":
            operator = ">=" if kwargs.get("or_equal") else ">"
            return _Compiled(f"not {skip} and not coalesce({a} {operator} {b}, false)", skip)
        if name == "ExpectColumnPairValuesToBeEqual":
            return _Compiled(f"not {skip} and not coalesce({a} = {b}, false)", skip)
    raise ValueError(f"{name} with {sorted(kwargs)} has no SQL form in doraflow.quality.runner")


def _filtered(check: Check, compiled: _Compiled) -> _Compiled:
    if check.row_filter is None or compiled.unexpected is None:
        return compiled
    keep = f"({check.row_filter})"
    return _Compiled(
        f"{keep} and ({compiled.unexpected})",
        f"{keep} and ({compiled.missing})" if compiled.missing else None,
        compiled.unique_over,
    )


def _count_expression(condition: str) -> str:
    return f"sum(case when {condition} then 1 else 0 end)"


def _duplicates(relation: str, c: _Compiled) -> str:
    """The duplicated value combinations and their row counts (for uniqueness checks)."""
    listed = ", ".join(c.unique_over)
    return (
        f"select {listed}, count(*) as occurrences from {relation} t where {c.unexpected}"
        f" group by {listed} having count(*) > 1"
    )


def run_target(engine: Engine, target: Target) -> TargetOutcome:
    """Every check of one target: one counting scan (plus a grouping per uniqueness check), and a sample query
    per failing check."""
    compiled = [_filtered(check, _compile(check, engine)) for check in target.checks]
    relation = target.relation
    selects = ["count(*)"]
    for c in compiled:
        if c.unexpected is not None:
            unexpected = "false" if c.unique_over else c.unexpected  # counted by the grouping below
            selects += [_count_expression(unexpected), _count_expression(c.missing or "false")]
    (totals,) = engine.rows(f"select {', '.join(selects)} from {relation} t")
    element_count = int(totals[0] or 0)
    outcomes: list[Outcome] = []
    position = 1
    for check, c in zip(target.checks, compiled, strict=True):
        if c.unexpected is None:  # row count
            low, high = check.kwargs.get("min_value"), check.kwargs.get("max_value")
            success = (low is None or element_count >= low) and (high is None or element_count <= high)
            outcomes.append(
                Outcome(
                    check,
                    success,
                    element_count,
                    unexpected_count=0 if success else 1,
                    observed_value=element_count,
                    sample=[] if success else [element_count],
                )
            )
            continue
        unexpected, missing = int(totals[position] or 0), int(totals[position + 1] or 0)
        position += 2
        condition = c.unexpected
        if c.unique_over:  # every row of a duplicated combination is unexpected, as in GX
            duplicates = _duplicates(relation, c)
            (row,) = engine.rows(f"select coalesce(sum(occurrences), 0) from ({duplicates}) d")
            unexpected = int(row[0])
            matches = " and ".join(f"t.{column} is not distinct from d.{column}" for column in c.unique_over)
            condition = f"exists (select 1 from ({duplicates}) d where {matches})"
        outcome = Outcome(check, unexpected == 0, element_count, unexpected, missing)
        if unexpected:
            outcome.sample = _sample(engine, target, check, relation, condition)
        outcomes.append(outcome)
    return TargetOutcome(target, outcomes)


def _sample(engine: Engine, target: Target, check: Check, relation: str, condition: str) -> list[Any]:
    columns = list(target.sample_columns)
    for key in ("column", "column_A", "column_B"):
        if check.kwargs.get(key) and check.kwargs[key] not in columns:
            columns.append(check.kwargs[key])
    for column in check.kwargs.get("column_list") or []:
        if column not in columns:
            columns.append(column)
    listed = ", ".join(quote(c) for c in columns)
    rows = engine.rows(
        f"select {listed} from {relation} t where {condition} order by {listed} limit {SAMPLE_SIZE}"
    )
    return [{column: jsonable(value) for column, value in zip(columns, row, strict=True)} for row in rows]


def jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return str(value)


def _snake(name: str) -> str:
    out = []
    for i, char in enumerate(name):
        if char.isupper() and i:
            out.append("_")
        out.append(char.lower())
    return "".join(out)


def label(check: Check) -> str | None:
    """The column(s) an expectation is about, as shown in messages."""
    kwargs = check.kwargs
    if "column" in kwargs:
        return kwargs["column"]
    if "column_A" in kwargs:
        a, b = (kwargs[k].removesuffix("__ts") for k in ("column_A", "column_B"))
        operator = ">=" if kwargs.get("or_equal") else (">" if "GreaterThan" in check.expectation else "=")
        return f"{a} {operator} {b}"
    if "column_list" in kwargs:
        return ", ".join(kwargs["column_list"])
    return None


def check_results(outcomes: list[TargetOutcome]) -> list[CheckResult]:
    return [
        CheckResult(
            suite=done.target.suite,
            expectation=_snake(o.check.expectation),
            table=done.target.table,
            severity=o.check.severity,
            success=o.success,
            failing_count=o.unexpected_count,
            sample=o.sample,
            observed_value=float(o.observed_value) if o.observed_value is not None else None,
            column=label(o.check),
        )
        for done in outcomes
        for o in done.outcomes
    ]


def run_targets(
    engine: Engine, targets: list[Target], on_target: Callable | None = None
) -> list[TargetOutcome]:
    outcomes = []
    for target in targets:
        outcome = run_target(engine, target)
        if on_target is not None:
            on_target(outcome)
        outcomes.append(outcome)
    return outcomes
