"""The DORA summary table printed by `doraflow run`/`demo`/`summary`, read from the published marts.

Figures are the marts' own (marts.dora_current: the trailing window per service, defined in dbt), so the
terminal, the report and people's SQL agree.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb

from doraflow.config import Settings
from doraflow.errors import PublishError

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


def summary_rows(database: Path) -> tuple[dict, list[dict]]:
    """(window, rows): the trailing-window figures per service, 'all' first."""
    if not database.is_file():
        raise PublishError(f"no published warehouse at {database}: run `doraflow run` or `doraflow demo` first")
    with duckdb.connect(str(database), read_only=True) as connection:
        cursor = connection.execute(
            "select * from marts.dora_current order by case when service = 'all' then 0 else 1 end, service"
        )
        names = [column[0] for column in cursor.description]
        rows = [dict(zip(names, row)) for row in cursor.fetchall()]
    window = {"window_start": rows[0]["window_start"], "window_end": rows[0]["window_end"]} if rows else {}
    return window, rows


def format_summary(window: dict, rows: list[dict]) -> str:
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

    title = f"DORA summary, {window['window_start']} to {window['window_end']} (UTC, trailing window)"
    rule = "-" * len(line(header))
    return "\n".join([title, rule, line(header), rule, *(line(cells) for cells in body), rule])


def print_summary(settings: Settings, progress: Callable[[str], None] = print) -> None:
    database = settings.serving_path if settings.serving_path.is_file() else settings.warehouse_path
    window, rows = summary_rows(database)
    progress(format_summary(window, rows))
