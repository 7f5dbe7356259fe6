"""Run figures in ops.*, the marts.pipeline_runs view, failure notifications, Airflow settings."""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import duckdb
import pytest

from doraflow.config import ConfigError, load_settings
from doraflow.ops import DDL, RunRecorder, airflow_run_id
from doraflow.quality import CheckResult, QualityResult

REPO = Path(__file__).resolve().parents[1]
T0 = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)


@pytest.fixture
def settings(tmp_path):
    return load_settings({"WAREHOUSE_PATH": str(tmp_path / "wh" / "dora.duckdb")})


def stream(source, stream_, scope, requests, records, batches):
    return {"source": source, "stream": stream_, "scope": scope, "requests": requests, "not_modified": 1,
            "pages": requests, "records": records, "batches": batches, "elapsed_seconds": 0.5}  # fmt: skip


def quality(*outcomes):
    return QualityResult([CheckResult("s", e, "marts.t", sev, ok, 0 if ok else 2, [] if ok else [{"id": 1}])
                          for e, sev, ok in outcomes])  # fmt: skip


def add_raw_table(settings, extracted_at):
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(settings.warehouse_path))
    con.execute("create schema if not exists raw")
    con.execute("create table raw.pagerduty__incidents (_key varchar, _extracted_at timestamptz)")
    con.execute(
        "insert into raw.pagerduty__incidents values ('a', ?), ('b', ?)", [extracted_at, extracted_at]
    )
    con.close()


def test_finish_writes_every_table_in_one_go(settings):
    add_raw_table(settings, datetime.now(UTC) - timedelta(hours=5))
    recorder = RunRecorder(settings, "cli")
    recorder.record_streams([stream("github", "pull_requests", "acme/api", 4, 120, 1),
                             stream("pagerduty", "incidents", "pagerduty", 2, 7, 1)])  # fmt: skip
    recorder.record_step("extract", T0, T0 + timedelta(seconds=30), "success")
    recorder.record_step("load", T0 + timedelta(seconds=30), T0 + timedelta(seconds=42), "success")
    recorder.record_checks(quality(("expect_a", "critical", True), ("expect_b", "warning", False)))
    recorder.finish("success")
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    run = con.execute("select run_id, trigger, status, error from ops.pipeline_runs").fetchall()
    assert run == [(recorder.run_id, "cli", "success", None)]
    assert con.execute("select sum(requests), sum(records) from ops.stream_runs").fetchone() == (6, 127)
    assert con.execute("select step, duration_seconds from ops.step_runs order by started_at").fetchall() == [
        ("extract", 30.0), ("load", 12.0)]  # fmt: skip
    checks = con.execute("select expectation, severity, success, failing_count, sample from ops.check_results "
                         "order by expectation").fetchall()  # fmt: skip
    assert checks == [
        ("expect_a", "critical", True, 0, "[]"),
        ("expect_b", "warning", False, 2, '[{"id": 1}]'),
    ]
    fresh = con.execute(
        "select table_name, source, row_count, age_hours from ops.source_freshness"
    ).fetchone()
    assert fresh[:3] == ("raw.pagerduty__incidents", "pagerduty", 2) and 4.9 < fresh[3] < 5.1
    con.close()


def test_finish_is_idempotent_per_run_and_records_failures(settings):
    recorder = RunRecorder(settings, "demo")
    recorder.record_streams([stream("jira", "issues", "ABC", 3, 40, 1)])
    recorder.finish("running")
    recorder.finish("failed", error="quality gate failed: expect_x on marts.t: 2 failing rows, e.g. [...]")
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    assert con.execute("select status, error from ops.pipeline_runs").fetchall() == [
        ("failed", "quality gate failed: expect_x on marts.t: 2 failing rows, e.g. [...]")]  # fmt: skip
    assert con.execute("select count(*) from ops.stream_runs").fetchone() == (1,)  # replaced, not doubled
    con.close()


def test_unknown_trigger_is_refused(settings):
    with pytest.raises(ValueError, match="trigger must be one of cli, demo, airflow"):
        RunRecorder(settings, "cron")


def test_spool_round_trip_for_airflow_tasks(settings):
    run_id = airflow_run_id("dora_nightly", "scheduled__2025-03-01T02:00:00+00:00")
    assert run_id == "airflow-dora_nightly-scheduled__2025-03-01T02_00_00_00_00"
    # three tasks, each recording into its own recorder as doraflow.pipeline.execute does, then spooling it
    for index, (scope, records, seconds) in enumerate((("acme/api", 9, 3), ("acme/web", 4, 5))):
        task = RunRecorder(settings, "airflow", run_id=run_id)
        task.record_step("extract", T0 + timedelta(seconds=index), T0 + timedelta(seconds=seconds), "success",
                         {"scope": f"github commits {scope}"})  # fmt: skip
        task.record_streams([stream("github", "commits", scope, 2, records, 1)])
        task.spool(f"extract_github__commits-{index}")
    gate = RunRecorder(settings, "airflow", run_id=run_id)
    gate.record_step("check marts", T0 + timedelta(seconds=9), T0 + timedelta(seconds=10), "failed",
                     {"error": "boom"})  # fmt: skip
    gate.record_checks(quality(("expect_c", "critical", False)))
    gate.record_freshness([{"source": "github", "table": "github__commits", "status": "pass",
                            "max_loaded_at": "2025-03-01", "age_seconds": 60.0}])  # fmt: skip
    gate.spool("check_marts")
    recorder = RunRecorder.from_spool(settings, run_id)
    assert recorder.run_id == run_id and recorder.started_at == T0
    assert [s.step for s in recorder.steps] == ["extract", "extract", "check marts"]
    assert [s["records"] for s in recorder.streams] == [9, 4] and recorder.checks[0][
        "expectation"
    ] == "expect_c"
    recorder.finish("failed", error="check marts: boom")
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    assert con.execute("select trigger, status from ops.pipeline_runs").fetchall() == [("airflow", "failed")]
    # the two mapped extracts are one step row, as the CLI's one extract call: first start to last finish
    assert con.execute("select step, duration_seconds, status from ops.step_runs order by started_at").fetchall() == [
        ("extract", 5.0, "success"), ("check marts", 1.0, "failed")]  # fmt: skip
    assert con.execute("select source, table_name, status from ops.dbt_source_freshness").fetchall() == [
        ("github", "github__commits", "pass")]  # fmt: skip
    con.close()


def test_pipeline_runs_model_repeats_the_ops_ddl():
    sql = (REPO / "dbt_project" / "models" / "ops" / "pipeline_runs.sql").read_text(encoding="utf-8")
    hooks = re.findall(r'^\s+"((?:create|alter) [^"]+)",?$', sql, flags=re.M)
    assert tuple(hooks) == DDL


@pytest.mark.slow
def test_pipeline_runs_view_shows_the_latest_run(settings, tmp_path):
    import subprocess
    import sys

    from doraflow.transform import PROJECT_DIR

    first = RunRecorder(settings, "cli", started_at=T0)
    first.record_streams([stream("github", "pull_requests", "acme/api", 4, 120, 1)])
    first.finish("success")
    second = RunRecorder(settings, "airflow", started_at=T0 + timedelta(days=1))
    second.record_checks(quality(("expect_a", "critical", False), ("expect_b", "warning", False)))
    second.finish("failed", error="quality gate failed")
    env = {"DBT_DUCKDB_PATH": str(settings.warehouse_path), "PATH": str(Path(sys.executable).parent)}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), "build", "--select", "pipeline_runs", "--project-dir",
         str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR), "--target-path", str(tmp_path / "target"),
         "--log-path", str(tmp_path / "logs")],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:]
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    rows = con.execute("select trigger, status, is_latest, requests, records_extracted, critical_failures, "
                       "warnings from marts.pipeline_runs order by started_at").fetchall()  # fmt: skip
    assert rows == [("cli", "success", False, 4, 120, 0, 0), ("airflow", "failed", True, 0, 0, 1, 1)]
    con.close()


class _Hook(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append((self.path, self.headers["Content-Type"], json.loads(body)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_on_failure_posts_json_to_the_webhook(caplog):
    from doraflow.notify import on_failure

    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/hooks/secret-token-123"

    class TI:
        dag_id, task_id, run_id, map_index, try_number = "dora_nightly", "check_marts", "manual__1", -1, 2

    alert = on_failure({"ti": TI(), "exception": ValueError("gate failed")}, env={"ALERT_WEBHOOK_URL": url})
    thread.join(timeout=30)
    server.server_close()
    path, content_type, body = _Hook.received[-1]
    assert path == "/hooks/secret-token-123" and content_type == "application/json"
    assert body["message"] == "dora_nightly.check_marts failed in run manual__1: gate failed"
    assert body["error"] == "ValueError: gate failed" and body["try_number"] == 2
    assert alert["delivered"] is True
    assert "secret-token-123" not in caplog.text  # the webhook URL is never logged


def test_on_failure_without_webhook_or_unreachable_never_raises(caplog):
    from doraflow.notify import on_failure

    assert on_failure("doraflow run x failed: boom", env={})["message"] == "doraflow run x failed: boom"
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    port = server.server_port
    server.server_close()  # nothing listens there any more
    alert = on_failure("boom", env={"ALERT_WEBHOOK_URL": f"http://127.0.0.1:{port}/t0ken"})
    assert "delivered" not in alert
    assert "could not be reached" in caplog.text and "t0ken" not in caplog.text


class Conn:
    def __init__(self, host=None, login=None, password=None, extra=None, schema=None, port=None):
        self.host, self.login, self.password, self.schema, self.port = host, login, password, schema, port
        self.extra_dejson = extra or {}


def test_settings_from_connections_with_env_fallback():
    from doraflow.airflow_settings import settings_from_airflow

    connections = {
        "github": Conn(
            "https://ghe.example.com/api/v3", password="gh-token", extra={"repos": ["acme/api", "acme/web"]}
        ),
        "jira": None,  # not defined: the environment variables apply
        "pagerduty": Conn("api.pagerduty.com", password="pd-token", extra={"service_ids": "P1,P2"}),
    }
    env = {"WAREHOUSE_PATH": "/tmp/x/dora.duckdb", "GITHUB_TOKEN": "env-token", "JIRA_BASE_URL": "https://a.atlassian.net",
           "JIRA_EMAIL": "me@example.com", "JIRA_API_TOKEN": "jira-token", "JIRA_PROJECTS": "ABC"}  # fmt: skip
    settings = settings_from_airflow(env, get_connection=connections.get)
    assert settings.github.api_url == "https://ghe.example.com/api/v3"
    assert settings.github.token.reveal() == "gh-token" and settings.github.repos == ("acme/api", "acme/web")
    assert settings.jira.projects == ("ABC",) and settings.jira.api_token.reveal() == "jira-token"
    assert settings.pagerduty.api_url == "https://api.pagerduty.com" and settings.pagerduty.service_ids == (
        "P1",
        "P2",
    )
    assert "gh-token" not in repr(settings)


def test_connection_extra_of_the_wrong_shape_names_the_connection():
    from doraflow.airflow_settings import settings_from_airflow

    bad = {"github": Conn("https://api.github.com", password="t", extra={"repos": {"a": 1}}), "jira": None,
           "pagerduty": None}  # fmt: skip
    with pytest.raises(ConfigError, match="Airflow connection 'github': extra 'repos' must be a list"):
        settings_from_airflow({"WAREHOUSE_PATH": "/tmp/x/d.duckdb"}, get_connection=bad.get)


def test_parse_time_settings_from_env():
    from doraflow import airflow_settings as af

    assert (
        af.schedule({}) == "0 2 * * *"
        and af.schedule({"DORA_NIGHTLY_SCHEDULE": "15 4 * * 1-5"}) == "15 4 * * 1-5"
    )
    with pytest.raises(ConfigError, match="DORA_NIGHTLY_SCHEDULE must be a cron expression"):
        af.schedule({"DORA_NIGHTLY_SCHEDULE": "every night"})
    assert af.timezone_name({}) == "UTC"
    assert af.extract_retries({}) == 3 and af.extract_retries({"DORA_EXTRACT_RETRIES": "0"}) == 0
    with pytest.raises(ConfigError, match="DORA_TASK_RETRIES"):
        af.task_retries({"DORA_TASK_RETRIES": "-1"})


def test_airflow_notifier_posts_one_alert_listing_the_failed_tasks(monkeypatch):
    from doraflow.airflow_notify import WebhookNotifier

    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    monkeypatch.setenv("ALERT_WEBHOOK_URL", f"http://127.0.0.1:{server.server_port}/hook")
    _Hook.received.clear()

    class DagRun:
        dag_id, run_id = "dora_nightly", "scheduled__2025-03-01"

    class TI:  # the part of Airflow's RuntimeTaskInstance the notifier reads
        @staticmethod
        def get_task_states(dag_id, run_ids):
            assert (dag_id, run_ids) == ("dora_nightly", ["scheduled__2025-03-01"])
            return {"scheduled__2025-03-01": {"extract_github__pull_requests_0": "failed", "plan_jira": "success",
                                              "extract_github__pull_requests_1": "failed", "load": "upstream_failed",
                                              "record_ops": "running"}}  # fmt: skip

    notifier = WebhookNotifier(error="extract: HTTP 500", steps=["extract"])
    notifier({"ti": TI(), "dag_run": DagRun()})
    thread.join(timeout=30)
    server.server_close()
    assert len(_Hook.received) == 1  # one alert for the run, however many mapped tasks failed
    body = _Hook.received[0][2]
    assert body["failed_tasks"] == ["extract_github__pull_requests_0", "extract_github__pull_requests_1"]
    assert body["message"] == (
        "dora_nightly run scheduled__2025-03-01 failed: extract: HTTP 500; failed tasks: "
        "extract_github__pull_requests_0, extract_github__pull_requests_1"
    )
    assert body["failed_steps"] == ["extract"] and body["dag_id"] == "dora_nightly"
