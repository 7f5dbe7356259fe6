"""The report's figures equal the marts', for the period and rows worked out by hand from test_serving_support."""

from __future__ import annotations

import json
import re
from datetime import date

import duckdb
import pytest
from test_serving_support import REPORT_TODAY, build_duckdb_marts, sample_settings

from doraflow.errors import PublishError
from doraflow.publish import build_serving_copy
from doraflow.report import embedded_data, write_report

METRIC_KEYS = [
    "deployment_frequency_per_day",
    "lead_time_median_minutes",
    "change_failure_rate",
    "time_to_restore_median_minutes",
    "rework_rate",
]
TIERS = {
    "deployment_frequency_per_day": "deployment_frequency_tier",
    "lead_time_median_minutes": "lead_time_tier",
    "change_failure_rate": "change_failure_rate_tier",
    "time_to_restore_median_minutes": "time_to_restore_tier",
    "rework_rate": None,
}


@pytest.fixture
def serving(tmp_path):
    """Sample marts published into a serving copy; returns (settings, serving path)."""
    warehouse = tmp_path / "dora.duckdb"
    build_duckdb_marts(warehouse)
    settings = sample_settings(warehouse)
    build_serving_copy(settings, settings.serving_path, tmp_path)
    return settings


def _report(settings, **kwargs):
    path = write_report(settings, **kwargs)
    html = path.read_text(encoding="utf-8")
    return html, embedded_data(html)


def _mart_row(settings, table, dimension, name, grain, start):
    connection = duckdb.connect(str(settings.serving_path), read_only=True)
    try:
        cursor = connection.execute(
            f"select * from marts.{table} where {dimension} = ? and period_grain = ? and period_start = ?",
            [name, grain, start],
        )
        columns = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    finally:
        connection.close()
    assert len(rows) == 1
    return dict(zip(columns, rows[0], strict=True))


def test_scorecard_is_the_latest_complete_month_and_equals_the_marts(serving):
    html, data = _report(serving, today=REPORT_TODAY)
    # Today is 2026-11-26: November is not complete, so the scorecard is October 2026.
    assert data["period"] == {
        "grain": "month",
        "start": "2026-10-01",
        "end_exclusive": "2026-11-01",
        "complete": True,
        "days": 31,
        "observed_days": None,  # the sample marts predate observed_days
    }
    cards = data["scorecards"]
    assert sorted(cards["service"]) == ["all", "checkout", "search"]
    assert sorted(cards["team"]) == ["all", "discovery", "payments"]
    for dimension, table in (("service", "dora_metrics"), ("team", "dora_metrics_by_team")):
        for name, card in cards[dimension].items():
            row = _mart_row(serving, table, dimension, name, "month", date(2026, 10, 1))
            for key in METRIC_KEYS:
                if row[key] is None:
                    assert card[key]["value"] is None
                else:
                    assert card[key]["value"] == pytest.approx(row[key])
                assert card[key]["tier"] == (row[TIERS[key]] if TIERS[key] else None)
            assert card["counts"]["deployments"] == row["deployments"]
            assert card["counts"]["incidents_resolved"] == row["incidents_resolved"]

    # The organisation's October row (seed 1 in test_serving_support.metric_row): 4 deployments in 31 days,
    # lead time 30 + 17 = 47 min, 1 failure of 4 = 0.25, 1 incident restored in 20 + 11 = 31 min, no rework.
    org = cards["service"]["all"]
    assert org["deployment_frequency_per_day"]["value"] == pytest.approx(4 / 31)
    assert org["lead_time_median_minutes"]["value"] == pytest.approx(47.0)
    assert org["change_failure_rate"]["value"] == pytest.approx(0.25)
    assert org["time_to_restore_median_minutes"]["value"] == pytest.approx(31.0)
    # Default targets: >= 2/day (missed), <= 60 min (met), <= 0.15 (missed), <= 60 min (met); rework: no target.
    assert [org[key]["met"] for key in METRIC_KEYS] == [False, True, False, True, None]

    # The visible scorecard carries the same numbers in data-value attributes.
    for key in METRIC_KEYS:
        match = re.search(rf'data-scope="all" data-metric="{key}" data-value="([^"]*)"', html)
        assert match, key
        assert float(match.group(1)) == pytest.approx(org[key]["value"])
    assert html.count('class="target missed"') >= 2


def test_weekly_trends_stop_at_the_latest_complete_week_and_equal_the_marts(serving):
    _, data = _report(serving, today=REPORT_TODAY)
    # Weeks start on Monday; 2026-11-23 is the current (incomplete) week, so the trend ends on 2026-11-16.
    org = data["trends"]["service"]["all"]
    assert [row["period_start"] for row in org] == [
        "2026-09-28",
        "2026-10-05",
        "2026-10-12",
        "2026-10-19",
        "2026-10-26",
        "2026-11-02",
        "2026-11-09",
        "2026-11-16",
    ]
    connection = duckdb.connect(str(serving.serving_path), read_only=True)
    try:
        expected = connection.execute(
            f"select period_start, {', '.join(METRIC_KEYS)} from marts.dora_metrics "
            "where period_grain = 'week' and service = 'checkout' and period_start <= date '2026-11-16' "
            "order by period_start"
        ).fetchall()
    finally:
        connection.close()
    checkout = data["trends"]["service"]["checkout"]
    assert len(checkout) == len(expected) == 8
    for row, mart in zip(checkout, expected, strict=True):
        assert row["period_start"] == mart[0].isoformat()
        for key, value in zip(METRIC_KEYS, mart[1:], strict=True):
            assert row[key] == (pytest.approx(value) if value is not None else None)


def test_records_behind_the_figures_follow_the_reporting_time_zone(tmp_path):
    warehouse = tmp_path / "dora.duckdb"
    build_duckdb_marts(warehouse)
    for zone, expected_deployments in (("UTC", ["d1", "d2", "d3", "d4", "d5"]), ("Europe/Paris", None)):
        settings = sample_settings(warehouse, REPORTING_TIMEZONE=zone)
        if not settings.serving_path.exists():
            build_serving_copy(settings, settings.serving_path, tmp_path)
        _, data = _report(settings, today=REPORT_TODAY)
        ids = [row["deployment_id"] for row in data["deployments"]]
        if zone == "UTC":
            # d0 is 2026-09-30 23:30 UTC (September); d2 failed, counted by its finish time (Oct 3); d6 is November.
            assert ids == expected_deployments
        else:
            # 2026-09-30 23:30 UTC is 2026-10-01 01:30 in Paris: d0 belongs to October there.
            assert ids == ["d0", "d1", "d2", "d3", "d4", "d5"]
        # i1 and i2 were resolved in October, i3 opened on Oct 28 and is still open, i4 is November's.
        assert [row["incident_id"] for row in data["incidents"]] == ["i1", "i2", "i3"]


def test_falls_back_to_the_latest_complete_month_before_today(serving):
    _, data = _report(serving, today=date(2026, 10, 20))
    assert data["period"]["start"] == "2026-09-01"
    assert (
        data["scorecards"]["service"]["all"]["counts"]["deployments"]
        == _mart_row(serving, "dora_metrics", "service", "all", "month", date(2026, 9, 1))["deployments"]
    )


def test_targets_come_from_settings(tmp_path):
    warehouse = tmp_path / "dora.duckdb"
    build_duckdb_marts(warehouse)
    settings = sample_settings(warehouse, TARGET_DEPLOYMENTS_PER_DAY="0.1", TARGET_LEAD_TIME_MINUTES="30")
    build_serving_copy(settings, settings.serving_path, tmp_path)
    _, data = _report(settings, today=REPORT_TODAY)
    org = data["scorecards"]["service"]["all"]
    assert org["deployment_frequency_per_day"]["met"] is True  # 4/31 = 0.129 >= 0.1
    assert org["lead_time_median_minutes"]["met"] is False  # 47 > 30
    assert data["targets"]["lead_time_minutes"] == 30.0


def test_report_without_serving_copy_names_the_file(tmp_path):
    settings = sample_settings(tmp_path / "dora.duckdb")
    with pytest.raises(PublishError, match=r"no serving copy at .*dora_serving\.duckdb"):
        write_report(settings)


def test_html_path_is_taken_as_the_output(serving, tmp_path):
    output = tmp_path / "elsewhere" / "r.html"
    assert write_report(serving, output, today=REPORT_TODAY) == output
    assert embedded_data(output.read_text(encoding="utf-8"))["period"]["start"] == "2026-10-01"


def test_coverage_is_shown_as_the_marts_have_it(serving):
    html, data = _report(serving, today=REPORT_TODAY)
    shares = {row["measure"]: row["share"] for row in data["coverage"]}
    # 1 of the 4 incidents is attributed (i1): 25 %.
    assert shares["incidents_attributed"] == 0.25
    assert len(shares) == 4
    coverage_table = html[html.index('data-table="coverage"') :]
    assert "<td>25.0%</td>" in coverage_table[: coverage_table.index("</table>")]


def test_naive_utc_timestamps_are_bucketed_like_aware_ones(tmp_path):
    # dbt-postgres builds some marts with `timestamp without time zone` holding UTC: same buckets expected.
    warehouse = tmp_path / "dora.duckdb"
    build_duckdb_marts(warehouse)
    connection = duckdb.connect(str(warehouse))
    for column in ("created_at", "deployed_at", "finished_at"):
        connection.execute(
            f"alter table marts.fct_deployments alter {column} type timestamp using timezone('UTC', {column})"
        )
    connection.close()
    settings = sample_settings(warehouse, REPORTING_TIMEZONE="Europe/Paris")
    build_serving_copy(settings, settings.serving_path, tmp_path)
    _, data = _report(settings, today=REPORT_TODAY)
    # d0 (2026-09-30 23:30 UTC) is October 1st in Paris.
    assert [row["deployment_id"] for row in data["deployments"]] == ["d0", "d1", "d2", "d3", "d4", "d5"]


def test_a_month_the_data_starts_in_the_middle_of_is_not_the_scorecard(tmp_path):
    warehouse = tmp_path / "dora.duckdb"
    build_duckdb_marts(warehouse)
    connection = duckdb.connect(str(warehouse))
    # The dense day rows start on 2026-10-05: October is not fully covered, so the latest complete week
    # (Monday 2026-11-16; the week of 2026-11-23 is still running on the 26th) is the scorecard.
    connection.execute(
        "insert into marts.dora_metrics (period_grain, period_start, service, deployments) "
        "values ('day', date '2026-10-05', 'all', 1)"
    )
    connection.close()
    settings = sample_settings(warehouse)
    build_serving_copy(settings, settings.serving_path, tmp_path)
    _, data = _report(settings, today=REPORT_TODAY)
    assert data["period"] == {
        "grain": "week",
        "start": "2026-11-16",
        "end_exclusive": "2026-11-23",
        "complete": True,
        "days": 7,
        "observed_days": None,
    }
    week = _mart_row(settings, "dora_metrics", "service", "all", "week", date(2026, 11, 16))
    assert data["scorecards"]["service"]["all"]["counts"]["deployments"] == week["deployments"]
    # Trends start with the first whole week of data: Monday 2026-10-05 (the day rows start that day).
    assert [row["period_start"] for row in data["trends"]["service"]["all"]] == [
        "2026-10-05",
        "2026-10-12",
        "2026-10-19",
        "2026-10-26",
        "2026-11-02",
        "2026-11-09",
        "2026-11-16",
    ]


def test_empty_marts_give_a_report_that_says_so(tmp_path):
    warehouse = tmp_path / "dora.duckdb"
    build_duckdb_marts(warehouse)
    connection = duckdb.connect(str(warehouse))
    for table in (
        "dora_metrics",
        "dora_metrics_by_team",
        "fct_deployments",
        "fct_incidents",
        "dora_coverage",
    ):
        connection.execute(f"delete from marts.{table}")
    connection.close()
    settings = sample_settings(warehouse)
    build_serving_copy(settings, settings.serving_path, tmp_path)
    html, data = _report(settings, today=REPORT_TODAY)
    assert data["period"] is None and data["deployments"] == []
    assert "no DORA figures yet" in html and 'data-chart-count="0"' in html


def _serving_with(tmp_path, *statements: str):
    """Sample marts changed by `statements` (SQL on the working file), published; returns the settings."""
    warehouse = tmp_path / "dora.duckdb"
    build_duckdb_marts(warehouse)
    connection = duckdb.connect(str(warehouse))
    for statement in statements:
        connection.execute(statement)
    connection.close()
    settings = sample_settings(warehouse)
    build_serving_copy(settings, settings.serving_path, tmp_path)
    return settings


def test_p90_and_n_stand_beside_the_median_for_lead_time_and_time_to_restore(serving):
    html, data = _report(serving, today=REPORT_TODAY)
    for dimension, table in (("service", "dora_metrics"), ("team", "dora_metrics_by_team")):
        for name, card in data["scorecards"][dimension].items():
            row = _mart_row(serving, table, dimension, name, "month", date(2026, 10, 1))
            assert card["lead_time_median_minutes"]["p90"] == pytest.approx(row["lead_time_p90_minutes"])
            assert card["lead_time_median_minutes"]["n"] == row["changes"]
            assert card["time_to_restore_median_minutes"]["p90"] == pytest.approx(
                row["time_to_restore_p90_minutes"]
            )
            assert card["time_to_restore_median_minutes"]["n"] == row["incidents_resolved"]
            assert card["change_failure_rate"]["p90"] is None  # a rate has no percentile
    # The organisation's October (test_serving_support.metric_row, seed 1): 6 changes and 1 incident restored.
    org = data["scorecards"]["service"]["all"]
    assert org["lead_time_median_minutes"]["n"] == 6
    spreads = dict(re.findall(r'data-spread="(\w+)">([^<]*)<', html))
    assert spreads["lead_time_median_minutes"] == (
        f"p90 {org['lead_time_median_minutes']['p90']:.0f} min · n = 6 changes"
    )
    assert spreads["time_to_restore_median_minutes"] == (
        f"p90 {org['time_to_restore_median_minutes']['p90']:.0f} min · n = 1 incident"
    )
    assert "change_failure_rate" not in spreads


def test_service_frequency_is_not_held_to_the_organisations_volume_target(serving):
    html, data = _report(serving, today=REPORT_TODAY)
    org = data["scorecards"]["service"]["all"]["deployment_frequency_per_day"]
    assert (org["target"], org["met"]) == (2.0, False)
    for dimension in ("service", "team"):
        for name, card in data["scorecards"][dimension].items():
            if name == "all":
                continue
            assert card["deployment_frequency_per_day"]["target"] is None
            assert card["deployment_frequency_per_day"]["met"] is None
            # Durations and rates are per change: each service is held to them.
            assert card["lead_time_median_minutes"]["target"] == 60.0
    charts = _charts(html)
    frequency = [c for c in charts if c["key"] == "deployment_frequency_per_day"]
    assert [c["has_target"] for c in frequency] == [True, False, False]  # organisation, services, teams


def _charts(html: str) -> list[dict]:
    import json

    keys = re.findall(r'id="(chart-\d+)" data-chart="(\w+)"', html)
    figures = {
        chart["id"]: chart["figure"]
        for chart in json.loads(re.search(r'id="doraflow-charts">(.*?)</script>', html, re.S).group(1))
    }
    return [
        {
            "key": key,
            "unit": figures[chart_id]["layout"]["yaxis"]["title"]["text"],
            "has_target": any(
                a.get("text") == "target" for a in figures[chart_id]["layout"].get("annotations", [])
            ),
        }
        for chart_id, key in keys
    ]


def test_each_duration_has_one_unit_on_every_chart(tmp_path):
    # Services' lead times of several days next to an organisation's of about an hour: one unit for all.
    settings = _serving_with(
        tmp_path,
        "update marts.dora_metrics set lead_time_median_minutes = 5000 "
        "where service = 'checkout' and period_grain = 'week'",
    )
    html, _ = _report(settings, today=REPORT_TODAY)
    units = {}
    for chart in _charts(html):
        units.setdefault(chart["key"], set()).add(chart["unit"])
    assert units["lead_time_median_minutes"] == {"days"}  # 5000 min > 3 days: days everywhere
    assert all(len(found) == 1 for found in units.values()), units


def test_a_service_without_a_repository_shows_no_data_not_a_low_tier(tmp_path):
    settings = _serving_with(
        tmp_path,
        "update marts.dim_services set github_repository = null where service = 'search'",
        # What the marts give such a service: no deployments, a frequency of 0 graded "Low".
        "update marts.dora_metrics set deployments = 0, deployment_frequency_per_day = 0, "
        "deployment_frequency_tier = 'Low' where service = 'search'",
    )
    html, data = _report(settings, today=REPORT_TODAY)
    search = data["scorecards"]["service"]["search"]
    assert search["deployment_frequency_per_day"] == {**search["deployment_frequency_per_day"], "value": None}
    assert search["deployment_frequency_per_day"]["tier"] is None
    assert search["deployment_frequency_per_day"]["measured"] is False
    assert search["time_to_restore_median_minutes"]["value"] is not None  # incidents come from PagerDuty
    cell = re.search(
        r'<tr data-service="search">.*?data-metric="deployment_frequency_per_day"[^>]*>(.*?)</td>', html, re.S
    ).group(1)
    assert "no data" in cell and "Low" not in cell
    assert all(row["deployment_frequency_per_day"] is None for row in data["trends"]["service"]["search"])
    # checkout keeps its repository and its figures.
    assert data["scorecards"]["service"]["checkout"]["deployment_frequency_per_day"]["tier"] == "High"


def test_partial_periods_are_marked_and_never_graded(tmp_path):
    """With `is_complete_period` in the marts (the first month with 3 days of data, the current month)."""
    settings = _serving_with(
        tmp_path,
        "alter table marts.dora_metrics add column is_complete_period boolean",
        "alter table marts.dora_metrics add column observed_days integer",
        # Data since Monday 2026-11-23 (3 days by the 26th): no period is complete, the report falls back to
        # the latest one, the current week.
        "update marts.dora_metrics set is_complete_period = false, observed_days = 3",
    )
    html, data = _report(settings, today=REPORT_TODAY)
    assert data["period"]["start"] == "2026-11-23" and data["period"]["complete"] is False
    assert data["period"]["observed_days"] == 3
    for dimension in ("service", "team"):
        for card in data["scorecards"][dimension].values():
            assert all(card[m]["tier"] is None and card[m]["graded"] is False for m in METRIC_KEYS)
    assert "week of 2026-11-23 (partial period: 3 of 7 days, not graded)" in html
    assert "partial: no tier" in html
    assert not re.search(r'class="tier (elite|high|medium|low)"', html)


def test_a_complete_period_from_the_marts_wins_over_the_calendar(tmp_path):
    settings = _serving_with(
        tmp_path,
        "alter table marts.dora_metrics add column is_complete_period boolean",
        "update marts.dora_metrics set is_complete_period = period_start < date '2026-10-01'",
    )
    _, data = _report(settings, today=REPORT_TODAY)
    # October ended before today, but the marts say only September is complete.
    assert (data["period"]["start"], data["period"]["complete"]) == ("2026-09-01", True)
    assert data["scorecards"]["service"]["all"]["deployment_frequency_per_day"]["tier"] is not None


def test_without_the_marts_flag_a_period_not_over_is_partial_and_not_graded(tmp_path):
    # Only the current month and week (both still running on 2026-11-26), no is_complete_period column.
    settings = _serving_with(
        tmp_path,
        "delete from marts.dora_metrics where (period_grain = 'month' and period_start < '2026-11-01') "
        "or (period_grain = 'week' and period_start < '2026-11-23')",
    )
    html, data = _report(settings, today=REPORT_TODAY)
    assert (data["period"]["start"], data["period"]["complete"]) == ("2026-11-23", False)
    assert data["scorecards"]["service"]["all"]["deployment_frequency_per_day"]["tier"] is None
    assert "not graded" in html


def test_without_a_catalog_the_team_section_does_not_repeat_the_organisation(tmp_path):
    settings = _serving_with(
        tmp_path,
        "delete from marts.dora_metrics_by_team",
        "insert into marts.dora_metrics_by_team select * replace (case when service = 'all' then 'all' "
        "else 'unassigned' end as service) from marts.dora_metrics where service in ('all', 'checkout')",
    )
    html, data = _report(settings, today=REPORT_TODAY)
    assert set(data["scorecards"]["team"]) == {"all", "unassigned"}
    assert "data-team=" not in html
    assert "No service catalog" in html
    assert 'data-chart-count="10"' in html  # organisation 5 + services 5, no team charts


def test_footer_names_the_published_copy_not_the_temporary_file(tmp_path):
    from doraflow.publish import publish

    warehouse = tmp_path / "dora.duckdb"
    build_duckdb_marts(warehouse)
    settings = sample_settings(warehouse)
    publish(settings, progress=lambda line: None)
    html = settings.report_path.read_text(encoding="utf-8")
    footer = re.search(r"<footer>(.*?)</footer>", html, re.S).group(1)
    assert f"from {settings.serving_path}." in footer
    assert ".tmp" not in footer


def test_a_scope_without_any_value_gets_no_empty_legend_entry(tmp_path):
    settings = _serving_with(
        tmp_path, "update marts.dim_services set github_repository = null where service = 'search'"
    )
    html, _ = _report(settings, today=REPORT_TODAY)
    import json

    charts = json.loads(re.search(r'id="doraflow-charts">(.*?)</script>', html, re.S).group(1))
    by_metric = {}
    for chart in charts:
        names = [trace["name"] for trace in chart["figure"]["data"]]
        by_metric.setdefault(chart["figure"]["layout"]["title"]["text"], names)
    assert by_metric["Lead time for changes by service"] == [
        "checkout"
    ]  # search has no deployments to measure
    assert by_metric["Time to restore service by service"] == ["checkout", "search"]  # its incidents count


def _serving_with_flow(tmp_path, *statements: str):
    """The sample marts with the flow marts (test_serving_support.flow_rows) in the report's period, October
    2026, changed by `statements`; published. Returns the settings."""
    from test_serving_support import (
        REPORT_ANCHOR,
        REPORT_MONTHS,
        REPORT_WEEKS_FROM,
        flow_marts_statements,
        marts_statements,
    )

    october = date(2026, 10, 1)
    warehouse = tmp_path / "dora.duckdb"
    build_duckdb_marts(
        warehouse,
        marts_statements(REPORT_ANCHOR, weeks_from=REPORT_WEEKS_FROM, weeks=9, months=REPORT_MONTHS)
        + flow_marts_statements(october, october)
        + list(statements),
    )
    settings = sample_settings(warehouse)
    build_serving_copy(settings, settings.serving_path, tmp_path)
    return settings


def test_ci_jobs_by_stage_equal_the_mart_and_name_the_slowest_stage(tmp_path):
    settings = _serving_with_flow(tmp_path)
    html, data = _report(settings, today=REPORT_TODAY)
    ci = data["value_stream"]["ci_stages"]
    with duckdb.connect(str(settings.serving_path), read_only=True) as connection:
        cursor = connection.execute(
            "select * from marts.ci_stage_metrics where period_grain = 'month' and period_start = '2026-10-01'"
        )
        names = [column[0] for column in cursor.description]
        mart = {(row[2], row[3]): dict(zip(names, row, strict=True)) for row in cursor.fetchall()}
    assert ci["fetched"] is True
    # 'all' first, then services by name; stages in pipeline order, each service's 'all' last
    assert [(row["service"], row["stage"]) for row in ci["rows"]] == [
        ("all", "build"),
        ("all", "unit_tests"),
        ("all", "integration_tests"),
        ("all", "all"),
        ("checkout", "build"),
        ("checkout", "unit_tests"),
        ("checkout", "integration_tests"),
        ("checkout", "all"),
        ("search", "build"),
        ("search", "all"),
    ]
    for row in ci["rows"]:
        expected = mart[(row["service"], row["stage"])]
        assert {key: value for key, value in row.items() if key != "period_start"} == {
            key: value for key, value in expected.items() if key != "period_start"
        }
    # the chart: all services' stages, queue p50 then run p50, in minutes (the longest, 1.5 + 14, is short)
    charts = json.loads(re.search(r'id="doraflow-charts">(.*?)</script>', html, re.S).group(1))
    chart_id = re.search(r'id="(chart-\d+)" data-chart="ci-stages"', html).group(1)
    (figure,) = [chart["figure"] for chart in charts if chart["id"] == chart_id]
    assert [trace["name"] for trace in figure["data"]] == ["Queue p50", "Run p50"]
    assert figure["data"][0]["y"] == ["Build", "Unit tests", "Integration tests"]
    assert [trace["x"] for trace in figure["data"]] == [[0.5, 1.0, 1.5], [3.5, 6.0, 14.0]]
    assert figure["layout"]["xaxis"]["title"]["text"] == "minutes"
    # checkout: 90 jobs, 9 re-run attempts (10%); integration tests 1.5 + 14 = 15.5 min from queued to done
    assert (
        "checkout: 90 jobs, 10% of them re-run attempts; slowest stage Integration tests, p50 16 min from "
        "queued to done (queue p50 1.5 min, run p50 14 min)."
    ) in html
    assert "search: 10 jobs, 0% of them re-run attempts; slowest stage Build" in html
    table = html[html.index('data-table="ci-stages"') :]
    table = table[: table.index("</table>")]
    assert table.count("(slowest)") == 3  # all's, checkout's integration tests and search's build
    assert re.search(
        r'data-service="checkout" data-stage="integration_tests"><td><b>checkout</b></td>'
        r"<td>Integration tests <b>\(slowest\)</b></td><td>30</td><td>20%</td>",
        table,
    )


@pytest.mark.parametrize(
    ("statement", "note"),
    [
        # GITHUB_CI_JOBS off: the mart is empty
        (
            "delete from marts.ci_stage_metrics",
            "CI jobs are not fetched, so CI time by stage is unknown: set GITHUB_CI_JOBS=true",
        ),
        # jobs fetched, none in October
        (
            "update marts.ci_stage_metrics set period_start = date '2026-09-01'",
            "No CI job ran in the month starting 2026-10-01.",
        ),
        # a serving copy from before the mart
        ("drop table marts.ci_stage_metrics", "marts.ci_stage_metrics is not in this warehouse copy"),
    ],
)
def test_without_ci_jobs_one_line_says_why_and_no_chart_is_drawn(tmp_path, statement, note):
    settings = _serving_with_flow(tmp_path, statement)
    html, data = _report(settings, today=REPORT_TODAY)
    block = html[html.index("<h3>CI jobs by stage</h3>") :]
    block = block[: block.index("<h3>", 4)]
    assert block.count("<p") == 1 and note in block, block
    assert 'data-chart="ci-stages"' not in html and 'data-table="ci-stages"' not in html
    # organisation 5 + services 5 + teams 5 trend charts and the value stream: no CI stage chart
    assert 'data-chart-count="16"' in html
