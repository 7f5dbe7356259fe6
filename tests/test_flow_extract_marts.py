"""Draft -> ready times, lines changed and CI jobs in the flow marts: the hand-made scenario of
tests/fixtures/metrics/flow_scenario.py with the rows the GraphQL path (or REST with GITHUB_PULL_REQUEST_DETAILS
and GITHUB_CI_JOBS) adds. Every expected value is worked out in the comments from this timeline (2024, UTC):

    PR #1 (opened 03-04 12:00; first review bob 14:00; merged 03-05 11:00), opened as a draft:
        ready_for_review 12:30, convert_to_draft 13:00, ready_for_review 13:30, (first review 14:00),
        convert_to_draft 14:40, ready_for_review 15:20
        sizes: additions 50, deletions 20 (the list payload's 30/12 are removed: the list has none)
    PR #2 (draft, opened 03-01 09:00, open): convert_to_draft 03-01 10:00 (so it was opened ready),
        ready_for_review 03-02 09:00, convert_to_draft 03-02 10:00; no sizes
    jobs of W1 (CI, pull_request on a2, created 12:00): build 12:00 -> started 12:02 -> done 12:05; unit-tests
        12:05 -> 12:06 -> 12:12; integration-tests 12:05 -> 12:07 -> 12:10; Security scan 12:05 -> 12:06 -> 12:08;
        unit-tests (3.12) 12:04 -> 12:08 -> 12:12; deploy-preview skipped at 12:12 (did not run)
    jobs of W2 (Lint, created 12:00, re-run): attempt 1 lint 12:00 -> 12:04 -> 12:08 failure;
        attempt 2 lint 12:29 -> 12:30 -> 12:36 success
"""

from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from doraflow.config import load_settings
from doraflow.transform import dbt_build

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "metrics"))
import flow_scenario as scenario  # noqa: E402
import golden_scenario  # noqa: E402
from marts_compare import sorted_rows  # noqa: E402

REPO = scenario.REPO
TODAY = date(2024, 3, 11)
MARTS = (
    "fct_value_stream",
    "fct_value_stream_pull_requests",
    "fct_ci_jobs",
    "ci_stage_metrics",
    "flow_metrics",
)


def _event(event_id: int, number: int, event: str, at: str) -> tuple:
    payload = {"id": event_id, "event": event, "actor": {"login": "alice", "type": "User"}, "created_at": at}
    return (f"{REPO}#{event_id}", REPO, str(number), payload)


def _job(
    job_id: int, run_id: int, attempt: int, name: str, times: tuple[str, str, str], conclusion: str
) -> tuple:
    created, started, completed = (f"2024-03-04T{t}:00Z" for t in times)
    payload = {
        "id": job_id,
        "run_id": run_id,
        "run_attempt": attempt,
        "workflow_name": "CI" if run_id == 901 else "Lint",
        "name": name,
        "status": "completed",
        "conclusion": conclusion,
        "created_at": created,
        "started_at": started,
        "completed_at": completed,
        "runner_name": "GitHub Actions 7",
        "steps": [{"name": "Run", "number": 1, "status": "completed", "conclusion": conclusion}],
    }
    return (f"{REPO}#{job_id}", REPO, str(run_id), payload)


def rows_with_details() -> dict:
    rows = scenario.raw_rows()
    for _key, _scope, _parent, pull in rows["github__pull_requests"]:
        pull.pop("additions", None)
        pull.pop("deletions", None)
    rows["github__pull_request_sizes"] = [
        (f"{REPO}#1", REPO, "1", {"number": 1, "additions": 50, "deletions": 20, "changed_files": 4})
    ]
    rows["github__pull_request_events"] = [
        _event(501, 1, "ready_for_review", "2024-03-04T12:30:00Z"),
        _event(502, 1, "convert_to_draft", "2024-03-04T13:00:00Z"),
        _event(503, 1, "ready_for_review", "2024-03-04T13:30:00Z"),
        _event(504, 1, "convert_to_draft", "2024-03-04T14:40:00Z"),
        _event(505, 1, "ready_for_review", "2024-03-04T15:20:00Z"),
        _event(511, 2, "convert_to_draft", "2024-03-01T10:00:00Z"),
        _event(512, 2, "ready_for_review", "2024-03-02T09:00:00Z"),
        _event(513, 2, "convert_to_draft", "2024-03-02T10:00:00Z"),
    ]
    rows["github__workflow_jobs"] = [
        _job(9011, 901, 1, "build", ("12:00", "12:02", "12:05"), "success"),
        _job(9012, 901, 1, "unit-tests", ("12:05", "12:06", "12:12"), "success"),
        _job(9013, 901, 1, "integration-tests", ("12:05", "12:07", "12:10"), "success"),
        _job(9014, 901, 1, "Security scan", ("12:05", "12:06", "12:08"), "success"),
        _job(9015, 901, 1, "unit-tests (3.12)", ("12:04", "12:08", "12:12"), "success"),
        _job(9016, 901, 1, "deploy-preview", ("12:12", "12:12", "12:12"), "skipped"),
        _job(9021, 902, 1, "lint", ("12:00", "12:04", "12:08"), "failure"),
        _job(9022, 902, 2, "lint", ("12:29", "12:30", "12:36"), "success"),
    ]
    return rows


@pytest.fixture(scope="module")
def marts(tmp_path_factory):
    path = tmp_path_factory.mktemp("flow_extract") / "dora.duckdb"
    golden_scenario.write_duckdb(path, rows=rows_with_details())
    result = dbt_build(load_settings({"WAREHOUSE_PATH": str(path)}, today=TODAY), progress=lambda line: None)
    assert result.failures == []
    connection = duckdb.connect(str(path), read_only=True)
    yield connection
    connection.close()


def rows(connection, sql: str) -> list[dict]:
    cursor = connection.execute(sql)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def test_development_ends_at_the_last_ready_event_before_the_first_review(marts):
    (pull,) = rows(marts, "select * from marts.fct_value_stream_pull_requests")
    # opened as a draft (its first event is ready_for_review); ready events before the first review (14:00):
    # 12:30 and 13:30 -> the last, 13:30; the 15:20 one (after a review) does not move it
    assert pull["ready_for_review_at"] == datetime(2024, 3, 4, 13, 30)
    # development 09:00 -> 13:30 = 270; review 13:30 -> 03-05 11:00 = 21.5 h = 1290; testing, staging and
    # production as before (15, 25, 90): still 1690 in all
    assert (pull["stage_development_minutes"], pull["stage_review_minutes"]) == (270, 1290)
    assert 270 + 1290 + 15 + 25 + 90 == pull["lead_time_minutes"] == 1690
    assert pull["pickup_minutes"] == 30  # 13:30 -> bob's review at 14:00


def test_a_pull_request_opened_ready_keeps_its_creation_time(marts):
    (draft,) = rows(
        marts,
        "select * from intermediate.int_flow_pull_requests where pull_request_number = 2",
    )
    # its first event is convert_to_draft: it was opened ready, so development ends when it was opened
    assert not draft["is_opened_as_draft"]
    assert draft["ready_for_review_at"] == datetime(2024, 3, 1, 9)
    # no sizes fetched for it: NULL, not 0
    assert draft["additions"] is None and draft["deletions"] is None


def test_lines_changed_come_from_the_sizes_and_reach_flow_metrics(marts):
    (pull,) = rows(marts, "select * from marts.fct_value_stream_pull_requests")
    assert (pull["additions"], pull["deletions"], pull["lines_changed"]) == (50, 20, 70)
    (week,) = rows(
        marts,
        "select lines_changed_median from marts.flow_metrics where period_grain = 'week' and service = 'pay' "
        "and period_start = date '2024-03-04'",
    )
    assert week["lines_changed_median"] == 70  # the week's one merged pull request: 50 + 20


def test_jobs_give_the_first_attempt_of_a_rerun(marts):
    (change,) = rows(marts, "select * from marts.fct_value_stream_pull_requests")
    # W2's first attempt is known from its jobs: queued 12:00 -> 12:04 (4 min), first result 12:08 (failure);
    # head a2's feedback: pushed 12:00 -> first result 12:08 (W1's came at 12:12) = 8 min (12 without jobs)
    assert change["pr_ci_feedback_minutes"] == 8
    (value_stream,) = rows(
        marts, "select pr_ci_queue_minutes from marts.fct_value_stream where pull_request_number = 1"
    )
    assert value_stream["pr_ci_queue_minutes"] == 4  # the longest queue on a2: W2 4, W1 2 (12:00 -> 12:02)


def test_ci_jobs_mart_names_the_stages(marts):
    jobs = {r["workflow_job_id"]: r for r in rows(marts, "select * from marts.fct_ci_jobs")}
    assert len(jobs) == 8
    stages = {job_id: job["stage"] for job_id, job in jobs.items()}
    assert stages == {
        "9011": "build",
        "9012": "unit_tests",
        "9013": "integration_tests",
        "9014": "security_scan",
        "9015": "unit_tests",
        "9016": "deploy",
        "9021": "other",
        "9022": "other",
    }
    # build: created 12:00, started 12:02, done 12:05; integration tests 12:05 -> 12:07 -> 12:10
    assert (jobs["9011"]["queue_minutes"], jobs["9011"]["run_minutes"]) == (2, 3)
    assert (jobs["9013"]["queue_minutes"], jobs["9013"]["run_minutes"]) == (2, 3)
    assert (
        jobs["9022"]["is_rerun"] and not jobs["9021"]["is_rerun"] and jobs["9021"]["conclusion"] == "failure"
    )
    assert jobs["9011"]["service"] == "pay" and jobs["9011"]["commit_sha"] == golden_scenario.sha("a2")


def test_ci_stages_per_service_and_period(marts):
    found = rows(
        marts,
        "select * from marts.ci_stage_metrics where period_grain = 'week' and period_start = date '2024-03-04' "
        "and service = 'pay'",
    )
    by_stage = {row["stage"]: row for row in found}
    # (queue, run, elapsed) minutes of the jobs that ran: build (2, 3, 5); unit-tests (1, 6, 7) and
    # unit-tests (3.12) (4, 4, 8); integration-tests (2, 3, 5); Security scan (1, 2, 3); lint (4, 4, 8) and its
    # re-run (1, 6, 7). deploy-preview was skipped: no deploy row.
    assert sorted(by_stage) == ["all", "build", "integration_tests", "other", "security_scan", "unit_tests"]
    unit = by_stage["unit_tests"]
    assert (unit["jobs"], unit["rerun_jobs"], unit["rerun_job_share"]) == (2, 0, 0.0)
    # queue 1 and 4: p50 2.5, p90 1 + 0.9 * 3 = 3.7; run 6 and 4: p50 5, p90 4 + 0.9 * 2 = 5.8; elapsed p50 7.5
    assert unit["queue_median_minutes"] == pytest.approx(2.5)
    assert unit["queue_p90_minutes"] == pytest.approx(3.7)
    assert unit["run_median_minutes"] == pytest.approx(5.0)
    assert unit["run_p90_minutes"] == pytest.approx(5.8)
    assert unit["elapsed_median_minutes"] == 7.5
    other = by_stage["other"]
    assert (other["jobs"], other["rerun_jobs"], other["rerun_job_share"]) == (2, 1, 0.5)
    assert other["elapsed_median_minutes"] == 7.5  # (8 + 7) / 2
    assert (by_stage["build"]["queue_median_minutes"], by_stage["build"]["run_p90_minutes"]) == (2, 3)
    # the slowest stage by elapsed p50: unit_tests and other tie at 7.5, and unit_tests comes earlier in the
    # pipeline (then build = integration_tests 5, security_scan 3)
    assert {row["slowest_stage"] for row in found} == {"unit_tests"}
    every = by_stage["all"]
    # 7 jobs, 1 re-run: 1/7; queue 1 1 1 2 2 4 4: p50 2, p90 (rank 5.4) 4; run 2 3 3 4 4 6 6: p50 4, p90 6;
    # elapsed 3 5 5 7 7 8 8: p50 7, p90 8
    assert (every["jobs"], every["rerun_jobs"]) == (7, 1)
    assert every["rerun_job_share"] == pytest.approx(1 / 7)
    assert (every["queue_median_minutes"], every["queue_p90_minutes"]) == (2, 4)
    assert (every["run_median_minutes"], every["run_p90_minutes"]) == (4, 6)
    assert (every["elapsed_median_minutes"], every["elapsed_p90_minutes"]) == (7, 8)
    # one service: the organisation ('all') has the same figures; the month of March holds the same jobs
    (organisation,) = rows(
        marts,
        "select * from marts.ci_stage_metrics where period_grain = 'week' and period_start = date '2024-03-04' "
        "and service = 'all' and stage = 'all'",
    )
    assert {key: value for key, value in organisation.items() if key != "service"} == {
        key: value for key, value in every.items() if key != "service"
    }
    (month,) = rows(
        marts,
        "select jobs from marts.ci_stage_metrics where period_grain = 'month' and period_start = date '2024-03-01' "
        "and service = 'pay' and stage = 'all'",
    )
    assert month["jobs"] == 7


def test_the_value_stream_summary_names_the_slowest_ci_stage(marts):
    from doraflow.report.value_stream import collect_value_stream, format_value_stream_text

    text = format_value_stream_text(
        collect_value_stream(marts, {"grain": "week", "start": "2024-03-04"}), "pay"
    )
    # 7 jobs, 1 re-run attempt (14%); unit_tests: elapsed p50 7.5, queue p50 2.5, run p50 5 (above)
    assert (
        "  CI jobs: 7 jobs, 14% of them re-run attempts; slowest stage Unit tests, p50 7.5 min from queued to "
        "done (queue p50 2.5 min, run p50 5.0 min)."
    ) in text.splitlines()


@pytest.mark.slow
def test_postgres_gives_the_same_marts(marts, tmp_path, postgres_database):
    settings = load_settings(
        {
            "WAREHOUSE_TARGET": "postgres",
            "WAREHOUSE_POSTGRES_URL": postgres_database,
            "WAREHOUSE_PATH": str(tmp_path / "dora.duckdb"),
        },
        today=TODAY,
    )
    golden_scenario.write_postgres(postgres_database, rows=rows_with_details())
    assert dbt_build(settings, progress=lambda line: None).failures == []

    import psycopg2

    pg = psycopg2.connect(postgres_database)
    try:
        for table in MARTS:
            duck = sorted_rows(marts.cursor(), table)
            with pg.cursor() as cursor:
                assert sorted_rows(cursor, table) == duck, table
            assert duck[1], f"{table} is empty"
    finally:
        pg.close()
