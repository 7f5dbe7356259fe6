"""End to end on the simulator: readers of the serving copy through a full `run_pipeline`, the report's figures
against the real marts, the report drawn in Chromium (its screenshot is docs/img/report.png)."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from serving_reader import start_reader, stop_reader
from test_report_browser import _chromium, browser, render_in_chromium  # noqa: F401 (fixture)

from doraflow.config import load_settings
from doraflow.report import embedded_data

REPO_ROOT = Path(__file__).resolve().parents[1]

# A complete copy: every mart is there, and the releases of fct_deployments (kind release or seed) are exactly
# those counted by dora_metrics, by month and by week (checked by the reader on every query).
CHECK = r"""
QUERY = '''
select
    (select count(*) from information_schema.tables where table_schema = 'marts'
       and table_name in ('fct_deployments', 'fct_changes', 'fct_incidents', 'dora_metrics',
                          'dora_metrics_by_team', 'dora_coverage', 'dim_services')),
    (select count(*) from marts.fct_deployments where deployment_kind in ('release', 'seed')),
    (select sum(deployments) from marts.dora_metrics where period_grain = 'month' and service = 'all'),
    (select sum(deployments) from marts.dora_metrics where period_grain = 'week' and service = 'all')
'''

def check(connection):
    tables, deployments, by_month, by_week = connection.execute(QUERY).fetchone()
    return deployments, tables == 7 and deployments == by_month == by_week
"""


def _successes(path) -> int:
    connection = duckdb.connect(str(path), read_only=True)
    try:
        return connection.execute(
            "select count(*) from marts.fct_deployments where deployment_kind in ('release', 'seed')"
        ).fetchone()[0]
    finally:
        connection.close()


@pytest.mark.slow
def test_readers_through_a_full_pipeline_run_and_report_equals_marts(tmp_path, request):
    from doraflow.pipeline import run_pipeline
    from simulator import Simulator, SimulatorConfig

    # The history ends four days ago, so the three days added below are not in the future (a data error).
    end_at = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=4)
    with Simulator(
        SimulatorConfig(
            seed=11,
            repositories=2,
            services=2,
            days=62,
            jira_projects=1,
            jira_issues_per_project=10,
            end_at=end_at,
        )
    ) as sim:
        settings = load_settings({**sim.env(), "WAREHOUSE_PATH": str(tmp_path / "warehouse" / "dora.duckdb")})
        run_pipeline(settings, trigger="cli", progress=lambda _m: None)
        before = _successes(settings.serving_path)
        readers = {mode: start_reader(settings.serving_path, mode, CHECK) for mode in ("hold", "reopen")}
        try:
            sim.advance(72)  # three more days of deployments and incidents
            run_pipeline(settings, trigger="cli", progress=lambda _m: None)
        finally:
            summaries = {mode: stop_reader(process) for mode, process in readers.items()}
        after = _successes(settings.serving_path)

    assert after > before
    for mode, summary in summaries.items():
        assert summary["broken"] == [], mode
    assert summaries["hold"]["versions"] == [before]
    assert set(summaries["reopen"]["versions"]) <= {before, after}

    # The report written by the run equals the marts of the serving copy.
    data = embedded_data(settings.report_path.read_text(encoding="utf-8"))
    period = data["period"]
    # 62 days of data always cover the whole of the last complete calendar month.
    assert period is not None and period["complete"] and period["grain"] == "month"
    connection = duckdb.connect(str(settings.serving_path), read_only=True)
    try:
        connection.execute("set TimeZone = 'UTC'")  # the report's REPORTING_TIMEZONE
        columns = [
            "deployments",
            "deployment_frequency_per_day",
            "lead_time_median_minutes",
            "change_failure_rate",
            "time_to_restore_median_minutes",
            "rework_rate",
            "deployment_frequency_tier",
        ]
        rows = connection.execute(
            f"select service, {', '.join(columns)} from marts.dora_metrics "
            "where period_grain = ? and period_start = ? order by service",
            [period["grain"], date.fromisoformat(period["start"])],
        ).fetchall()
        attempts = connection.execute(
            "select count(*) from marts.fct_deployments "
            "where cast(coalesce(deployed_at, finished_at) as date) >= ? "
            "and cast(coalesce(deployed_at, finished_at) as date) < ?",
            [date.fromisoformat(period["start"]), date.fromisoformat(period["end_exclusive"])],
        ).fetchone()[0]
        without_repository = {
            row[0]
            for row in connection.execute(
                "select service from marts.dim_services where github_repository is null"
            ).fetchall()
        }
    finally:
        connection.close()
    # The demo's legacy-billing has no repository: the report shows "no data" for its deployment figures
    # where the marts have 0 deployments a day graded "Low"; its time to restore is measured.
    assert "legacy-billing" in without_repository
    cards = data["scorecards"]["service"]
    assert sorted(cards) == [row[0] for row in rows]
    for service, *values in rows:
        card = cards[service]
        assert card["counts"]["deployments"] == values[0]
        for key, value in zip(columns[1:6], values[1:6], strict=True):
            if service in without_repository and key != "time_to_restore_median_minutes":
                value = None
            assert card[key]["value"] == (pytest.approx(value) if value is not None else None), (service, key)
        expected_tier = None if service in without_repository else values[6]
        assert card["deployment_frequency_per_day"]["tier"] == expected_tier
    assert len(data["deployments"]) == attempts  # reporting time zone is UTC here

    # Drawn in Chromium without errors. DORAFLOW_UPDATE_SCREENSHOT=1 refreshes docs/img/report.png (the README's
    # picture); otherwise the screenshot stays in tmp so a test run leaves the work tree clean.

    if _chromium() is None:
        pytest.skip("Chromium not installed: the report's rendering was not checked")
    devtools_url = request.getfixturevalue("browser")
    screenshot = (
        REPO_ROOT / "docs" / "img" / "report.png"
        if os.environ.get("DORAFLOW_UPDATE_SCREENSHOT") == "1"
        else tmp_path / "report.png"
    )
    counts = render_in_chromium(devtools_url, settings.report_path, screenshot)
    assert counts["cards"] == 5 and counts["plots"] == counts["drawn"] >= 5
