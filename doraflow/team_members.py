"""The team members file (TEAM_MEMBERS_PATH): which people belong to which team, for the siloed-operations
signal (docs/metrics.md, "Siloed operations").

The file is a CSV with the header of `dbt_project/seeds/team_members.csv` (`team` required; `github_login`,
`pagerduty_user_id`, `name` optional, in any order; each line needs a github_login or a pagerduty_user_id). Teams
are the service catalog's `team` values. A person belongs to one team: a GitHub login or PagerDuty user listed
twice is an error naming both lines (DECISIONLOG.md, "Team members"). It is validated when the settings are read,
like SERVICE_CATALOG_PATH, and its rows replace the table `raw.team_members` right before each dbt build; the
staging model `stg_team_members` reads them together with the seed's rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from doraflow.config import ConfigError
from doraflow.settings_files import read_rows, replace_table

COLUMNS = ("team", "github_login", "pagerduty_user_id", "name")
TABLE = "raw.team_members"
# GitHub logins: alphanumerics and single hyphens; bots end in [bot]. PagerDuty ids: P + upper alphanumerics.
_GITHUB_LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(\[bot\])?")
_PAGERDUTY_ID = re.compile(r"P[A-Z0-9]+")


@dataclass(frozen=True)
class TeamMember:
    line: int  # line of the CSV file, for messages and for `raw.team_members.member_line`
    team: str
    github_login: str | None  # lowercased (GitHub logins are case-insensitive)
    pagerduty_user_id: str | None
    name: str | None = None


def read_team_members(path: Path) -> tuple[TeamMember, ...]:
    """Parse and validate the file; raises ConfigError naming the line and what is wrong."""
    where, rows = read_rows(path, "TEAM_MEMBERS_PATH", COLUMNS, required="team")
    members = [_member(where, line, row) for line, row in rows]
    _check_one_team(where, members)
    return tuple(members)


def _member(where: str, line: int, row: dict[str, str | None]) -> TeamMember:
    team = row.get("team")
    if team is None:
        raise ConfigError(f"{where} line {line}: team is empty")
    login = row.get("github_login")
    user_id = row.get("pagerduty_user_id")
    if login is None and user_id is None:
        raise ConfigError(f"{where} line {line}: give a github_login, a pagerduty_user_id or both")
    if login is not None and not _GITHUB_LOGIN.fullmatch(login.removeprefix("@")):
        raise ConfigError(
            f"{where} line {line}: github_login must be a GitHub login like octocat, got {login!r}"
        )
    if user_id is not None and not _PAGERDUTY_ID.fullmatch(user_id):
        raise ConfigError(
            f"{where} line {line}: pagerduty_user_id must be a PagerDuty user id like PXPGF42 (not an email), "
            f"got {user_id!r}"
        )
    return TeamMember(
        line=line,
        team=team,
        github_login=login.removeprefix("@").lower() if login else None,
        pagerduty_user_id=user_id,
        name=row.get("name"),
    )


def _check_one_team(where: str, members: list[TeamMember]) -> None:
    """A person is in one team: a second line for the same login or PagerDuty user is refused, whatever its team
    (a share split between two teams would be neither inside nor outside)."""
    for column in ("github_login", "pagerduty_user_id"):
        first: dict[str, TeamMember] = {}
        for member in members:
            key = getattr(member, column)
            if key is None:
                continue
            earlier = first.setdefault(key, member)
            if earlier is not member:
                raise ConfigError(
                    f"{where} line {member.line}: {column} {key!r} is already listed on line {earlier.line} "
                    f"(team {earlier.team!r}); a person belongs to one team: keep one line"
                )


def write_team_members(settings) -> int:
    """Replace `raw.team_members` with the configured file's rows (none when the setting is unset).

    One transaction: a reader sees the old list or the new one. Raises LoadError naming the warehouse.
    """
    return replace_table(
        settings,
        "team members",
        TABLE,
        "member_line integer not null, team text not null, github_login text, pagerduty_user_id text, name text",
        ("member_line", *COLUMNS),
        [
            (member.line, member.team, member.github_login, member.pagerduty_user_id, member.name)
            for member in settings.team_members
        ],
    )
