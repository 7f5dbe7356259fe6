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

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from doraflow.config import ConfigError
from doraflow.errors import LoadError

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
    where = f"TEAM_MEMBERS_PATH {str(path)!r}"
    if not path.is_file():
        raise ConfigError(f"{where}: no such file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{where}: cannot read it as UTF-8 text ({error})") from None
    reader = csv.reader(text.splitlines())
    header = [name.strip().lower() for name in next(reader, [])]
    if "team" not in header:
        raise ConfigError(f"{where}: the first line must be a header naming the columns {', '.join(COLUMNS)}")
    unknown = [name for name in header if name not in COLUMNS]
    if unknown or len(set(header)) != len(header):
        raise ConfigError(
            f"{where}: header {','.join(header)!r} has unknown or repeated columns; allowed: {', '.join(COLUMNS)}"
        )
    members: list[TeamMember] = []
    for line, values in enumerate(reader, start=2):
        if not any(value.strip() for value in values):
            continue
        if len(values) != len(header):
            raise ConfigError(f"{where} line {line}: {len(values)} values for {len(header)} columns")
        row = {name: (value.strip() or None) for name, value in zip(header, values)}
        members.append(_member(where, line, row))
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
    try:
        return _replace_rows(settings, settings.team_members)
    except Exception as error:  # noqa: BLE001 - duckdb.Error or psycopg2.Error, reported in one line
        where = "PostgreSQL" if settings.warehouse_target == "postgres" else str(settings.warehouse_path)
        message = " ".join(str(error).split())[:300]
        raise LoadError(f"cannot write the team members into {where}: {message}") from None


def _replace_rows(settings, members: tuple[TeamMember, ...]) -> int:
    from doraflow.warehouse import warehouse_cursor

    postgres = settings.warehouse_target == "postgres"
    with warehouse_cursor(settings) as cursor:
        if not postgres:
            cursor.execute("begin transaction")  # PostgreSQL: warehouse_cursor's transaction
        cursor.execute("create schema if not exists raw")
        cursor.execute(
            f"create table if not exists {TABLE} (member_line integer not null, team text not null, "
            "github_login text, pagerduty_user_id text, name text)"
        )
        cursor.execute(f"delete from {TABLE}")
        if members:
            placeholders = ", ".join(["%s" if postgres else "?"] * (len(COLUMNS) + 1))
            cursor.executemany(
                f"insert into {TABLE} (member_line, {', '.join(COLUMNS)}) values ({placeholders})",
                [
                    (member.line, member.team, member.github_login, member.pagerduty_user_id, member.name)
                    for member in members
                ],
            )
        if not postgres:
            cursor.execute("commit")
    return len(members)
