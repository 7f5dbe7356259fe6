"""The quality gates on hand-made landed batches and marts (layouts per docs/architecture.md)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import duckdb
import pytest

from doraflow.config import ConfigError, load_settings
from doraflow.errors import QualityGateError
from doraflow.quality import CheckResult, QualityResult, check_batches, check_marts
from doraflow.quality.marts import thresholds


def write_batch(landing: Path, source: str, stream: str, scope: str, records, suffix="0a0b0c0d") -> Path:
    batch_id = f"20250301T000000000000Z-{source}-{stream}-{suffix}"
    folder = landing / source / stream
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{batch_id}.jsonl.gz"
    header = {
        "batch_id": batch_id,
        "source": source,
        "stream": stream,
        "scope": scope,
        "extracted_at": "2025-03-01T00:00:00+00:00",
        "record_count": len(records),
        "state": None,
    }
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(json.dumps(header) + "\n")
        for parent_id, payload in records:
            handle.write(json.dumps({"parent_id": parent_id, "payload": payload}) + "\n")
    return path


@pytest.fixture
def settings(tmp_path):
    return load_settings({"WAREHOUSE_PATH": str(tmp_path / "wh" / "dora.duckdb")})


def incident(id_, created, resolved, status="resolved", urgency="high"):
    return None, {"id": id_, "created_at": created, "updated_at": created, "resolved_at": resolved,
                  "status": status, "urgency": urgency}  # fmt: skip


def pull(number, created, merged, state="closed"):
    return None, {"number": number, "created_at": created, "updated_at": created, "merged_at": merged,
                  "closed_at": merged, "state": state}  # fmt: skip


def failures(result: QualityResult, table: str | None = None) -> dict[tuple[str, str | None], CheckResult]:
    return {
        (r.expectation, r.column): r
        for r in result.results
        if not r.success and (table is None or r.table == table)
    }


def test_clean_batches_pass_and_build_data_docs(settings):
    landing = settings.landing_dir
    paths = [
        write_batch(landing, "pagerduty", "incidents", "pagerduty",
                    [incident("P1", "2025-02-01T10:00:00Z", "2025-02-01T11:00:00Z"),
                     incident("P2", "2025-02-02T10:00:00Z", None, status="triggered", urgency="low")]),
        write_batch(landing, "github", "pull_requests", "acme/api",
                    [pull(1, "2025-02-01T10:00:00Z", "2025-02-01T12:00:00Z"),
                     pull(2, "2025-02-01T10:00:00Z", None, state="open")]),
        write_batch(landing, "jira", "issues", "ABC",
                    [(None, {"id": "10001", "fields": {"created": "2025-02-01T10:15:30.000+0000",
                                                       "updated": "2025-02-02T10:15:30.000+0000",
                                                       "resolutiondate": None,
                                                       "status": {"statusCategory": {"key": "new"}}}})]),
    ]  # fmt: skip
    result = check_batches(settings, paths)
    assert result.critical_failures == [] and result.warnings == []
    # every suite ran: headers + three streams
    assert {r.suite for r in result.results} == {
        "landing.batch_headers", "landing.pagerduty__incidents", "landing.github__pull_requests",
        "landing.jira__issues",
    }  # fmt: skip
    result.raise_for_critical()  # does not raise
    assert (settings.data_docs_dir / "landing" / "index.html").is_file()


def test_bad_batch_names_expectation_table_and_sample(settings):
    path = write_batch(
        settings.landing_dir, "pagerduty", "incidents", "pagerduty",
        [incident("P1", "2025-02-01T10:00:00Z", "2025-02-01T11:00:00Z"),
         incident("P1", "2025-02-01T10:00:00Z", "2025-02-01T11:00:00Z"),   # duplicate key
         incident("P9", "2025-02-05T10:00:00Z", "2025-02-04T09:00:00Z"),   # resolved before created
         incident("P7", "not a time", None, status="snoozed")],           # unparseable, unknown enum
    )  # fmt: skip
    result = check_batches(settings, [path])
    failed = failures(result)
    unique = failed[("expect_compound_columns_to_be_unique", "_batch_id, id")]
    assert unique.failing_count == 2 and {row["_line"] for row in unique.sample} == {2, 3}
    ordered = failed[("expect_column_pair_values_a_to_be_greater_than_b", "resolved_at >= created_at")]
    assert ordered.failing_count == 1 and ordered.sample[0]["id"] == "P9"
    assert (
        failed[("expect_column_values_to_match_regex", "created_at")].sample[0]["created_at"] == "not a time"
    )
    assert failed[("expect_column_values_to_be_in_set", "status")].failing_count == 1
    assert unique.severity == "warning"  # a list shifted while paged: counted, never a stop
    assert ordered.severity == "warning"  # clock skew: dbt flags it (data_error), counted, never a stop
    assert all(r.severity == "critical" for r in failed.values() if r not in (unique, ordered))
    with pytest.raises(QualityGateError) as error:
        result.raise_for_critical()
    message = str(error.value)
    assert message.startswith("quality gate failed: expect_")
    assert "on landing pagerduty/incidents: " in message and "failing rows, e.g. [" in message
    assert failed[("expect_column_values_to_match_regex", "updated_at")].failing_count == 1  # P7 too
    assert "(and 2 more critical failure(s))" in message
    assert error.value.result is result


def test_header_count_mismatch_and_unreadable_file(settings):
    good = write_batch(settings.landing_dir, "github", "deployments", "acme/api",
                       [(None, {"id": 5, "created_at": "2025-02-01T10:00:00Z",
                                "updated_at": "2025-02-01T10:00:00Z"})])  # fmt: skip
    # rewrite the header to claim two records
    lines = gzip.open(good, "rt").read().splitlines()
    header = json.loads(lines[0]) | {"record_count": 2}
    with gzip.open(good, "wt") as handle:
        handle.write("\n".join([json.dumps(header), *lines[1:]]) + "\n")
    broken = good.parent / "20250302T000000000000Z-github-deployments-ffffffff.jsonl.gz"
    broken.write_bytes(b"not gzip")
    result = check_batches(settings, [good, broken])
    failed = failures(result)
    assert failed[("expect_column_pair_values_to_be_equal", "record_count = lines")].failing_count == 1
    unreadable = failed[("expect_batch_file_to_be_readable", None)]
    assert unreadable.table == str(broken) and unreadable.severity == "critical"


def test_warning_severity_is_recorded_but_does_not_stop(settings):
    path = write_batch(settings.landing_dir, "jira", "issues", "ABC", [
        (None, {"id": "1", "fields": {"created": "2025-02-05T00:00:00.000+0000",
                                      "resolutiondate": "2025-02-01T00:00:00.000+0000",
                                      "status": {"statusCategory": {"key": "done"}}}})])  # fmt: skip
    result = check_batches(settings, [path])
    assert result.critical_failures == []
    assert [(w.expectation, w.column) for w in result.warnings] == [
        ("expect_column_pair_values_a_to_be_greater_than_b", "fields__resolutiondate >= fields__created")
    ]
    result.raise_for_critical()


def test_duplicate_key_within_a_batch_is_a_counted_warning_not_a_stop(settings):
    """A new PR shifted the list while it was paged: PR 7 came on two pages of the same batch."""
    path = write_batch(settings.landing_dir, "github", "pull_requests", "acme/api",
                       [pull(8, "2025-02-01T10:00:00Z", None, state="open"),
                        pull(7, "2025-02-01T09:00:00Z", None, state="open"),
                        pull(7, "2025-02-01T09:00:00Z", "2025-02-01T12:00:00Z"),
                        pull(6, "2025-02-01T08:00:00Z", None, state="open")])  # fmt: skip
    result = check_batches(settings, [path])
    assert result.critical_failures == []
    (warning,) = result.warnings
    assert (warning.expectation, warning.column) == (
        "expect_compound_columns_to_be_unique",
        "_batch_id, _scope, number",
    )
    assert warning.failing_count == 2  # both copies of PR 7
    assert sorted(row["_line"] for row in warning.sample) == [3, 4]
    result.raise_for_critical()  # does not raise: the loader keeps the newest copy


def test_jira_changelog_created_as_epoch_milliseconds_or_iso_string_passes(settings):
    # bulkfetch documents `created` as epoch ms; 1492070429 ms is 1970-01-18T06:27:50.429Z
    path = write_batch(settings.landing_dir, "jira", "issue_changelogs", "ABC",
                       [("10001", {"id": "1", "created": 1492070429}),
                        ("10001", {"id": "2", "created": "2017-04-13T08:00:29.000+0000"})])  # fmt: skip
    result = check_batches(settings, [path])
    assert result.critical_failures == [] and result.warnings == []


def test_epoch_milliseconds_where_the_api_documents_none_stops(settings):
    path = write_batch(settings.landing_dir, "jira", "issue_changelogs", "ABC",
                       [("10001", {"id": "1", "created": "yesterday"}),
                        ("10001", {"id": "2", "created": 1492070429.5})])  # fmt: skip
    failed = failures(check_batches(settings, [path]))
    regex = failed[("expect_column_values_to_match_regex", "created")]
    assert regex.failing_count == 2 and regex.severity == "critical"
    pulls = write_batch(settings.landing_dir, "github", "pull_requests", "acme/api",
                        [(None, {"number": 1, "created_at": 1492070429, "state": "open"})])  # fmt: skip
    failed = failures(check_batches(settings, [pulls]), "landing github/pull_requests")
    assert (
        failed[("expect_column_values_to_match_regex", "created_at")].sample[0]["created_at"] == "1492070429"
    )


def test_record_line_without_a_payload_makes_the_file_unreadable(settings):
    path = write_batch(settings.landing_dir, "pagerduty", "incidents", "pagerduty",
                       [incident("P1", "2025-02-01T10:00:00Z", "2025-02-01T11:00:00Z")])  # fmt: skip
    lines = gzip.open(path, "rt").read().splitlines()
    with gzip.open(path, "wt") as handle:
        handle.write("\n".join([lines[0], lines[1], json.dumps({"parent_id": None})]) + "\n")
    (unreadable,) = check_batches(settings, [path]).critical_failures
    assert unreadable.expectation == "expect_batch_file_to_be_readable"
    batch_id = Path(path).name.split(".")[0]
    assert unreadable.sample == [
        f"run `doraflow landing quarantine {batch_id}` to move it aside, then rerun",
        "ValueError: line 3 is not a record with a payload",
    ]


def make_marts(path: Path, *, rate=0.25, ttr=30.0, gap=False, coverage=0.9):
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute("""create table marts.fct_deployments as select * from (values
        ('d1', timestamptz '2025-02-01 10:00:00+00', timestamptz '2025-02-01 10:05:00+00',
         timestamptz '2025-02-01 10:06:00+00', 'success', 12.0, 1, 0),
        ('d2', timestamptz '2025-02-02 10:00:00+00', timestamptz '2025-02-02 10:05:00+00',
         timestamptz '2025-02-02 10:06:00+00', 'failure', 30.0, 2, 1))
        t(deployment_id, created_at, deployed_at, finished_at, outcome, lead_time_median_minutes,
          change_count, incident_count)""")
    con.execute("""create table marts.fct_changes as select * from (values
        ('acme/api', 'abc', timestamptz '2025-02-01 09:00:00+00', 'd1',
         timestamptz '2025-02-01 10:05:00+00', 65.0))
        t(repository, commit_sha, started_at, deployment_id, deployed_at, lead_time_minutes)""")
    con.execute(f"""create table marts.fct_incidents as select * from (values
        ('P1', timestamptz '2025-02-02 11:00:00+00', timestamptz '2025-02-02 11:30:00+00', {ttr}, 'window'))
        t(incident_id, created_at, resolved_at, time_to_restore_minutes, attribution_method)""")
    days = ["2025-02-01", "2025-02-02", "2025-02-04" if gap else "2025-02-03"]
    values = ", ".join(f"('day', date '{d}', 'all', 1, {rate}, 0.0, 10.0)" for d in days)
    values += ", ('month', date '2025-01-01', 'all', 3, 0.1, 0.0, 10.0)"
    values += ", ('month', date '2025-02-01', 'all', 3, 0.1, 0.0, 10.0)"
    con.execute(f"""create table marts.dora_metrics as select * from (values {values})
        t(period_grain, period_start, service, deployments, change_failure_rate, rework_rate,
          lead_time_median_minutes)""")
    con.execute("""create table marts.dora_metrics_by_team as
        select period_grain, period_start, 'core' as team, deployments, change_failure_rate, rework_rate
        from marts.dora_metrics""")
    con.execute(f"""create table marts.dora_coverage as
        select * from (values
            ('merged_pull_requests_in_production', 'merged PRs deployed', {coverage * 10}, 10, {coverage}::double),
            ('deployments_with_change_set', 'deployments with a change set', 4, 4, 1.0::double),
            ('incidents_attributed', 'incidents attributed', 0, 0, null::double)
        ) t(measure, description, numerator, denominator, share)""")
    create_other_marts_empty(con)
    con.close()


def create_other_marts_empty(con) -> None:
    """The marts of the YAML contract not made by hand here, as empty tables with their declared columns."""
    import yaml

    from doraflow.quality.marts import MARTS_CONTRACT

    made = {
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'"
        ).fetchall()
    }
    for model in yaml.safe_load(MARTS_CONTRACT.read_text())["models"]:
        if model["name"] not in made:
            columns = ", ".join(f'"{c["name"]}" {c.get("data_type") or "text"}' for c in model["columns"])
            con.execute(f"create table marts.{model['name']} ({columns})")


def test_clean_marts_pass(settings):
    settings.warehouse_path.parent.mkdir(parents=True)
    make_marts(settings.warehouse_path)
    result = check_marts(settings, env={})
    assert result.critical_failures == [] and result.warnings == []
    volume = [r for r in result.results if r.expectation == "expect_table_row_count_to_be_between"]
    assert {r.table: r.observed_value for r in volume}["marts.dora_metrics"] == 5.0
    assert (settings.data_docs_dir / "marts" / "index.html").is_file()


def test_bad_marts_fail_critical(settings):
    settings.warehouse_path.parent.mkdir(parents=True)
    make_marts(settings.warehouse_path, rate=1.5, ttr=-4.0, gap=True)
    result = check_marts(settings, env={})
    failed = failures(result, "marts.dora_metrics")
    rate = failed[("expect_column_values_to_be_between", "change_failure_rate")]
    assert rate.failing_count == 3  # the three day rows at 1.5; the month rows hold 0.1
    incidents = failures(result, "marts.fct_incidents")
    ttr = incidents[("expect_column_values_to_be_between", "time_to_restore_minutes")]
    assert ttr.sample[0]["incident_id"] == "P1"
    gap_check = (
        "expect_column_pair_values_to_be_equal",
        "previous_period_start = expected_previous_period_start",
    )
    gap = failed[gap_check]
    # 2025-02-04 follows 2025-02-02: one row whose previous period is not the day before
    assert gap.failing_count == 1
    assert str(gap.sample[0]["period_start"]).startswith("2025-02-04")
    assert failures(result, "marts.dora_metrics_by_team")[gap_check].failing_count == 1
    with pytest.raises(QualityGateError, match=r"quality gate failed: .* on marts\."):
        result.raise_for_critical()


def test_missing_mart_and_coverage_warning(settings, tmp_path):
    settings.warehouse_path.parent.mkdir(parents=True)
    make_marts(settings.warehouse_path, coverage=0.4)
    con = duckdb.connect(str(settings.warehouse_path))
    con.execute("drop table marts.fct_changes")
    con.close()
    result = check_marts(settings, env={"QUALITY_MIN_COVERAGE_DEPLOYMENTS_WITH_CHANGE_SET": "1"})
    assert [(r.expectation, r.table) for r in result.critical_failures] == [
        ("expect_table_to_exist", "marts.fct_changes")
    ]
    assert [(r.suite, r.column) for r in result.warnings] == [
        ("marts.dora_coverage.merged_pull_requests_in_production", "share")
    ]  # 0.4 < default floor 0.5; the change-set share meets its own floor of 1; no incidents: NULL, no sample
    assert result.warnings[0].sample[0]["share"] == 0.4


def test_volume_band_from_history(settings):
    from doraflow.ops import RunRecorder

    settings.warehouse_path.parent.mkdir(parents=True)
    make_marts(settings.warehouse_path)
    for rows in (20.0, 22.0, 18.0):  # median 20 -> band [10, 30] with the default tolerance 0.5
        recorder = RunRecorder(settings, "cli")
        check = CheckResult("s", "expect_table_row_count_to_be_between", "marts.dora_metrics", "warning",
                            True, observed_value=rows)  # fmt: skip
        recorder.record_checks(QualityResult([check]))
        recorder.finish("success")
    result = check_marts(settings, env={})
    assert [(r.table, r.observed_value) for r in result.warnings] == [("marts.dora_metrics", 5.0)]
    assert check_marts(settings, env={"QUALITY_VOLUME_TOLERANCE": "0.8"}).warnings == []  # band [4, 36]


def test_thresholds_validate_environment():
    assert thresholds({}).min_coverage == 0.5
    floors = thresholds({"QUALITY_MIN_COVERAGE_INCIDENTS_ATTRIBUTED": "0.7"})
    assert floors.coverage_floor("incidents_attributed") == 0.7
    with pytest.raises(ConfigError, match="QUALITY_MIN_COVERAGE must be a number between 0 and 1, got '2'"):
        thresholds({"QUALITY_MIN_COVERAGE": "2"})
    with pytest.raises(ConfigError, match="QUALITY_VOLUME_HISTORY_RUNS"):
        thresholds({"QUALITY_VOLUME_HISTORY_RUNS": "zero"})


def test_quality_import_is_cheap():
    import subprocess
    import sys

    code = "import sys, doraflow.quality, doraflow.ops, doraflow.notify, doraflow.airflow_settings\n"
    code += "print('great_expectations' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_flagged_negative_lead_time_passes_the_gate_and_an_unflagged_one_stops_it(settings):
    settings.warehouse_path.parent.mkdir(parents=True)
    make_marts(settings.warehouse_path)
    con = duckdb.connect(str(settings.warehouse_path))
    # A commit authored 30 minutes after its deployment (clock skew): flagged by dbt, its lead time NULL.
    con.execute("""create or replace table marts.fct_changes as select * from (values
        ('acme/api', 'abc', timestamptz '2025-02-01 09:00:00+00', 'd1', timestamptz '2025-02-01 10:05:00+00',
         65.0, false, null),
        ('acme/api', 'def', timestamptz '2025-02-01 10:35:00+00', 'd1', timestamptz '2025-02-01 10:05:00+00',
         null, true, 'negative_lead_time'))
        t(repository, commit_sha, started_at, deployment_id, deployed_at, lead_time_minutes, is_negative_lead_time,
          data_error)""")
    con.close()
    assert check_marts(settings, env={}).critical_failures == []

    con = duckdb.connect(str(settings.warehouse_path))
    con.execute(
        "update marts.fct_changes set is_negative_lead_time = false, data_error = null, lead_time_minutes = -30 "
        "where commit_sha = 'def'"
    )
    con.close()
    failed = {(r.expectation, r.column) for r in check_marts(settings, env={}).critical_failures}
    assert failed == {
        ("expect_column_values_to_be_between", "lead_time_minutes"),
        ("expect_column_pair_values_a_to_be_greater_than_b", "deployed_at >= started_at"),
    }


def test_data_docs_are_built_with_a_relative_warehouse_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    relative = load_settings({"WAREHOUSE_PATH": "wh/dora.duckdb"})  # the default is relative too
    relative.warehouse_path.parent.mkdir(parents=True)
    make_marts(relative.warehouse_path)
    result = check_marts(relative, env={})
    assert result.critical_failures == []
    assert (tmp_path / "wh" / "data_docs" / "marts" / "index.html").is_file()


def test_flagged_incident_data_error_warns_and_an_unflagged_one_stops_the_gate(settings):
    settings.warehouse_path.parent.mkdir(parents=True)
    make_marts(settings.warehouse_path)
    con = duckdb.connect(str(settings.warehouse_path))
    # P2 resolved an hour before it was created (clock skew): flagged by dbt, no time to restore.
    con.execute("""create or replace table marts.fct_incidents as select * from (values
        ('P1', timestamptz '2025-02-02 11:00:00+00', timestamptz '2025-02-02 11:30:00+00', 30.0, 'window', null),
        ('P2', timestamptz '2025-02-03 11:00:00+00', timestamptz '2025-02-03 10:00:00+00', null, null,
         'resolved_before_created'))
        t(incident_id, created_at, resolved_at, time_to_restore_minutes, attribution_method, data_error)""")
    con.close()
    result = check_marts(settings, env={})
    assert result.critical_failures == []
    flagged = [w for w in result.warnings if w.column == "data_error"]
    assert [(w.suite, w.expectation, w.failing_count) for w in flagged] == [
        ("marts.fct_incidents", "expect_column_values_to_be_null", 1)
    ]
    assert flagged[0].sample[0]["incident_id"] == "P2"

    con = duckdb.connect(str(settings.warehouse_path))
    con.execute("update marts.fct_incidents set data_error = null")
    con.close()
    failed = {(r.expectation, r.column) for r in check_marts(settings, env={}).critical_failures}
    assert failed == {("expect_column_pair_values_a_to_be_greater_than_b", "resolved_at >= created_at")}
