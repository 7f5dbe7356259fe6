"""Expectation suites for the marts, checked after dbt and before publish.

Critical: keys present and unique, rates in [0, 1], durations non-negative, no period gaps in
`dora_metrics` / `dora_metrics_by_team`, every mart present. Warning: coverage shares below their
thresholds, row volume outside the band of the recent runs (from `ops.check_results`).
Thresholds come from environment variables (see `thresholds()` and docs/quality.md).
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Mapping
from dataclasses import dataclass

from doraflow.config import ConfigError
from doraflow.errors import DoraflowError
from doraflow.quality import CRITICAL, WARNING, CheckResult, QualityResult
from doraflow.quality.runner import Check, Target, run_targets

MARTS = (
    "fct_deployments",
    "fct_changes",
    "fct_incidents",
    "dora_metrics",
    "dora_metrics_by_team",
    "dora_coverage",
)
VOLUME_EXPECTATION = "expect_table_row_count_to_be_between"

KEYS = {
    "fct_deployments": ["deployment_id"],
    "fct_incidents": ["incident_id"],
    "dora_metrics": ["period_grain", "period_start", "service"],
    "dora_metrics_by_team": ["period_grain", "period_start", "team"],
}
NON_NEGATIVE = {
    "fct_deployments": ["lead_time_median_minutes", "change_count", "incident_count"],
    "fct_changes": ["lead_time_minutes"],
    "fct_incidents": ["time_to_restore_minutes"],
}
METRIC_NON_NEGATIVE = [
    "deployments",
    "deployment_days",
    "deployment_frequency_per_day",
    "failed_deployment_attempts",
    "changes",
    "lead_time_median_minutes",
    "lead_time_p90_minutes",
    "change_failures",
    "rework_deployments",
    "incidents_resolved",
    "time_to_restore_median_minutes",
    "time_to_restore_p90_minutes",
    "failed_deployment_recovery_median_minutes",
    "releases_with_changes",
    "lead_time_n",
    "lead_time_mean_minutes",
    "pr_lead_time_n",
    "pr_lead_time_median_minutes",
    "time_to_restore_n",
    "time_to_restore_mean_minutes",
    "failed_deployment_recovery_n",
    "failed_deployment_recovery_mean_minutes",
    "failed_deployment_recovery_p90_minutes",
    "observed_days",
    "incidents_open",
    "oldest_open_incident_age_minutes",
]
METRIC_RATES = ["change_failure_rate", "rework_rate"]
ENUMS = {
    ("fct_deployments", "outcome"): ["success", "failure"],
    ("fct_incidents", "attribution_method"): ["explicit", "window"],
    ("dora_metrics", "period_grain"): ["day", "week", "month"],
    ("dora_metrics_by_team", "period_grain"): ["day", "week", "month"],
}
ORDERED = {
    "fct_deployments": [("deployed_at", "created_at"), ("finished_at", "created_at")],
    "fct_incidents": [("resolved_at", "created_at")],
    "fct_changes": [("deployed_at", "started_at")],
}
SHARE_SUFFIXES = ("_share", "_rate", "_ratio", "_coverage", "_pct")


@dataclass(frozen=True)
class Thresholds:
    min_coverage: float = 0.5  # QUALITY_MIN_COVERAGE: default floor of every coverage share
    per_share: tuple[tuple[str, float], ...] = ()  # QUALITY_MIN_COVERAGE_<COLUMN>
    volume_tolerance: float = 0.5  # QUALITY_VOLUME_TOLERANCE: allowed relative change vs the median
    volume_history_runs: int = 7  # QUALITY_VOLUME_HISTORY_RUNS: recent runs that form the trend

    def coverage_floor(self, column: str) -> float:
        return dict(self.per_share).get(column, self.min_coverage)


def _share(env: Mapping[str, str], name: str, default: float) -> float:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number between 0 and 1, got {raw!r}") from None
    if not 0 <= value <= 1:
        raise ConfigError(f"{name} must be a number between 0 and 1, got {raw!r}")
    return value


def thresholds(env: Mapping[str, str] | None = None) -> Thresholds:
    """Read the quality thresholds from the environment; ConfigError names a malformed variable."""
    env = os.environ if env is None else env
    per_share = tuple(
        (name.removeprefix("QUALITY_MIN_COVERAGE_").lower(), _share(env, name, 0.0))
        for name in sorted(env)
        if name.startswith("QUALITY_MIN_COVERAGE_")
    )
    tolerance = _share(env, "QUALITY_VOLUME_TOLERANCE", 0.5)
    runs_raw = (env.get("QUALITY_VOLUME_HISTORY_RUNS") or "").strip() or "7"
    if not runs_raw.isdigit() or int(runs_raw) < 1:
        raise ConfigError(
            f"QUALITY_VOLUME_HISTORY_RUNS must be a whole number of at least 1, got {runs_raw!r}"
        )
    return Thresholds(
        min_coverage=_share(env, "QUALITY_MIN_COVERAGE", 0.5),
        per_share=per_share,
        volume_tolerance=tolerance,
        volume_history_runs=int(runs_raw),
    )


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
    """Reads the marts (and the ops history) from DuckDB or PostgreSQL."""

    def __init__(self, settings):
        self.settings = settings
        self.postgres = settings.warehouse_target == "postgres"
        if self.postgres:
            from doraflow.warehouse import postgres_connect

            self.connection = postgres_connect(settings)
            self.connection.autocommit = True
        else:
            from doraflow.warehouse import duckdb_connect

            if not settings.warehouse_path.exists():
                raise DoraflowError(
                    f"warehouse {settings.warehouse_path} (WAREHOUSE_PATH) not found: load and build first"
                )
            # read-write like every other connection of the process: DuckDB refuses a second connection
            # with another configuration (e.g. under `airflow dags test`, where dbt's stays open)
            self.connection = duckdb_connect(settings)

    def close(self) -> None:
        self.connection.close()

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        if self.postgres:
            with self.connection.cursor() as cursor:
                cursor.execute(sql.replace("?", "%s"), params)
                return cursor.fetchall()
        return self.connection.execute(sql, list(params)).fetchall()

    def tables(self, schema: str) -> set[str]:
        rows = self.rows("select table_name from information_schema.tables where table_schema = ?", (schema,))
        return {r[0] for r in rows}

    def columns(self, schema: str, table: str) -> list[tuple[str, str]]:
        return self.rows(
            "select column_name, data_type from information_schema.columns"
            " where table_schema = ? and table_name = ? order by ordinal_position",
            (schema, table),
        )

    def frame(self, sql: str):
        if self.postgres:
            import pandas as pd

            with self.connection.cursor() as cursor:
                cursor.execute(sql)
                names = [d[0] for d in cursor.description]
                return pd.DataFrame(cursor.fetchall(), columns=names)
        return self.connection.sql(sql).df()

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


def _numeric(data_type: str) -> bool:
    t = data_type.lower()
    return any(word in t for word in ("int", "double", "float", "decimal", "numeric", "real"))


def build_targets(warehouse: _Warehouse, limits: Thresholds) -> tuple[list[Target], list[CheckResult]]:
    present = warehouse.tables("marts")
    missing = [
        CheckResult(
            suite=f"marts.{table}",
            expectation="expect_table_to_exist",
            table=f"marts.{table}",
            severity=CRITICAL,
            success=table in present,
            failing_count=0 if table in present else 1,
            sample=[] if table in present else [f"marts.{table} not found: did dbt build run?"],
        )
        for table in MARTS
    ]
    targets: list[Target] = []
    for table in MARTS:
        if table not in present:
            continue
        columns = dict(warehouse.columns("marts", table))
        checks: list[Check] = []
        key = [c for c in KEYS.get(table, []) if c in columns]
        for column in key:
            checks.append(Check("ExpectColumnValuesToNotBeNull", {"column": column}))
        if len(key) == 1:
            checks.append(Check("ExpectColumnValuesToBeUnique", {"column": key[0]}))
        elif len(key) > 1:
            checks.append(Check("ExpectCompoundColumnsToBeUnique", {"column_list": key}))
        non_negative = NON_NEGATIVE.get(table, []) + (
            METRIC_NON_NEGATIVE if table.startswith("dora_metrics") else []
        )
        for column in non_negative:
            if column in columns:
                checks.append(Check("ExpectColumnValuesToBeBetween", {"column": column, "min_value": 0}))
        rates = list(METRIC_RATES) if table.startswith("dora_metrics") else []
        if table == "dora_coverage":
            rates = [
                c for c, t in columns.items() if _numeric(t) and (c == "share" or c.endswith(SHARE_SUFFIXES))
            ]
        for column in rates:
            if column in columns:
                checks.append(
                    Check("ExpectColumnValuesToBeBetween", {"column": column, "min_value": 0, "max_value": 1})
                )
        if table == "dora_coverage" and "measure" in columns and "share" in columns:
            # One row per measure: each measure's share has its own floor (QUALITY_MIN_COVERAGE_<MEASURE>).
            for (measure,) in warehouse.rows("select distinct measure from marts.dora_coverage order by 1"):
                floor = limits.coverage_floor(measure)
                targets.append(
                    _target(
                        warehouse,
                        f"marts.dora_coverage.{measure}",
                        "marts.dora_coverage",
                        [
                            Check(
                                "ExpectColumnValuesToBeBetween",
                                {"column": "share", "min_value": floor},
                                WARNING,
                            )
                        ],
                        "select * from marts.dora_coverage where measure = '"
                        + measure.replace("'", "''")
                        + "'",
                        ["measure", "numerator", "denominator", "share"],
                    )
                )
        for (enum_table, column), values in ENUMS.items():
            if enum_table == table and column in columns:
                checks.append(Check("ExpectColumnValuesToBeInSet", {"column": column, "value_set": values}))
        for later, earlier in ORDERED.get(table, []):
            if later in columns and earlier in columns:
                checks.append(
                    Check(
                        "ExpectColumnPairValuesAToBeGreaterThanB",
                        {
                            "column_A": later,
                            "column_B": earlier,
                            "or_equal": True,
                            "ignore_row_if": "either_value_is_missing",
                        },
                    )
                )
        history = warehouse.volume_history(f"marts.{table}", limits.volume_history_runs)
        if history:
            median = statistics.median(history)
            low = int(median * (1 - limits.volume_tolerance))
            high = int(median * (1 + limits.volume_tolerance) + 0.999999)
            volume = {"min_value": low, "max_value": high}
        else:
            volume = {"min_value": 0}  # no trend yet: record the count, the next runs compare with it
        checks.append(Check("ExpectTableRowCountToBeBetween", volume, WARNING))
        query = f"select * from marts.{table}"
        if table == "fct_changes" and "is_negative_lead_time" in columns:
            # Negative lead times (clock skew, rewritten history) are flagged by dbt and excluded from every
            # figure; the gate checks the rows the figures use.
            query += " where not coalesce(is_negative_lead_time, false)"
        if table == "fct_incidents" and "data_error" in columns:
            # Incidents the models cannot use (resolved before created, outside the reporting window) are flagged
            # by dbt and excluded from every figure: the critical checks read the usable rows, a warning counts
            # the flagged ones.
            query += " where data_error is null"
            targets.append(
                _target(
                    warehouse,
                    "marts.fct_incidents.data_errors",
                    "marts.fct_incidents",
                    [Check("ExpectColumnValuesToBeNull", {"column": "data_error"}, WARNING)],
                    "select incident_id, data_error from marts.fct_incidents",
                    ["incident_id", "data_error"],
                )
            )
        targets.append(_target(warehouse, f"marts.{table}", f"marts.{table}", checks, query, key))
        by = {"dora_metrics": "service", "dora_metrics_by_team": "team"}.get(table)
        if by and by in columns and "period_start" in columns:
            targets.append(
                _target(
                    warehouse,
                    f"marts.{table}.period_spine",
                    f"marts.{table}",
                    [
                        Check(
                            "ExpectColumnPairValuesToBeEqual",
                            {
                                "column_A": "previous_period_start",
                                "column_B": "expected_previous_period_start",
                                "ignore_row_if": "either_value_is_missing",
                            },
                        )
                    ],
                    _gap_query(table, by),
                    ["period_grain", by, "period_start"],
                )
            )
    return targets, missing


def _target(warehouse: _Warehouse, suite, table, checks, query, sample_columns) -> Target:
    if warehouse.postgres:
        return Target(suite, table, checks, query=query, sample_columns=sample_columns)
    return Target(suite, table, checks, frame=warehouse.frame(query), sample_columns=sample_columns)


def check_marts(settings, env: Mapping[str, str] | None = None) -> QualityResult:
    limits = thresholds(env)
    warehouse = _Warehouse(settings)
    try:
        targets, existence = build_targets(warehouse, limits)
    finally:
        warehouse.close()
    postgres_url = settings.postgres_url.reveal() if warehouse.postgres and settings.postgres_url else None
    result = run_targets(targets, settings.data_docs_dir / "marts", postgres_url=postgres_url)
    result.results[:0] = existence
    return result
