"""Expectation suites for landed batches, checked before the loader merges them into raw.

Batch files follow docs/architecture.md: gzip JSON lines, a header line first, then one
`{"parent_id", "payload"}` line per record. The records of all pending batches of one stream are
validated together (one GX validation per stream); keys must be unique *within* a batch, since the
same object legitimately appears again in a later batch (latest version wins in raw).
"""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from doraflow.quality import CRITICAL, WARNING, CheckResult, QualityResult
from doraflow.quality.runner import Check, Target, run_targets

ISO_TIMESTAMP = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?$"

PR_STATES = ["open", "closed"]
DEPLOYMENT_STATUS_STATES = ["error", "failure", "inactive", "in_progress", "queued", "pending", "success"]
REVIEW_STATES = ["APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED", "PENDING"]
INCIDENT_STATUSES = ["triggered", "acknowledged", "resolved"]
INCIDENT_URGENCIES = ["high", "low"]
JIRA_STATUS_CATEGORIES = ["new", "indeterminate", "done", "undefined"]


@dataclass(frozen=True)
class StreamSuite:
    """What a landed record of one stream must satisfy.

    Field paths are dotted paths into the payload (`fields.status.statusCategory.key`); `_scope` and
    `_parent_id` come from the batch header and the record line.
    """

    key: tuple[str, ...]
    timestamps: tuple[str, ...] = ()
    ordered: tuple[tuple[str, str, str], ...] = ()  # (later, earlier, severity): later >= earlier
    enums: tuple[tuple[str, tuple[str, ...], str], ...] = ()  # (field, allowed values, severity)


def _enum(path: str, values: list[str], severity: str = CRITICAL) -> tuple[str, tuple[str, ...], str]:
    return (path, tuple(values), severity)


SUITES: dict[tuple[str, str], StreamSuite] = {
    ("github", "pull_requests"): StreamSuite(
        key=("_scope", "number"),
        timestamps=("created_at", "updated_at", "merged_at", "closed_at"),
        ordered=(("merged_at", "created_at", CRITICAL), ("closed_at", "created_at", CRITICAL)),
        enums=(_enum("state", PR_STATES),),
    ),
    ("github", "pull_request_commits"): StreamSuite(
        key=("_scope", "_parent_id", "sha"), timestamps=("commit.author.date", "commit.committer.date")
    ),
    ("github", "pull_request_reviews"): StreamSuite(
        key=("_scope", "id"), timestamps=("submitted_at",), enums=(_enum("state", REVIEW_STATES, WARNING),)
    ),
    ("github", "commits"): StreamSuite(
        key=("_scope", "sha"), timestamps=("commit.author.date", "commit.committer.date")
    ),
    ("github", "deployments"): StreamSuite(
        key=("_scope", "id"),
        timestamps=("created_at", "updated_at"),
        ordered=(("updated_at", "created_at", WARNING),),
    ),
    ("github", "deployment_statuses"): StreamSuite(
        key=("_scope", "id"),
        timestamps=("created_at", "updated_at"),
        enums=(_enum("state", DEPLOYMENT_STATUS_STATES),),
    ),
    ("github", "workflow_runs"): StreamSuite(
        key=("_scope", "id"),
        timestamps=("created_at", "updated_at", "run_started_at"),
        ordered=(("updated_at", "created_at", WARNING),),
    ),
    ("github", "releases"): StreamSuite(key=("_scope", "id"), timestamps=("created_at", "published_at")),
    ("github", "comparisons"): StreamSuite(key=("_scope", "_parent_id")),
    ("github", "comparison_commits"): StreamSuite(
        key=("_scope", "_parent_id", "sha"), timestamps=("commit.committer.date",)
    ),
    ("jira", "projects"): StreamSuite(key=("id",)),
    ("jira", "issues"): StreamSuite(
        key=("id",),
        timestamps=("fields.created", "fields.updated", "fields.resolutiondate"),
        ordered=(("fields.resolutiondate", "fields.created", WARNING),),
        enums=(_enum("fields.status.statusCategory.key", JIRA_STATUS_CATEGORIES),),
    ),
    ("jira", "issue_changelogs"): StreamSuite(key=("_parent_id", "id"), timestamps=("created",)),
    ("pagerduty", "services"): StreamSuite(key=("id",), timestamps=("created_at",)),
    ("pagerduty", "incidents"): StreamSuite(
        key=("id",),
        timestamps=("created_at", "updated_at", "resolved_at"),
        ordered=(("resolved_at", "created_at", CRITICAL),),
        enums=(_enum("status", INCIDENT_STATUSES), _enum("urgency", INCIDENT_URGENCIES)),
    ),
    ("pagerduty", "incident_log_entries"): StreamSuite(key=("id",), timestamps=("created_at",)),
}


def _column(path: str) -> str:
    return path.replace(".", "__")


def _dig(payload: Any, path: str) -> Any:
    value = payload
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return value


@dataclass
class _Stream:
    rows: list[dict[str, Any]] = field(default_factory=list)


def _read(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The header and the record lines of one batch file; ValueError names what is wrong."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        lines = [line for line in handle if line.strip()]
    if not lines:
        raise ValueError("empty file: no header line")
    header = json.loads(lines[0])
    if not isinstance(header, dict) or not {"batch_id", "source", "stream"} <= header.keys():
        raise ValueError("the first line is not a batch header with batch_id, source and stream")
    records = []
    for number, line in enumerate(lines[1:], start=2):
        record = json.loads(line)
        if not isinstance(record, dict) or "payload" not in record:
            raise ValueError(f"line {number} is not a record with a payload")
        records.append(record)
    return header, records


def build_targets(batch_paths: list[Path]) -> tuple[list[Target], list[CheckResult]]:
    """One target per landed stream, one for the batch headers, and results for unreadable files."""
    import pandas as pd

    unreadable: list[CheckResult] = []
    headers: list[dict[str, Any]] = []
    streams: dict[tuple[str, str], _Stream] = defaultdict(_Stream)
    for path in sorted(batch_paths):
        try:
            header, records = _read(path)
        except (OSError, EOFError, ValueError) as error:
            unreadable.append(
                CheckResult(
                    suite="landing.files",
                    expectation="expect_batch_file_to_be_readable",
                    table=str(path),
                    severity=CRITICAL,
                    success=False,
                    failing_count=1,
                    sample=[f"{type(error).__name__}: {error}"],
                )
            )
            continue
        source, stream = str(header["source"]), str(header["stream"])
        headers.append(
            {
                "batch_id": header["batch_id"],
                "file": path.name,
                "file_batch_id": path.name.removesuffix(".jsonl.gz"),
                "source": source,
                "stream": stream,
                "scope": header.get("scope"),
                "extracted_at": header.get("extracted_at"),
                "record_count": header.get("record_count"),
                "lines": len(records),
            }
        )
        suite = SUITES.get((source, stream))
        paths = set()
        if suite is not None:
            paths = {p for p in (*suite.key, *suite.timestamps) if not p.startswith("_")}
            paths |= {p for pair in suite.ordered for p in pair[:2]} | {e[0] for e in suite.enums}
        for line_number, record in enumerate(records, start=2):
            row = {
                "_batch_id": header["batch_id"],
                "_line": line_number,
                "_scope": header.get("scope"),
                "_parent_id": record.get("parent_id"),
            }
            payload = record.get("payload")
            row["_payload_is_object"] = isinstance(payload, dict)
            for p in paths:
                row[_column(p)] = _dig(payload, p)
            streams[(source, stream)].rows.append(row)

    targets: list[Target] = []
    if headers:
        targets.append(
            Target(
                suite="landing.batch_headers",
                table="landing batch headers",
                frame=pd.DataFrame(headers),
                sample_columns=["file", "batch_id"],
                checks=[
                    Check("ExpectColumnValuesToNotBeNull", {"column": "batch_id"}),
                    Check("ExpectColumnValuesToBeUnique", {"column": "batch_id"}),
                    Check(
                        "ExpectColumnPairValuesToBeEqual",
                        {"column_A": "batch_id", "column_B": "file_batch_id"},
                    ),
                    Check(
                        "ExpectColumnValuesToMatchRegex", {"column": "extracted_at", "regex": ISO_TIMESTAMP}
                    ),
                    Check(
                        "ExpectColumnPairValuesToBeEqual", {"column_A": "record_count", "column_B": "lines"}
                    ),
                ],
            )
        )
    for (source, stream), collected in sorted(streams.items()):
        frame = pd.DataFrame(collected.rows)
        suite = SUITES.get((source, stream))
        table = f"landing {source}/{stream}"
        checks = [Check("ExpectColumnValuesToBeInSet", {"column": "_payload_is_object", "value_set": [True]})]
        if suite is None:  # a stream without a suite: only the generic checks
            targets.append(
                Target(f"landing.{source}__{stream}", table, checks, frame, None, ["_batch_id", "_line"])
            )
            continue
        key = [_column(p) for p in suite.key]
        for column in key:
            if column not in frame.columns:
                frame[column] = None
            checks.append(Check("ExpectColumnValuesToNotBeNull", {"column": column}))
        checks.append(Check("ExpectCompoundColumnsToBeUnique", {"column_list": ["_batch_id", *key]}))
        for p in suite.timestamps:
            checks.append(
                Check("ExpectColumnValuesToMatchRegex", {"column": _column(p), "regex": ISO_TIMESTAMP})
            )
        for later, earlier, severity in suite.ordered:
            for p in (later, earlier):
                frame[_column(p) + "__ts"] = pd.to_datetime(
                    frame[_column(p)], utc=True, errors="coerce", format="ISO8601"
                )
            checks.append(
                Check(
                    "ExpectColumnPairValuesAToBeGreaterThanB",
                    {
                        "column_A": _column(later) + "__ts",
                        "column_B": _column(earlier) + "__ts",
                        "or_equal": True,
                        "ignore_row_if": "either_value_is_missing",
                    },
                    severity,
                )
            )
        for p, values, severity in suite.enums:
            checks.append(
                Check(
                    "ExpectColumnValuesToBeInSet", {"column": _column(p), "value_set": list(values)}, severity
                )
            )
        targets.append(
            Target(f"landing.{source}__{stream}", table, checks, frame, None, ["_batch_id", "_line", *key])
        )
    return targets, unreadable


def check_batches(settings, batch_paths: list[Path]) -> QualityResult:
    targets, unreadable = build_targets([Path(p) for p in batch_paths])
    result = run_targets(targets, settings.data_docs_dir / "landing") if targets else QualityResult()
    result.results[:0] = unreadable
    return result
