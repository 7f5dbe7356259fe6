"""The DORA summary table printed by `doraflow run`/`demo`/`summary`, read from the published marts.

Figures are the marts' own: the rows of marts.dora_metrics for the period the report headlines (the latest
complete month, else week: `doraflow.report.data.choose_period`), so the terminal, the report and people's
SQL agree. Open incidents are counted now, from marts.fct_incidents.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb

from doraflow.config import Settings
from doraflow.errors import PublishError
from doraflow.report.data import choose_period, period_end

COLUMNS = (
    ("service", "service", "{}"),
    ("deployments", "deploys", "{:d}"),
    ("deployment_frequency_per_day", "per day", "{:.2f}"),
    ("lead_time_median_minutes", "lead time (median)", None),
    ("change_failure_rate", "change failure rate", "{:.0%}"),
    ("time_to_restore_median_minutes", "time to restore (median)", None),
    ("incidents_open", "open incidents", "{:d}"),
)


def human_minutes(minutes: float | None) -> str:
    """12.5 -> '12.5 min', 135 -> '2.2 h', 4000 -> '2.8 d'."""
    if minutes is None:
        return "-"
    if minutes < 90:
        return f"{minutes:.1f} min"
    if minutes < 48 * 60:
        return f"{minutes / 60:.1f} h"
    return f"{minutes / 1440:.1f} d"


def _format(value, pattern: str | None) -> str:
    if value is None:
        return "-"
    if pattern is None:
        return human_minutes(float(value))
    if pattern == "{:d}":
        return pattern.format(int(value))
    return pattern.format(value)


def summary_rows(database: Path, today: date) -> tuple[dict, list[dict]]:
    """(period, rows): the headline period's figures per service, 'all' first."""
    if not database.is_file():
        raise PublishError(
            f"no published warehouse at {database}: run `doraflow run` or `doraflow demo` first"
        )
    with duckdb.connect(str(database), read_only=True) as connection:
        chosen = choose_period(connection, today)
        if chosen is None:
            return {}, []
        grain, start = chosen
        cursor = connection.execute(
            """
            select metrics.*, coalesce(open_incidents.incidents_open, 0) as incidents_open
            from marts.dora_metrics as metrics
            left join (
                select service, count(*) as incidents_open from marts.fct_incidents
                where resolved_at is null group by service
                union all
                select 'all', count(*) from marts.fct_incidents where resolved_at is null
            ) as open_incidents on open_incidents.service = metrics.service
            where metrics.period_grain = ? and metrics.period_start = ?
            order by case when metrics.service = 'all' then 0 else 1 end, metrics.service
            """,
            [grain, start],
        )
        names = [column[0] for column in cursor.description]
        rows = [dict(zip(names, row)) for row in cursor.fetchall()]
    return {"grain": grain, "start": start, "end": period_end(grain, start)}, rows


def format_summary(window: dict, rows: list[dict], timezone_name: str = "UTC") -> str:
    if not rows:
        return "DORA summary: no deployments or incidents in the warehouse yet."
    header = [title for _, title, _ in COLUMNS]
    body = [[_format(row.get(key), pattern) for key, _, pattern in COLUMNS] for row in rows]
    widths = [max(len(cell) for cell in column) for column in zip(header, *body)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            cell.ljust(width) if index == 0 else cell.rjust(width)
            for index, (cell, width) in enumerate(zip(cells, widths))
        )

    last_day = window["end"] - timedelta(days=1)
    title = (
        f"DORA summary, {window['grain']} {window['start']} to {last_day} ({timezone_name}); "
        "open incidents as of now"
    )
    rule = "-" * len(line(header))
    return "\n".join([title, rule, line(header), rule, *(line(cells) for cells in body), rule])


def print_summary(settings: Settings, progress: Callable[[str], None] = print) -> None:
    database = settings.serving_path if settings.serving_path.is_file() else settings.warehouse_path
    today = datetime.now(ZoneInfo(settings.reporting_timezone)).date()
    window, rows = summary_rows(database, today)
    progress(format_summary(window, rows, settings.reporting_timezone))


def print_value_stream(settings: Settings, service: str, progress: Callable[[str], None] = print) -> None:
    """The value stream of one service for the headline period (`doraflow summary --value-stream SERVICE`)."""
    from doraflow.report.value_stream import collect_value_stream, format_value_stream_text

    database = settings.serving_path if settings.serving_path.is_file() else settings.warehouse_path
    if not database.is_file():
        raise PublishError(
            f"no published warehouse at {database}: run `doraflow run` or `doraflow demo` first"
        )
    today = datetime.now(ZoneInfo(settings.reporting_timezone)).date()
    with duckdb.connect(str(database), read_only=True) as connection:
        chosen = choose_period(connection, today)
        period = None if chosen is None else {"grain": chosen[0], "start": chosen[1].isoformat()}
        value_stream = collect_value_stream(connection, period)
    progress(format_value_stream_text(value_stream, service.lower()))
