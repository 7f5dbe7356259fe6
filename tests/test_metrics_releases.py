"""Releases, rollout steps, blame, reverts, rework, open evidence windows and data errors (issue #10).

The scenario is tests/fixtures/metrics/releases_scenario.py: its docstring is the timeline every expected value
below is worked out from. One DuckDB build serves the module; PostgreSQL must give the same marts.
"""

from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from doraflow.transform import dbt_build, dbt_unit_tests

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "metrics"))
import releases_scenario as scenario  # noqa: E402
from golden_scenario import sha, write_duckdb  # noqa: E402
from marts_compare import MARTS, assert_postgres_builds_the_same_marts  # noqa: E402
from scenario_settings import scenario_settings as settings_for  # noqa: E402

TODAY = date(2024, 3, 19)  # the build's now is the end of that day: 2024-03-20 00:00 UTC


def scenario_settings(tmp_path, **env):
    return settings_for(tmp_path, scenario.CATALOG_CSV, TODAY, **env)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    folder = tmp_path_factory.mktemp("releases")
    path = folder / "dora.duckdb"
    write_duckdb(path, rows=scenario.raw_rows())
    result = dbt_build(scenario_settings(folder, WAREHOUSE_PATH=str(path)), progress=lambda line: None)
    assert result.failures == []
    connection = duckdb.connect(str(path), read_only=True)
    yield connection
    connection.close()


def rows(connection, sql):
    cursor = connection.execute(sql)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def deployments(connection):
    return {int(row["deployment_id"]): row for row in rows(connection, "select * from marts.fct_deployments")}


def changes(connection):
    return {row["commit_sha"]: row for row in rows(connection, "select * from marts.fct_changes")}


def test_production_by_pattern_or_github_flag(warehouse):
    found = deployments(warehouse)
    # D1-D22 match the default pattern (production-eu / production-us); D23 "live-canary" only through GitHub's
    # production_environment flag; LIVE, prd-eu, preproduction and staging (flag false) are not production.
    assert sorted(found) == list(range(1, 24))
    assert found[23]["environment"] == "live-canary"


def test_kinds_and_releases_per_repository_and_environment(warehouse):
    found = deployments(warehouse)
    kinds = {number: (row["deployment_kind"], row["release_id"]) for number, row in found.items()}
    expected = {
        1: ("seed", "1"),
        2: ("rollout_step", "1"),  # us catches up with eu's sha 25 min later: no rollback, no new deployment
        3: ("release", "3"),
        4: ("rollout_step", "3"),
        5: ("release", "5"),
        6: ("rollout_step", "5"),
        7: ("redeploy", "5"),  # eu's previous is D5, same sha
        8: ("rollback", "3"),  # a1 is a proper ancestor of b2, eu's previous sha
        9: ("rollback", "3"),  # the same on us
        10: ("release", "10"),
        11: ("rollout_step", "10"),
        23: ("rollout_step", "22"),
    }
    expected.update({n: ("release", str(n)) for n in range(12, 23)})
    assert kinds == expected
    # the legacy flags stay consistent with the kind
    assert [n for n, row in found.items() if row["is_seed"]] == [1]
    assert sorted(n for n, row in found.items() if row["is_rollback"]) == [8, 9]
    # only releases ship changes: rollout steps, redeploys and rollbacks have empty change sets
    assert all(found[n]["change_count"] == 0 for n in (1, 2, 4, 6, 7, 8, 9, 11, 23))


def test_change_sets_and_lead_times_belong_to_releases(warehouse):
    found = deployments(warehouse)
    by_commit = changes(warehouse)
    # D5 ships b1 (09:00 -> 10:10 = 70 min) and b2 (PR #1 without PR commits: its own 09:30 -> 40 min)
    assert {label for label in ("b1", "b2") if by_commit[sha(label)]["deployment_id"] == "5"} == {"b1", "b2"}
    assert found[5]["change_count"] == 2
    assert found[5]["lead_time_median_minutes"] == pytest.approx((70 + 40) / 2)
    # D10 ships d1 only (b2 was shipped by D5): 08:00 -> 09:20 = 80 min
    assert found[10]["change_count"] == 1 and found[10]["lead_time_median_minutes"] == pytest.approx(80.0)


def test_blame_goes_to_the_release_that_shipped_the_change(warehouse):
    incidents = {row["incident_id"]: row for row in rows(warehouse, "select * from marts.fct_incidents")}
    # I1 names b2, deployed by D5, D6 (rollout step) and D7 (redeploy): the release D5, not the latest (D7)
    assert (incidents["I1"]["caused_by_deployment_id"], incidents["I1"]["attribution_method"]) == (
        "5",
        "explicit",
    )
    # I2 (09:10) names d1 while D10 rolls out (created 09:00, success 09:20): D10, explicitly
    assert (incidents["I2"]["caused_by_deployment_id"], incidents["I2"]["attribution_method"]) == (
        "10",
        "explicit",
    )
    # I3 (12:20) names no sha; the latest deployments before it are the rollbacks D9 (12:15) and D8 (12:05) and
    # the redeploy D7: the window skips them for the latest release that shipped changes, D5 (10:10)
    assert (incidents["I3"]["caused_by_deployment_id"], incidents["I3"]["attribution_method"]) == (
        "5",
        "window",
    )


def test_one_bad_change_is_one_change_failure(warehouse):
    found = deployments(warehouse)
    # D5: two incidents and two rollbacks (eu replaced D7 = a redeploy of D5's sha; us replaced D6 = its rollout
    # step): all of it lands on the release D5, once.
    assert (found[5]["is_change_failure"], found[5]["failure_evidence"], found[5]["incident_count"]) == (
        True,
        "incident,rollback",
        2,
    )
    # recovery from the release's deployed_at 10:10 to the first rollback, D8 at 12:05: 115 min
    assert found[5]["recovered_at"] == datetime(2024, 3, 2, 12, 5)
    assert found[5]["failed_deployment_recovery_minutes"] == pytest.approx(115.0)
    for number in (2, 4, 6, 7, 8, 9, 11):  # none of the other deployments around it failed
        assert found[number]["is_change_failure"] is False, number
    # D10: I2 and e1 (D12, 11:10) reverting d1 within 24 h; recovery at the reverting release: 09:20 -> 11:10
    assert (found[10]["failure_evidence"], found[10]["failed_deployment_recovery_minutes"]) == (
        "incident,revert",
        pytest.approx(110.0),
    )
    failures = sorted(n for n, row in found.items() if row["is_change_failure"])
    assert failures == [5, 10, 14, 15]


def test_every_revert_line_counts_and_reapplies_are_no_evidence(warehouse):
    found = deployments(warehouse)
    # k1 (D16, 10:40) reverts g1 (D14, 09:10) and h1 (D15, 09:40): two lines, two change failures
    assert (found[14]["failure_evidence"], found[14]["failed_deployment_recovery_minutes"]) == (
        "revert",
        pytest.approx(90.0),
    )
    assert (found[15]["failure_evidence"], found[15]["failed_deployment_recovery_minutes"]) == (
        "revert",
        pytest.approx(60.0),
    )
    # f1 (D13, 22 h after D12) reverts e1, itself a revert: a re-apply, no evidence against D12
    assert found[12]["is_change_failure"] is False
    # n1 reverts m1 (D17) but n2 reverts n1 in the same release D18: undone there, no evidence against D17
    assert found[17]["is_change_failure"] is False and found[18]["is_change_failure"] is False


def test_rework_evidence(warehouse):
    found = deployments(warehouse)
    evidence = {n: row["rework_evidence"] for n, row in found.items() if row["rework_evidence"] is not None}
    assert evidence == {
        5: "defect_key",  # PR #1 "fix: shop-12 checkout": SHOP-12 is a Bug of the service's project SHOP
        8: "rollback",
        9: "rollback",
        12: "fix_forward,revert",  # reverts d1, and deployed 11:10 while I2 (against D10) was open until 12:00
        16: "hotfix,revert",  # PR #4 from hotfix/coupons reverting g1 and h1
    }
    # D13 only re-applies; D14's OPS-3 is a Bug of another project; D15's SHOP-13 is a Story; D18's revert is
    # undone inside it
    assert all(found[n]["is_rework"] is False for n in (13, 14, 15, 18))
    assert {n for n, row in found.items() if row["is_rework"]} == set(evidence)


def test_evidence_window_open_for_young_deployments(warehouse):
    found = deployments(warehouse)
    # reference 03-20 00:00, window 24 h: only D22 (03-19 10:10) and D23 (10:35) may still get evidence
    assert {n for n, row in found.items() if row["is_evidence_window_open"]} == {22, 23}


def test_rewritten_copies_and_data_errors_in_changes(warehouse):
    found = deployments(warehouse)
    by_commit = changes(warehouse)
    # p2 is a copy of p1 (shipped by D19): kept as a row of D20, left out of D20's figures
    assert (by_commit[sha("p1")]["is_duplicate_change"], by_commit[sha("p2")]["is_duplicate_change"]) == (
        False,
        True,
    )
    assert by_commit[sha("p2")]["deployment_id"] == "20"
    assert found[20]["change_count"] == 1  # q1 only
    assert found[20]["lead_time_median_minutes"] == pytest.approx(70.0)  # q1 12:00 -> 13:10
    # D21 (03-09 11:00) ships r1 (before 2024-02-01), s1 (2030) and t1 (12:00, after the deployment)
    flagged = {
        label: (
            by_commit[sha(label)]["data_error"],
            by_commit[sha(label)]["lead_time_minutes"],
            by_commit[sha(label)]["is_negative_lead_time"],
        )
        for label in ("r1", "s1", "t1")
    }
    assert flagged == {
        "r1": ("before_extract_start", None, False),
        "s1": ("in_future", None, True),
        "t1": ("negative_lead_time", None, True),
    }
    assert found[21]["change_count"] == 3 and found[21]["lead_time_median_minutes"] is None
    assert by_commit[sha("q1")]["data_error"] is None


@pytest.mark.slow
@pytest.mark.parametrize(
    ("env", "expected"),
    [
        # ^prod without the GitHub flag: D1-D22 (production-eu/-us), not live-canary, LIVE or prd-eu
        (
            {"PRODUCTION_ENVIRONMENT_PATTERN": "^prod", "USE_GITHUB_PRODUCTION_FLAG": "false"},
            set(range(1, 23)),
        ),
        # ^live$ matches LIVE (case-insensitively); live-canary is production through its GitHub flag
        ({"PRODUCTION_ENVIRONMENT_PATTERN": "^live$"}, {23, 24}),
        ({"PRODUCTION_ENVIRONMENT_PATTERN": "(?i)^prd-"}, {23, 25}),
    ],
)
def test_builds_with_non_default_production_patterns(tmp_path, env, expected):
    """A custom pattern builds and selects what it says; dbt's unit tests pin every var they read, so they pass
    under it too."""
    path = tmp_path / "dora.duckdb"
    write_duckdb(path, rows=scenario.raw_rows())
    settings = scenario_settings(tmp_path, WAREHOUSE_PATH=str(path), **env)
    select = "+fct_deployments +fct_changes +fct_incidents +dim_services"
    result = dbt_build(settings, select=select, progress=lambda line: None)
    assert result.failures == []
    unit_tests = dbt_unit_tests(settings, select=select, progress=lambda line: None)
    assert unit_tests.failures == [] and unit_tests.tests > 0
    connection = duckdb.connect(str(path), read_only=True)
    try:
        found = {
            int(row[0])
            for row in connection.execute("select deployment_id from marts.fct_deployments").fetchall()
        }
    finally:
        connection.close()
    assert found == expected


@pytest.mark.postgres
@pytest.mark.slow
def test_postgres_gives_the_same_marts(warehouse, tmp_path, postgres_database):
    counts = assert_postgres_builds_the_same_marts(
        warehouse,
        postgres_database,
        scenario.raw_rows(),
        scenario_settings,
        tmp_path,
        require_rows=("fct_deployments", "fct_changes", "fct_incidents"),
    )
    assert counts["fct_deployments"] == 23
    assert set(MARTS) <= set(counts)
