"""Source values the models cannot use never stop a run (issue #10): the whole pipeline, landing to publish.

Two values documented by the APIs: Jira's changelog bulkfetch gives `created` as epoch milliseconds (a JSON
number, see /work/shared/specs/jira/changelog_bulkfetch_post.json), and PagerDuty can hand back an incident
resolved before it was created (clock skew, imports). The models read the first and flag the second
(tests/test_metrics_marts.py checks both on hand-made rows); this test runs the whole pipeline over them.

DEPENDS ON THE LANDING GATE (doraflow/quality/batches.py, helper h7's part of issue #10): today it treats a
numeric `created` and a resolved-before-created incident as critical and stops the run before the load. Once
that part is merged this test passes; `strict=True` turns the then-unexpected pass into a failure that says to
remove the marker.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest


def land(landing: Path, source: str, stream: str, scope: str, records: list[tuple[str | None, dict]]) -> None:
    """A complete batch in the layout of docs/architecture.md."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    batch_id = f"{stamp}-{source}-{stream}-e2e0msgy"
    folder = landing / source / stream
    folder.mkdir(parents=True, exist_ok=True)
    header = {"batch_id": batch_id, "source": source, "stream": stream, "scope": scope,
              "extracted_at": datetime.now(UTC).isoformat(), "record_count": len(records), "state": None}  # fmt: skip
    tmp = folder / f"{batch_id}.jsonl.gz.tmp"
    with gzip.open(tmp, "wt", encoding="utf-8") as handle:
        handle.write(json.dumps(header) + "\n")
        for parent_id, payload in records:
            handle.write(json.dumps({"parent_id": parent_id, "payload": payload}) + "\n")
    tmp.rename(folder / f"{batch_id}.jsonl.gz")


@pytest.mark.slow
def test_epoch_millisecond_changelogs_and_skewed_incidents_publish(tmp_path):
    from doraflow.config import load_settings
    from doraflow.pipeline import run_pipeline
    from simulator import Simulator, SimulatorConfig

    with Simulator(SimulatorConfig(seed=11, repositories=2, days=20)) as sim:
        settings = load_settings({**sim.env(), "WAREHOUSE_PATH": str(tmp_path / "wh" / "dora.duckdb")})
        assert run_pipeline(settings, trigger="cli", progress=lambda line: None).status == "success"
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
            issue_id, project, created = con.execute(
                "select payload->>'id', _scope, payload->'fields'->>'created' from raw.jira__issues "
                "order by _key limit 1"
            ).fetchone()
        # an hour after the issue's creation, as epoch milliseconds
        moved = datetime.fromisoformat(created.replace("+0000", "+00:00")).timestamp() + 3600
        history = {"id": "990001", "created": int(moved * 1000),
                   "items": [{"field": "status", "fieldtype": "jira", "fromString": "To Do",
                              "toString": "Blocked"}]}  # fmt: skip
        land(settings.landing_dir, "jira", "issue_changelogs", project, [(issue_id, history)])
        skewed = {"id": "QSKEW1", "incident_number": 990001, "title": "Skewed clock", "status": "resolved",
                  "urgency": "high", "created_at": "2025-03-02T10:00:00Z", "updated_at": "2025-03-02T10:00:00Z",
                  "resolved_at": "2025-03-02T09:00:00Z"}  # fmt: skip
        land(settings.landing_dir, "pagerduty", "incidents", "pagerduty", [(None, skewed)])
        second = run_pipeline(settings, trigger="cli", progress=lambda line: None)

    assert second.status == "success"
    with duckdb.connect(str(settings.serving_path), read_only=True) as con:
        blocked = con.execute(
            "select valid_from from marts.fct_issue_status_intervals where issue_id = ? and status = 'Blocked'",
            [issue_id],
        ).fetchall()
        assert blocked == [(datetime.fromtimestamp(moved, UTC).replace(tzinfo=None),)]
        assert con.execute(
            "select data_error, time_to_restore_minutes from marts.fct_incidents where incident_id = 'QSKEW1'"
        ).fetchall() == [("resolved_before_created", None)]
