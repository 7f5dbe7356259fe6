"""Golden figures of the marts on the hand-made scenario of tests/fixtures/metrics/golden_scenario.py.

Every expected value is worked out by hand in the comments from the scenario's timeline (its docstring), not
copied from output. One dbt build on DuckDB serves every test of this module.
"""

from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from doraflow.config import load_settings
from doraflow.transform import dbt_build, dbt_unit_tests

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "metrics"))
import golden_scenario as scenario  # noqa: E402
from golden_scenario import sha  # noqa: E402
from marts_compare import WITH_ROWS, assert_same_marts  # noqa: E402

# The metrics grid runs from the extract start to today (2024-01-01 .. 2024-03-01): 61 days, 9 weeks, 3 months.
GRID = {"EXTRACT_START_DATE": "2024-01-01"}


@pytest.fixture(scope="module")
def marts(tmp_path_factory):
    path = tmp_path_factory.mktemp("golden") / "dora.duckdb"
    scenario.write_duckdb(path)
    settings = load_settings(GRID | {"WAREHOUSE_PATH": str(path)}, today=date(2024, 3, 1))
    result = dbt_build(settings, progress=lambda line: None)
    # the nightly build leaves dbt's unit tests out (doraflow/transform.py): they run here, on the built warehouse
    unit_tests = dbt_unit_tests(settings, progress=lambda line: None)
    connection = duckdb.connect(str(path), read_only=True)
    yield connection, (result, unit_tests)
    connection.close()


@pytest.mark.postgres
@pytest.mark.slow
def test_postgres_gives_the_same_marts_and_never_logs_the_password(marts, tmp_path, postgres_database):
    duck, _ = marts
    secret = "n0t-in-any-log"
    pg_url = postgres_database.replace("postgresql://postgres@", f"postgresql://postgres:{secret}@")
    settings = load_settings(
        GRID
        | {
            "WAREHOUSE_TARGET": "postgres",
            "WAREHOUSE_POSTGRES_URL": pg_url,
            "WAREHOUSE_PATH": str(tmp_path / "dora.duckdb"),
        },
        today=date(2024, 3, 1),
    )
    scenario.write_postgres(postgres_database)
    progress_lines: list[str] = []
    result = dbt_build(settings, progress=progress_lines.append)
    assert result.failures == []
    unit_tests = dbt_unit_tests(settings, progress=progress_lines.append)
    assert unit_tests.failures == [] and unit_tests.tests >= 18

    import psycopg2

    pg = psycopg2.connect(postgres_database)
    try:
        counts = assert_same_marts(duck, pg, require_rows=WITH_ROWS)
        with (
            pg.cursor() as cursor
        ):  # the recursive graph walks look edges up by commit (docs/architecture.md)
            cursor.execute(
                "select indexdef from pg_indexes where schemaname = 'intermediate' and tablename = 'int_commit_parents'"
            )
            assert [row[0].split(" USING ")[1] for row in cursor.fetchall()] == [
                "btree (repository, commit_sha)"
            ]
    finally:
        pg.close()
    # 9 deployments, 10 changes, 5 incidents (scenario docstring); 73 periods (GRID) x (shop, billing, all)
    assert (counts["fct_deployments"], counts["fct_changes"], counts["fct_incidents"]) == (9, 10, 5)
    assert counts["dora_metrics"] == 219
    # the password reaches PostgreSQL, but no progress line and no dbt log or artifact
    logged = "\n".join(progress_lines)
    for written in tmp_path.rglob("*"):
        if written.is_file() and written.suffix in (".log", ".json", ".txt", ".sql"):
            logged += written.read_text(errors="replace")
    assert secret not in logged


def rows(connection, sql):
    cursor = connection.execute(sql)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def deployments(connection):
    return {row["deployment_id"]: row for row in rows(connection, "select * from marts.fct_deployments")}


def test_build_counts_every_node(marts):
    _, (result, unit_tests) = marts
    assert result.failures == []
    assert (
        result.seeds == 5
    )  # service_catalog, team_members, dora_benchmarks, flow_work_types, flow_status_activity
    assert result.models >= 30 and result.tests >= 150  # data tests
    # dbt's unit tests (dbt_project/models/**/*.yml `unit_tests:`), 18 when this was written, all passing
    assert unit_tests.failures == [] and unit_tests.tests >= 18


def test_only_production_deployments_with_terminal_outcome_are_rows(marts):
    connection, _ = marts
    found = deployments(connection)
    # D5 has only an in_progress status (pending), D6 deployed to staging: neither is a row.
    assert sorted(found, key=int) == ["1", "2", "3", "4", "7", "8", "9", "10", "11"]
    # D7's environment is spelled "Production": the pattern is case-insensitive.
    assert found["7"]["environment"] == "Production"


def test_failed_attempt(marts):
    connection, _ = marts
    failed = deployments(connection)["4"]
    # No success status, a failure at 08:05: finished_at is that status, deployed_at stays NULL.
    assert failed["outcome"] == "failure"
    assert failed["deployed_at"] is None
    assert failed["finished_at"] == datetime(2024, 2, 1, 8, 5)
    assert failed["is_change_failure"] is False and failed["change_count"] == 0


def test_first_success_status_and_error_before_success(marts):
    connection, _ = marts
    found = deployments(connection)
    assert found["3"]["deployed_at"] == datetime(2024, 1, 31, 12, 0)  # first of two success statuses
    assert found["11"]["outcome"] == "success"  # an error then a success: it succeeded
    assert found["11"]["deployed_at"] == datetime(2024, 2, 5, 12, 20)


def test_seed_deployment_has_no_changes(marts):
    connection, _ = marts
    seed = deployments(connection)["1"]
    assert seed["is_seed"] is True
    assert seed["change_count"] == 0
    assert seed["lead_time_median_minutes"] is None
    # c0 was shipped by the seed: it is no deployed change of anything.
    assert rows(connection, f"select * from marts.fct_changes where commit_sha = '{sha('c0')}'") == []


def test_change_sets_and_lead_times_for_squash_rebase_merge_and_direct_commits(marts):
    connection, _ = marts
    changes = {row["commit_sha"]: row for row in rows(connection, "select * from marts.fct_changes")}
    expected = {
        # squash commit of PR #1: earliest PR commit p1a 01-25 08:00 -> D2 01-29 10:00 = 4 d 2 h = 5880 min
        "s1": ("2", 1, datetime(2024, 1, 25, 8, 0), 5880.0),
        # pushed without a PR: its own author date 01-26 10:00 -> 01-29 10:00 = 72 h = 4320 min
        "n1": ("2", None, datetime(2024, 1, 26, 10, 0), 4320.0),
        # rebase merge of PR #2: r1 is a rebased copy (own date 01-30 08:00), r2 the PR's merge commit whose
        # PR commits start at 01-30 08:00 -> D3 01-31 12:00 = 28 h = 1680 min each
        "r1": ("3", None, datetime(2024, 1, 30, 8, 0), 1680.0),
        "r2": ("3", 2, datetime(2024, 1, 30, 8, 0), 1680.0),
        # merge commit of PR #3: m1 authored 2024-01-30T07:00+02:00 = 05:00 UTC -> 31 h = 1860 min; the merge
        # commit mc3 starts at its PR's earliest commit, the same 05:00
        "m1": ("3", 3, datetime(2024, 1, 30, 5, 0), 1860.0),
        "mc3": ("3", 3, datetime(2024, 1, 30, 5, 0), 1860.0),
        "b1": ("7", None, datetime(2024, 2, 1, 10, 0), 90.0),  # 10:00 -> 11:30
        # v0 squash of PR #4 (PR commit 02-02 08:30) -> D9 02-05 09:30 = 73 h = 4380 min
        "v0": ("9", 4, datetime(2024, 2, 2, 8, 30), 4380.0),
        "k1": ("10", None, datetime(2024, 2, 5, 10, 0), 70.0),  # 10:00 -> 11:10
        "k2": ("11", 5, datetime(2024, 2, 5, 11, 50), 30.0),  # PR #5 commit 11:50 -> 12:20
    }
    assert set(changes) == {sha(label) for label in expected}
    for label, (deployment_id, pull_request, started_at, lead_time) in expected.items():
        change = changes[sha(label)]
        assert change["deployment_id"] == deployment_id, label
        assert change["pull_request_number"] == pull_request, label
        assert change["started_at"] == started_at, label
        assert change["lead_time_minutes"] == pytest.approx(lead_time), label
        assert change["service"] == "shop"
    found = deployments(connection)
    assert found["2"]["change_count"] == 2
    assert found["2"]["lead_time_median_minutes"] == pytest.approx((5880 + 4320) / 2)
    assert found["3"]["change_count"] == 4
    assert found["3"]["lead_time_median_minutes"] == pytest.approx((1680 + 1860) / 2)


def test_rollback_redeploys_nothing_and_marks_the_previous_deployment(marts):
    connection, _ = marts
    found = deployments(connection)
    # D8 deploys mc3, an ancestor of D7's b1: a rollback with an empty change set, and rework.
    assert found["8"]["is_rollback"] is True
    assert found["8"]["change_count"] == 0
    assert found["8"]["is_rework"] is True
    # D9 deploys v0 (child of b1): b1 keeps its first deployment D7, so D9 ships v0 only.
    assert found["9"]["change_count"] == 1
    # D7: incident I2 names its sha and the next deployment is a rollback.
    assert found["7"]["is_change_failure"] is True
    assert found["7"]["failure_evidence"] == "incident,rollback"
    # Recovery goes to the remediating deployment D8: 11:30 -> 12:15 = 45 min (not to I2's resolution).
    assert found["7"]["failed_deployment_recovery_minutes"] == pytest.approx(45.0)


def test_revert_within_the_window_is_a_change_failure_and_outside_it_is_not(marts):
    connection, _ = marts
    found = deployments(connection)
    # k2 (D11, 02-05 12:20) reverts k1 (D10, 11:10): 70 min later, inside 24 h.
    assert found["10"]["is_change_failure"] is True
    assert found["10"]["failure_evidence"] == "incident,revert"  # I3 (window) too
    assert found["10"]["failed_deployment_recovery_minutes"] == pytest.approx(70.0)
    # v0 (D9, 02-05 09:30) reverts b1 (D7, 02-01 11:30): 94 h later, outside the window: no revert evidence.
    assert "revert" not in found["7"]["failure_evidence"]
    # Deployments containing a revert commit are rework, and so is a hotfix branch (D11 has both).
    assert found["9"]["is_rework"] is True and found["9"]["is_change_failure"] is False
    assert found["11"]["is_rework"] is True and found["11"]["is_change_failure"] is False


def test_rework_from_jira_bug_keys_respects_key_boundaries(marts):
    connection, _ = marts
    found = deployments(connection)
    # D3 ships PR #2 "SHOP-7 fix cart total"; SHOP-7 is a Bug: rework.
    assert found["3"]["is_rework"] is True
    # D2 ships PR #1 "SHOP-70 add cart": SHOP-70 is a Story, and SHOP-7 must not match inside SHOP-70.
    assert found["2"]["is_rework"] is False
    assert found["2"]["is_change_failure"] is False


def test_incident_attribution(marts):
    connection, _ = marts
    incidents = {row["incident_id"]: row for row in rows(connection, "select * from marts.fct_incidents")}
    # I1 01-31 20:00 is 8 h after D3 (12:00): window.
    assert (incidents["I1"]["caused_by_deployment_id"], incidents["I1"]["attribution_method"]) == (
        "3",
        "window",
    )
    # I2 12:20: the latest deployment before it is the rollback D8 (12:15), but its note names b1's sha
    # (8 hex characters, upper case): explicit, to D7.
    assert (incidents["I2"]["caused_by_deployment_id"], incidents["I2"]["attribution_method"]) == (
        "7",
        "explicit",
    )
    # I3 02-05 11:40, 30 min after D10 (11:10): window, even while open.
    assert (incidents["I3"]["caused_by_deployment_id"], incidents["I3"]["attribution_method"]) == (
        "10",
        "window",
    )
    # I4 02-07 12:30 is 48 h 10 min after the last deployment D11: outside the 24 h window.
    assert (
        incidents["I4"]["caused_by_deployment_id"] is None and incidents["I4"]["attribution_method"] is None
    )
    # I5 is on Billing, which has no repository: its own service, never attributed.
    assert incidents["I5"]["service"] == "billing" and incidents["I5"]["caused_by_deployment_id"] is None
    assert incidents["I1"]["service"] == "shop"  # PagerDuty "Shop" maps to repository acme/shop by name
    found = deployments(connection)
    assert found["3"]["incident_count"] == 1 and found["3"]["failure_evidence"] == "incident"
    # D3 recovers when its only incident resolves: 12:00 -> 21:30 = 570 min.
    assert found["3"]["failed_deployment_recovery_minutes"] == pytest.approx(570.0)


def test_time_to_restore_uses_resolution_only_and_excludes_open_incidents(marts):
    connection, _ = marts
    incidents = {row["incident_id"]: row for row in rows(connection, "select * from marts.fct_incidents")}
    assert incidents["I1"]["time_to_restore_minutes"] == pytest.approx(90.0)  # 20:00 -> 21:30
    # I2 has no resolved_at field: its resolve log entry 2024-02-01T15:20:00+01:00 = 14:20 UTC -> 120 min
    assert incidents["I2"]["resolved_at"] == datetime(2024, 2, 1, 14, 20)
    assert incidents["I2"]["time_to_restore_minutes"] == pytest.approx(120.0)
    # I3 is open: no resolution, no time to restore (never zero).
    assert incidents["I3"]["resolved_at"] is None and incidents["I3"]["time_to_restore_minutes"] is None
    # I5 08:00-05:00 -> 10:00-05:00 = 13:00 -> 15:00 UTC
    assert incidents["I5"]["created_at"] == datetime(2024, 2, 6, 13, 0)
    assert incidents["I5"]["time_to_restore_minutes"] == pytest.approx(120.0)


def metric(connection, table, grain, start, key_column="service", key="all"):
    found = rows(
        connection,
        f"select * from marts.{table} where period_grain = '{grain}' and period_start = date '{start}' "
        f"and {key_column} = '{key}'",
    )
    assert len(found) == 1, (grain, start, key)
    return found[0]


def test_monthly_metrics_split_the_week_that_spans_two_months(marts):
    connection, _ = marts
    january = metric(connection, "dora_metrics", "month", "2024-01-01")
    # Deployments count releases (issue #10): the seed D1 01-22 (the first release seen), D2 01-29, D3 01-31
    assert (january["deployments"], january["deployment_days"]) == (3, 3)
    assert january["deployment_frequency_per_day"] == pytest.approx(3 / 31)
    assert january["failed_deployment_attempts"] == 0
    # lead times 5880, 4320, 1680, 1680, 1860, 1860 -> sorted 1680 1680 1860 1860 4320 5880
    assert january["changes"] == 6
    assert january["lead_time_median_minutes"] == pytest.approx(1860.0)
    # p90 (continuous): rank 0.9 * 5 = 4.5 -> 4320 + 0.5 * (5880 - 4320) = 5100
    assert january["lead_time_p90_minutes"] == pytest.approx(5100.0)
    # D3 failed; releases with changes D2, D3 (the denominator, issue #10; the seed has no change set) -> 1 / 2;
    # rework D3 (bug key) among the 3 releases -> 1 / 3
    assert january["change_failures"] == 1 and january["change_failure_rate"] == pytest.approx(1 / 2)
    assert january["releases_with_changes"] == 2
    assert january["rework_deployments"] == 1 and january["rework_rate"] == pytest.approx(1 / 3)
    assert january["incidents_resolved"] == 1 and january["time_to_restore_median_minutes"] == pytest.approx(
        90
    )
    assert january["failed_deployment_recovery_median_minutes"] == pytest.approx(570.0)
    # 2023 tiers: 3/31 = 0.097 per day >= 1/30 -> medium; 1860 min <= 1 week -> high; 50 % -> low; 90 min
    # <= 1 day -> high
    assert (january["deployment_frequency_tier"], january["lead_time_tier"]) == ("medium", "high")
    assert (january["change_failure_rate_tier"], january["time_to_restore_tier"]) == ("low", "high")

    february = metric(connection, "dora_metrics", "month", "2024-02-01")
    # releases D7 (02-01), D9, D10, D11 (02-05); the rollback D8 is no release; D4 failed on 02-01; 2024 is a
    # leap year: 29 days
    assert (february["deployments"], february["deployment_days"]) == (4, 2)
    assert february["deployment_frequency_per_day"] == pytest.approx(4 / 29)
    assert february["failed_deployment_attempts"] == 1
    # lead times 90, 4380, 70, 30 -> median (70 + 90) / 2 = 80; p90 rank 2.7 -> 90 + 0.7 * 4290 = 3093
    assert february["changes"] == 4
    assert february["lead_time_median_minutes"] == pytest.approx(80.0)
    assert february["lead_time_p90_minutes"] == pytest.approx(3093.0)
    # change failures D7, D10 -> 2 / 4; rework among releases D9 (revert), D11 (revert, hotfix) -> 2 / 4
    assert february["change_failure_rate"] == pytest.approx(0.5)
    assert february["rework_rate"] == pytest.approx(0.5)
    # resolved in February: I2 (120), I5 (120), I4 (30) -> median 120; recovery D7 45, D10 70 -> 57.5
    assert february["incidents_resolved"] == 3
    # created in February: I2, I3, I4, I5; I3 is still open (counted here, not in restore times)
    assert (february["incidents_created"], february["incidents_open"]) == (4, 1)
    assert (january["incidents_created"], january["incidents_open"]) == (1, 0)
    assert february["time_to_restore_median_minutes"] == pytest.approx(120.0)
    assert february["failed_deployment_recovery_median_minutes"] == pytest.approx(57.5)


def test_weekly_metrics_start_on_monday_and_cross_the_month_boundary(marts):
    connection, _ = marts
    week = metric(connection, "dora_metrics", "week", "2024-01-29")  # Monday 29 Jan to Sunday 4 Feb
    # releases D2, D3, D7 (not the rollback D8); days 01-29, 01-31, 02-01; failed D4
    assert (week["deployments"], week["deployment_days"], week["failed_deployment_attempts"]) == (3, 3, 1)
    assert week["deployment_frequency_per_day"] == pytest.approx(3 / 7)
    # 7 changes: 90 1680 1680 1860 1860 4320 5880 -> median 1860
    assert week["changes"] == 7 and week["lead_time_median_minutes"] == pytest.approx(1860.0)
    # D3 and D7 failed: 2 / 3; rework among releases: D3 (bug key): 1 / 3
    assert week["change_failure_rate"] == pytest.approx(2 / 3) and week["rework_rate"] == pytest.approx(1 / 3)
    # I1 (90) and I2 (120) resolved -> 105; recovery D3 570 and D7 45 -> 307.5
    assert week["time_to_restore_median_minutes"] == pytest.approx(105.0)
    assert week["failed_deployment_recovery_median_minutes"] == pytest.approx(307.5)
    first = metric(connection, "dora_metrics", "week", "2024-01-22")
    # Only the seed D1: a release with no change set -> no change failure rate, lead time NULL
    assert (first["deployments"], first["changes"], first["change_failure_rate"]) == (1, 0, None)
    assert first["lead_time_median_minutes"] is None and first["time_to_restore_median_minutes"] is None


def test_dense_periods_services_and_the_all_service(marts):
    connection, _ = marts
    # the extract start 2024-01-01 .. today 2024-03-01: 61 days; weeks from Monday 01-01 to 02-26: 9; months
    # Jan, Feb, Mar; for each of shop, billing and all
    counts = dict(
        connection.execute("select period_grain, count(*) from marts.dora_metrics group by 1").fetchall()
    )
    assert counts == {"day": 61 * 3, "week": 9 * 3, "month": 3 * 3}
    quiet_day = metric(connection, "dora_metrics", "day", "2024-01-23", key="shop")
    assert (quiet_day["deployments"], quiet_day["changes"], quiet_day["incidents_resolved"]) == (0, 0, 0)
    assert quiet_day["change_failure_rate"] is None and quiet_day["lead_time_median_minutes"] is None
    billing = metric(connection, "dora_metrics", "month", "2024-02-01", key="billing")
    assert (billing["deployments"], billing["incidents_resolved"]) == (0, 1)
    assert billing["change_failure_rate"] is None
    assert billing["time_to_restore_median_minutes"] == pytest.approx(120.0)
    shop = metric(connection, "dora_metrics", "month", "2024-02-01", key="shop")
    assert shop["time_to_restore_median_minutes"] == pytest.approx(75.0)  # I2 120, I4 30
    # no catalog entry: every service's team is 'unassigned', so that team equals 'all'
    team = metric(
        connection, "dora_metrics_by_team", "month", "2024-02-01", key_column="team", key="unassigned"
    )
    assert team["deployments"] == 4 and team["incidents_resolved"] == 3


def test_coverage_and_services(marts):
    connection, _ = marts
    coverage = {row["measure"]: row for row in rows(connection, "select * from marts.dora_coverage")}
    # PRs #1-#5 merged and deployed (PR #6 never merged)
    assert (
        coverage["merged_pull_requests_in_production"]["numerator"],
        coverage["merged_pull_requests_in_production"]["denominator"],
    ) == (5, 5)
    # releases (not the seed, not the rollback D8) D2 D3 D7 D9 D10 D11: each ships a change
    assert coverage["deployments_with_change_set"]["share"] == pytest.approx(6 / 6)
    assert coverage["incidents_attributed"]["share"] == pytest.approx(3 / 5)
    assert coverage["pagerduty_services_mapped"]["share"] == pytest.approx(1 / 2)
    services = {row["service"]: row for row in rows(connection, "select * from marts.dim_services")}
    assert set(services) == {"shop", "billing"}
    assert services["shop"]["github_repository"] == "acme/shop"
    assert services["shop"]["pagerduty_service_id"] == "PXSHOP"
    assert (services["billing"]["has_deployments"], services["billing"]["has_incidents"]) == (False, True)


def test_jira_status_intervals_and_flow_times(marts):
    connection, _ = marts
    intervals = rows(
        connection,
        "select status, status_category, valid_from, valid_to, minutes_in_status "
        "from marts.fct_issue_status_intervals where issue_key = 'SHOP-7' order by interval_number",
    )
    # created 01-29 08:00 in To Do; In Progress at 10:00 (120 min); Done at 01-31 12:00 (2 d 2 h = 3000 min)
    assert [(row["status"], row["status_category"], row["minutes_in_status"]) for row in intervals] == [
        ("To Do", "new", 120.0),
        ("In Progress", "indeterminate", 3000.0),
        ("Done", "done", None),
    ]
    assert intervals[2]["valid_from"] == datetime(2024, 1, 31, 12, 0) and intervals[2]["valid_to"] is None
    issue = rows(connection, "select * from marts.fct_issues where issue_key = 'SHOP-7'")[0]
    assert issue["cycle_time_minutes"] == pytest.approx(3000.0)  # first In Progress -> resolution
    assert issue["lead_time_minutes"] == pytest.approx(3120.0)  # created -> resolved: 52 h
    story = rows(connection, "select * from marts.fct_issues where issue_key = 'SHOP-70'")[0]
    assert story["resolved_at"] is None and story["lead_time_minutes"] is None


@pytest.fixture(scope="module")
def settings_variant(tmp_path_factory):
    """The same scenario with a 6 hour attribution window and the Asia/Tokyo (UTC+9) reporting calendar."""
    path = tmp_path_factory.mktemp("variant") / "dora.duckdb"
    scenario.write_duckdb(path)
    settings = load_settings(
        GRID
        | {
            "WAREHOUSE_PATH": str(path),
            "INCIDENT_ATTRIBUTION_WINDOW_HOURS": "6",
            "REPORTING_TIMEZONE": "Asia/Tokyo",
            "DORA_BENCHMARK_EDITION": "2021",
        },
        today=date(2024, 3, 1),
    )
    dbt_build(settings, progress=lambda line: None)
    connection = duckdb.connect(str(path), read_only=True)
    yield connection
    connection.close()


def test_settings_change_attribution_window_time_zone_and_benchmark(settings_variant):
    connection = settings_variant
    incidents = {row["incident_id"]: row for row in rows(connection, "select * from marts.fct_incidents")}
    # I1 is 8 h after D3: outside a 6 h window now; I3 (30 min after D10) stays attributed
    assert incidents["I1"]["caused_by_deployment_id"] is None
    assert incidents["I3"]["caused_by_deployment_id"] == "10"
    found = deployments(connection)
    assert found["3"]["is_change_failure"] is False and found["3"]["failure_evidence"] is None
    # the revert k2 (70 min after D10) is inside 6 h too
    assert found["10"]["failure_evidence"] == "incident,revert"
    # Tokyo calendar: I1 resolved 01-31 21:30 UTC = 02-01 06:30 local, so January has no restored incident
    january = metric(connection, "dora_metrics", "month", "2024-01-01")
    # releases D1 (the seed), D2, D3 are all in January in Tokyo too
    assert (january["deployments"], january["change_failures"], january["incidents_resolved"]) == (3, 0, 0)
    assert january["change_failure_rate"] == 0.0 and january["time_to_restore_median_minutes"] is None
    february = metric(connection, "dora_metrics", "month", "2024-02-01")
    # I1 90, I2 120, I5 120, I4 30 -> sorted 30 90 120 120 -> median 105
    assert february["incidents_resolved"] == 4
    assert february["time_to_restore_median_minutes"] == pytest.approx(105.0)
    # 2021 tiers: lead time 80 min is above 1 hour and within a week -> high; February's deployment
    # frequency 4/29 = 0.14 per day is between once a month and once a day -> high
    assert (february["lead_time_tier"], february["deployment_frequency_tier"]) == ("high", "high")
    assert february["benchmark_edition"] == "2021"
