"""Hand-made marts (the columns of docs/architecture.md and the dbt marts) for the serving, report, BI and
cookbook tests, loadable into DuckDB and PostgreSQL alike. No tests here: helpers only.

The organisation: services `checkout` (team payments) and `search` (team discovery). Dates are offsets from an
`anchor` day (the first day of a month) so the same rows serve fixed-date tests and "this quarter" queries.
Every figure the tests expect is worked out by hand from the rows below, in the tests.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

DDL = {
    "dim_services": """(service text, team text, github_repository text, pagerduty_service_id text,
        jira_project_key text, has_deployments boolean, has_incidents boolean)""",
    "fct_deployments": """(deployment_id text, repository text, service text, team text, environment text,
        commit_sha text, created_at timestamp with time zone, deployed_at timestamp with time zone,
        finished_at timestamp with time zone, outcome text, is_seed boolean, is_rollback boolean,
        is_change_failure boolean, failure_evidence text, is_rework boolean, change_count bigint,
        incident_count bigint, lead_time_median_minutes double precision)""",
    "fct_changes": """(repository text, service text, commit_sha text, pull_request_number bigint,
        started_at timestamp with time zone, deployment_id text, deployed_at timestamp with time zone,
        lead_time_minutes double precision)""",
    "fct_incidents": """(incident_id text, service text, team text, title text, urgency text,
        created_at timestamp with time zone, resolved_at timestamp with time zone, status text,
        time_to_restore_minutes double precision, caused_by_deployment_id text, attribution_method text)""",
    "dora_coverage": """(measure text, description text, numerator integer, denominator integer,
        share double precision)""",
}

METRIC_COLUMNS = """period_grain text, period_start date, {dimension} text, deployments bigint,
    deployment_days bigint, deployment_frequency_per_day double precision, failed_deployment_attempts bigint,
    changes bigint, lead_time_median_minutes double precision, lead_time_p90_minutes double precision,
    change_failures bigint, change_failure_rate double precision, rework_deployments bigint,
    rework_rate double precision, incidents_resolved bigint, time_to_restore_median_minutes double precision,
    time_to_restore_p90_minutes double precision, failed_deployment_recovery_median_minutes double precision,
    deployment_frequency_tier text, lead_time_tier text, change_failure_rate_tier text,
    time_to_restore_tier text"""

SERVICES = {"checkout": "payments", "search": "discovery"}


def _at(anchor: date, days: int, hour: int, minute: int = 0) -> datetime:
    return datetime(anchor.year, anchor.month, anchor.day, hour, minute, tzinfo=UTC) + timedelta(days=days)


def fact_rows(anchor: date) -> dict[str, list[tuple]]:
    """The fact rows. Offsets are days from `anchor`; -1 is the evening before the period."""
    a = anchor
    minutes = timedelta(minutes=1)
    deployments = [
        # id, repo, service, team, env, sha, created, deployed, finished, outcome, seed, rollback,
        # change_failure, evidence, rework, change_count, incident_count, lead_time_median
        (
            "d0",
            "acme/checkout",
            "checkout",
            "payments",
            "production",
            "a0",
            _at(a, -1, 23, 0),
            _at(a, -1, 23, 30),
            _at(a, -1, 23, 31),
            "success",
            True,
            False,
            False,
            None,
            False,
            0,
            0,
            None,
        ),
        (
            "d1",
            "acme/checkout",
            "checkout",
            "payments",
            "production",
            "a1",
            _at(a, 1, 9, 50),
            _at(a, 1, 10),
            _at(a, 1, 10, 1),
            "success",
            False,
            False,
            False,
            None,
            False,
            2,
            0,
            120.0,
        ),
        (
            "d2",
            "acme/checkout",
            "checkout",
            "payments",
            "production",
            "a2",
            _at(a, 2, 9, 50),
            None,
            _at(a, 2, 10),
            "failure",
            False,
            False,
            False,
            None,
            False,
            0,
            0,
            None,
        ),
        (
            "d3",
            "acme/checkout",
            "checkout",
            "payments",
            "production",
            "a3",
            _at(a, 8, 8, 50),
            _at(a, 8, 9),
            _at(a, 8, 9, 1),
            "success",
            False,
            False,
            True,
            "incident",
            False,
            1,
            1,
            30.0,
        ),
        (
            "d4",
            "acme/search",
            "search",
            "discovery",
            "production",
            "b1",
            _at(a, 9, 13, 50),
            _at(a, 9, 14),
            _at(a, 9, 14, 1),
            "success",
            False,
            False,
            False,
            None,
            True,
            1,
            0,
            600.0,
        ),
        (
            "d5",
            "acme/search",
            "search",
            "discovery",
            "production",
            "b2",
            _at(a, 20, 23, 0),
            _at(a, 20, 23, 30),
            _at(a, 20, 23, 31),
            "success",
            False,
            False,
            False,
            None,
            False,
            1,
            0,
            45.0,
        ),
        (
            "d6",
            "acme/search",
            "search",
            "discovery",
            "production",
            "b3",
            _at(a, 33, 11, 50),
            _at(a, 33, 12),
            _at(a, 33, 12, 1),
            "success",
            False,
            False,
            False,
            None,
            False,
            1,
            0,
            50.0,
        ),
    ]
    changes = [
        ("acme/checkout", "checkout", "c11", 11, _at(a, 1, 10) - 100 * minutes, "d1", _at(a, 1, 10), 100.0),
        ("acme/checkout", "checkout", "c12", 12, _at(a, 1, 10) - 140 * minutes, "d1", _at(a, 1, 10), 140.0),
        ("acme/checkout", "checkout", "c31", 31, _at(a, 8, 9) - 30 * minutes, "d3", _at(a, 8, 9), 30.0),
        ("acme/search", "search", "c41", 41, _at(a, 9, 14) - 600 * minutes, "d4", _at(a, 9, 14), 600.0),
        (
            "acme/search",
            "search",
            "c51",
            51,
            _at(a, 20, 23, 30) - 45 * minutes,
            "d5",
            _at(a, 20, 23, 30),
            45.0,
        ),
        ("acme/search", "search", "c61", 61, _at(a, 33, 12) - 50 * minutes, "d6", _at(a, 33, 12), 50.0),
    ]
    incidents = [
        (
            "i1",
            "checkout",
            "payments",
            "Checkout errors after a3",
            "high",
            _at(a, 8, 10),
            _at(a, 8, 11, 30),
            "resolved",
            90.0,
            "d3",
            "explicit",
        ),
        (
            "i2",
            "search",
            "discovery",
            "Slow search",
            "low",
            _at(a, 14, 8),
            _at(a, 14, 8, 30),
            "resolved",
            30.0,
            None,
            None,
        ),
        (
            "i3",
            "search",
            "discovery",
            "Search index stale",
            "high",
            _at(a, 27, 7),
            None,
            "triggered",
            None,
            None,
            None,
        ),
        (
            "i4",
            "checkout",
            "payments",
            "Card declines",
            "high",
            _at(a, 35, 9),
            _at(a, 35, 10),
            "resolved",
            60.0,
            None,
            None,
        ),
    ]
    services = [
        ("checkout", "payments", "acme/checkout", "PCHK", None, True, True),
        ("search", "discovery", "acme/search", "PSRC", None, True, True),
    ]
    coverage = [
        ("merged_pull_requests_in_production", "Merged PRs reaching production", 9, 10, 0.9),
        ("deployments_with_change_set", "Deployments with at least one change", 5, 5, 1.0),
        ("incidents_attributed", "Incidents attributed to a deployment", 1, 4, 0.25),
        ("pagerduty_services_mapped", "PagerDuty services mapped to a service", 2, 2, 1.0),
    ]
    return {
        "fct_deployments": deployments,
        "fct_changes": changes,
        "fct_incidents": incidents,
        "dim_services": services,
        "dora_coverage": coverage,
    }


def _tier(value: float | None, bounds: tuple[float, float, float], higher_is_better: bool) -> str | None:
    if value is None:
        return None
    names = ("Elite", "High", "Medium", "Low")
    for name, bound in zip(names, bounds, strict=False):
        if (value >= bound) if higher_is_better else (value <= bound):
            return name
    return names[-1]


def metric_row(grain: str, start: date, name: str, seed: int) -> tuple:
    """One dora_metrics row with made-up but plausible figures (a function of `seed`)."""
    deployments = 3 + seed % 5
    days = 7 if grain == "week" else 31
    frequency = deployments / days
    lead = 30.0 + 17 * (seed % 7)
    failures = seed % 2
    cfr = failures / deployments
    rework = (seed % 3) // 2
    incidents = seed % 3
    ttr = None if incidents == 0 else 20.0 + 11 * (seed % 5)
    return (
        grain,
        start,
        name,
        deployments,
        min(deployments, days),
        frequency,
        seed % 2,
        deployments + 2,
        lead,
        lead * 2.5,
        failures,
        cfr,
        rework,
        rework / deployments,
        incidents,
        ttr,
        None if ttr is None else ttr * 2,
        ttr,
        _tier(frequency, (1.0, 1 / 7, 1 / 30), True),
        _tier(lead, (60, 60 * 24 * 7, 60 * 24 * 30), False),
        _tier(cfr, (0.05, 0.10, 0.15), False),
        _tier(ttr, (60, 60 * 24, 60 * 24 * 7), False),
    )


def metric_rows(dimension: str, names: list[str], months: list[date], weeks: list[date]) -> list[tuple]:
    rows = []
    for index, name in enumerate(names):
        for number, start in enumerate(months):
            rows.append(metric_row("month", start, name, 3 * index + number))
        for number, start in enumerate(weeks):
            rows.append(metric_row("week", start, name, 5 * index + number + 1))
    return rows


def _literal(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, datetime):
        return f"timestamp with time zone '{value.isoformat()}'"
    if isinstance(value, date):
        return f"date '{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


def marts_statements(anchor: date, *, weeks_from: date, weeks: int, months: list[date]) -> list[str]:
    """SQL creating and filling every mart; valid on DuckDB and PostgreSQL."""
    statements = ["create schema if not exists marts"]
    tables = fact_rows(anchor)
    week_starts = [weeks_from + timedelta(days=7 * n) for n in range(weeks)]
    tables["dora_metrics"] = metric_rows("service", ["all", *SERVICES], months, week_starts)
    tables["dora_metrics_by_team"] = metric_rows(
        "team", ["all", *sorted(set(SERVICES.values()))], months, week_starts
    )
    ddl = {
        **DDL,
        "dora_metrics": "(" + METRIC_COLUMNS.format(dimension="service") + ")",
        "dora_metrics_by_team": "(" + METRIC_COLUMNS.format(dimension="team") + ")",
    }
    for name, rows in tables.items():
        statements.append(f"create table marts.{name} {ddl[name]}")
        values = ", ".join("(" + ", ".join(_literal(value) for value in row) + ")" for row in rows)
        statements.append(f"insert into marts.{name} values {values}")
    return statements


# The fixed scenario of the report tests: October 2026, "today" 2026-11-26 (a Thursday).
REPORT_ANCHOR = date(2026, 10, 1)
REPORT_TODAY = date(2026, 11, 26)
REPORT_WEEKS_FROM = date(2026, 9, 28)  # nine Mondays: 09-28 .. 11-23
REPORT_MONTHS = [date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1)]


def build_duckdb_marts(path, statements: list[str] | None = None, *, extra_schemas: bool = True) -> None:
    """A DuckDB working warehouse with the sample marts (and a raw table, which publish must leave out)."""
    import duckdb

    statements = statements or marts_statements(
        REPORT_ANCHOR, weeks_from=REPORT_WEEKS_FROM, weeks=9, months=REPORT_MONTHS
    )
    connection = duckdb.connect(str(path))
    try:
        for statement in statements:
            connection.execute(statement)
        if extra_schemas:
            connection.execute("create schema raw")
            connection.execute("create table raw.secrets as select 'not for readers' as payload")
    finally:
        connection.close()


def sample_settings(warehouse_path, **env: str):
    from doraflow.config import load_settings

    return load_settings({"WAREHOUSE_PATH": str(warehouse_path), **env})


# The flow marts: their columns and types come from their YAML contract (never copied here); a sample row names
# only the columns it fills, the others are NULL. `quarter` is the first day of a quarter, `month` the first day of
# a month in it (the same day when the quarter has just begun); `before` is the month before the quarter.
FLOW_CONTRACT = (
    Path(__file__).resolve().parents[1] / "dbt_project" / "models" / "marts" / "flow" / "_flow__models.yml"
)


def flow_contract_columns() -> dict[str, list[tuple[str, str]]]:
    """Each flow mart's (column, data_type) in contract order."""
    import yaml

    document = yaml.safe_load(FLOW_CONTRACT.read_text(encoding="utf-8"))
    return {
        model["name"]: [(column["name"], column["data_type"]) for column in model["columns"]]
        for model in document["models"]
    }


def _month_before(day: date) -> date:
    return date(day.year - 1, 12, 1) if day.month == 1 else date(day.year, day.month - 1, 1)


def ci_health(*, runs: int, success: float, reruns: float, feedback: float, automated: float) -> dict:
    """flow_metrics' CI health and deployment automation columns (the report's CI table shows them)."""
    return {
        "ci_runs": runs,
        "ci_success_rate": success,
        "ci_rerun_rate": reruns,
        "ci_run_median_minutes": 8.0,
        "ci_run_p90_minutes": 21.0,
        "ci_queue_median_minutes": 1.5,
        "ci_feedback_n": runs,
        "ci_feedback_median_minutes": feedback,
        "deployment_automation_share": automated,
    }


def ci_stage(
    month: date, service: str, stage: str, jobs: int, reruns: int, queue: tuple, run: tuple, slowest: str
) -> dict:
    """A ci_stage_metrics row of `month`: queue and run (p50, p90) minutes; elapsed p50 taken as their sum."""
    return {
        "period_grain": "month",
        "period_start": month,
        "service": service,
        "stage": stage,
        "jobs": jobs,
        "rerun_jobs": reruns,
        "rerun_job_share": reruns / jobs,
        "queue_median_minutes": queue[0],
        "queue_p90_minutes": queue[1],
        "run_median_minutes": run[0],
        "run_p90_minutes": run[1],
        "elapsed_median_minutes": queue[0] + run[0],
        "slowest_stage": slowest,
    }


def ci_stage_rows(month: date) -> list[dict]:
    """CI jobs of `month`: checkout's integration tests are its slowest stage (1.5 + 14 min at the median),
    search ran only builds; 'all' holds both (100 jobs, 9 re-run attempts)."""
    integration = "integration_tests"
    return [
        ci_stage(month, "checkout", "build", 30, 0, (0.5, 2.0), (4.0, 6.0), integration),
        ci_stage(month, "checkout", "unit_tests", 30, 3, (1.0, 3.0), (6.0, 9.0), integration),
        ci_stage(month, "checkout", integration, 30, 6, (1.5, 4.0), (14.0, 22.0), integration),
        ci_stage(month, "checkout", "all", 90, 9, (1.0, 3.5), (6.0, 18.0), integration),
        ci_stage(month, "search", "build", 10, 0, (0.4, 1.0), (3.0, 4.0), "build"),
        ci_stage(month, "search", "all", 10, 0, (0.4, 1.0), (3.0, 4.0), "build"),
        ci_stage(month, "all", "build", 40, 0, (0.5, 1.8), (3.5, 5.6), integration),
        ci_stage(month, "all", "unit_tests", 30, 3, (1.0, 3.0), (6.0, 9.0), integration),
        ci_stage(month, "all", integration, 30, 6, (1.5, 4.0), (14.0, 22.0), integration),
        ci_stage(month, "all", "all", 100, 9, (0.8, 3.2), (5.0, 17.0), integration),
    ]


def flow_rows(quarter: date, month: date) -> dict[str, list[dict]]:
    """Sample rows of the flow marts the cookbook reads, in the organisation above (checkout, search, billing)."""
    before = _month_before(quarter)
    metrics = [
        # this month: checkout's review stage is its bottleneck; search's development stage is
        {
            "period_grain": "month",
            "period_start": month,
            "service": "checkout",
            "changes": 4,
            "lead_time_median_minutes": 400.0,
            "stage_development_median_minutes": 60.0,
            "stage_review_median_minutes": 240.0,
            "stage_testing_median_minutes": 20.0,
            "stage_staging_median_minutes": 30.0,
            "stage_production_median_minutes": 10.0,
            "stage_review_share_median": 0.6,
            "bottleneck_stage": "review",
            **ci_health(runs=12, success=0.75, reruns=0.25, feedback=14.0, automated=0.5),
        },
        {
            "period_grain": "month",
            "period_start": month,
            "service": "search",
            "changes": 2,
            "lead_time_median_minutes": 90.0,
            "stage_development_median_minutes": 50.0,
            "stage_review_median_minutes": 20.0,
            "stage_testing_median_minutes": 15.0,
            "stage_production_median_minutes": 5.0,
            "stage_development_share_median": 0.55,
            "bottleneck_stage": "development",
            **ci_health(runs=5, success=1.0, reruns=0.0, feedback=6.0, automated=1.0),
        },
        # dense: a service that shipped nothing, and the 'all' and 'unmapped' rows
        {"period_grain": "month", "period_start": month, "service": "billing", "changes": 0},
        {"period_grain": "month", "period_start": month, "service": "all", "changes": 6},
        {"period_grain": "month", "period_start": month, "service": "unmapped", "changes": 0},
        # another month, and this month at another grain
        {"period_grain": "month", "period_start": before, "service": "checkout", "changes": 9},
        {"period_grain": "week", "period_start": month, "service": "checkout", "changes": 1},
    ]
    signals = [
        {
            "service": "checkout",
            "period_grain": "month",
            "period_start": before,
            "signal": "large_batches",
            "measured_value": 9.0,
            "threshold": 5.0,
            "evidence_count": 1,
            "evidence_keys": "d0",
        },
        {
            "service": "checkout",
            "period_grain": "month",
            "period_start": quarter,
            "signal": "long_ci_feedback",
            "measured_value": 14.0,
            "threshold": 10.0,
            "evidence_count": 2,
            "evidence_keys": "acme/checkout@c11,acme/checkout@c12",
        },
        {
            "service": "checkout",
            "period_grain": "month",
            "period_start": month,
            "signal": "manual_deployments",
            "measured_value": 0.5,
            "threshold": 0.2,
            "evidence_count": 1,
            "evidence_keys": "d3",
        },
        {
            "service": "search",
            "period_grain": "month",
            "period_start": quarter,
            "signal": "staging_bypass",
            "measured_value": 1.0,
            "threshold": 0.0,
            "evidence_count": 1,
            "evidence_keys": "d4",
        },
        {
            "service": "search",
            "period_grain": "week",
            "period_start": quarter,
            "signal": "large_batches",
            "measured_value": 7.0,
            "threshold": 5.0,
            "evidence_count": 1,
            "evidence_keys": "d5",
        },
    ]
    baseline_days = {
        "baseline_start": _month_before(before),
        "baseline_end": _month_before(before) + timedelta(days=29),
        "is_baseline_complete": True,
        "latest_period_start": before,
    }
    baseline = [
        {
            "service": "checkout",
            "period_grain": "month",
            "metric": "deployment_frequency_per_day",
            "is_higher_better": True,
            **baseline_days,
            "baseline_value": 0.5,
            "previous_value": 0.6,
            "latest_value": 0.75,
            "change_vs_baseline": 0.5,
            "change_vs_previous": 0.25,
            "regression_threshold": 0.2,
            "is_regression": False,
        },
        {
            "service": "checkout",
            "period_grain": "month",
            "metric": "lead_time_median_minutes",
            "is_higher_better": False,
            **baseline_days,
            "baseline_value": 300.0,
            "previous_value": 320.0,
            "latest_value": 450.0,
            "change_vs_baseline": 0.5,
            "change_vs_previous": 0.40625,
            "regression_threshold": 0.2,
            "is_regression": True,
        },
        {
            "service": "search",
            "period_grain": "month",
            "metric": "change_failure_rate",
            "is_higher_better": False,
            **baseline_days,
            "baseline_value": 0.1,
            "previous_value": 0.1,
            "latest_value": 0.05,
            "change_vs_baseline": -0.5,
            "change_vs_previous": -0.5,
            "regression_threshold": 0.2,
            "is_regression": False,
        },
        {
            "service": "search",
            "period_grain": "week",
            "metric": "lead_time_median_minutes",
            "is_higher_better": False,
            **baseline_days,
            "baseline_value": 60.0,
            "latest_value": 200.0,
            "change_vs_baseline": 2.333,
            "regression_threshold": 0.2,
            "is_regression": True,
        },
    ]
    work = [  # (month, project, work type, items done)
        (quarter, "PAY", "feature", 3),
        (quarter, "PAY", "defect", 1),
        (quarter, "PAY", "debt", 0),
        (quarter, "PAY", "all", 4),
        (quarter, "SRCH", "feature", 2),
        (quarter, "SRCH", "all", 2),
        (quarter, "all", "all", 6),
        (before, "PAY", "defect", 5),
    ]
    if month != quarter:
        work += [(month, "PAY", "defect", 2), (month, "PAY", "all", 2), (month, "all", "all", 2)]
    framework = [
        {
            "period_grain": "month",
            "period_start": start,
            "project_key": project,
            "work_type": kind,
            "flow_velocity": n,
        }
        for start, project, kind, n in work
    ]
    framework.append(
        {
            "period_grain": "week",
            "period_start": quarter,
            "project_key": "PAY",
            "work_type": "risk",
            "flow_velocity": 7,
        }
    )
    return {
        "flow_metrics": metrics,
        "flow_signals": signals,
        "dora_baseline": baseline,
        "flow_framework_metrics": framework,
        "ci_stage_metrics": ci_stage_rows(month),
    }


def flow_marts_statements(quarter: date, month: date) -> list[str]:
    """SQL creating the flow marts from their contract and filling them with flow_rows; DuckDB and PostgreSQL."""
    contract = flow_contract_columns()
    statements = ["create schema if not exists marts"]
    for name, rows in flow_rows(quarter, month).items():
        columns = contract[name]
        known = {column for column, _ in columns}
        for row in rows:
            unknown = set(row) - known
            assert not unknown, f"{name} has no column {sorted(unknown)}: see {FLOW_CONTRACT.name}"
        ddl = ", ".join(f"{column} {data_type}" for column, data_type in columns)
        statements.append(f"create table marts.{name} ({ddl})")
        values = ", ".join(
            "(" + ", ".join(_literal(row.get(column)) for column, _ in columns) + ")" for row in rows
        )
        statements.append(f"insert into marts.{name} values {values}")
    return statements
