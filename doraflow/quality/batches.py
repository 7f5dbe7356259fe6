"""Expectation suites for landed batches, checked before the loader merges them into raw.

Batch files follow docs/architecture.md: gzip JSON lines, a header line first, then one
`{"parent_id", "payload"}` line per record. DuckDB reads the pending files itself (`read_ndjson_objects`)
and every check runs as SQL over them: one counting scan per landed stream, no record decoded in Python.

Keys repeated *within* a batch are a counted warning, never a stop: when an object is added while a list is
paged, the API shifts its offsets and the same object comes twice (documented behaviour); the loader keeps
the newest version. The same key in two batches is normal too (latest version wins in raw).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from doraflow.quality import CRITICAL, WARNING, CheckResult, QualityResult
from doraflow.quality.runner import Check, Engine, Target, check_results, quote, run_targets, sql_literal

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
    epoch_ms_timestamps: tuple[str, ...] = ()  # may also come as epoch milliseconds (a JSON integer)
    ordered: tuple[tuple[str, str, str], ...] = ()  # (later, earlier, severity): later >= earlier
    enums: tuple[tuple[str, tuple[str, ...], str], ...] = ()  # (field, allowed values, severity)


def _enum(path: str, values: list[str], severity: str = CRITICAL) -> tuple[str, tuple[str, ...], str]:
    return (path, tuple(values), severity)


SUITES: dict[tuple[str, str], StreamSuite] = {
    ("github", "pull_requests"): StreamSuite(
        key=("_scope", "number"),
        timestamps=("created_at", "updated_at", "merged_at", "closed_at"),
        ordered=(("merged_at", "created_at", WARNING), ("closed_at", "created_at", WARNING)),
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
    # The changelog bulkfetch documents `created` as epoch milliseconds (../shared/specs/jira/
    # changelog_bulkfetch_post.json), the per-issue changelog as an ISO string: both are accepted.
    ("jira", "issue_changelogs"): StreamSuite(
        key=("_parent_id", "id"), timestamps=("created",), epoch_ms_timestamps=("created",)
    ),
    ("pagerduty", "services"): StreamSuite(key=("id",), timestamps=("created_at",)),
    ("pagerduty", "incidents"): StreamSuite(
        key=("id",),
        timestamps=("created_at", "updated_at", "resolved_at"),
        # Clock skew or a bad import: the models flag it (data_error), so it is counted, never a stop.
        ordered=(("resolved_at", "created_at", WARNING),),
        enums=(_enum("status", INCIDENT_STATUSES), _enum("urgency", INCIDENT_URGENCIES)),
    ),
    ("pagerduty", "incident_log_entries"): StreamSuite(key=("id",), timestamps=("created_at",)),
}


def _column(path: str) -> str:
    return path.replace(".", "__")


def _json_path(path: str) -> str:
    return sql_literal("$." + ".".join(quote(part) for part in path.split(".")))


def _text(path: str) -> str:
    return f"json_extract_string(payload, {_json_path(path)})"


def _timestamp_text(path: str, epoch_ms: bool) -> str:
    """The field as text; an epoch-milliseconds integer (where the API documents one) as an ISO string."""
    if not epoch_ms:
        return _text(path)
    number = f"json_type(payload, {_json_path(path)}) in ('UBIGINT', 'BIGINT')"
    iso = f"strftime(epoch_ms(cast(json_extract(payload, {_json_path(path)}) as bigint)), '%Y-%m-%dT%H:%M:%S.%gZ')"
    return f"case when {number} then {iso} else {_text(path)} end"


def _unreadable(path: str, reason: str) -> CheckResult:
    # The recovery first: the sample is cut to a few hundred characters in the gate's one-line error.
    batch_id = Path(path).name.split(".")[0]
    recovery = f"run `doraflow landing quarantine {batch_id}` to move it aside, then rerun"
    return CheckResult(
        suite="landing.files",
        expectation="expect_batch_file_to_be_readable",
        table=path,
        severity=CRITICAL,
        success=False,
        failing_count=1,
        sample=[recovery, reason],
    )


def _load_lines(engine: Engine, paths: list[str]) -> list[CheckResult]:
    """Numbered lines of every readable file in `lines`; a result per file DuckDB cannot read."""
    import duckdb

    numbered = """
        create or replace temp table lines as
        with scanned as (
            -- the scan keeps each file's line order (preserve_insertion_order): the row number gives line numbers
            select filename as file, json as line_json, row_number() over () as n
            from read_ndjson_objects(?, filename = true, format = 'newline_delimited')
        )
        select file, line_json, n - min(n) over (partition by file) + 1 as line from scanned
    """
    try:
        engine.rows(numbered, (paths,))
        return []
    except duckdb.Error:
        pass  # find the culprit(s): one file at a time, only on this rare path
    unreadable, readable = [], []
    for path in paths:
        try:
            engine.rows("select count(*) from read_ndjson_objects(?, format = 'newline_delimited')", (path,))
            readable.append(path)
        except duckdb.Error as error:
            unreadable.append(_unreadable(path, f"{type(error).__name__}: {error}"))
    if readable:
        engine.rows(numbered, (readable,))
    else:
        engine.rows("create or replace temp table lines (file varchar, line_json json, line bigint)")
    return unreadable


def _load_batches(engine: Engine, paths: list[str]) -> list[CheckResult]:
    """Tables `headers` and `records` of the readable, well-formed files; a result per other file."""
    unreadable = _load_lines(engine, paths)
    engine.rows(
        """
        create or replace temp table file_problems as
        select file, min(problem) as problem from (
            select file, 'the first line is not a batch header with batch_id, source and stream' as problem
            from lines
            where line = 1 and (json_type(line_json) <> 'OBJECT' or line_json->>'batch_id' is null
                or line_json->>'source' is null or line_json->>'stream' is null)
            union all
            select file, 'line ' || line || ' is not a record with a payload'
            from lines
            where line > 1 and (json_type(line_json) <> 'OBJECT' or json_extract(line_json, '$.payload') is null)
        ) group by file
        """
    )
    for file, problem in engine.rows("select file, problem from file_problems order by file"):
        unreadable.append(_unreadable(file, f"ValueError: {problem}"))
    seen = {row[0] for row in engine.rows("select distinct file from lines")}
    for path in paths:
        if path not in seen and not any(r.table == path for r in unreadable):
            unreadable.append(_unreadable(path, "ValueError: empty file: no header line"))
    engine.rows(
        """
        create or replace temp table headers as
        select
            h.line_json->>'batch_id' as batch_id,
            parse_filename(h.file) as file,
            regexp_replace(parse_filename(h.file), '\.jsonl\.gz$', '') as file_batch_id,
            h.line_json->>'source' as source,
            h.line_json->>'stream' as stream,
            h.line_json->>'scope' as scope,
            h.line_json->>'extracted_at' as extracted_at,
            try_cast(h.line_json->>'record_count' as bigint) as record_count,
            (select count(*) from lines r where r.file = h.file and r.line > 1) as lines,
            h.file as path
        from lines h
        where h.line = 1 and h.file not in (select file from file_problems)
        """
    )
    engine.rows(
        """
        create or replace temp table records as
        select
            h.batch_id as _batch_id, r.line as _line, h.scope as _scope,
            r.line_json->>'parent_id' as _parent_id, h.source, h.stream,
            json_extract(r.line_json, '$.payload') as payload
        from lines r
        join headers h on h.path = r.file
        where r.line > 1
        """
    )
    return unreadable


def _stream_target(source: str, stream: str, suite: StreamSuite | None) -> Target:
    where = f"where source = {sql_literal(source)} and stream = {sql_literal(stream)}"
    columns = [
        "_batch_id",
        "_line",
        "_scope",
        "_parent_id",
        "json_type(payload) = 'OBJECT' as _payload_is_object",
    ]
    checks = [Check("ExpectColumnValuesToBeInSet", {"column": "_payload_is_object", "value_set": [True]})]
    table, name = f"landing {source}/{stream}", f"landing.{source}__{stream}"
    if suite is None:  # a stream without a suite: only the generic checks
        return Target(
            name, table, checks, f"(select {', '.join(columns)} from records {where})", ["_batch_id", "_line"]
        )
    fields = {p for p in (*suite.key, *suite.timestamps) if not p.startswith("_")}
    fields |= {p for pair in suite.ordered for p in pair[:2]} | {e[0] for e in suite.enums}
    for path in sorted(fields):
        epoch_ms = path in suite.epoch_ms_timestamps
        columns.append(f"{_timestamp_text(path, epoch_ms)} as {quote(_column(path))}")
    for later, earlier, _ in suite.ordered:
        for path in (later, earlier):
            text = _timestamp_text(path, path in suite.epoch_ms_timestamps)
            columns.append(f"try_cast({text} as timestamptz) as {quote(_column(path) + '__ts')}")
    key = [_column(p) for p in suite.key]
    for column in key:
        checks.append(Check("ExpectColumnValuesToNotBeNull", {"column": column}))
    # The same object twice in one batch: a list shifted while it was paged (the loader keeps the newest).
    checks.append(Check("ExpectCompoundColumnsToBeUnique", {"column_list": ["_batch_id", *key]}, WARNING))
    for path in suite.timestamps:
        checks.append(
            Check("ExpectColumnValuesToMatchRegex", {"column": _column(path), "regex": ISO_TIMESTAMP})
        )
    for later, earlier, severity in suite.ordered:
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
    for path, values, severity in suite.enums:
        checks.append(
            Check(
                "ExpectColumnValuesToBeInSet", {"column": _column(path), "value_set": list(values)}, severity
            )
        )
    relation = f"(select {', '.join(dict.fromkeys(columns))} from records {where})"
    return Target(name, table, checks, relation, ["_batch_id", "_line", *key])


HEADER_CHECKS = [
    Check("ExpectColumnValuesToNotBeNull", {"column": "batch_id"}),
    Check("ExpectColumnValuesToBeUnique", {"column": "batch_id"}),
    Check("ExpectColumnPairValuesToBeEqual", {"column_A": "batch_id", "column_B": "file_batch_id"}),
    Check("ExpectColumnValuesToMatchRegex", {"column": "extracted_at", "regex": ISO_TIMESTAMP}),
    Check("ExpectColumnPairValuesToBeEqual", {"column_A": "record_count", "column_B": "lines"}),
]


def build_targets(engine: Engine, batch_paths: list[Path]) -> tuple[list[Target], list[CheckResult]]:
    """One target per landed stream, one for the batch headers, and results for unreadable files."""
    paths = sorted(str(p) for p in batch_paths)
    unreadable = _load_batches(engine, paths)
    targets: list[Target] = []
    if engine.rows("select count(*) from headers")[0][0]:
        targets.append(
            Target(
                "landing.batch_headers",
                "landing batch headers",
                HEADER_CHECKS,
                "headers",
                ["file", "batch_id"],
            )
        )
    for source, stream in engine.rows("select distinct source, stream from headers order by 1, 2"):
        if engine.rows("select count(*) from records where source = ? and stream = ?", (source, stream))[0][
            0
        ]:
            targets.append(_stream_target(source, stream, SUITES.get((source, stream))))
    return targets, unreadable


def check_batches(
    settings, batch_paths: list[Path], *, run_name: str | None = None, render: bool = True
) -> QualityResult:
    import duckdb

    from doraflow.quality.gx_store import record

    if not batch_paths:
        return QualityResult()
    # In memory: the landed files are read where they lie; a large backfill spills beside the warehouse
    # within the same memory limit as every other connection.
    config = {"temp_directory": str(settings.warehouse_dir / ".duckdb_tmp_landing_gate")}
    if settings.duckdb_memory_limit:
        config["memory_limit"] = settings.duckdb_memory_limit
    connection = duckdb.connect(config=config)
    try:
        engine = Engine(connection, "duckdb")
        targets, unreadable = build_targets(engine, list(batch_paths))
        outcomes = run_targets(engine, targets)
    finally:
        connection.close()
    docs = record(settings, "landing", outcomes, run_name, render=render)
    return QualityResult([*unreadable, *check_results(outcomes)], docs)
