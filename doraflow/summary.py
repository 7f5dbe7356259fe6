"""The DORA summary table printed by `doraflow run`/`demo`/`summary`, read from the published marts.

Figures are the marts' own: the rows of marts.dora_metrics for the period the report headlines (the latest
complete month, else week: `doraflow.report.data.choose_period`), so the terminal, the report and people's
SQL agree. Open incidents are counted now, from marts.fct_incidents. `doraflow summary` can pick another
period (`--period 2026-10`, `--period 2026-W43`), services or teams (`--service`, `--team`, from
marts.dora_metrics_by_team) and a format (`--format table|csv|json|markdown`; CSV and JSON unrounded). The
table of services is followed by CI jobs by stage for the same period (marts.ci_stage_metrics, or one line saying
how to fetch CI jobs).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb

from doraflow.config import Settings
from doraflow.errors import PublishError
from doraflow.report.data import choose_period, is_complete, period_end

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


FORMATS = ("table", "csv", "json", "markdown")


@dataclass(frozen=True)
class SummaryRequest:
    """What `doraflow summary` was asked for: a period (None: the report's), services or teams, a format."""

    period: str | None = None  # 'YYYY-MM' (month), 'YYYY-Www' (ISO week), or None for the headline period
    dimension: str = "service"  # 'service' (marts.dora_metrics) or 'team' (marts.dora_metrics_by_team)
    names: tuple[str, ...] = ()  # only these services/teams; empty: all of them, the organisation first
    output_format: str = "table"


def parse_period(text: str) -> tuple[str, date]:
    """'2026-10' -> ('month', 2026-10-01); '2026-W43' -> ('week', Monday 2026-10-19)."""
    month = re.fullmatch(r"(\d{4})-(\d{2})", text.strip())
    if month and 1 <= int(month.group(2)) <= 12:
        return "month", date(int(month.group(1)), int(month.group(2)), 1)
    week = re.fullmatch(r"(\d{4})-W(\d{2})", text.strip(), re.I)
    if week:
        try:
            return "week", date.fromisocalendar(int(week.group(1)), int(week.group(2)), 1)
        except ValueError:
            pass
    raise PublishError(
        f"--period must be a month YYYY-MM (e.g. 2026-10) or an ISO week YYYY-Www (e.g. 2026-W43), got {text!r}"
    )


def summary_rows(
    database: Path, today: date, request: SummaryRequest | None = None
) -> tuple[dict, list[dict]]:
    """(period, rows): the period's figures per service (or team), the organisation ('all') first."""
    request = request or SummaryRequest()
    dimension = request.dimension
    table = "dora_metrics" if dimension == "service" else "dora_metrics_by_team"
    if not database.is_file():
        raise PublishError(
            f"no published warehouse at {database}: run `doraflow run` or `doraflow demo` first"
        )
    with duckdb.connect(str(database), read_only=True) as connection:
        if request.period is None:
            chosen = choose_period(connection, today)
            if chosen is None:
                return {}, []
        else:
            chosen = parse_period(request.period)
            found = connection.execute(
                f"select count(*) from marts.{table} where period_grain = ? and period_start = ?",
                list(chosen),
            ).fetchone()[0]
            if not found:
                first, last = connection.execute(
                    f"select min(period_start), max(period_start) from marts.{table} where period_grain = ?",
                    [chosen[0]],
                ).fetchone()
                span = (
                    f"the marts hold {chosen[0]}s from {first} to {last}" if first else "the marts are empty"
                )
                raise PublishError(
                    f"no figures for the {chosen[0]} of {chosen[1]} ({request.period}): {span}"
                )
        grain, start = chosen
        cursor = connection.execute(
            f"""
            select metrics.*, coalesce(open_incidents.incidents_open, 0) as incidents_open
            from marts.{table} as metrics
            left join (
                select {dimension}, count(*) as incidents_open from marts.fct_incidents
                where resolved_at is null group by {dimension}
                union all
                select 'all', count(*) from marts.fct_incidents where resolved_at is null
            ) as open_incidents on open_incidents.{dimension} = metrics.{dimension}
            where metrics.period_grain = ? and metrics.period_start = ?
            order by case when metrics.{dimension} = 'all' then 0 else 1 end, metrics.{dimension}
            """,
            [grain, start],
        )
        names = [column[0] for column in cursor.description]
        rows = [dict(zip(names, row)) for row in cursor.fetchall()]
        first_day = connection.execute(
            "select min(period_start) from marts.dora_metrics where period_grain = 'day'"
        ).fetchone()[0]
    organisation = next((row for row in rows if row[dimension] == "all"), None)
    complete = (
        is_complete(organisation, grain, first_day, today)
        if organisation
        else period_end(grain, start) <= today
    )
    if request.names:
        known = [row[dimension] for row in rows if row[dimension] != "all"]
        unknown = [name for name in request.names if name not in known]
        if unknown:
            raise PublishError(
                f"no {dimension} {', '.join(map(repr, unknown))} in marts.{table} for the {grain} of {start}; "
                f"{dimension}s: {', '.join(known) or 'none'}"
            )
        rows = [row for row in rows if row[dimension] in request.names]
    for row in rows:
        row["name"] = row[dimension]
    window = {"grain": grain, "start": start, "end": period_end(grain, start), "complete": complete}
    return window, rows


def _title(window: dict, dimension: str, timezone_name: str) -> str:
    last_day = window["end"] - timedelta(days=1)
    partial = "" if window.get("complete", True) else ", partial period"
    by = "" if dimension == "service" else ", by team"
    return (
        f"DORA summary{by}, {window['grain']} {window['start']} to {last_day} ({timezone_name}){partial}; "
        "open incidents as of now"
    )


def _cells(row: dict) -> list[str]:
    return [row["name"]] + [_format(row.get(key), pattern) for key, _, pattern in COLUMNS[1:]]


def format_summary(
    window: dict,
    rows: list[dict],
    timezone_name: str = "UTC",
    *,
    dimension: str = "service",
    output_format: str = "table",
) -> str:
    """The summary as a terminal table, CSV, JSON or Markdown. CSV and JSON carry the marts' values unrounded."""
    header = [dimension] + [title for _, title, _ in COLUMNS[1:]]
    if output_format in ("csv", "json"):
        keys = [key for key, _, _ in COLUMNS[1:]]
        records = [
            {
                "period_grain": window.get("grain"),
                "period_start": window["start"].isoformat() if window else None,
                "is_complete_period": window.get("complete"),
                dimension: row["name"],
                **{key: row.get(key) for key in keys},
            }
            for row in rows
        ]
        if output_format == "json":
            return json.dumps(records, indent=2, default=str)
        buffer = io.StringIO()
        writer = csv.DictWriter(
            buffer,
            fieldnames=["period_grain", "period_start", "is_complete_period", dimension, *keys],
            lineterminator="\n",
        )
        writer.writeheader()
        writer.writerows(records)
        return buffer.getvalue().rstrip("\n")
    if not rows:
        return "DORA summary: no deployments or incidents in the warehouse yet."
    body = [_cells(row) for row in rows]
    if output_format == "markdown":
        escape = lambda cell: cell.replace("|", "\\|")  # noqa: E731
        lines = [
            f"**{_title(window, dimension, timezone_name)}**",
            "",
            "| " + " | ".join(header) + " |",
            "|" + "|".join([" --- "] + [" ---: "] * (len(header) - 1)) + "|",
            *("| " + " | ".join(escape(cell) for cell in cells) + " |" for cells in body),
        ]
        return "\n".join(lines)
    widths = [max(len(cell) for cell in column) for column in zip(header, *body)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            cell.ljust(width) if index == 0 else cell.rjust(width)
            for index, (cell, width) in enumerate(zip(cells, widths))
        )

    rule = "-" * len(line(header))
    return "\n".join(
        [_title(window, dimension, timezone_name), rule, line(header), rule, *(line(c) for c in body), rule]
    )


def print_summary(
    settings: Settings, progress: Callable[[str], None] = print, request: SummaryRequest | None = None
) -> None:
    request = request or SummaryRequest()
    if request.output_format not in FORMATS:
        raise PublishError(f"--format must be one of {', '.join(FORMATS)}, got {request.output_format!r}")
    database = settings.serving_path if settings.serving_path.is_file() else settings.warehouse_path
    today = datetime.now(ZoneInfo(settings.reporting_timezone)).date()
    window, rows = summary_rows(database, today, request)
    progress(
        format_summary(
            window,
            rows,
            settings.reporting_timezone,
            dimension=request.dimension,
            output_format=request.output_format,
        )
    )
    if window and request.output_format == "table" and request.dimension == "service":
        progress(ci_stages_text(database, window, request.names))


def ci_stages_text(database: Path, window: dict, services: tuple[str, ...] = ()) -> str:
    """The table summary's CI block: jobs by stage for the same period (marts.ci_stage_metrics)."""
    from doraflow.report.ci_stages import collect_ci_stages, format_ci_stages_text

    start = window["start"].isoformat()
    with duckdb.connect(str(database), read_only=True) as connection:
        ci_stages = collect_ci_stages(connection, window["grain"], start)
    return format_ci_stages_text(ci_stages, window["grain"], start, services)


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
