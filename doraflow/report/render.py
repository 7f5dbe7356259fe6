"""Render the report's data (doraflow.report.data.collect) as one self-contained HTML page."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from html import escape

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from doraflow.report.data import METRICS, Metric

UNASSIGNED_TEAM = "unassigned"  # dora_metrics_by_team's team for services the catalog does not name
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
main { max-width: 1360px; margin: 0 auto; padding: 32px 24px 64px; }
@media (max-width: 600px) { main { padding: 20px 12px 48px; } header h1 { font-size: 24px; } }
header h1 { font-size: 28px; margin: 0 0 4px; letter-spacing: -0.01em; }
header p { margin: 0; color: var(--muted); }
h2 { font-size: 20px; margin: 40px 0 12px; }
h3 { font-size: 16px; margin: 24px 0 8px; }
.scorecard { display:grid; grid-template-columns: repeat(auto-fit, minmax(min(200px, 100%), 1fr)); gap: 16px;
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
.charts { display:grid; grid-template-columns: repeat(auto-fit, minmax(min(520px, 100%), 1fr)); gap: 16px; }
.chart { background:var(--panel); border:1px solid var(--line); border-radius:12px; padding:6px 8px;
         overflow:hidden; }
.plot { width:100%; height:290px; }
.legend { display:flex; flex-wrap:wrap; gap:4px 14px; list-style:none; margin:0 8px 8px; padding:0;
          font-size:13px; color:#374151; }
.legend .swatch { display:inline-block; width:12px; height:12px; border-radius:2px; margin-right:6px;
                  vertical-align:-1px; }
table { border-collapse: collapse; width:100%; background:var(--panel); font-size:13px;
        font-variant-numeric: tabular-nums; }
th, td { text-align:left; padding:6px 10px; border-bottom:1px solid var(--line); white-space:nowrap; }
th { background:#f9fafb; font-weight:600; color:#374151; position: sticky; top: 0; white-space: normal;
     vertical-align: bottom; }
.tablewrap { border:1px solid var(--line); border-radius:12px; overflow:auto; max-height: 480px; max-width:100%;
             /* shadows at an edge with more columns beyond it, so a cut column reads as "scroll" */
             background: linear-gradient(to right, #fff 30%, rgba(255,255,255,0)) left / 24px 100% no-repeat local,
               linear-gradient(to left, #fff 30%, rgba(255,255,255,0)) right / 24px 100% no-repeat local,
               radial-gradient(farthest-side at 0 50%, rgba(0,0,0,.14), rgba(0,0,0,0)) left / 10px 100% no-repeat scroll,
               radial-gradient(farthest-side at 100% 50%, rgba(0,0,0,.14), rgba(0,0,0,0)) right / 10px 100% no-repeat scroll,
               #fff; }
.tablewrap table { background: transparent; }
.spread { font-size:13px; color:var(--muted); margin:-4px 0 8px; }
.partial { background:#f3f4f6; color:#4b5563; border:1px dashed #9ca3af; }
.scrollhint { display:none; }
details { margin: 12px 0; } summary { cursor:pointer; font-weight:600; padding: 6px 0; }
.note { color: var(--muted); font-size: 13px; }
footer { margin-top: 48px; color: var(--muted); font-size: 13px; overflow-wrap: anywhere; }
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


def _spread_text(metric: Metric, entry: dict) -> str:
    """ "p90 2.0 h · 6 changes" beside a median, when the marts carry them."""
    parts = []
    if metric.p90_key and entry.get("p90") is not None:
        parts.append(f"p90 {format_value(metric, entry['p90'])}")
    if metric.n_key and entry.get("n") is not None:
        parts.append(f"n = {entry['n']} {metric.n_label}{'' if entry['n'] == 1 else 's'}")
    return " · ".join(parts)


def _cell_text(value: object) -> str:
    """A record's value as a table shows it: timestamps to the minute, booleans as yes/no."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.1f}"
    text = str(value)
    if len(text) >= 19 and text[4] == "-" and text[10] == "T":  # ISO timestamps from the marts (UTC)
        return text[:10] + " " + text[11:16] + ("" if text.endswith(("+00:00", "Z")) else text[19:])
    return text


def _script_json(value: object) -> str:
    """JSON safe to place inside a <script> element."""
    return json.dumps(value, separators=(",", ":")).replace("</", "<\\/")


def _tier_badge(tier: object, has_tiers: bool = True, graded: bool = True, measured: bool = True) -> str:
    if not has_tiers or not measured:
        return ""
    if not graded:
        return '<span class="tier partial" title="a partial period is not graded">partial: no tier</span>'
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


def _badge(entry: dict) -> str:
    return _tier_badge(
        entry["tier"], entry["has_tier"], entry.get("graded", True), entry.get("measured", True)
    )


def _period_label(period: dict | None) -> str:
    if period is None:
        return "no data yet"
    start = date.fromisoformat(period["start"])
    if period["grain"] == "month":
        label = start.strftime("%B %Y")
    else:
        label = f"week of {start.isoformat()}"
    if period["complete"]:
        return label
    observed = period.get("observed_days")
    days = f": {observed} of {period.get('days')} days" if observed is not None and period.get("days") else ""
    return f"{label} (partial period{days}, not graded)"


def _scorecard_html(card: dict, scope: str) -> str:
    cells = []
    for metric in METRICS:
        entry = card[metric.key]
        value = entry["value"]
        spread = _spread_text(metric, entry)
        cells.append(
            f'<div class="card" data-scope="{escape(scope)}" data-metric="{metric.key}" '
            f'data-value="{"" if value is None else repr(float(value))}" '
            f'data-tier="{escape(str(entry["tier"] or ""))}">'
            f'<div class="label" title="{escape(metric.help)}">{escape(metric.label)}</div>'
            f'<div class="value">{escape(format_value(metric, value))}</div>'
            + (f'<div class="spread" data-spread="{metric.key}">{escape(spread)}</div>' if spread else "")
            + f'<div class="meta">{_badge(entry)} {_target_text(metric, entry)}</div></div>'
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
            spread = _spread_text(metric, entry)
            mark = (
                ""
                if met is None
                else (' <span class="met">✓</span>' if met else ' <span class="missed">✗</span>')
            )
            cells.append(
                f'<td data-metric="{metric.key}" data-value="{"" if value is None else repr(float(value))}">'
                f"{_badge(entry)} {escape(format_value(metric, value))}{mark}"
                + (f'<div class="spread">{escape(spread)}</div>' if spread else "")
                + "</td>"
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
        margin=dict(l=56, r=50, t=44, b=40),
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
    metric: Metric,
    series: dict[str, list[dict]],
    target: float | None,
    title: str,
    scale: tuple[float, str],
) -> go.Figure:
    divisor, axis_title = scale
    # A scope with no value at all for this metric (a service without a repository on a deployment metric)
    # would only add an empty legend entry.
    series = {
        name: rows for name, rows in series.items() if any(row.get(metric.key) is not None for row in rows)
    } or series
    figure = go.Figure(layout=_layout(metric, title, axis_title, legend=len(series) > 1))
    single = len(series) == 1
    for index, (name, rows) in enumerate(sorted(series.items())):
        x = [row["period_start"] for row in rows]
        y = [None if row.get(metric.key) is None else row[metric.key] / divisor for row in rows]
        color = PALETTE[index % len(PALETTE)]
        # Weeks the marts mark partial (`is_complete_period` false) are drawn hollow.
        partial = [row.get("is_complete_period") is False for row in rows]
        if single and metric.unit == "per_day":
            figure.add_trace(
                go.Bar(
                    x=x,
                    y=y,
                    name=name,
                    marker=dict(
                        color=["#ffffff" if is_partial else color for is_partial in partial],
                        line=dict(color=color, width=1.5),
                    ),
                )
            )
        else:
            figure.add_trace(
                go.Scatter(
                    x=x,
                    y=y,
                    name=name,
                    mode="lines+markers",
                    line=dict(color=color, width=2),
                    marker=dict(
                        symbol=["circle-open" if is_partial else "circle" for is_partial in partial], size=7
                    ),
                    connectgaps=False,
                )
            )
    if target is not None:
        figure.add_hline(y=target / divisor, line=dict(color="#9ca3af", dash="dash", width=1.5))
        # The label goes in the right margin, outside the plotting area, so it never covers a bar or point.
        figure.add_annotation(
            text="target",
            xref="paper",
            x=1,
            xanchor="left",
            xshift=4,
            yref="y",
            y=target / divisor,
            showarrow=False,
            font=dict(size=12, color="#6b7280"),  # 12 px: the smallest legible on a phone
        )
    return figure


def _records_table(rows: list[dict], kind: str) -> str:
    if not rows:
        return f'<p class="note">No {kind} in this period.</p>'
    columns = list(rows[0])
    # Column names break at their underscores, so a narrow boolean column does not take a wide header.
    header = "".join(f"<th>{escape(name).replace('_', '_<wbr>')}</th>" for name in columns)
    body = []
    for row in rows:
        cells = []
        for name in columns:
            cells.append(f"<td>{escape(_cell_text(row[name]))}</td>")
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
    # One unit per metric on every chart (organisation, services, teams), chosen from all their values.
    scales = {}
    for metric in METRICS:
        values = [
            row[metric.key]
            for trends in data["trends"].values()
            for rows in trends.values()
            for row in rows
            if row.get(metric.key) is not None
        ]
        target = targets.get(metric.target) if metric.target else None
        scales[metric.key] = _axis_scale(metric, values + ([target] if target is not None else []))

    def chart(metric: Metric, series: dict[str, list[dict]], title: str, organisation: bool = False) -> str:
        chart_id = f"chart-{len(charts) + 1}"
        target = targets.get(metric.target) if metric.target else None
        if not organisation and not metric.target_per_service:
            target = None  # the organisation's volume goal is not each service's
        figure = _trend_figure(metric, series, target, title, scales[metric.key])
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
            + "".join(chart(metric, org_trend, metric.label, organisation=True) for metric in METRICS)
            + "</div></section>"
        )

    for dimension, heading in (("service", "Services"), ("team", "Teams")):
        cards = {name: card for name, card in data["scorecards"][dimension].items() if name != "all"}
        trends = {name: rows for name, rows in data["trends"][dimension].items() if name != "all"}
        if not cards and not trends:
            continue
        if dimension == "team" and set(cards) | set(trends) <= {UNASSIGNED_TEAM}:
            # No service catalog: the one "team" is the whole organisation again; say so instead.
            sections.append(
                "<section id='teams'><h2>Teams</h2><p class='note'>No service catalog: teams are not known, so "
                "the organisation's figures above are not repeated per team. Set SERVICE_CATALOG_PATH to a "
                "catalog of services and teams (docs/configuration.md).</p></section>"
            )
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
            f"{escape(data['timezone'])}), the latest "
            f"{'complete ' if period['complete'] else ''}{period['grain']}. Tiers: DORA "
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
latest complete week (weeks start on Monday); partial periods are marked and never graded with a tier.
Targets come from the TARGET_* settings; the deployment frequency target is the organisation's and is not
applied to each service or team. Lead time and time to restore show the median (p50) with the 90th percentile
(p90) and the count (n) they rest on.</p>
<p>Quality gates (Great Expectations Data Docs, beside this report): <a href="data_docs/marts/index.html">marts</a>,
<a href="data_docs/landing/index.html">landed batches</a>.</p></footer>
</main>
<script type="application/json" id="doraflow-data">{_script_json(data)}</script>
<script type="application/json" id="doraflow-charts">{_script_json(charts)}</script>
<script>{plotly_js if plotly_js is not None else get_plotlyjs()}</script>
<script>{SCRIPT}</script>
</body>
</html>
"""
    return page


def stacked_bars_figure(
    title: str,
    names: list[str],
    parts: list[tuple[str, str, str, list[float | None]]],
    *,
    divisor: float,
    unit: str,
    left_margin: int,
    height: int,
) -> go.Figure:
    """Stacked horizontal bars, one per name, one trace per part (key, label, help text, minutes per name). The
    legend is HTML under the chart (`legend_html`): it wraps at any width, where plotly's own turned into a
    column over the title, with a scrollbar, on a phone."""
    figure = go.Figure(
        layout=dict(
            title=dict(text=title, font=dict(size=15), x=0.02),
            template="none",
            barmode="stack",
            margin=dict(l=left_margin, r=16, t=44, b=48),
            paper_bgcolor="#ffffff",
            plot_bgcolor="#ffffff",
            showlegend=False,
            xaxis=dict(title=dict(text=unit), gridcolor="#eef0f3", rangemode="tozero"),
            yaxis=dict(autorange="reversed"),
            height=height,
        )
    )
    for index, (key, label, help_text, values) in enumerate(parts):
        figure.add_trace(
            go.Bar(
                y=names,
                x=[None if value is None else value / divisor for value in values],
                name=label,
                orientation="h",
                marker_color=PALETTE[index % len(PALETTE)],
                hovertemplate=f"{label} ({help_text}): %{{x:.1f}} {unit}<extra>%{{y}}</extra>",
                meta=key,
            )
        )
    return figure


def legend_html(parts: list[tuple[str, str]]) -> str:
    """A stacked chart's legend (label, help text) in its traces' colours, each meaning on hover."""
    items = "".join(
        f'<li title="{escape(help_text)}"><span class="swatch" style="background:{PALETTE[index % len(PALETTE)]}">'
        f"</span>{escape(label)}</li>"
        for index, (label, help_text) in enumerate(parts)
    )
    return f'<ul class="legend">{items}</ul>'
