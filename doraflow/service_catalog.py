"""The service catalog file (SERVICE_CATALOG_PATH): which repositories, PagerDuty services and Jira projects
make up each service, and which team owns it.

The file is a CSV with the header of `dbt_project/seeds/service_catalog.csv` (`service` required; `team`,
`github_repository`, `environment_pattern`, `path_prefixes`, `pagerduty_service_id`, `jira_project_key` optional,
in any order: the older five-column form stays valid). A monorepo is one repository listed under several services,
each with an `environment_pattern` (a regular expression matched case-insensitively against the deployment's
environment) and/or `path_prefixes` (`;`-separated; a release's changes are the commits touching them). The rules
(docs/metrics.md, "Service catalog and monorepos"): at most one entry per repository without an environment pattern
(the repository's fallback service), one entry per (repository, service). It is validated when the settings are
read, so a mistake stops the run before any request, naming the file, the line and the fix. Right before each
dbt build its rows replace the table `raw.service_catalog`; the staging model `stg_service_catalog` reads them
together with the seed's rows. Keeping the catalog outside the clone means upgrading doraflow never touches it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from doraflow.config import ConfigError
from doraflow.settings_files import read_rows, replace_table

COLUMNS = (
    "service",
    "team",
    "github_repository",
    "environment_pattern",
    "path_prefixes",
    "pagerduty_service_id",
    "jira_project_key",
)
TABLE = "raw.service_catalog"
_REPOSITORY = re.compile(r"[^/\s]+/[^/\s]+")
_JIRA_KEY = re.compile(r"[A-Z][A-Z0-9_]+")


@dataclass(frozen=True)
class CatalogEntry:
    line: int  # line of the CSV file, for messages and for `raw.service_catalog.catalog_line`
    service: str  # lowercased, as the marts name services
    team: str | None
    github_repository: str | None  # owner/name, lowercased (GitHub names are case-insensitive)
    pagerduty_service_id: str | None
    jira_project_key: str | None
    environment_pattern: str | None = (
        None  # which production environments of the repository are this service's
    )
    path_prefixes: tuple[str, ...] = ()  # which files of the repository are this service's (none: all)

    @property
    def path_prefixes_text(self) -> str | None:
        """The prefixes as stored in raw.service_catalog: `;`-separated, NULL when none."""
        return ";".join(self.path_prefixes) or None


def read_service_catalog(path: Path) -> tuple[CatalogEntry, ...]:
    """Parse and validate the catalog file; raises ConfigError naming the line and what is wrong."""
    where, rows = read_rows(path, "SERVICE_CATALOG_PATH", COLUMNS, required="service")
    entries = [_entry(where, line, row) for line, row in rows]
    _check_unambiguous(where, entries)
    return tuple(entries)


def _entry(where: str, line: int, row: dict[str, str | None]) -> CatalogEntry:
    if row.get("service") is None:
        raise ConfigError(f"{where} line {line}: service is empty")
    repository = row.get("github_repository")
    if repository is not None and not _REPOSITORY.fullmatch(repository):
        raise ConfigError(
            f"{where} line {line}: github_repository must look like owner/name, got {repository!r}"
        )
    jira_key = row.get("jira_project_key")
    if jira_key is not None and not _JIRA_KEY.fullmatch(jira_key.upper()):
        raise ConfigError(f"{where} line {line}: jira_project_key must be a key like ABC, got {jira_key!r}")
    pattern = row.get("environment_pattern")
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as error:
            raise ConfigError(
                f"{where} line {line}: environment_pattern is not a valid regular expression ({error}): {pattern!r}"
            ) from None
    prefixes = _path_prefixes(where, line, row.get("path_prefixes"))
    if (pattern is not None or prefixes) and repository is None:
        raise ConfigError(
            f"{where} line {line}: environment_pattern and path_prefixes need a github_repository to apply to"
        )
    return CatalogEntry(
        line=line,
        service=row["service"].lower(),
        team=row.get("team"),
        github_repository=repository.lower() if repository else None,
        pagerduty_service_id=row.get("pagerduty_service_id"),
        jira_project_key=jira_key.upper() if jira_key else None,
        environment_pattern=pattern,
        path_prefixes=prefixes,
    )


def _path_prefixes(where: str, line: int, text: str | None) -> tuple[str, ...]:
    """`services/payments/;libs/money` -> ('services/payments/', 'libs/money'); paths relative to the root."""
    if text is None:
        return ()
    prefixes = [part.strip() for part in text.split(";")]
    for prefix in prefixes:
        if not prefix or prefix.startswith("/") or "\\" in prefix or ".." in prefix.split("/"):
            raise ConfigError(
                f"{where} line {line}: path_prefixes must be repository paths like services/payments/ separated "
                f"by ';' (no empty part, no leading '/', no '..'), got {text!r}"
            )
    if len(set(prefixes)) != len(prefixes):
        raise ConfigError(f"{where} line {line}: path_prefixes lists a prefix twice: {text!r}")
    return tuple(prefixes)


def _check_unambiguous(where: str, entries: list[CatalogEntry]) -> None:
    """A PagerDuty service belongs to one service; a repository's deployments go to exactly one service each (at
    most one fallback entry without environment pattern, one entry per service); a service has one team and one
    Jira project."""
    _check_repository_routes(where, entries)
    for column in ("pagerduty_service_id",):
        first: dict[str, CatalogEntry] = {}
        for entry in entries:
            key = getattr(entry, column)
            if key is None:
                continue
            if key in first:
                raise ConfigError(
                    f"{where} line {entry.line}: {column} {key!r} is already listed on line {first[key].line} "
                    f"(service {first[key].service!r}); it belongs to one service"
                )
            first[key] = entry
    for column in ("team", "jira_project_key"):
        seen: dict[str, CatalogEntry] = {}
        for entry in entries:
            value = getattr(entry, column)
            if value is None:
                continue
            earlier = seen.setdefault(entry.service, entry)
            if getattr(earlier, column) != value:
                raise ConfigError(
                    f"{where} line {entry.line}: service {entry.service!r} has {column} {value!r} here and "
                    f"{getattr(earlier, column)!r} on line {earlier.line}; give each service one {column}"
                )


def _check_repository_routes(where: str, entries: list[CatalogEntry]) -> None:
    """Overlapping environment patterns are allowed (the first line that matches wins, as documented); what
    cannot be resolved is two fallback entries (no pattern) or one service listing a repository twice."""
    fallback: dict[str, CatalogEntry] = {}
    listed: dict[tuple[str, str], CatalogEntry] = {}
    for entry in entries:
        repository = entry.github_repository
        if repository is None:
            continue
        earlier = listed.setdefault((repository, entry.service), entry)
        if earlier is not entry:
            raise ConfigError(
                f"{where} line {entry.line}: github_repository {repository!r} is already listed on line "
                f"{earlier.line} for service {entry.service!r}; list it once per service (combine environment "
                "patterns with '|' and path prefixes with ';')"
            )
        if entry.environment_pattern is None:
            earlier = fallback.setdefault(repository, entry)
            if earlier is not entry:
                raise ConfigError(
                    f"{where} line {entry.line}: github_repository {repository!r} is already listed on line "
                    f"{earlier.line} (service {earlier.service!r}) without environment_pattern; a repository of "
                    "several services needs an environment_pattern on all entries but one, so each deployment "
                    "has one service"
                )


def write_service_catalog(settings) -> int:
    """Replace `raw.service_catalog` with the configured file's rows (none when the setting is unset).

    One transaction: a reader sees the old catalog or the new one. Raises LoadError naming the warehouse.
    """
    return replace_table(
        settings,
        "service catalog",
        TABLE,
        "catalog_line integer not null, service text not null, team text, github_repository text, "
        "pagerduty_service_id text, jira_project_key text, environment_pattern text, path_prefixes text",
        ("catalog_line", *COLUMNS),
        [
            (
                entry.line,
                entry.service,
                entry.team,
                entry.github_repository,
                entry.environment_pattern,
                entry.path_prefixes_text,
                entry.pagerduty_service_id,
                entry.jira_project_key,
            )
            for entry in settings.service_catalog
        ],
        added_columns=("environment_pattern", "path_prefixes"),  # a table written by an older doraflow
    )
