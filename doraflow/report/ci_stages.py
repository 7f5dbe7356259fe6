"""CI jobs by stage (marts.ci_stage_metrics) in the report's value-stream section and in `doraflow summary`.

The figures are the mart's rows for the report's period, unchanged (docs/metrics.md, Flow, "CI stages"): jobs
run, the share of re-run attempts, queue and run time p50/p90 per stage, and each service's slowest stage. When
no CI job was ever fetched (GITHUB_CI_JOBS off, the default) both say so in one line instead of an empty chart.
"""

from __future__ import annotations

import json
from html import escape

import duckdb
import plotly.graph_objects as go

from doraflow.report.render import format_value, legend_html, stacked_bars_figure

TABLE = "ci_stage_metrics"
# Pipeline order, as fct_ci_jobs names the stages; 'all' (every job of the service) comes last.
STAGES = (
    ("build", "Build"),
    ("unit_tests", "Unit tests"),
    ("integration_tests", "Integration tests"),
    ("security_scan", "Security scan"),
    ("deploy", "Deploy"),
    ("other", "Other jobs"),
)
STAGE_LABELS = dict(STAGES)
PARTS = (
    ("queue_median_minutes", "Queue p50", "created -> started: waiting for a runner"),
    ("run_median_minutes", "Run p50", "started -> completed"),
)
NOT_FETCHED = (
    "CI jobs are not fetched, so CI time by stage is unknown: set GITHUB_CI_JOBS=true (one request per workflow "
    "run, docs/configuration.md) and run the pipeline again."
)


def _order(row: dict) -> tuple:
    """'all' first, then services by name; stages in pipeline order, the service's 'all' last."""
    stage_rank = (
        [key for key, _ in STAGES].index(row["stage"]) if row["stage"] in STAGE_LABELS else len(STAGES)
    )
    return (row["service"] != "all", row["service"], stage_rank)


def collect_ci_stages(connection: duckdb.DuckDBPyConnection, grain: str, start: str) -> dict | None:
    """{'fetched': any row at all, 'rows': the period's rows}; None when the serving copy predates the mart."""
    tables = {
        row[0]
        for row in connection.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'"
        ).fetchall()
    }
    if TABLE not in tables:
        return None
    fetched = connection.execute(f"select count(*) > 0 from marts.{TABLE}").fetchone()[0]
    cursor = connection.execute(
        f"select * from marts.{TABLE} where period_grain = ? and period_start = cast(? as date)",
        [grain, start],
    )
    names = [description[0] for description in cursor.description]
    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    for row in rows:
        row["period_start"] = row["period_start"].isoformat()
    return {"fetched": bool(fetched), "rows": sorted(rows, key=_order)}


def _share(value: float | None) -> str:
    return "no data" if value is None else f"{value * 100:.0f}%"


def stage_label(stage: str | None) -> str:
    return "every stage" if stage == "all" else STAGE_LABELS.get(stage or "", stage or "none")


def slowest_sentence(row: dict) -> str:
    """'checkout: 40 jobs, 5% of them re-run attempts; slowest stage Integration tests', from a service's
    'all' row (the slowest stage's own figures are added by the caller)."""
    return (
        f"{row['service']}: {row['jobs']} jobs, {_share(row.get('rerun_job_share'))} of them re-run attempts; "
        f"slowest stage {stage_label(row.get('slowest_stage'))}"
    )


def _no_rows_note(ci_stages: dict | None, grain: str, start: str) -> str | None:
    if ci_stages is None:
        return f"marts.{TABLE} is not in this warehouse copy: rerun the pipeline to build it."
    if not ci_stages["fetched"]:
        return NOT_FETCHED
    if not ci_stages["rows"]:
        return f"No CI job ran in the {grain} starting {start}."
    return None


def stages_figure(rows: list[dict]) -> go.Figure:
    """Horizontal bars, one per stage in pipeline order: the median queue, then the median run time."""
    stage_rows = [row for row in rows if row["stage"] != "all"]
    names = [stage_label(row["stage"]) for row in stage_rows]
    largest = max(
        (sum(row.get(key) or 0 for key, _, _ in PARTS) for row in stage_rows),
        default=0,
    )
    divisor, unit = (60.0, "hours") if largest >= 180 else (1.0, "minutes")
    return stacked_bars_figure(
        "CI jobs: median queue and run time by stage",
        names,
        [(key, label, help_text, [row.get(key) for row in stage_rows]) for key, label, help_text in PARTS],
        divisor=divisor,
        unit=unit,
        left_margin=120,
        height=_chart_height(len(names)),
    )


def _chart_height(bars: int) -> int:
    return max(220, 110 + 36 * bars)


def stages_legend() -> str:
    return legend_html([(label, help_text) for _, label, help_text in PARTS])


def _minutes(value: float | None) -> str:
    """Jobs take minutes: below 10 one decimal tells 1.5 from 2 (format_value rounds to whole minutes)."""
    if value is not None and value < 10:
        return f"{value:.1f} min"
    return format_value("minutes", value)


def _stages_table(rows: list[dict]) -> str:
    header = ["service", "stage", "jobs", "re-run attempts", "queue p50", "queue p90", "run p50", "run p90"]
    body = []
    for row in rows:
        slowest = row["stage"] == row.get("slowest_stage")
        stage = escape(stage_label(row["stage"])) + (" <b>(slowest)</b>" if slowest else "")
        cells = [
            f"<b>{escape(row['service'])}</b>",
            stage,
            str(row["jobs"]),
            escape(_share(row.get("rerun_job_share"))),
            *(
                escape(_minutes(row.get(key)))
                for key in (
                    "queue_median_minutes",
                    "queue_p90_minutes",
                    "run_median_minutes",
                    "run_p90_minutes",
                )
            ),
        ]
        attributes = f' data-service="{escape(row["service"])}" data-stage="{escape(row["stage"])}"'
        body.append(f"<tr{attributes}>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    head = "".join(f"<th>{escape(name)}</th>" for name in header)
    return (
        f'<div class="tablewrap"><table data-table="ci-stages"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _slowest_items(rows: list[dict]) -> list[tuple[str, str]]:
    """(service, sentence) per service: jobs, re-run share, the slowest stage with its elapsed p50."""
    by_key = {(row["service"], row["stage"]): row for row in rows}
    items = []
    for row in rows:
        if row["stage"] != "all":
            continue
        sentence = slowest_sentence(row)
        slowest = by_key.get((row["service"], row.get("slowest_stage")))
        if slowest is not None:
            sentence += (
                f", p50 {_minutes(slowest.get('elapsed_median_minutes'))} from queued to done (queue p50 "
                f"{_minutes(slowest.get('queue_median_minutes'))}, run p50 {_minutes(slowest.get('run_median_minutes'))})"
            )
        items.append((row["service"], sentence + "."))
    return items


def ci_stages_line(ci_stages: dict | None, grain: str, start: str, service: str) -> str:
    """One service's CI jobs in a line (`doraflow summary --value-stream SERVICE`)."""
    note = _no_rows_note(ci_stages, grain, start)
    if note is not None:
        return f"CI jobs by stage: {note}"
    found = [sentence for name, sentence in _slowest_items(ci_stages["rows"]) if name == service]
    if not found:
        return f"CI jobs by stage: no CI job of {service} in the {grain} starting {start}."
    return "CI jobs: " + found[0].split(": ", 1)[1]


def render_ci_stages(ci_stages: dict | None, grain: str, start: str, charts: list[dict]) -> str:
    """The report's "CI jobs by stage" block; its chart (all services' stages) is appended to `charts`."""
    html = "<h3>CI jobs by stage</h3>"
    note = _no_rows_note(ci_stages, grain, start)
    if note is not None:
        state = "off" if ci_stages is not None and not ci_stages["fetched"] else "none"
        return html + f'<p class="note" data-ci-jobs="{state}">{escape(note)}</p>'
    rows = ci_stages["rows"]
    organisation = [row for row in rows if row["service"] == "all"]
    chart_id = f"chart-{len(charts) + 1}"
    charts.append({"id": chart_id, "figure": json.loads(stages_figure(organisation).to_json())})
    height = _chart_height(sum(1 for row in organisation if row["stage"] != "all"))
    html += (
        "<p class='note'>Every CI job attempt of the period by the stage its name gives it (marts.ci_stage_metrics): "
        "queue is the wait for a runner, run the job itself; the slowest stage has the largest median from queued "
        "to done. The chart is all services together.</p>"
        f'<div class="chart"><div class="plot" id="{chart_id}" data-chart="ci-stages" '
        f'style="height:{height}px"></div>{stages_legend()}</div>'
    )
    html += (
        "<ul>"
        + "".join(
            f"<li data-ci-slowest='{escape(service)}'>{escape(sentence)}</li>"
            for service, sentence in _slowest_items(rows)
        )
        + "</ul>"
    )
    return html + _stages_table(rows)


def format_ci_stages_text(
    ci_stages: dict | None, grain: str, start: str, services: tuple[str, ...] = ()
) -> str:
    """`doraflow summary`'s block: the stage table of all services (or of each named one), then each service's
    slowest stage in one line."""
    note = _no_rows_note(ci_stages, grain, start)
    if note is not None:
        return f"CI jobs by stage: {note}"
    rows = ci_stages["rows"]
    if services:
        rows = [row for row in rows if row["service"] in services]
        if not rows:
            return f"CI jobs by stage: no CI job of {', '.join(services)} in the {grain} starting {start}."
    scopes = list(services) if services else ["all"]
    header = ("stage", "jobs", "re-runs", "queue p50", "queue p90", "run p50", "run p90")
    lines = []
    for scope in scopes:
        scope_rows = [row for row in rows if row["service"] == scope]
        if not scope_rows:
            continue
        total = next(row for row in scope_rows if row["stage"] == "all")
        lines.append(
            f"CI jobs by stage, {'all services' if scope == 'all' else scope}, {grain} starting {start} "
            f"(marts.{TABLE}): {total['jobs']} jobs, {_share(total.get('rerun_job_share'))} re-run attempts"
        )
        table = [header] + [
            (
                row["stage"] + (" (slowest)" if row["stage"] == row.get("slowest_stage") else ""),
                str(row["jobs"]),
                _share(row.get("rerun_job_share")),
                *(
                    _minutes(row.get(key))
                    for key in (
                        "queue_median_minutes",
                        "queue_p90_minutes",
                        "run_median_minutes",
                        "run_p90_minutes",
                    )
                ),
            )
            for row in scope_rows
            if row["stage"] != "all"
        ]
        widths = [max(len(line[index]) for line in table) for index in range(len(header))]
        lines += [
            "  "
            + "  ".join(
                cell.ljust(width) if index == 0 else cell.rjust(width)
                for index, (cell, width) in enumerate(zip(line, widths, strict=True))
            )
            for line in table
        ]
    slowest = [
        f"{row['service']} {row['slowest_stage']}"
        for row in rows
        if row["stage"] == "all" and row["service"] != "all" and row.get("slowest_stage")
    ]
    if slowest and not services:
        lines.append("Slowest CI stage by service: " + ", ".join(slowest))
    return "\n".join(lines)
