"""Regressions against the baseline are said after a publish, and sent once through the alert webhook."""

from __future__ import annotations

import json
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, HTTPServer

import duckdb

from doraflow.config import load_settings
from doraflow.regressions import find_regressions, report_regressions


def make_baseline(path):
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    # Two complete weeks were compared; only the latest (11-16) counts. payments' lead time went from 60 to 150
    # minutes (+150%), its change failure rate from 0 (no relative change); search improved; a monthly row and an
    # older week's regression are not this week's news.
    con.execute("""create table marts.dora_baseline as select * from (values
        ('payments', 'week', 'lead_time_median_minutes', date '2026-11-16', 150.0, 60.0, 1.5, true),
        ('payments', 'week', 'change_failure_rate', date '2026-11-16', 0.25, 0.0, null, true),
        ('search', 'week', 'lead_time_median_minutes', date '2026-11-16', 30.0, 60.0, -0.5, false),
        ('search', 'month', 'lead_time_median_minutes', date '2026-10-01', 90.0, 60.0, 0.5, true),
        ('legacy', 'week', 'deployment_frequency_per_day', date '2026-11-09', 0.5, 1.0, -0.5, true))
        t(service, period_grain, metric, latest_period_start, latest_value, baseline_value, change_vs_baseline,
          is_regression)""")
    con.close()


def test_the_latest_weeks_regressions_are_printed_and_sent_once(tmp_path):
    received = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    settings = load_settings(
        {
            "WAREHOUSE_PATH": str(tmp_path / "dora.duckdb"),
            "ALERT_WEBHOOK_URL": f"http://127.0.0.1:{server.server_port}/hook",
        },
        today=date(2026, 11, 29),
    )
    make_baseline(settings.warehouse_path)
    lines: list[str] = []
    found = report_regressions(settings, progress=lines.append)
    thread.join(timeout=30)
    server.server_close()
    assert [(r.service, r.metric) for r in found] == [
        ("payments", "change_failure_rate"),
        ("payments", "lead_time_median_minutes"),
    ]
    assert lines == [
        "regression: payments change_failure_rate 25% in the week of 2026-11-16 (baseline 0%, from zero at baseline)",
        "regression: payments lead_time_median_minutes 150 min in the week of 2026-11-16 (baseline 60 min, "
        "+150% vs baseline)",
    ]
    assert len(received) == 1
    assert (
        received[0]["message"] == "doraflow: 2 regression(s) against the baseline in the week of 2026-11-16"
    )
    assert received[0]["kind"] == "regression" and received[0]["regressions"] == lines


def test_a_warehouse_without_the_flow_marts_has_no_regressions(tmp_path):
    settings = load_settings({"WAREHOUSE_PATH": str(tmp_path / "dora.duckdb")})
    duckdb.connect(str(settings.warehouse_path)).close()
    assert find_regressions(settings) == []
