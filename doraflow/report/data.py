"""The figures of the report, read from the marts of a DuckDB file (the serving copy).

Every number the report shows comes from here, unchanged from the marts, so the report and a SQL query on the
marts always agree. The scorecard shows the latest *complete* calendar month of `marts.dora_metrics`
(period_grain 'month') that the data covers from its first day, with the tiers the marts computed; if the data
does not yet span such a month it falls back to the latest complete week, then to the latest (partial)
period. When the marts carry `is_complete_period`, it decides which periods are complete. A partial period is
marked and never graded with a tier; a service without a repository (marts.dim_services) has no deployment
figures. Trends are the weekly rows (period_grain 'week', weeks start on Monday) from the first whole week of
data up to the latest complete week.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import duckdb


@dataclass(frozen=True)
class Metric:
    key: str  # the dora_metrics column
    label: str
    unit: str  # 'per_day', 'minutes' or 'share'
    better: str  # 'higher' or 'lower'
    target: str | None  # the Targets field, if the team set a goal for it
    tier_columns: tuple[str, ...]  # candidate names of the tier column, first found wins
    help: str
    p90_key: str | None = None  # the 90th percentile beside a median
    n_key: str | None = None  # the count a median rests on
    n_label: str = ""  # singular; "s" is added for any other count than 1
    # A volume target (deployments per day) is the organisation's: a service is not held to it.
    target_per_service: bool = True
    needs_deployments: bool = True  # measured from deployments: no repository, no figure


METRICS: tuple[Metric, ...] = (
    Metric(
        "deployment_frequency_per_day",
        "Deployment frequency",
        "per_day",
        "higher",
        "deployments_per_day",
        ("deployment_frequency_tier",),
        "Releases (first production deployments of a sha) per observed day.",
        target_per_service=False,
    ),
    Metric(
        "lead_time_median_minutes",
        "Lead time for changes",
        "minutes",
        "lower",
        "lead_time_minutes",
        ("lead_time_tier", "lead_time_for_changes_tier", "lead_time_median_tier"),
        "Median time from first commit to running in production.",
        p90_key="lead_time_p90_minutes",
        n_key="changes",
        n_label="change",
    ),
    Metric(
        "change_failure_rate",
        "Change failure rate",
        "share",
        "lower",
        "change_failure_rate",
        ("change_failure_rate_tier",),
        "Share of releases that shipped changes and caused a failure.",
    ),
    Metric(
        "time_to_restore_median_minutes",
        "Time to restore service",
        "minutes",
        "lower",
        "time_to_restore_minutes",
        ("time_to_restore_tier", "time_to_restore_median_tier", "failed_deployment_recovery_tier"),
        "Median time from incident start to resolution.",
        p90_key="time_to_restore_p90_minutes",
        n_key="incidents_resolved",
        n_label="incident",
        needs_deployments=False,
    ),
    Metric(
        "rework_rate",
        "Rework rate",
        "share",
        "lower",
        None,
        ("rework_rate_tier",),
        "Share of releases that were unplanned fixes (reverts, hotfixes, Jira bugs).",
    ),
)

COUNT_COLUMNS = (
    "deployments",
    "failed_deployment_attempts",
    "changes",
    "change_failures",
    "incidents_resolved",
)

DEPLOYMENT_COLUMNS = (
    "deployed_at",
    "finished_at",
    "service",
    "team",
    "repository",
    "environment",
    "outcome",
    "is_change_failure",
    "is_rework",
    "is_rollback",
    "change_count",
    "lead_time_median_minutes",
    "incident_count",
    "deployment_id",
)
INCIDENT_COLUMNS = (
    "created_at",
    "resolved_at",
    "service",
    "team",
    "title",
    "urgency",
    "status",
    "time_to_restore_minutes",
    "caused_by_deployment_id",
    "attribution_method",
    "incident_id",
)


def _json_value(value: object) -> object:
    """A value as JSON can hold it: dates as ISO text, NaN as null."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is not None and not isinstance(value, (bool, int, float, str)):
        return str(value)
    return value


def _rows(connection: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    cursor = connection.execute(sql, params or [])
    names = [description[0] for description in cursor.description]
    return [
        {name: _json_value(value) for name, value in zip(names, row, strict=True)}
        for row in cursor.fetchall()
    ]


def _columns(connection: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    return {
        name: data_type
        for name, data_type in connection.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'marts' and table_name = ? order by ordinal_position",
            [table],
        ).fetchall()
    }


def _local_date(column: str, data_type: str) -> str:
    """SQL for the reporting-time-zone date of a timestamp column (the `?` parameter is the zone)."""
    if "TIME ZONE" in data_type.upper():
        return f"cast(timezone(?, {column}) as date)"
    # A naive timestamp holds UTC.
    return f"cast(timezone(?, timezone('UTC', {column})) as date)"


def period_end(grain: str, start: date) -> date:
    """The first day after the period."""
    if grain == "day":
        return start + timedelta(days=1)
    if grain == "week":
        return start + timedelta(days=7)
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    return date(year, month, 1)


def choose_period(connection: duckdb.DuckDBPyConnection, today: date) -> tuple[str, date] | None:
    """The latest complete month the data fully covers, else such a week, else the latest period with rows.

    When the marts say which periods are complete (`is_complete_period`), that decides. Otherwise "fully
    covers" means the period has ended and starts on or after the first day of data (the first 'day' row of
    the dense marts), so a month whose first weeks predate the extraction is not shown as if it were quiet.
    """
    if "is_complete_period" in _columns(connection, "dora_metrics"):
        for grain in ("month", "week"):
            found = connection.execute(
                "select max(period_start) from marts.dora_metrics where period_grain = ? and service = 'all' "
                "and is_complete_period",
                [grain],
            ).fetchone()[0]
            if found is not None:
                return grain, found
    else:
        first_day = _first_day(connection)
        for grain in ("month", "week"):
            starts = [
                row[0]
                for row in connection.execute(
                    "select distinct period_start from marts.dora_metrics where period_grain = ? "
                    "order by period_start desc",
                    [grain],
                ).fetchall()
            ]
            for start in starts:
                if period_end(grain, start) <= today and (first_day is None or start >= first_day):
                    return grain, start
    latest = connection.execute(
        "select period_grain, max(period_start) from marts.dora_metrics "
        "where period_grain in ('week', 'month') group by period_grain order by period_grain desc limit 1"
    ).fetchone()
    return (latest[0], latest[1]) if latest else None


def _first_day(connection: duckdb.DuckDBPyConnection) -> date | None:
    return connection.execute(
        "select min(period_start) from marts.dora_metrics where period_grain = 'day'"
    ).fetchone()[0]


def is_complete(row: dict, grain: str, first_day: date | None, today: date) -> bool:
    """Whether a period row covers its whole period: the mart's `is_complete_period` when it has one."""
    if "is_complete_period" in row and row["is_complete_period"] is not None:
        return bool(row["is_complete_period"])
    start = (
        date.fromisoformat(row["period_start"])
        if isinstance(row["period_start"], str)
        else row["period_start"]
    )
    return period_end(grain, start) <= today and (first_day is None or start >= first_day)


def _tier_columns(columns: dict[str, str]) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for metric in METRICS:
        found[metric.key] = next((name for name in metric.tier_columns if name in columns), None)
    return found


def _target_met(metric: Metric, value: float | None, target: float | None) -> bool | None:
    if target is None or value is None:
        return None
    return value >= target if metric.better == "higher" else value <= target


def _scorecard(
    row: dict,
    tiers: dict[str, str | None],
    targets: dict[str, float],
    *,
    organisation: bool,
    complete: bool,
    has_repository: bool,
) -> dict:
    """One scope's figures for the period. A partial period is never graded with a tier; a scope without a
    repository has no deployment figures ("no data", not a "Low" frequency)."""
    card: dict[str, dict] = {}
    for metric in METRICS:
        measured = has_repository or not metric.needs_deployments
        value = row.get(metric.key) if measured else None
        target = targets.get(metric.target) if metric.target else None
        if not organisation and not metric.target_per_service:
            target = None
        tier_column = tiers[metric.key]
        card[metric.key] = {
            "value": value,
            "p90": row.get(metric.p90_key) if metric.p90_key and measured else None,
            "n": row.get(metric.n_key) if metric.n_key and measured else None,
            "tier": row.get(tier_column) if tier_column and complete and measured else None,
            "has_tier": tier_column is not None,
            "graded": complete,
            "measured": measured,
            "target": target,
            "met": _target_met(metric, value, target),
        }
    card["counts"] = {name: row.get(name) for name in COUNT_COLUMNS}
    card["complete"] = complete
    card["observed_days"] = row.get("observed_days")
    card["has_repository"] = has_repository
    return card


def _scopes_without_repository(connection: duckdb.DuckDBPyConnection, tables: set[str]) -> dict[str, set]:
    """Services (and teams all of whose services) have no repository, from `dim_services`."""
    if "dim_services" not in tables or not {"service", "github_repository"} <= set(
        _columns(connection, "dim_services")
    ):
        return {"service": set(), "team": set()}
    has_team = "team" in _columns(connection, "dim_services")
    rows = connection.execute(
        f"select service, {'team' if has_team else 'null'}, github_repository is not null "
        "from marts.dim_services"
    ).fetchall()
    services = {service for service, _, has_repo in rows if not has_repo}
    teams: dict[str, bool] = {}
    for _, team, has_repo in rows:
        if team is not None:
            teams[team] = teams.get(team, False) or has_repo
    return {"service": services, "team": {team for team, any_repo in teams.items() if not any_repo}}


def report_day(reporting_timezone: str) -> date:
    """The report's today: the day in the reporting time zone (its period and the open periods depend on it)."""
    return datetime.now(ZoneInfo(reporting_timezone)).date()


def collect(
    connection: duckdb.DuckDBPyConnection,
    *,
    targets: dict[str, float],
    reporting_timezone: str = "UTC",
    today: date | None = None,
) -> dict:
    """Everything the report shows, as one JSON-ready dictionary."""
    today = today or report_day(reporting_timezone)
    tables = {
        row[0]
        for row in connection.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'"
        ).fetchall()
    }
    if "dora_metrics" not in tables:
        raise LookupError("marts.dora_metrics")
    metric_columns = _columns(connection, "dora_metrics")
    tiers = _tier_columns(metric_columns)
    chosen = choose_period(connection, today)
    data: dict = {
        "timezone": reporting_timezone,
        "today": today.isoformat(),
        "targets": targets,
        "metrics": [
            {
                "key": metric.key,
                "label": metric.label,
                "unit": metric.unit,
                "better": metric.better,
                "target": metric.target,
                "tier_column": tiers[metric.key],
                "help": metric.help,
            }
            for metric in METRICS
        ],
        "period": None,
        "scorecards": {"service": {}, "team": {}},
        "trends": {"service": {}, "team": {}},
        "coverage": [],
        "deployments": [],
        "incidents": [],
    }
    if chosen is None:
        return data
    grain, start = chosen
    end = period_end(grain, start)
    first_day = _first_day(connection)
    org_row = _rows(
        connection,
        "select * from marts.dora_metrics where period_grain = ? and period_start = ? and service = 'all'",
        [grain, start],
    )
    complete = is_complete(org_row[0], grain, first_day, today) if org_row else end <= today
    data["period"] = {
        "grain": grain,
        "start": start.isoformat(),
        "end_exclusive": end.isoformat(),
        "complete": complete,
        "days": (end - start).days,
        "observed_days": org_row[0].get("observed_days") if org_row else None,
    }
    latest_complete_week = today - timedelta(days=today.weekday() + 7)  # Monday of the last complete week
    # Trends show whole weeks only: from the first week the data covers from its Monday.
    first_week = first_day or date.min
    no_repository = _scopes_without_repository(connection, tables)
    data["scopes_without_repository"] = {key: sorted(value) for key, value in no_repository.items()}

    for dimension, table in (("service", "dora_metrics"), ("team", "dora_metrics_by_team")):
        if table not in tables:
            continue
        columns = _columns(connection, table)
        table_tiers = _tier_columns(columns)
        for row in _rows(
            connection,
            f"select * from marts.{table} where period_grain = ? and period_start = ? order by {dimension}",
            [grain, start],
        ):
            name = row[dimension]
            data["scorecards"][dimension][name] = _scorecard(
                row,
                table_tiers,
                targets,
                organisation=name == "all",
                complete=is_complete(row, grain, first_day, today),
                has_repository=name not in no_repository[dimension],
            )
        wanted = [
            "period_start",
            dimension,
            "is_complete_period",
            *COUNT_COLUMNS,
            *(key for metric in METRICS for key in (metric.key, metric.p90_key) if key),
        ]
        select = ", ".join(name for name in wanted if name in columns)
        deployment_keys = [metric.key for metric in METRICS if metric.needs_deployments]
        for row in _rows(
            connection,
            f"select {select} from marts.{table} where period_grain = 'week' and period_start <= ? "
            f"and period_start >= ? order by {dimension}, period_start",
            [latest_complete_week, first_week],
        ):
            name = row.pop(dimension)
            if name in no_repository[dimension]:
                row.update({key: None for key in deployment_keys if key in row})
            data["trends"][dimension].setdefault(name, []).append(row)

    if "dora_coverage" in tables:
        data["coverage"] = _rows(connection, "select * from marts.dora_coverage")

    if "fct_deployments" in tables:
        columns = _columns(connection, "fct_deployments")
        if {"deployed_at", "finished_at"} <= set(columns):
            # Successful deployments count by deployed_at, failed attempts (deployed_at NULL) by finished_at.
            local = _local_date("coalesce(deployed_at, finished_at)", columns["deployed_at"])
            select = ", ".join(name for name in DEPLOYMENT_COLUMNS if name in columns)
            data["deployments"] = _rows(
                connection,
                f"select {select} from marts.fct_deployments where {local} >= ? and {local} < ? "
                "order by coalesce(deployed_at, finished_at), deployment_id",
                [reporting_timezone, start, reporting_timezone, end],
            )
    if "fct_incidents" in tables:
        columns = _columns(connection, "fct_incidents")
        if {"created_at", "resolved_at"} <= set(columns):
            resolved = _local_date("resolved_at", columns["resolved_at"])
            created = _local_date("created_at", columns["created_at"])
            select = ", ".join(name for name in INCIDENT_COLUMNS if name in columns)
            data["incidents"] = _rows(
                connection,
                f"select {select} from marts.fct_incidents "
                f"where ({resolved} >= ? and {resolved} < ?) "
                f"or (resolved_at is null and {created} >= ? and {created} < ?) "
                "order by created_at, incident_id",
                [reporting_timezone, start, reporting_timezone, end] * 2,
            )
    return data
