"""Bad data in a landed batch stops the run before publish; the published serving copy stays as it was."""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from doraflow.errors import QualityGateError


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def land_bad_incidents(landing: Path) -> Path:
    """A complete batch per docs/architecture.md with a duplicate key, a resolved time before creation and a
    resolved time that is no timestamp."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    batch_id = f"{stamp}-pagerduty-incidents-badbad01"
    folder = landing / "pagerduty" / "incidents"
    records = [
        {"id": "QBAD1", "created_at": "2025-03-01T10:00:00Z", "updated_at": "2025-03-01T10:00:00Z",
         "resolved_at": "2025-03-01T11:00:00Z", "status": "resolved", "urgency": "high"},
        {"id": "QBAD1", "created_at": "2025-03-01T10:00:00Z", "updated_at": "2025-03-01T10:30:00Z",
         "resolved_at": "2025-03-01T11:00:00Z", "status": "resolved", "urgency": "high"},
        {"id": "QBAD2", "created_at": "2025-03-02T10:00:00Z", "updated_at": "2025-03-02T10:00:00Z",
         "resolved_at": "2025-03-02T09:00:00Z", "status": "resolved", "urgency": "low"},
        {"id": "QBAD3", "created_at": "2025-03-03T10:00:00Z", "updated_at": "2025-03-03T10:00:00Z",
         "resolved_at": "yesterday", "status": "resolved", "urgency": "low"},
    ]  # fmt: skip
    header = {"batch_id": batch_id, "source": "pagerduty", "stream": "incidents", "scope": "pagerduty",
              "extracted_at": datetime.now(UTC).isoformat(), "record_count": len(records), "state": None}  # fmt: skip
    tmp = folder / f"{batch_id}.jsonl.gz.tmp"
    with gzip.open(tmp, "wt", encoding="utf-8") as handle:
        handle.write(json.dumps(header) + "\n")
        for record in records:
            handle.write(json.dumps({"parent_id": None, "payload": record}) + "\n")
    final = folder / f"{batch_id}.jsonl.gz"
    tmp.rename(final)
    return final


@pytest.mark.slow
def test_bad_batch_stops_before_publish_and_keeps_the_serving_copy(tmp_path):
    from doraflow.config import load_settings
    from doraflow.pipeline import run_pipeline
    from simulator import Simulator, SimulatorConfig

    lines: list[str] = []
    with Simulator(SimulatorConfig(seed=11, repositories=2, days=20)) as sim:
        settings = load_settings({**sim.env(), "WAREHOUSE_PATH": str(tmp_path / "wh" / "dora.duckdb")})
        first = run_pipeline(settings, trigger="cli", progress=lines.append)
        assert first.status == "success"
        published = digest(settings.serving_path)
        bad = land_bad_incidents(settings.landing_dir)
        with pytest.raises(QualityGateError) as error:
            run_pipeline(settings, trigger="cli", progress=lines.append)

    message = str(error.value)
    assert message.startswith("quality gate failed: ")
    assert "on landing pagerduty/incidents" in message
    # the malformed timestamp stops it; the duplicate key (a list shifted while paged) and the resolved-before-created
    # incident (clock skew: dbt flags it as a data error) are warnings
    assert "expect_column_values_to_match_regex(resolved_at)" in message
    assert "QBAD" in message and bad.name.removesuffix(".jsonl.gz") in message  # a sample of failing rows
    assert "more critical failure" not in message
    assert digest(settings.serving_path) == published  # publish never ran
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        assert con.execute(
            "select count(*) from raw.pagerduty__incidents where _key like 'QBAD%'"
        ).fetchone() == (0,)
        runs = con.execute("select status, error from ops.pipeline_runs order by started_at").fetchall()
        assert [r[0] for r in runs] == ["success", "failed"] and "quality gate failed" in runs[1][1]
        failed_checks = con.execute(
            "select expectation from ops.check_results join ops.pipeline_runs using (run_id) "
            "where pipeline_runs.status = 'failed' and not success"
        ).fetchall()
        assert ("expect_compound_columns_to_be_unique",) in failed_checks  # the stopped gate is recorded
        assert ("expect_column_pair_values_a_to_be_greater_than_b",) in failed_checks
        assert ("expect_column_values_to_match_regex",) in failed_checks
    finally:
        con.close()
