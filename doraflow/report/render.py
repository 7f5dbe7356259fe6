"""Render the report's data (doraflow.report.data.collect) as one self-contained HTML page."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from html import escape

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from doraflow.report.data import METRICS, Metric

TIER_CLASSES = {"elite": "elite", "high": "high", "medium": "medium", "low": "low"}
PALETTE = ("#2563eb", "#db2777", "#059669", "#d97706", "#7c3aed", "#0891b2", "#dc2626", "#65a30d", "#4b5563")
COUNT_LABELS = {
    "deployments": "deployments",
    "failed_deployment_attempts": "failed attempts",
    "changes": "changes",
    "change_failures": "change failures",
    "incidents_resolved": "incidents resolved",
}

CSS = """
:root { --ink:#111827; --muted:#6b7280; --line:#e5e7eb; --panel:#ffffff; --bg:#f6f7f9;
        --good:#047857; --bad:#b91c1c; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink); line-height:1.45;
       font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1200px; margin: 0 auto; padding: 32px 24px 64px; }
header h1 { font-size: 28px; margin: 0 0 4px; letter-spacing: -0.01em; }
header p { margin: 0; color: var(--muted); }
h2 { font-size: 20px; margin: 40px 0 12px; }
h3 { font-size: 16px; margin: 24px 0 8px; }
.scorecard { display:grid; grid-template-columns: repeat(auto-fit, minmax(200px, 1fr)); gap: 16px;
             margin-top: 24px; }
.card { background:var(--panel); border:1px solid var(--line); border-radius:12px; padding:16px 18px; }
.card .label { font-size:13px; color:var(--muted); font-weight:600; text-transform:uppercase;
               letter-spacing:.04em; }
.card .value { font-size:30px; font-weight:700; margin:6px 0 8px; font-variant-numeric: tabular-nums; }
.card .meta { font-size:13px; color:var(--muted); display:flex; flex-wrap:wrap; gap:6px; align-items:center; }
.tier { display:inline-block; padding:2px 8px; border-radius:999px; font-size:12px; font-weight:600;
        background:#e5e7eb; color:#374151; }
.tier.elite { background:#d1fae5; color:#065f46; } .tier.high { background:#dbeafe; color:#1e40af; }
.tier.medium { background:#fef3c7; color:#92400e; } .tier.low { background:#fee2e2; color:#991b1b; }
.met { color:var(--good); font-weight:600; } .missed { color:var(--bad); font-weight:600; }
.counts { margin-top: 12px; color: var(--muted); font-size: 14px; }
.charts { display:grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 16px; }
.chart { background:var(--panel); border:1px solid var(--line); border-radius:12px; padding:6px 8px;
         overflow:hidden; }
.plot { width:100%; height:290px; }
table { border-collapse: collapse; width:100%; background:var(--panel); font-size:13px;
        font-variant-numeric: tabular-nums; }
th, td { text-align:left; padding:6px 10px; border-bottom:1px solid var(--line); white-space:nowrap; }
th { background:#f9fafb; font-weight:600; color:#374151; position: sticky; top: 0; }
.tablewrap { border:1px solid var(--line); border-radius:12px; overflow:auto; max-height: 480px; }
details { margin: 12px 0; } summary { cursor:pointer; font-weight:600; padding: 6px 0; }
.note { color: var(--muted); font-size: 13px; }
footer { margin-top: 48px; color: var(--muted); font-size: 13px; }
"""

SCRIPT = """
(function () {
  var charts = JSON.parse(document.getElementById('doraflow-charts').textContent);
  var config = {displayModeBar: false, responsive: true};
  window.doraflowChartsReady = Promise.all(charts.map(function (chart) {
    return Plotly.newPlot(chart.id, chart.figure.data, chart.figure.layout, config);
  }));
})();
"""


def format_value(metric: Metric | str, value: float | None) -> str:
    unit = metric.unit if isinstance(metric, Metric) else metric
    if value is None:
        return "no data"
    if unit == "per_day":
        return f"{value:.2f}/day" if value < 10 else f"{value:.1f}/day"
    if unit == "share":
        return f"{value * 100:.1f}%"
    if unit == "minutes":
        if value < 120:
            return f"{value:.0f} min"
        if value < 48 * 60:
            return f"{value / 60:.1f} h"
        return f"{value / 1440:.1f} d"
    return f"{value:g}"


def _script_json(value: object) -> str:
    """JSON safe to place inside a <script> element."""
    return json.dumps(value, separators=(",", ":")).replace("</", "<\\/")


def _tier_badge(tier: object, has_tiers: bool = True) -> str:
    if not has_tiers:
        return ""
    if tier is None:
        return '<span class="tier">no tier</span>'
    css = TIER_CLASSES.get(str(tier).lower(), "")
    return f'<span class="tier {css}">{escape(str(tier).capitalize())}</span>'


def _target_text(metric: Metric, entry: dict) -> str:
    if entry.get("target") is None:
        return ""
    sign = "≥" if metric.better == "higher" else "≤"
    goal = f"target {sign} {format_value(metric, entry['target'])}"
    if entry.get("met") is None:
        return f'<span class="target">{escape(goal)}</span>'
    verdict = "met" if entry["met"] else "missed"
    mark = "✓" if entry["met"] else "✗"
    return (
        f'<span class="target {verdict}" data-met="{str(entry["met"]).lower()}">{mark} {verdict}</span>'
        + (f' <span class="goal">({escape(goal)})</span>')
    )


def _period_label(period: dict | None) -> str:
    if period is None:
        return "no data yet"
    start = date.fromisoformat(period["start"])
    if period["grain"] == "month":
        label = start.strftime("%B %Y")
    else:
        label = f"week of {start.isoformat()}"
    return label + ("" if period["complete"] else " (partial)")


def _scorecard_html(card: dict, scope: str) -> str:
    cells = []
    for metric in METRICS:
        entry = card[metric.key]
        value = entry["value"]
        cells.append(
            f'<div class="card" data-scope="{escape(scope)}" data-metric="{metric.key}" '
            f'data-value="{"" if value is None else repr(float(value))}" '
            f'data-tier="{escape(str(entry["tier"] or ""))}">'
            f'<div class="label" title="{escape(metric.help)}">{escape(metric.label)}</div>'
            f'<div class="value">{escape(format_value(metric, value))}</div>'
            f'<div class="meta">{_tier_badge(entry["tier"], entry["has_tier"])} '
            f"{_target_text(metric, entry)}</div></div>"
        )
    counts = card["counts"]
    count_text = ", ".join(
        f'<span data-count="{name}">{counts[name]}</span> {label}'
        for name, label in COUNT_LABELS.items()
        if counts.get(name) is not None
    )
    return f'<div class="scorecard">{"".join(cells)}</div><p class="counts">{count_text}</p>'


def _comparison_table(cards: dict[str, dict], dimension: str) -> str:
    header = "".join(f"<th>{escape(metric.label)}</th>" for metric in METRICS)
    rows = []
    for name, card in sorted(cards.items()):
        cells = []
        for metric in METRICS:
            entry = card[metric.key]
            value = entry["value"]
            met = entry.get("met")
            mark = (
                ""
                if met is None
                else (' <span class="met">✓</span>' if met else ' <span class="missed">✗</span>')
            )
            cells.append(
                f'<td data-metric="{metric.key}" data-value="{"" if value is None else repr(float(value))}">'
                f"{_tier_badge(entry['tier'], entry['has_tier'])} "
                f"{escape(format_value(metric, value))}{mark}</td>"
            )
        deployments = card["counts"].get("deployments")
        rows.append(
            f'<tr data-{dimension}="{escape(name)}"><td><b>{escape(name)}</b></td>'
            f"<td>{'' if deployments is None else deployments}</td>{''.join(cells)}</tr>"
        )
    return (
        f'<div class="tablewrap"><table><thead><tr><th>{dimension}</th><th>deployments</th>{header}</tr>'
        "</thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _axis_scale(metric: Metric, values: list[float]) -> tuple[float, str]:
    """Divisor and axis title for a metric's chart (long durations read better in hours or days)."""
    if metric.unit == "minutes":
        largest = max(values, default=0)
        if largest >= 3 * 1440:
            return 1440.0, "days"
        if largest >= 180:
            return 60.0, "hours"
        return 1.0, "minutes"
    if metric.unit == "per_day":
        return 1.0, "deployments per day"
    return 1.0, "share"


def _layout(metric: Metric, title: str, axis_title: str, legend: bool) -> dict:
    return dict(
        title=dict(text=title, font=dict(size=15), x=0.02),
        template="none",
        margin=dict(l=56, r=16, t=44, b=40),
        font=dict(family='system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif', size=12),
        paper_bgcolor="#ffffff",
        plot_bgcolor="#ffffff",
        showlegend=legend,
        legend=dict(orientation="h", y=-0.18),
        hovermode="x unified",
        xaxis=dict(type="date", showgrid=False, linecolor="#d1d5db", tickformat="%d %b"),
        yaxis=dict(
            title=dict(text=axis_title),
            gridcolor="#eef0f3",
            zeroline=False,
            rangemode="tozero",
            tickformat=".0%" if metric.unit == "share" else None,
        ),
    )


def _trend_figure(
    metric: Metric, series: dict[str, list[dict]], target: float | None, title: str
) -> go.Figure:
    values = [row[metric.key] for rows in series.values() for row in rows if row.get(metric.key) is not None]
    divisor, axis_title = _axis_scale(metric, values + ([target] if target is not None else []))
    figure = go.Figure(layout=_layout(metric, title, axis_title, legend=len(series) > 1))
    single = len(series) == 1
    for index, (name, rows) in enumerate(sorted(series.items())):
        x = [row["period_start"] for row in rows]
        y = [None if row.get(metric.key) is None else row[metric.key] / divisor for row in rows]
        color = PALETTE[index % len(PALETTE)]
        if single and metric.unit == "per_day":
            figure.add_trace(go.Bar(x=x, y=y, name=name, marker_color=color))
        else:
            figure.add_trace(
                go.Scatter(
                    x=x,
                    y=y,
                    name=name,
                    mode="lines+markers",
                    line=dict(color=color, width=2),
                    connectgaps=False,
                )
            )
    if target is not None:
        figure.add_hline(
            y=target / divisor,
            line=dict(color="#9ca3af", dash="dash", width=1.5),
            annotation_text="target",
            annotation_position="top left",
        )
    return figure


def _records_table(rows: list[dict], kind: str) -> str:
    if not rows:
        return f'<p class="note">No {kind} in this period.</p>'
    columns = list(rows[0])
    header = "".join(f"<th>{escape(name)}</th>" for name in columns)
    body = []
    for row in rows:
        cells = []
        for name in columns:
            value = row[name]
            if value is None:
                text = ""
            elif isinstance(value, bool):
                text = "yes" if value else "no"
            elif isinstance(value, float):
                text = f"{value:.1f}"
            else:
                text = str(value)
            cells.append(f"<td>{escape(text)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f'<div class="tablewrap"><table data-table="{kind}"><thead><tr>{header}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _coverage_html(rows: list[dict]) -> str:
    if not rows:
        return '<p class="note">marts.dora_coverage is empty or missing.</p>'
    columns = list(rows[0])
    header = "".join(f"<th>{escape(name)}</th>" for name in columns)
    body = []
    for row in rows:
        cells = []
        for name in columns:
            value = row[name]
            if isinstance(value, float) and (
                "share" in name or "rate" in name or "ratio" in name or value <= 1
            ):
                text = f"{value * 100:.1f}%"
            else:
                text = "" if value is None else str(value)
            cells.append(f"<td>{escape(text)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f'<div class="tablewrap"><table data-table="coverage"><thead><tr>{header}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def render_html(data: dict, *, plotly_js: str | None = None) -> str:
    """The complete report page. `plotly_js` defaults to the bundled plotly.js (inlined, no CDN)."""
    charts: list[dict] = []
    targets = data["targets"]

    def chart(metric: Metric, series: dict[str, list[dict]], title: str) -> str:
        chart_id = f"chart-{len(charts) + 1}"
        target = targets.get(metric.target) if metric.target else None
        figure = _trend_figure(metric, series, target, title)
        charts.append({"id": chart_id, "figure": json.loads(figure.to_json())})
        return f'<div class="chart"><div class="plot" id="{chart_id}" data-chart="{metric.key}"></div></div>'

    period = data["period"]
    org_card = data["scorecards"]["service"].get("all")
    sections: list[str] = []
    if org_card is None:
        sections.append(
            '<p class="note">The marts hold no DORA figures yet: run the pipeline with at least one '
            "production deployment.</p>"
        )
    else:
        sections.append("<section id='organisation'>" + _scorecard_html(org_card, "all") + "</section>")

    org_trend = {"organisation": data["trends"]["service"].get("all", [])}
    if org_trend["organisation"]:
        sections.append(
            "<section id='trends'><h2>Weekly trends, organisation</h2><div class='charts'>"
            + "".join(chart(metric, org_trend, metric.label) for metric in METRICS)
            + "</div></section>"
        )

    for dimension, heading in (("service", "Services"), ("team", "Teams")):
        cards = {name: card for name, card in data["scorecards"][dimension].items() if name != "all"}
        trends = {name: rows for name, rows in data["trends"][dimension].items() if name != "all"}
        if not cards and not trends:
            continue
        html = f"<section id='{dimension}s'><h2>{heading}</h2>"
        if cards:
            html += f"<h3>{escape(_period_label(period))}</h3>" + _comparison_table(cards, dimension)
        if trends:
            html += (
                f"<h3>Weekly trends by {dimension}</h3><div class='charts'>"
                + "".join(chart(metric, trends, f"{metric.label} by {dimension}") for metric in METRICS)
                + "</div>"
            )
        sections.append(html + "</section>")

    if "value_stream" in data:  # the flow page (doraflow/report/value_stream.py)
        from doraflow.report.value_stream import render_value_stream  # imports this module

        sections.append(render_value_stream(data["value_stream"], charts))
    sections.append(
        "<section id='coverage'><h2>Coverage</h2><p class='note'>How much of the activity the figures see: "
        "low shares mean the metrics above rest on part of the work.</p>"
        + _coverage_html(data["coverage"])
        + "</section>"
    )
    sections.append(
        f"<section id='records'><h2>Behind the figures ({escape(_period_label(period))})</h2>"
        f"<details open><summary>{len(data['deployments'])} production deployments</summary>"
        + _records_table(data["deployments"], "deployments")
        + f"</details><details><summary>{len(data['incidents'])} incidents (resolved in the period, or "
        "opened in it and still open)</summary>"
        + _records_table(data["incidents"], "incidents")
        + "</details></section>"
    )

    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    if period is None:
        subtitle = "No data yet."
    else:
        end = date.fromisoformat(period["end_exclusive"])
        subtitle = (
            f"Scorecard: {escape(_period_label(period))} ({period['start']} to before {end.isoformat()}, "
            f"{escape(data['timezone'])}), the latest complete {period['grain']}. Tiers: DORA "
            f"{escape(str(data.get('benchmark_edition', '')))} benchmarks."
        )
    definitions = "".join(
        f"<li><b>{escape(metric.label)}</b>: {escape(metric.help)}</li>" for metric in METRICS
    )
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>DORA metrics report</title>
<style>{CSS}</style>
</head>
<body data-chart-count="{len(charts)}">
<main>
<header><h1>DORA metrics</h1><p>{subtitle}</p></header>
{"".join(sections)}
<footer><ul>{definitions}</ul>
<p>Generated {generated} by doraflow from {escape(str(data.get("source", "")))}. Weekly trends stop at the
latest complete week (weeks start on Monday). Targets come from the TARGET_* settings.</p></footer>
</main>
<script type="application/json" id="doraflow-data">{_script_json(data)}</script>
<script type="application/json" id="doraflow-charts">{_script_json(charts)}</script>
<script>{plotly_js if plotly_js is not None else get_plotlyjs()}</script>
<script>{SCRIPT}</script>
</body>
</html>
"""
    return page
