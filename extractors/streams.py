"""The stream registry: every stream's table, natural key, parent and incremental cursor.

Endpoint settings are data here; the extraction code lives in `github.py`, `jira.py`, `pagerduty.py`.
The loader uses `natural_key()` to key and validate each landed record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

SOURCES = ("github", "jira", "pagerduty")


@dataclass(frozen=True)
class KeyField:
    path: tuple[str, ...]  # where the value sits in the payload
    types: tuple[type, ...]

    @property
    def name(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True)
class StreamSpec:
    source: str
    name: str
    key_fields: tuple[KeyField, ...]
    key_scope: bool  # the scope is part of the natural key (GitHub ids are per repository)
    key_parent: bool  # the parent id is part of the natural key
    depends_on: tuple[str, ...] = ()  # streams of the same scope that must run first
    cursor: str | None = None  # the API field the watermark follows
    overlap: timedelta = timedelta(hours=1)
    landed_by: str | None = None  # set when another stream's task lands this stream
    description: str = ""

    @property
    def table(self) -> str:
        return f"{self.source}__{self.name}"

    @property
    def planned(self) -> bool:
        return self.landed_by is None


INT = (int,)
STR = (str,)


def _k(*path: str, types: tuple[type, ...]) -> KeyField:
    return KeyField(tuple(path), types)


STREAMS: tuple[StreamSpec, ...] = (
    StreamSpec(
        "github",
        "pull_requests",
        (_k("number", types=INT),),
        True,
        False,
        cursor="updated_at",
        description="pull requests, all states (sorted by updated, descending; stop at the watermark)",
    ),
    StreamSpec(
        "github",
        "pull_request_commits",
        (_k("sha", types=STR),),
        True,
        True,
        ("pull_requests",),
        description="commits of each changed pull request (the API returns at most 250)",
    ),
    StreamSpec(
        "github",
        "pull_request_reviews",
        (_k("id", types=INT),),
        True,
        False,
        ("pull_requests",),
        description="reviews of each changed pull request",
    ),
    StreamSpec(
        "github",
        "pull_request_sizes",
        (),
        True,
        True,
        landed_by="pull_request_reviews",
        description="additions, deletions, changed_files of each changed pull request (GraphQL with the reviews; "
        "REST GET pulls/{n} when GITHUB_PULL_REQUEST_DETAILS is true)",
    ),
    StreamSpec(
        "github",
        "pull_request_events",
        (_k("id", types=INT),),
        True,
        False,
        landed_by="pull_request_reviews",
        description="ready_for_review / convert_to_draft events of each changed pull request (GraphQL "
        "timelineItems with the reviews; REST issue events when GITHUB_PULL_REQUEST_DETAILS is true)",
    ),
    StreamSpec(
        "github",
        "commits",
        (_k("sha", types=STR),),
        True,
        False,
        cursor="commit.committer.date",
        description="default-branch commits: since the start date, then compare previous head...head",
    ),
    StreamSpec(
        "github",
        "deployments",
        (_k("id", types=INT),),
        True,
        False,
        cursor="created_at",
        description="deployments (sorted by creation, descending)",
    ),
    StreamSpec(
        "github",
        "deployment_statuses",
        (_k("id", types=INT),),
        True,
        False,
        ("deployments",),
        description="statuses of new deployments and of deployments not final yet",
    ),
    StreamSpec(
        "github",
        "workflow_runs",
        (_k("id", types=INT),),
        True,
        False,
        cursor="created_at",
        description="Actions workflow runs; in-progress runs are re-read until completed",
    ),
    StreamSpec(
        "github",
        "workflow_jobs",
        (_k("id", types=INT),),
        True,
        False,
        ("workflow_runs",),
        description="jobs (with steps) of each completed workflow run, all attempts (only when GITHUB_CI_JOBS is true)",
    ),
    StreamSpec(
        "github", "releases", (_k("id", types=INT),), True, False, cursor="created_at", description="releases"
    ),
    StreamSpec(
        "github",
        "comparisons",
        (),
        True,
        True,
        ("deployments", "deployment_statuses"),
        description="compare base...head between consecutive successful production deployments",
    ),
    StreamSpec(
        "github",
        "comparison_commits",
        (_k("sha", types=STR),),
        True,
        True,
        landed_by="comparisons",
        description="the commits of each comparison (paginated)",
    ),
    StreamSpec(
        "jira", "projects", (_k("id", types=STR),), False, False, description="the configured projects"
    ),
    StreamSpec(
        "jira",
        "issues",
        (_k("id", types=STR),),
        False,
        False,
        cursor="fields.updated",
        overlap=timedelta(days=1),
        description="issues with the flow fields, without changelog",
    ),
    StreamSpec(
        "jira",
        "issue_changelogs",
        (_k("id", types=STR),),
        False,
        True,
        ("issues",),
        description="every status/field change history of changed issues (bulk fetch)",
    ),
    StreamSpec("pagerduty", "services", (_k("id", types=STR),), False, False, description="services"),
    StreamSpec(
        "pagerduty",
        "incidents",
        (_k("id", types=STR),),
        False,
        False,
        ("services",),
        cursor="created_at",
        description="incidents, all statuses; unresolved ones are re-read until resolved",
    ),
    StreamSpec(
        "pagerduty",
        "incident_log_entries",
        (_k("id", types=STR),),
        False,
        False,
        ("incidents",),
        cursor="created_at",
        description="log entries (trigger, acknowledge, resolve, notes)",
    ),
)

BY_NAME: dict[tuple[str, str], StreamSpec] = {(s.source, s.name): s for s in STREAMS}


def get_stream(source: str, name: str) -> StreamSpec:
    try:
        return BY_NAME[(source, name)]
    except KeyError:
        raise KeyError(f"unknown stream {source}.{name}") from None


def dig(payload: object, path: tuple[str, ...]) -> object:
    value = payload
    for part in path:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


class BadRecord(ValueError):
    """A landed record that cannot be keyed; the loader quarantines it with this reason."""


def natural_key(spec: StreamSpec, scope: str, parent_id: object, payload: object) -> str:
    """The record's `_key` (see docs/architecture.md), or `BadRecord` naming what is wrong."""
    if not isinstance(payload, dict):
        raise BadRecord(f"payload is {type(payload).__name__}, expected a JSON object")
    parts: list[str] = []
    if spec.key_scope:
        parts.append(scope)
    if spec.key_parent:
        if parent_id is None or parent_id == "":
            raise BadRecord("missing parent_id")
        parts.append(str(parent_id))
    for field in spec.key_fields:
        value = dig(payload, field.path)
        if value is None:
            raise BadRecord(f"missing key field {field.name!r}")
        if isinstance(value, bool) or not isinstance(value, field.types):
            expected = " or ".join(t.__name__ for t in field.types)
            raise BadRecord(f"key field {field.name!r} is {type(value).__name__}, expected {expected}")
        if isinstance(value, str) and not value.strip():
            raise BadRecord(f"key field {field.name!r} is empty")
        parts.append(str(value))
    return "#".join(parts)
