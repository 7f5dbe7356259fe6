"""TEAM_MEMBERS_PATH: validated when the settings are read (like SERVICE_CATALOG_PATH), written to raw.team_members.

What the marts make of it (siloed operations) is tested on the flow scenario, tests/test_flow_marts.py, and by the
dbt unit tests of int_flow_incident_handlers and int_flow_pull_request_review_teams.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from doraflow.config import ConfigError, load_settings
from doraflow.team_members import TeamMember, read_team_members, write_team_members
from doraflow.warehouse import duckdb_connect

HEADER = "team,github_login,pagerduty_user_id,name\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "team_members.csv"
    path.write_text(text, encoding="utf-8")
    return path


def settings_with(path: Path, warehouse: Path | None = None):
    env = {"WAREHOUSE_PATH": str(warehouse or Path("warehouse/dora.duckdb")), "TEAM_MEMBERS_PATH": str(path)}
    return load_settings(env, today=date(2024, 3, 1))


def test_members_are_normalised_and_blank_cells_are_none(tmp_path):
    path = write(
        tmp_path,
        "\ufeff" + HEADER + " Payments ,@Alice-Martin,PXA1,Alice Martin\n\nsre,,PXS2,\nsre,bob,,\n",
    )
    members = read_team_members(path)
    assert members == (
        TeamMember(2, "Payments", "alice-martin", "PXA1", "Alice Martin"),  # '@' dropped, login lowercased
        TeamMember(4, "sre", None, "PXS2", None),
        TeamMember(5, "sre", "bob", None, None),
    )
    assert settings_with(path).team_members == members


def test_unset_means_no_members():
    settings = load_settings({"WAREHOUSE_PATH": "warehouse/dora.duckdb"}, today=date(2024, 3, 1))
    assert (settings.team_members_path, settings.team_members) == (None, ())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("github_login\nalice\n", "the first line must be a header naming the columns"),
        ("team,email\nweb,a@b.c\n", "header 'team,email' has unknown or repeated columns"),
        (HEADER + "web,alice\n", "line 2: 2 values for 4 columns"),
        (HEADER + " ,alice,,\n", "line 2: team is empty"),
        (HEADER + "web,,,Alice\n", "line 2: give a github_login, a pagerduty_user_id or both"),
        (HEADER + "web,alice smith,,\n", "line 2: github_login must be a GitHub login like octocat"),
        (HEADER + "web,alice,alice@acme.io,\n", "line 2: pagerduty_user_id must be a PagerDuty user id like"),
        (
            HEADER + "web,alice,,\nsre,Alice,,\n",
            "line 3: github_login 'alice' is already listed on line 2 (team 'web'); a person belongs to one team",
        ),
        (
            HEADER + "web,alice,PX1,\nweb,bob,PX1,\n",
            "line 3: pagerduty_user_id 'PX1' is already listed on line 2 (team 'web')",
        ),
    ],
)
def test_a_malformed_file_stops_the_run_naming_file_and_line(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        settings_with(path)
    assert message in str(raised.value)
    assert str(raised.value).startswith(f"TEAM_MEMBERS_PATH {str(path)!r}")
    assert "\n" not in str(raised.value)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="TEAM_MEMBERS_PATH .*missing.csv'?: no such file"):
        settings_with(tmp_path / "missing.csv")


def test_the_rows_replace_raw_team_members(tmp_path):
    warehouse = tmp_path / "dora.duckdb"
    first = settings_with(write(tmp_path, HEADER + "web,alice,PXA1,\nsre,bob,,\n"), warehouse)
    assert write_team_members(first) == 2
    second = settings_with(write(tmp_path, HEADER + "sre,carol,,Carol\n"), warehouse)
    assert write_team_members(second) == 1  # the earlier rows are gone, not added to
    with duckdb_connect(second) as connection:
        rows = connection.execute("select * from raw.team_members").fetchall()
    assert rows == [(2, "sre", "carol", None, "Carol")]


def test_flow_thresholds_of_siloed_operations_are_shares():
    with pytest.raises(
        ConfigError, match="FLOW_REVIEWS_INSIDE_TEAM_SHARE_THRESHOLD must be a number between 0 and 1"
    ):
        load_settings({"FLOW_REVIEWS_INSIDE_TEAM_SHARE_THRESHOLD": "90"})
    settings = load_settings({"FLOW_INCIDENTS_HANDLED_OUTSIDE_SHARE_THRESHOLD": "0.5"})
    assert settings.flow.dbt_vars()["flow_incidents_handled_outside_share_threshold"] == 0.5
    assert settings.flow.dbt_vars()["flow_reviews_inside_team_share_threshold"] == 0.9  # the default
