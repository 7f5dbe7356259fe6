"""The flow marts on the hand-made scenario of tests/fixtures/metrics/flow_scenario.py.

Every expected value is worked out in the comments from the scenario's timeline (its docstring), not copied
from output. One dbt build on DuckDB serves every test of this module; the baseline settings are narrowed
(DORA_BASELINE_DAYS=3, DORA_REGRESSION_THRESHOLD=0.1) so the regression rule has something to find.
"""

from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from doraflow.config import ConfigError, load_settings
from doraflow.transform import dbt_build

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "metrics"))
import flow_scenario as scenario  # noqa: E402
import golden_scenario  # noqa: E402
from golden_scenario import sha  # noqa: E402
from marts_compare import sorted_rows  # noqa: E402

FLOW_MARTS = (
    "flow_framework_metrics",
    "fct_value_stream",
    "fct_value_stream_pull_requests",
    "flow_metrics",
    "flow_metrics_by_team",
    "flow_signals",
    "dora_baseline",
)
ENV = {"DORA_BASELINE_DAYS": "3", "DORA_REGRESSION_THRESHOLD": "0.1"}


def team_files(directory: Path) -> dict[str, str]:
    """pay (with Jira project PAY) belongs to team payments; alice and bob (reviewers of PR #1) are payments people; PUSER1, who
    acknowledged and resolved I1, is dana of team sre; carol (PR #2, never merged) maps to no team."""
    catalog = directory / "service_catalog.csv"
    catalog.write_text(
        "service,team,github_repository,jira_project_key\npay,payments,acme/pay,PAY\n", encoding="utf-8"
    )
    members = directory / "team_members.csv"
    members.write_text(
        "team,github_login,pagerduty_user_id,name\n"
        "payments,alice,,Alice\n"
        "payments,Bob,,Bob\n"  # logins are case-insensitive
        "sre,dana,PUSER1,Dana\n",
        encoding="utf-8",
    )
    return {"SERVICE_CATALOG_PATH": str(catalog), "TEAM_MEMBERS_PATH": str(members)}


@pytest.fixture(scope="module")
def marts(tmp_path_factory):
    directory = tmp_path_factory.mktemp("flow")
    path = directory / "dora.duckdb"
    golden_scenario.write_duckdb(path, rows=scenario.raw_rows())
    settings = load_settings(
        {"WAREHOUSE_PATH": str(path), **ENV, **team_files(directory)}, today=date(2024, 3, 11)
    )
    result = dbt_build(settings, progress=lambda line: None)
    assert result.failures == []
    connection = duckdb.connect(str(path), read_only=True)
    yield connection
    connection.close()


def rows(connection, sql: str) -> list[dict]:
    cursor = connection.execute(sql)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def week(connection, service: str = "pay", start: str = "2024-03-04") -> dict:
    (row,) = rows(
        connection,
        f"select * from marts.flow_metrics where period_grain = 'week' and service = '{service}' "
        f"and period_start = date '{start}'",
    )
    return row


def test_value_stream_of_a_pull_request_change(marts):
    (change,) = rows(marts, f"select * from marts.fct_value_stream where commit_sha = '{sha('s1')}'")
    assert change["deployment_id"] == "3" and change["pull_request_number"] == 1
    # milestones: a1 authored 03-04 09:00, opened 12:00, merged 03-05 11:00, CI W3 done 11:15, D2 staged 11:40,
    # D3 deployed 13:10
    assert change["started_at"] == datetime(2024, 3, 4, 9)
    assert change["merge_ci_finished_at"] == datetime(2024, 3, 5, 11, 15)
    assert change["staged_at"] == datetime(2024, 3, 5, 11, 40) and change["staging_deployment_id"] == "2"
    # lead time 03-04 09:00 -> 03-05 13:10 = 28 h 10 min = 1690 min, partitioned 180 + 1380 + 15 + 25 + 90
    assert change["lead_time_minutes"] == 1690
    stages = [
        change[f"stage_{s}_minutes"] for s in ("development", "review", "testing", "staging", "production")
    ]
    assert stages == [180, 1380, 15, 25, 90] and sum(stages) == change["lead_time_minutes"]
    # review: the author's comment and the bot's approval do not count; bob asked for changes at 14:00 (pickup
    # 120 min), approved 03-05 10:00 (1200 min later), merged an hour after that; one review round
    assert (change["pickup_minutes"], change["review_minutes"], change["merge_wait_minutes"]) == (
        120,
        1200,
        60,
    )
    assert change["review_rounds"] == 1 and change["first_review_at"] == datetime(2024, 3, 4, 14)
    # PR CI on head a2: W1 (first attempt, 12:00 -> 12:12) and W2 (re-run: 2 attempts, its first result unknown)
    assert (change["pr_ci_runs"], change["pr_ci_attempts"], change["pr_ci_feedback_minutes"]) == (2, 3, 12)
    assert change["pr_ci_queue_minutes"] == 2  # W1 waited 2 min; a re-run's queue is unknown
    assert change["pr_ci_run_minutes"] == 10  # W1 10 min, W2's latest attempt 6 min: the longest
    # merge CI W3 on s1: 3 min queue, 12 min run, first result 15 min after the push
    assert (change["merge_ci_queue_minutes"], change["merge_ci_run_minutes"]) == (3, 12)
    assert change["merge_ci_feedback_minutes"] == 15
    # staging interval: merged 11:00 -> staged 11:40; staged -> production 13:10
    assert (change["merge_to_staging_minutes"], change["staging_to_production_minutes"]) == (40, 90)
    assert not change["is_staging_bypass"] and not change["is_release_staging_bypass"]
    # monitoring: I1 created 14:10 (60 min after 13:10), acknowledged 14:25, resolved 15:10
    assert change["first_incident_id"] == "I1"
    assert (
        change["time_to_detect_minutes"],
        change["time_to_acknowledge_minutes"],
        change["time_to_resolve_minutes"],
    ) == (60, 15, 60)


def test_direct_push_has_no_review_and_bypasses_staging_when_staged_after_production(marts):
    (change,) = rows(marts, f"select * from marts.fct_value_stream where commit_sha = '{sha('n1')}'")
    assert change["deployment_id"] == "4" and change["pull_request_number"] is None
    # n1 pushed 09:00, CI W4 done 09:45, D4 deployed 10:10; D5 staged it at 11:05, after production
    assert change["staged_at"] is None and change["is_staging_bypass"] and change["is_release_staging_bypass"]
    assert change["lead_time_minutes"] == 70
    assert change["stage_development_minutes"] is None and change["stage_review_minutes"] is None
    assert change["stage_staging_minutes"] is None
    assert (change["stage_testing_minutes"], change["stage_production_minutes"]) == (45, 25)
    assert change["merge_ci_queue_minutes"] == 20 and change["merge_ci_feedback_minutes"] == 45
    # the seed D1 ships nothing: no value-stream rows besides s1 and n1
    assert rows(marts, "select count(*) as n from marts.fct_value_stream")[0]["n"] == 2


def test_per_pull_request_value_stream(marts):
    (pull,) = rows(marts, "select * from marts.fct_value_stream_pull_requests")
    assert (pull["pull_request_number"], pull["merge_sha"], pull["lead_time_minutes"]) == (1, sha("s1"), 1690)


def test_weekly_stage_percentiles_and_the_bottleneck(marts):
    metrics = week(marts)
    # two changes: lead times 1690 and 70 -> p50 880, p90 70 + 0.9 * 1620 = 1528, mean 880
    assert metrics["changes"] == 2 and metrics["lead_time_n"] == 2
    assert metrics["lead_time_median_minutes"] == pytest.approx(880)
    assert metrics["lead_time_p90_minutes"] == pytest.approx(1528)
    assert metrics["lead_time_mean_minutes"] == pytest.approx(880)
    # testing 15 and 45 -> p50 30; production 90 and 25 -> p50 57.5; review only s1's 1380
    assert (metrics["stage_testing_n"], metrics["stage_testing_median_minutes"]) == (2, pytest.approx(30))
    assert metrics["stage_production_median_minutes"] == pytest.approx(57.5)
    assert (metrics["stage_review_n"], metrics["stage_review_median_minutes"]) == (1, pytest.approx(1380))
    # shares (a missing stage is 0): review 1380/1690 and 0 -> p50 0.40828; testing 15/1690 and 45/70 ->
    # 0.32587; production 90/1690 and 25/70 -> 0.20520; development 0.05325; staging 0.00740
    assert metrics["stage_review_share_median"] == pytest.approx((1380 / 1690) / 2)
    assert metrics["stage_testing_share_median"] == pytest.approx((15 / 1690 + 45 / 70) / 2)
    assert metrics["bottleneck_stage"] == "review"
    assert metrics["pickup_median_minutes"] == pytest.approx(120)
    assert metrics["review_rounds_mean"] == pytest.approx(0.5)  # 1 round (s1) and 0 (n1)


def test_throughput_wip_batches_and_staging_bypass(marts):
    metrics = week(marts)
    # PR #1 merged in the week; at the week's end (03-11 00:00) only the draft PR #2 is open, 10 days old
    assert metrics["pull_requests_merged"] == 1
    assert metrics["pull_requests_open_at_period_end"] == 1 and metrics["long_lived_pull_requests_open"] == 1
    assert metrics["lines_changed_median"] == 42  # 30 additions + 12 deletions
    assert metrics["pull_request_open_median_minutes"] == pytest.approx(23 * 60)  # 03-04 12:00 -> 03-05 11:00
    # releases D3 (1 change, 1 PR) and D4 (1 change, no PR); D4 bypassed staging
    assert metrics["releases"] == 2 and metrics["batch_changes_median"] == 1
    assert metrics["batch_pull_requests_median"] == pytest.approx(0.5)
    assert metrics["releases_bypassing_staging"] == 1 and metrics["staging_bypass_rate"] == pytest.approx(0.5)
    before = week(marts, start="2024-02-26")
    # at 03-04 00:00 PR #2 (opened 03-01 09:00) is open but younger than 7 days; PR #1 opens later that day
    assert before["pull_requests_open_at_period_end"] == 1 and before["long_lived_pull_requests_open"] == 0


def test_ci_health_and_deployment_automation(marts):
    metrics = week(marts)
    # CI runs W1-W4 (W5 is a deployment run, not CI): all succeeded at last, W2 was re-run
    assert metrics["ci_runs"] == 4 and metrics["ci_success_rate"] == pytest.approx(1.0)
    assert metrics["ci_rerun_rate"] == pytest.approx(0.25)
    # run times 6, 10, 12, 25 -> p50 11, p90 12 + 0.7 * 13 = 21.1; queues 2, 3, 20 -> p50 3
    assert metrics["ci_run_median_minutes"] == pytest.approx(11)
    assert metrics["ci_run_p90_minutes"] == pytest.approx(21.1)
    assert metrics["ci_queue_median_minutes"] == pytest.approx(3)
    # feedback per sha: a2 12, s1 15, n1 45 -> p50 15
    assert metrics["ci_feedback_n"] == 3 and metrics["ci_feedback_median_minutes"] == pytest.approx(15)
    # production deployments created: D3 by deploy-bot[bot], D4 by alice
    assert (metrics["production_deployments_created"], metrics["production_deployments_manual"]) == (2, 1)
    assert metrics["deployment_automation_share"] == pytest.approx(0.5)
    assert metrics["time_to_detect_n"] == 1 and metrics["time_to_detect_median_minutes"] == pytest.approx(60)


def test_all_is_the_services_together_and_teams_mirror_services(marts):
    everything = week(marts, service="all")
    pay = week(marts)
    assert {key: everything[key] for key in pay if key != "service"} == {
        key: value for key, value in pay.items() if key != "service"
    }
    (team,) = rows(
        marts,
        "select * from marts.flow_metrics_by_team where period_grain = 'week' "
        "and period_start = date '2024-03-04' and team = 'payments'",
    )
    assert team["changes"] == 2 and team["bottleneck_stage"] == "review"


def test_signals_with_thresholds_and_evidence(marts):
    found = {
        row["signal"]: row
        for row in rows(
            marts,
            "select * from marts.flow_signals where period_grain = 'week' and period_start = date '2024-03-04'",
        )
    }
    # time to detect p50 is exactly 60 min: not above the 60 min threshold, so no slow_detection; batches of 1
    assert set(found) == {
        "manual_deployments",
        "long_ci_feedback",
        "staging_bypass",
        "long_lived_pull_requests",
        "incidents_handled_outside",
        "reviews_inside_team",
    }
    manual = found["manual_deployments"]
    assert (manual["measured_value"], manual["threshold"], manual["evidence_keys"]) == (0.5, 0.2, "4")
    feedback = found["long_ci_feedback"]
    assert (feedback["measured_value"], feedback["threshold"], feedback["evidence_count"]) == (15, 10, 3)
    assert feedback["evidence_keys"] == ",".join(
        sorted(f"acme/pay@{sha(label)}" for label in ("a2", "s1", "n1"))
    )
    assert found["staging_bypass"]["evidence_keys"] == "4"
    assert found["long_lived_pull_requests"]["evidence_keys"] == "acme/pay#2"
    assert found["long_lived_pull_requests"]["threshold"] == 7
    # siloed operations: I1 (pay, team payments) was acknowledged and resolved by PUSER1 = dana of sre: 1 of 1
    # judged incidents handled outside, 1.0 > 0.25
    outside = found["incidents_handled_outside"]
    assert (outside["measured_value"], outside["threshold"], outside["evidence_keys"]) == (1.0, 0.25, "I1")
    # PR #1 by alice (payments) merged 03-05: its counted reviewer is bob (payments; alice's own comment and
    # renovate[bot] do not count), so 1 of 1 merged pull requests was reviewed only inside the team: 1.0 > 0.9
    inside = found["reviews_inside_team"]
    assert (inside["measured_value"], inside["threshold"], inside["evidence_keys"]) == (
        1.0,
        0.9,
        "acme/pay#1",
    )


def test_siloed_operations_columns_of_incidents_and_pull_requests(marts):
    (incident,) = rows(marts, "select * from marts.fct_incidents where incident_id = 'I1'")
    assert (incident["team"], incident["acknowledged_by_team"], incident["resolved_by_team"]) == (
        "payments",
        "sre",
        "sre",
    )
    assert incident["handler_team_scope"] == "outside"
    (pull_request,) = rows(
        marts, "select * from marts.fct_value_stream_pull_requests where pull_request_number = 1"
    )
    assert (pull_request["author_team"], pull_request["review_team_scope"]) == ("payments", "inside_team")


def test_baseline_against_the_latest_and_previous_weeks(marts):
    found = {
        row["metric"]: row
        for row in rows(
            marts, "select * from marts.dora_baseline where service = 'pay' and period_grain = 'week'"
        )
    }
    frequency = found["deployment_frequency_per_day"]
    # baseline 03-01..03-03: D1 only -> 1/3 a day; week of 03-04: D3, D4 -> 2/7; week of 02-26: D1 -> 1/7
    assert (frequency["baseline_start"], frequency["baseline_end"]) == (date(2024, 3, 1), date(2024, 3, 3))
    assert frequency["baseline_value"] == pytest.approx(1 / 3)
    assert frequency["latest_value"] == pytest.approx(2 / 7) and frequency["previous_value"] == pytest.approx(
        1 / 7
    )
    assert frequency["change_vs_baseline"] == pytest.approx(-1 / 7)  # 6/7 - 1: worse by more than 10%
    assert frequency["change_vs_previous"] == pytest.approx(1.0)
    assert frequency["is_regression"]
    # change failure rate: 0 of 1 in the baseline, 1 (D3, I1) of 2 in the latest week: a rise from zero
    failure_rate = found["change_failure_rate"]
    assert (failure_rate["baseline_value"], failure_rate["latest_value"]) == (0, 0.5)
    assert failure_rate["change_vs_baseline"] is None and failure_rate["is_regression"]
    # no change shipped in the baseline: nothing to compare the lead time with
    lead_time = found["lead_time_median_minutes"]
    assert lead_time["baseline_value"] is None and lead_time["latest_value"] == 880
    assert not lead_time["is_regression"]
    # Jira flow efficiency of PAY's items done: none in the baseline; in the week of 03-04 PAY-1 (2880 active of
    # 5760 min) and PAY-2 (240 of 360), as flow_framework_metrics sums them; higher is better
    efficiency = found["flow_efficiency"]
    assert efficiency["baseline_value"] is None and efficiency["previous_value"] is None
    assert efficiency["latest_value"] == pytest.approx(3120 / 6120)
    assert efficiency["is_higher_better"] and not efficiency["is_regression"]


def test_jira_flow_framework_work_types_velocity_time_load_efficiency_distribution(marts):
    found = {
        row["work_type"]: row
        for row in rows(
            marts,
            "select * from marts.flow_framework_metrics where period_grain = 'week' "
            "and period_start = date '2024-03-04' and project_key = 'PAY'",
        )
    }
    assert set(found) == {"all", "debt", "defect", "feature", "risk"}  # the label makes the Story PAY-1 debt
    everything = found["all"]
    # done in the week: PAY-1 (03-05 09:00, its last entry into Done: no resolution date) and PAY-2 (03-04 16:00)
    assert everything["flow_velocity"] == 2
    # flow times 4 days = 5760 min and 6 h = 360 min -> p50 3060
    assert everything["flow_time_median_minutes"] == pytest.approx(3060)
    # active: PAY-1 in progress 03-02..03-03 and 03-04..03-05 (2880 of 5760; Blocked waits by the seed),
    # PAY-2 240 of 360 -> (2880 + 240) / (5760 + 360)
    assert everything["flow_efficiency"] == pytest.approx(3120 / 6120)
    assert found["debt"]["flow_efficiency"] == pytest.approx(0.5)
    # load at 03-11: PAY-3 (in progress since 03-05); PAY-4 never started
    assert (
        everything["flow_load"] == 1
        and found["feature"]["flow_load"] == 1
        and found["risk"]["flow_load"] == 0
    )
    assert (found["debt"]["flow_distribution"], found["defect"]["flow_distribution"]) == (0.5, 0.5)
    assert found["feature"]["flow_distribution"] == 0 and everything["flow_distribution"] == 1
    (before,) = rows(
        marts,
        "select * from marts.flow_framework_metrics where period_grain = 'week' "
        "and period_start = date '2024-02-26' and project_key = 'PAY' and work_type = 'all'",
    )
    # at 03-04 00:00 only PAY-1 had started; nothing was done yet
    assert (before["flow_load"], before["flow_velocity"], before["flow_distribution"]) == (1, 0, None)


def test_summary_prints_the_value_stream_of_a_service(marts):
    from doraflow.report.value_stream import collect_value_stream, format_value_stream_text

    page = collect_value_stream(marts, {"grain": "week", "start": "2024-03-04"})
    text = format_value_stream_text(page, "pay")
    lines = text.splitlines()
    assert lines[0].startswith("Value stream of pay, week starting 2024-03-04: 2 changes released")
    # stage medians in stream order (development 180 min = 3.0 h, review 1380 min = 23.0 h, ...)
    assert [line.split()[0:2] for line in lines[1:7]] == [
        ["Development", "3.0"],
        ["Review", "23.0"],
        ["Testing", "30"],
        ["Staging", "25"],
        ["Production", "58"],
        ["Monitoring", "60"],
    ]
    assert "review is the bottleneck" in text
    assert "anti-pattern: Manual deployments: 50% > 20%" in text
    # the scenario fetched no CI jobs: one line says how
    assert (
        "  CI jobs by stage: CI jobs are not fetched, so CI time by stage is unknown: set GITHUB_CI_JOBS=true"
        in text
    )
    assert "services with activity: pay" in format_value_stream_text(page, "shop")


def test_flow_settings_are_validated():
    with pytest.raises(ConfigError, match="STAGING_ENVIRONMENT_PATTERN is not a valid regular expression"):
        load_settings({"STAGING_ENVIRONMENT_PATTERN": "(stag"})
    with pytest.raises(
        ConfigError, match="FLOW_MANUAL_DEPLOYMENT_SHARE_THRESHOLD must be a number between 0 and 1"
    ):
        load_settings({"FLOW_MANUAL_DEPLOYMENT_SHARE_THRESHOLD": "20"})
    with pytest.raises(ConfigError, match="DORA_BASELINE_START_DATE must be a date like 2024-01-31"):
        load_settings({"DORA_BASELINE_START_DATE": "March"})
    with pytest.raises(ConfigError, match="DORA_BASELINE_DAYS must be a whole number"):
        load_settings({"DORA_BASELINE_DAYS": "thirty"})
    flow_vars = load_settings(
        {"DORA_BASELINE_START_DATE": "2024-03-01", "STAGING_ENVIRONMENT_PATTERN": "^qa"}
    )
    assert flow_vars.dbt_vars()["dora_baseline_start_date"] == "2024-03-01"
    assert flow_vars.dbt_vars()["staging_environment_pattern"] == "^qa"


@pytest.mark.postgres
@pytest.mark.slow
def test_postgres_gives_the_same_flow_marts(marts, tmp_path, postgres_database):
    settings = load_settings(
        {
            "WAREHOUSE_TARGET": "postgres",
            "WAREHOUSE_POSTGRES_URL": postgres_database,
            "WAREHOUSE_PATH": str(tmp_path / "dora.duckdb"),
            **ENV,
            **team_files(tmp_path),
        },
        today=date(2024, 3, 11),
    )
    golden_scenario.write_postgres(postgres_database, rows=scenario.raw_rows())
    result = dbt_build(settings, progress=lambda line: None)
    assert result.failures == []

    import psycopg2

    pg = psycopg2.connect(postgres_database)
    try:
        for table in FLOW_MARTS:
            duck_names, duck_rows = sorted_rows(marts.cursor(), table)
            with pg.cursor() as cursor:
                pg_names, pg_rows = sorted_rows(cursor, table)
            assert duck_names == pg_names, table
            assert duck_rows == pg_rows, table
            assert duck_rows, f"{table} is empty"
    finally:
        pg.close()


def test_report_page_draws_the_stream_names_the_bottleneck_and_shows_evidence(marts):
    from doraflow.report.value_stream import collect_value_stream, render_value_stream

    page = collect_value_stream(marts, {"grain": "week", "start": "2024-03-04"})
    charts: list[dict] = []
    html = render_value_stream(page, charts)
    # one stacked bar per service, the stream's stages in order, then monitoring (time to detect)
    (chart,) = charts
    traces = chart["figure"]["data"]
    assert [trace["name"] for trace in traces] == [
        "Development",
        "Review",
        "Testing",
        "Staging",
        "Production",
        "Monitoring",
    ]
    assert chart["figure"]["layout"]["barmode"] == "stack"
    # medians in hours (the longest bar is over 3 h): development 180 min, review 1380, ... detect 60
    assert [trace["x"] for trace in traces] == [[3.0], [23.0], [0.5], [25 / 60], [57.5 / 60], [1.0]]
    assert "pay: review is the bottleneck, 41% of a change&#x27;s lead time at the median" in html
    assert "Manual deployments" in html and "<code>4</code>" in html
    assert "acme/pay#2" in html
    # siloed operations, with their shares (1 of 1 judged each) and evidence
    assert (
        'data-signal="incidents_handled_outside">Siloed operations: incidents handled by another team' in html
    )
    assert 'data-signal="reviews_inside_team">Siloed operations: reviews only inside the team' in html
    assert "<code>I1</code>" in html
    # baseline: frequency 1/3 -> 2/7 a day is down 14% and, with the 10% threshold, a regression
    assert "deployment frequency down 14% since baseline, up 100% on the previous week (regression)" in html
    assert "(baseline 2024-03-01 to 2024-03-03, latest week of 2024-03-04)" in html
    # an old serving copy without the flow marts gets a note, not an error
    assert "not in this serving copy" in render_value_stream(None, [])
