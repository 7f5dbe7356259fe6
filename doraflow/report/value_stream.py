"""The report's value-stream page: where the time goes between a first commit and production, per service.

`collect_value_stream` reads the flow marts (docs/metrics.md, "Flow: the value stream") for the report's period;
`render_value_stream` draws the stream as a stacked bar of stage medians per service (left to right in stream
order), names each service's bottleneck in words, and lists CI health, CI jobs by stage (ci_stages.py), the
anti-patterns found with their evidence, and the comparison with the baseline.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from html import escape

import duckdb
import plotly.graph_objects as go

from doraflow.report.ci_stages import ci_stages_line, collect_ci_stages, render_ci_stages
from doraflow.report.render import format_value, legend_html, stacked_bars_figure

# The stream, left to right: the partition of lead time, then monitoring (time to detect, after the release).
STAGES = (
    ("development", "Development", "first commit -> pull request ready"),
    ("review", "Review", "ready -> merged"),
    ("testing", "Testing", "merged -> CI finished on the merge sha"),
    ("staging", "Staging", "CI finished -> first staging deployment containing the change"),
    ("production", "Production", "staged (or CI) -> released to production"),
)
MONITORING = (
    "monitoring",
    "Monitoring",
    "released -> first incident attributed to the release (time to detect)",
)
SIGNALS = {
    "manual_deployments": ("Manual deployments", "share of production deployments created by people"),
    "long_ci_feedback": ("Long CI feedback loop", "median minutes from a push to its first CI result"),
    "slow_detection": ("Slow detection", "median minutes from a release to its first incident"),
    "staging_bypass": ("Staging bypassed", "share of releases with changes never staged"),
    "large_batches": ("Large batches", "median changes per release"),
    "long_lived_pull_requests": (
        "Long-lived pull requests",
        "pull requests open longer than the threshold (days)",
    ),
    "incidents_handled_outside": (
        "Siloed operations: incidents handled by another team",
        "share of incidents acknowledged or resolved by people outside the service's team",
    ),
    "reviews_inside_team": (
        "Siloed operations: reviews only inside the team",
        "share of merged pull requests reviewed only by people of the author's team",
    ),
}
BASELINE_METRICS = {
    "lead_time_median_minutes": ("lead time p50", "minutes"),
    "deployment_frequency_per_day": ("deployment frequency", "per_day"),
    "change_failure_rate": ("change failure rate", "share"),
    "time_to_restore_median_minutes": ("time to restore p50", "minutes"),
    "ci_feedback_median_minutes": ("CI feedback p50", "minutes"),
    "flow_efficiency": ("Jira flow efficiency", "share"),
}
FLOW_TABLES = ("flow_metrics", "flow_signals", "dora_baseline")
EVIDENCE_SHOWN = 5  # keys per signal on the page; marts.flow_signals keeps up to 50


def _value(value: object) -> object:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _rows(connection: duckdb.DuckDBPyConnection, sql: str, params: list) -> list[dict]:
    cursor = connection.execute(sql, params)
    names = [description[0] for description in cursor.description]
    return [
        {name: _value(value) for name, value in zip(names, row, strict=True)} for row in cursor.fetchall()
    ]


def collect_value_stream(connection: duckdb.DuckDBPyConnection, period: dict | None) -> dict | None:
    """The page's figures for `period` (the report's {'grain', 'start', ...}); None without the flow marts."""
    tables = {
        row[0]
        for row in connection.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'"
        ).fetchall()
    }
    if period is None or not set(FLOW_TABLES) <= tables:
        return None
    grain, start = period["grain"], period["start"]
    services = _rows(
        connection,
        "select * from marts.flow_metrics where period_grain = ? and period_start = cast(? as date) "
        "and service not in ('all', 'unmapped') and (changes > 0 or ci_runs > 0) order by service",
        [grain, start],
    )
    signals = _rows(
        connection,
        "select service, signal, measured_value, threshold, evidence_count, evidence_keys "
        "from marts.flow_signals where period_grain = ? and period_start = cast(? as date) "
        "order by service, signal",
        [grain, start],
    )
    baseline_grain = "week" if grain == "day" else grain
    baseline = _rows(
        connection,
        "select * from marts.dora_baseline where period_grain = ? order by service, metric",
        [baseline_grain],
    )
    return {
        "grain": grain,
        "start": start,
        "services": services,
        "signals": signals,
        "baseline": baseline,
        "ci_stages": collect_ci_stages(connection, grain, start),
    }


def _share(value: float | None) -> str:
    return "no data" if value is None else f"{value * 100:.0f}%"


def bottleneck_sentence(row: dict) -> str:
    """'payments: review is the bottleneck, 41% of a change's lead time at the median (p50 23.0 h).'"""
    stage = row.get("bottleneck_stage")
    if stage is None:
        return f"{row['service']}: no change reached production in this period."
    share = row.get(f"stage_{stage}_share_median")
    median = row.get(f"stage_{stage}_median_minutes")
    return (
        f"{row['service']}: {stage} is the bottleneck, {_share(share)} of a change's lead time at the median "
        f"(p50 {format_value('minutes', median)}; lead time p50 "
        f"{format_value('minutes', row.get('lead_time_median_minutes'))} over {row.get('changes', 0)} changes)."
    )


def baseline_sentence(row: dict) -> str | None:
    """'lead time p50 down 38% since baseline, up 5% on the previous week' (None without a latest value)."""
    label, unit = BASELINE_METRICS.get(row["metric"], (row["metric"], ""))
    change = row.get("change_vs_baseline")
    latest = row.get("latest_value")
    if latest is None:
        return None
    if change is not None:
        text = f"{label} {'up' if change > 0 else 'down'} {abs(change) * 100:.0f}% since baseline"
    elif row.get("baseline_value") is None:
        text = f"{label} {format_value(unit, latest)}, no baseline to compare with"
    elif row["baseline_value"] == latest:
        text = f"{label} unchanged since baseline ({format_value(unit, latest)})"
    else:
        text = f"{label} {format_value(unit, row['baseline_value'])} -> {format_value(unit, latest)} since baseline"
    previous = row.get("change_vs_previous")
    if previous is not None:
        text += f", {'up' if previous > 0 else 'down'} {abs(previous) * 100:.0f}% on the previous {row['period_grain']}"
    if row.get("is_regression"):
        text += " (regression)"
    return text


def baseline_heading(row: dict) -> str:
    """'baseline 2024-03-01 to 2024-03-30 (still running), latest week of 2024-04-08'."""
    text = f"baseline {row['baseline_start']} to {row['baseline_end']}"
    if not row.get("is_baseline_complete"):
        text += " (still running)"
    if row.get("latest_period_start"):
        text += f", latest {row['period_grain']} of {row['latest_period_start']}"
    return text


def _chart_height(bars: int) -> int:
    return max(240, 110 + 42 * bars)


def _short_key(key: str) -> str:
    """An evidence key for the page: `repository@sha` with the sha cut to 12 characters."""
    repository, at, sha = key.partition("@")
    return f"{repository}@{sha[:12]}" if at else key


def stream_figure(services: list[dict]) -> go.Figure:
    """Stacked horizontal bars: each service's stage medians in stream order, then time to detect."""
    names = [row["service"] for row in services]
    largest = max(
        (
            sum(row.get(f"stage_{key}_median_minutes") or 0 for key, _, _ in STAGES)
            + (row.get("time_to_detect_median_minutes") or 0)
            for row in services
        ),
        default=0,
    )
    divisor, unit = (
        (1440.0, "days") if largest >= 3 * 1440 else ((60.0, "hours") if largest >= 180 else (1.0, "minutes"))
    )
    columns = [(key, label, help_text, f"stage_{key}_median_minutes") for key, label, help_text in STAGES]
    columns.append((*MONITORING, "time_to_detect_median_minutes"))
    return stacked_bars_figure(
        "Value stream: median of each stage",
        names,
        [
            (key, label, help_text, [row.get(column) for row in services])
            for key, label, help_text, column in columns
        ],
        divisor=divisor,
        unit=unit,
        left_margin=110,
        height=_chart_height(len(names)),
    )


def stream_legend() -> str:
    """The chart's legend, stream order, each stage's meaning on hover."""
    return legend_html([(label, help_text) for _, label, help_text in [*STAGES, MONITORING]])


def _table(header: list[str], rows: list[list[str]], kind: str) -> str:
    head = "".join(f"<th>{escape(name)}</th>" for name in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return (
        f'<div class="tablewrap"><table data-table="{kind}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def _ci_table(services: list[dict]) -> str:
    rows = [
        [
            f"<b>{escape(row['service'])}</b>",
            str(row.get("ci_runs") or 0),
            escape(_share(row.get("ci_success_rate"))),
            escape(_share(row.get("ci_rerun_rate"))),
            escape(format_value("minutes", row.get("ci_run_median_minutes"))),
            escape(format_value("minutes", row.get("ci_run_p90_minutes"))),
            escape(format_value("minutes", row.get("ci_queue_median_minutes"))),
            escape(format_value("minutes", row.get("ci_feedback_median_minutes"))),
            escape(_share(row.get("deployment_automation_share"))),
        ]
        for row in services
    ]
    header = [
        "service",
        "CI runs",
        "success rate",
        "re-run rate",
        "run p50",
        "run p90",
        "queue p50",
        "feedback p50",
        "automated deployments",
    ]
    return _table(header, rows, "ci-health")


def _signal_value(signal: str, value: float | None) -> str:
    if signal in ("manual_deployments", "staging_bypass", "incidents_handled_outside", "reviews_inside_team"):
        return _share(value)
    if signal in ("long_ci_feedback", "slow_detection"):
        return format_value("minutes", value)
    return "no data" if value is None else f"{value:g}"


def _signals_table(signals: list[dict]) -> str:
    if not signals:
        return '<p class="note">No anti-pattern crossed its threshold in this period.</p>'
    rows = []
    for row in signals:
        label, meaning = SIGNALS.get(row["signal"], (row["signal"], ""))
        threshold = row["threshold"]
        shown_threshold = (
            f"{threshold:g} days"
            if row["signal"] == "long_lived_pull_requests"
            else _signal_value(row["signal"], threshold)
        )
        keys = (
            (row.get("evidence_keys") or "").split(",")[:EVIDENCE_SHOWN] if row.get("evidence_keys") else []
        )
        more = row["evidence_count"] - len(keys)
        rows.append(
            [
                f"<b>{escape(row['service'])}</b>",
                f'<span title="{escape(meaning)}" data-signal="{escape(row["signal"])}">{escape(label)}</span>',
                escape(_signal_value(row["signal"], row["measured_value"])),
                escape(shown_threshold),
                f"<code>{escape(', '.join(_short_key(key) for key in keys))}</code>"
                + (f" and {more} more" if more > 0 else ""),
            ]
        )
    return _table(["service", "anti-pattern", "measured", "threshold", "evidence"], rows, "flow-signals")


def render_value_stream(value_stream: dict | None, charts: list[dict]) -> str:
    """The page's HTML section; its chart is appended to `charts` (the report's plotly list)."""
    heading = "<section id='value-stream'><h2>Value stream</h2>"
    if value_stream is None:
        return (
            heading
            + '<p class="note">The flow marts (flow_metrics, flow_signals, dora_baseline) are not in this '
            "serving copy: rerun the pipeline to build them.</p></section>"
        )
    services = value_stream["services"]
    html = heading + (
        f"<p class='note'>The {escape(value_stream['grain'])} starting {escape(value_stream['start'])}: the median "
        "of each stage over the changes released in it (docs/metrics.md, Flow). Stage medians do not add up to "
        "the lead-time median; the bottleneck is the stage with the largest median share of lead time.</p>"
    )
    if services:
        chart_id = f"chart-{len(charts) + 1}"
        charts.append({"id": chart_id, "figure": json.loads(stream_figure(services).to_json())})
        height = _chart_height(len(services))
        html += (
            f'<div class="chart"><div class="plot" id="{chart_id}" data-chart="value-stream" '
            f'style="height:{height}px"></div>{stream_legend()}</div>'
        )
        html += (
            "<h3>Bottlenecks</h3><ul>"
            + "".join(
                f"<li data-bottleneck='{escape(str(row.get('bottleneck_stage') or ''))}'>"
                f"{escape(bottleneck_sentence(row))}</li>"
                for row in services
            )
            + "</ul>"
        )
        html += "<h3>CI health and deployment automation</h3>" + _ci_table(services)
    else:
        html += '<p class="note">No change was released and no CI ran in this period.</p>'
    if "ci_stages" in value_stream:
        html += render_ci_stages(
            value_stream["ci_stages"], value_stream["grain"], value_stream["start"], charts
        )
    html += "<h3>Anti-patterns found</h3>" + _signals_table(value_stream["signals"])
    by_service: dict[str, tuple[str, list[str]]] = {}
    for row in value_stream["baseline"]:
        sentence = baseline_sentence(row)
        if sentence:
            by_service.setdefault(row["service"], (baseline_heading(row), []))[1].append(sentence)
    if by_service:
        items = "".join(
            f"<li data-service='{escape(service)}'><b>{escape(service)}</b> ({escape(window)}): "
            f"{escape('; '.join(sentences))}.</li>"
            for service, (window, sentences) in sorted(by_service.items())
        )
        html += f"<h3>Against the baseline</h3><ul>{items}</ul>"
    return html + "</section>"


def _bar(minutes: float | None, largest: float, width: int = 30) -> str:
    if not minutes or largest <= 0:
        return ""
    return "#" * max(1, round(width * minutes / largest))


def format_value_stream_text(value_stream: dict | None, service: str) -> str:
    """`doraflow summary --value-stream SERVICE`: the stream of one service as terminal lines."""
    if value_stream is None:
        return "Value stream: the flow marts are not in the warehouse yet; rerun `doraflow run`."
    rows = [row for row in value_stream["services"] if row["service"] == service]
    if not rows:
        known = ", ".join(row["service"] for row in value_stream["services"]) or "none"
        return (
            f"Value stream: no change or CI run of service {service!r} in the {value_stream['grain']} starting "
            f"{value_stream['start']} (services with activity: {known})."
        )
    (row,) = rows
    stages = [(label, row.get(f"stage_{key}_median_minutes"), help_text) for key, label, help_text in STAGES]
    stages.append((MONITORING[1], row.get("time_to_detect_median_minutes"), MONITORING[2]))
    largest = max((minutes or 0 for _, minutes, _ in stages), default=0)
    lines = [
        f"Value stream of {service}, {value_stream['grain']} starting {value_stream['start']}: "
        f"{row.get('changes', 0)} changes released, lead time p50 "
        f"{format_value('minutes', row.get('lead_time_median_minutes'))} (median of each stage)"
    ]
    for label, minutes, help_text in stages:
        value = "-" if minutes is None else format_value("minutes", minutes)
        lines.append(f"  {label:<11} {value:>9}  {_bar(minutes, largest):<30}  {help_text}")
    lines.append("  " + bottleneck_sentence(row))
    lines.append(
        f"  CI: {row.get('ci_runs') or 0} runs, success {_share(row.get('ci_success_rate'))}, re-run "
        f"{_share(row.get('ci_rerun_rate'))}, feedback p50 "
        f"{format_value('minutes', row.get('ci_feedback_median_minutes'))}; production deployments automated: "
        f"{_share(row.get('deployment_automation_share'))}"
    )
    if "ci_stages" in value_stream:
        lines.append(
            "  "
            + ci_stages_line(value_stream["ci_stages"], value_stream["grain"], value_stream["start"], service)
        )
    found = [signal for signal in value_stream["signals"] if signal["service"] == service]
    for signal in found:
        label, _ = SIGNALS.get(signal["signal"], (signal["signal"], ""))
        threshold = signal["threshold"]
        shown = (
            f"{threshold:g} days"
            if signal["signal"] == "long_lived_pull_requests"
            else _signal_value(signal["signal"], threshold)
        )
        lines.append(
            f"  anti-pattern: {label}: {_signal_value(signal['signal'], signal['measured_value'])} > {shown} "
            f"({signal['evidence_count']} evidence rows in marts.flow_signals)"
        )
    if not found:
        lines.append("  anti-patterns: none above their thresholds")
    return "\n".join(lines)
