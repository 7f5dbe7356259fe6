"""Expectation suites for the marts, checked after dbt and before publish.

The checks come from ONE contract, the marts' YAML (dbt_project/models/marts/_marts__models.yml): every model
must exist, and each column constraint (not_null: the table is built with it, dbt's contract) and data test becomes
its GX expectation (not_null, unique, accepted_values, not_negative, share_between_zero_and_one, not_before,
unique_combination; ranges from a column's `meta: {min_value, max_value}`), so a mart or column added there is checked here with no edit. The gate adds
its own rules, which are not contracts: no period gaps in `dora_metrics` / `dora_metrics_by_team`
(critical); coverage shares below their floors and row volume outside the band of the recent runs
(warnings). Thresholds come from the settings (`Settings.quality`; docs/quality.md).
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from doraflow.config import DBT_PROJECT_DIR, QualityThresholds, environment, quality_thresholds
from doraflow.errors import DoraflowError
from doraflow.quality import CRITICAL, WARNING, CheckResult, QualityResult
from doraflow.quality.runner import Check, Engine, Target, check_results, run_targets, sql_literal

MARTS_CONTRACT = DBT_PROJECT_DIR / "models" / "marts" / "_marts__models.yml"
VOLUME_EXPECTATION = "expect_table_row_count_to_be_between"
SPINE_GROUPS = {"dora_metrics": "service", "dora_metrics_by_team": "team"}  # dense period grids


def _arguments(test: dict) -> dict:
    """A dbt generic test's arguments: under `arguments:` (dbt 1.10+) or inline (older style)."""
    return {
        **{k: v for k, v in test.items() if k not in ("arguments", "config")},
        **(test.get("arguments") or {}),
    }


def _where(test: dict) -> str | None:
    return (test.get("config") or {}).get("where")


def _severity(test: dict) -> str:
    config = test.get("config") or {}
    return WARNING if str(config.get("severity", "error")).lower() == "warn" else CRITICAL


def _test_checks(test, column: str | None) -> list[Check]:
    """The GX expectation(s) equivalent to one dbt data test of the marts' YAML."""
    name, spec = (test, {}) if isinstance(test, str) else next(iter(test.items()))
    spec = spec or {}
    args, severity, where = _arguments(spec), _severity(spec), _where(spec)
    checks = _checks_of(name, args, severity, column)
    return [Check(c.expectation, c.kwargs, c.severity, where) for c in checks] if where else checks


def _checks_of(name: str, args: dict, severity: str, column: str | None) -> list[Check]:
    if column is None:  # model-level tests
        if name == "unique_combination":
            return [
                Check("ExpectCompoundColumnsToBeUnique", {"column_list": list(args["columns"])}, severity)
            ]
        return []
    simple = {
        "not_null": ("ExpectColumnValuesToNotBeNull", {}),
        "is_null": ("ExpectColumnValuesToBeNull", {}),
        "unique": ("ExpectColumnValuesToBeUnique", {}),
        "not_negative": ("ExpectColumnValuesToBeBetween", {"min_value": 0}),
        "share_between_zero_and_one": ("ExpectColumnValuesToBeBetween", {"min_value": 0, "max_value": 1}),
    }
    if name in simple:
        expectation, extra = simple[name]
        return [Check(expectation, {"column": column, **extra}, severity)]
    if name == "accepted_values":
        return [
            Check(
                "ExpectColumnValuesToBeInSet", {"column": column, "value_set": list(args["values"])}, severity
            )
        ]
    if name == "not_before":
        return [
            Check(
                "ExpectColumnPairValuesAToBeGreaterThanB",
                {
                    "column_A": column,
                    "column_B": args["other_column"],
                    "or_equal": True,
                    "ignore_row_if": "either_value_is_missing",
                },
                severity,
            )
        ]
    return []  # e.g. relationships: a cross-table test dbt runs; GX has no expectation for it


def _constraint_checks(column: dict) -> list[Check]:
    """A column constraint the table enforces when built (contract-enforced marts): the gate checks it too, so a
    table written outside dbt (or a constraint the engine does not enforce) still fails the gate."""
    names = {str(c.get("type", "")).lower() for c in column.get("constraints") or [] if isinstance(c, dict)}
    checks = []
    if names & {"not_null", "primary_key"}:
        checks.append(Check("ExpectColumnValuesToNotBeNull", {"column": column["name"]}, CRITICAL))
    if names & {"unique", "primary_key"}:
        checks.append(Check("ExpectColumnValuesToBeUnique", {"column": column["name"]}, CRITICAL))
    return checks


def _range_checks(column: dict) -> list[Check]:
    """A range declared in the column's meta (`meta: {min_value: 0, max_value: 1, severity: warn}`)."""
    meta = column.get("meta") or {}
    bounds = {k: meta[k] for k in ("min_value", "max_value") if meta.get(k) is not None}
    if not bounds:
        return []
    severity = WARNING if str(meta.get("severity", "error")).lower() == "warn" else CRITICAL
    return [Check("ExpectColumnValuesToBeBetween", {"column": column["name"], **bounds}, severity)]


@dataclass(frozen=True)
class MartContract:
    name: str
    key: tuple[str, ...]  # identifies a failing row in samples
    checks: tuple[tuple[tuple[str, ...], Check], ...]  # (columns the check needs, check)


def read_contract(path: Path | None = None) -> list[MartContract]:
    """Every mart of the marts' YAML with the checks its column constraints, data tests (and column ranges)
    declare."""
    import yaml

    document = yaml.safe_load((path or MARTS_CONTRACT).read_text(encoding="utf-8")) or {}
    contracts = []
    for model in document.get("models") or []:
        checks: list[tuple[tuple[str, ...], Check]] = []
        key: list[str] = []
        names = {column["name"] for column in model.get("columns") or []}
        for column in model.get("columns") or []:
            tests = column.get("data_tests") or column.get("tests") or []
            column_checks = _constraint_checks(column)
            column_checks += [check for test in tests for check in _test_checks(test, column["name"])]
            for check in column_checks:
                needs = tuple(v for k, v in check.kwargs.items() if k in ("column", "column_A", "column_B"))
                if check.row_filter:  # and the columns its `where` names
                    needs += tuple(names & set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", check.row_filter)))
                checks.append((needs, check))
                if check.expectation == "ExpectColumnValuesToBeUnique":
                    key.append(column["name"])
            checks += [((column["name"],), check) for check in _range_checks(column)]
        for test in model.get("data_tests") or model.get("tests") or []:
            for check in _test_checks(test, None):
                checks.append((tuple(check.kwargs["column_list"]), check))
                key = key or list(check.kwargs["column_list"])
        contracts.append(MartContract(model["name"], tuple(key), tuple(checks)))
    return contracts


Thresholds = QualityThresholds  # read and validated with the other settings (doraflow.config)


def thresholds(env: Mapping[str, str] | None = None) -> Thresholds:
    """The quality thresholds of `env` (default: `.env` + the process environment)."""
    return quality_thresholds(environment() if env is None else env)


def _gap_query(table: str, by: str) -> str:
    """Each period row with the previous period present and the one a dense spine implies."""
    return f"""
        select period_grain, {by}, period_start,
               cast(lag(period_start) over (partition by period_grain, {by} order by period_start) as date)
                   as previous_period_start,
               cast(case period_grain
                   when 'day' then period_start - interval '1 day'
                   when 'week' then period_start - interval '7 days'
                   when 'month' then period_start - interval '1 month'
               end as date) as expected_previous_period_start
        from marts.{table}
    """


class _Warehouse:
    """The marts (and the ops history) on DuckDB or PostgreSQL, through a runner Engine."""

    def __init__(self, settings):
        self.postgres = settings.warehouse_target == "postgres"
        if self.postgres:
            from doraflow.warehouse import postgres_connect

            connection = postgres_connect(settings)
            connection.autocommit = True
        else:
            from doraflow.warehouse import duckdb_connect

            if not settings.warehouse_path.exists():
                raise DoraflowError(
                    f"warehouse {settings.warehouse_path} (WAREHOUSE_PATH) not found: load and build first"
                )
            # read-write like every other connection of the process: DuckDB refuses a second connection
            # with another configuration (e.g. under `airflow dags test`, where dbt's stays open)
            connection = duckdb_connect(settings)
        self.engine = Engine(connection, "postgres" if self.postgres else "duckdb")

    def close(self) -> None:
        self.engine.connection.close()

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        return self.engine.rows(sql, params)

    def tables(self, schema: str) -> set[str]:
        rows = self.rows("select table_name from information_schema.tables where table_schema = ?", (schema,))
        return {r[0] for r in rows}

    def columns(self, schema: str, table: str) -> list[tuple[str, str]]:
        return self.rows(
            "select column_name, data_type from information_schema.columns"
            " where table_schema = ? and table_name = ? order by ordinal_position",
            (schema, table),
        )

    def volume_history(self, table: str, runs: int) -> list[float]:
        if "check_results" not in self.tables("ops"):
            return []
        rows = self.rows(
            "select observed_value from ops.check_results"
            " where expectation = ? and table_name = ? and observed_value is not null"
            " order by checked_at desc limit ?",
            (VOLUME_EXPECTATION, table, runs),
        )
        return [float(r[0]) for r in rows]


def _volume_check(warehouse: _Warehouse, table: str, limits: Thresholds) -> Check:
    history = warehouse.volume_history(f"marts.{table}", limits.volume_history_runs)
    if history:
        median = statistics.median(history)
        low = int(median * (1 - limits.volume_tolerance))
        high = int(median * (1 + limits.volume_tolerance) + 0.999999)
        return Check("ExpectTableRowCountToBeBetween", {"min_value": low, "max_value": high}, WARNING)
    return Check(
        "ExpectTableRowCountToBeBetween", {"min_value": 0}, WARNING
    )  # no trend yet: record the count


def _coverage_targets(warehouse: _Warehouse, limits: Thresholds) -> list[Target]:
    """One warning target per coverage measure: each share has its own floor (QUALITY_MIN_COVERAGE_<MEASURE>)."""
    targets = []
    for (measure,) in warehouse.rows("select distinct measure from marts.dora_coverage order by 1"):
        literal = sql_literal(measure)
        check = Check(
            "ExpectColumnValuesToBeBetween",
            {"column": "share", "min_value": limits.coverage_floor(measure)},
            WARNING,
        )
        targets.append(
            Target(
                f"marts.dora_coverage.{measure}",
                "marts.dora_coverage",
                [check],
                f"(select * from marts.dora_coverage where measure = {literal})",
                ["measure", "numerator", "denominator", "share"],
            )
        )
    return targets


def build_targets(
    warehouse: _Warehouse, limits: Thresholds, contracts: list[MartContract] | None = None
) -> tuple[list[Target], list[CheckResult]]:
    """A target per mart of the contract (its YAML tests), the gate's own rules, and the existence results."""
    contracts = read_contract() if contracts is None else contracts
    present = warehouse.tables("marts")
    existence = [
        CheckResult(
            suite=f"marts.{c.name}",
            expectation="expect_table_to_exist",
            table=f"marts.{c.name}",
            severity=CRITICAL,
            success=c.name in present,
            failing_count=0 if c.name in present else 1,
            sample=[] if c.name in present else [f"marts.{c.name} not found: did dbt build run?"],
        )
        for c in contracts
    ]
    targets: list[Target] = []
    for contract in contracts:
        table = contract.name
        if table not in present:
            continue
        columns = {name for name, _ in warehouse.columns("marts", table)}
        # dbt enforces each mart's contract (columns and types) at build time; a check whose column a table
        # lacks can only meet a hand-made or foreign table: it is left out rather than failing on SQL
        checks = [check for needs, check in contract.checks if set(needs) <= columns]
        checks.append(_volume_check(warehouse, table, limits))
        key = [c for c in contract.key if c in columns]
        targets.append(Target(f"marts.{table}", f"marts.{table}", checks, f"marts.{table}", key))
        if table == "dora_coverage" and {"measure", "share"} <= columns:
            targets += _coverage_targets(warehouse, limits)
        by = SPINE_GROUPS.get(table)
        if by and {by, "period_start", "period_grain"} <= columns:
            spine = Check(
                "ExpectColumnPairValuesToBeEqual",
                {
                    "column_A": "previous_period_start",
                    "column_B": "expected_previous_period_start",
                    "ignore_row_if": "either_value_is_missing",
                },
            )
            targets.append(
                Target(
                    f"marts.{table}.period_spine",
                    f"marts.{table}",
                    [spine],
                    f"({_gap_query(table, by)})",
                    ["period_grain", by, "period_start"],
                )
            )
    return targets, existence


def check_marts(
    settings,
    env: Mapping[str, str] | None = None,
    *,
    run_name: str | None = None,
    marts: Collection[str] | None = None,
    render: bool = True,
) -> QualityResult:
    """Every mart of the contract, or only `marts` (names without schema; doraflow.pipeline.marts_gate_scope):
    their suites and the gate's own rules on them, the others left out. `render=False`: the results are stored
    and their Data Docs pages left to `gx_store.render_docs`."""
    from doraflow.quality.gx_store import record

    limits = settings.quality if env is None else thresholds(env)
    contracts = None if marts is None else [c for c in read_contract() if c.name in set(marts)]
    warehouse = _Warehouse(settings)
    try:
        targets, existence = build_targets(warehouse, limits, contracts)
        outcomes = run_targets(warehouse.engine, targets)
    finally:
        warehouse.close()
    docs = record(settings, "marts", outcomes, run_name, render=render)
    return QualityResult([*existence, *check_results(outcomes)], docs)
