"""Monorepos (issue #10 item 2): one repository, several services by environment and by paths.

The scenario is tests/fixtures/metrics/monorepo_scenario.py; its docstring is the timeline every expected value
below is worked out from. One DuckDB build serves the module; PostgreSQL must give the same marts.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from doraflow.transform import dbt_build

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "metrics"))
import monorepo_scenario as scenario  # noqa: E402
from golden_scenario import sha, write_duckdb  # noqa: E402
from marts_compare import assert_postgres_builds_the_same_marts  # noqa: E402
from scenario_settings import scenario_settings as settings_for  # noqa: E402

TODAY = date(2024, 3, 20)
LABELS = {sha(label): label for label, _, _ in scenario.COMMITS}


def scenario_settings(tmp_path, **env):
    return settings_for(tmp_path, scenario.CATALOG_CSV, TODAY, **env)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    folder = tmp_path_factory.mktemp("monorepo")
    path = folder / "dora.duckdb"
    write_duckdb(path, rows=scenario.raw_rows())
    result = dbt_build(scenario_settings(folder, WAREHOUSE_PATH=str(path)), progress=lambda line: None)
    assert result.failures == []
    connection = duckdb.connect(str(path), read_only=True)
    yield connection
    connection.close()


def test_deployments_map_to_services_by_environment_each_with_its_own_seed(warehouse):
    rows = warehouse.execute(
        "select deployment_id, service, team, deployment_kind, release_id from marts.fct_deployments"
    ).fetchall()
    got = {
        int(deployment_id): (service, team, kind, release)
        for deployment_id, service, team, kind, release in rows
    }
    assert got == {
        1: ("payments", "money", "seed", "1"),
        2: ("search", "money", "seed", "2"),
        3: ("platform", "ops", "seed", "3"),  # "production" matches no pattern: the fallback entry
        4: ("payments", "money", "release", "4"),
        # the same sha x4 as D4, but another service: its own release, not a rollout step of D4
        5: ("search", "money", "release", "5"),
        6: ("payments", "money", "release", "6"),
        7: ("search", "money", "release", "7"),
        8: ("platform", "ops", "release", "8"),
        9: ("unmapped", None, "seed", "9"),  # acme/tools: no pattern matches "production", no fallback entry
    }
    # 'unmapped' is a service row of its own (visible, never dropped)
    assert warehouse.execute(
        "select team, github_repository, has_deployments from marts.dim_services where service = 'unmapped'"
    ).fetchall() == [(None, None, True)]


def test_a_release_ships_the_commits_of_its_range_touching_the_service_paths(warehouse):
    rows = warehouse.execute(
        "select service, deployment_id, commit_sha, is_first_shipment, lead_time_minutes from marts.fct_changes"
    ).fetchall()
    got = {
        (service, int(deployment), LABELS[commit]): (first, minutes)
        for service, deployment, commit, first, minutes in rows
    }
    assert got == {
        # payments D4 (03-01 10:10): x1 (services/payments/, 08:00 -> 130 min), x3 (libs/, 09:00 -> 70 min)
        ("payments", 4, "x1"): (True, 130.0),
        ("payments", 4, "x3"): (True, 70.0),
        # search D5 (03-01 10:40): x2 (services/search/, 08:30 -> 130), x3 (libs/, 100; payments shipped it first)
        ("search", 5, "x2"): (True, 130.0),
        ("search", 5, "x3"): (False, 100.0),
        # payments D6 (03-02 10:10): x5 (08:00 -> 130), x6 (files unknown: kept, 08:30 -> 100)
        ("payments", 6, "x5"): (True, 130.0),
        ("payments", 6, "x6"): (True, 100.0),
        # search D7 (03-02 10:40): x6 only (x5 changes payments files), 08:30 -> 130
        ("search", 7, "x6"): (False, 130.0),
        # platform D8 (03-02 11:10), no paths: every commit since its seed; x4 (docs) is shipped first here.
        # x1 03-01 08:00 -> 03-02 11:10 = 1440 + 190 = 1630 min; x2, x3, x4 each 30 min later
        ("platform", 8, "x1"): (False, 1630.0),
        ("platform", 8, "x2"): (False, 1600.0),
        ("platform", 8, "x3"): (False, 1570.0),
        ("platform", 8, "x4"): (True, 1540.0),
        ("platform", 8, "x5"): (False, 190.0),
        ("platform", 8, "x6"): (False, 160.0),
    }


def test_a_defect_key_counts_for_the_service_whose_jira_project_it_names(warehouse):
    evidence = dict(
        warehouse.execute(
            "select deployment_id, rework_evidence from marts.fct_deployments where deployment_id in ('4', '5')"
        ).fetchall()
    )
    # PR #1 "PAY-7 ..." ships x3 in both D4 (payments, project PAY) and D5 (search, project SRCH)
    assert evidence == {"4": "defect_key", "5": None}


def test_the_repository_level_count_takes_each_commit_once(warehouse):
    # 'all' counts the first shipment of each commit: six commits x1..x6, thirteen service rows
    first, every, distinct = warehouse.execute(
        "select count(*) filter (where is_first_shipment), count(*), count(distinct commit_sha) from marts.fct_changes"
    ).fetchone()
    assert (first, every, distinct) == (6, 13, 6)
    counts = dict(
        warehouse.execute(
            "select deployment_id, change_count from marts.fct_deployments where deployment_kind = 'release'"
        ).fetchall()
    )
    assert counts == {"4": 2, "5": 2, "6": 2, "7": 1, "8": 6}
    # dora_metrics: each service counts its thirteen rows between them, 'all' each of the six commits once
    in_all, in_services = warehouse.execute(
        "select sum(changes) filter (where service = 'all'), sum(changes) filter (where service <> 'all') "
        "from marts.dora_metrics where period_grain = 'month'"
    ).fetchone()
    assert (in_all, in_services) == (6, 13)


def test_a_team_owning_two_services_counts_a_shared_commit_once(warehouse):
    # money owns payments and search. Its change rows: payments D4 {x1, x3}, D6 {x5, x6}; search D5 {x2, x3},
    # D7 {x6}: seven rows, five commits. x3 and x6 count once, on the team's earliest release that shipped them:
    # x3 from D4 (09:00 -> 10:10 = 70 min, not D5's 100), x6 from D6 (08:30 -> 10:10 = 100 min, not D7's 130).
    # Lead times x1 130, x2 130, x3 70, x5 130, x6 100: n 5, mean 560 / 5 = 112, median 130.
    # ops owns platform only: D8's six commits, once each.
    got = {
        team: (changes, n, mean, median)
        for team, changes, n, mean, median in warehouse.execute(
            "select team, changes, lead_time_n, lead_time_mean_minutes, lead_time_median_minutes "
            "from marts.dora_metrics_by_team where period_grain = 'month' and period_start = date '2024-03-01'"
        ).fetchall()
    }
    assert got["money"] == (5, 5, 112.0, 130.0)
    assert got["ops"][:2] == (6, 6)
    # 'all' still counts each of the six commits once; the services count their thirteen rows
    assert got["all"][:2] == (6, 6)


@pytest.mark.postgres
@pytest.mark.slow
def test_postgres_gives_the_same_marts(warehouse, tmp_path, postgres_database):
    assert_postgres_builds_the_same_marts(
        warehouse,
        postgres_database,
        scenario.raw_rows(),
        scenario_settings,
        tmp_path,
        require_rows=("fct_deployments", "fct_changes"),
    )
