"""A load SIGKILLed inside a commit group's transaction, then rerun, equals an uninterrupted load."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime

import duckdb

from doraflow.config import load_settings
from doraflow.raw_loader import load_pending_batches, pending_batches
from extractors.landing import ScopeIndex
from extractors.streams import STREAMS

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def snapshot(path):
    with duckdb.connect(str(path), read_only=True) as con:
        tables = {}
        for spec in STREAMS:
            columns = "_key, _scope, _parent_id, payload::varchar, _batch_id"
            tables[spec.table] = con.execute(
                f"select {columns} from raw.{spec.table} order by _key"
            ).fetchall()
        tables["_loaded_batches"] = con.execute(
            "select batch_id, record_count, quarantined_count, state::varchar "
            "from raw._loaded_batches order by 1"
        ).fetchall()
        tables["_quarantine"] = con.execute(
            "select batch_id, line_number, reason from raw._quarantine order by 1, 2"
        ).fetchall()
    return tables


def test_load_killed_mid_transaction_converges(tmp_path):
    env = {"WAREHOUSE_PATH": str(tmp_path / "a" / "dora.duckdb")}
    settings = load_settings(env)
    moment = datetime(2026, 3, 1, tzinfo=UTC)
    for version in range(4):  # four versions of the same PRs, plus a bad record each time
        records = [(None, {"number": n, "title": f"v{version}"}) for n in range(1, 30)] + [
            (None, {"title": "bad"})
        ]
        ScopeIndex(settings.landing_dir, "github", "pull_requests", "acme/api").write_batch(
            records, {"watermark": f"v{version}"}, moment
        )
        ScopeIndex(settings.landing_dir, "jira", "issues", "PAY").write_batch(
            [(None, {"id": str(n), "v": version}) for n in range(5)], None, moment
        )
    clean = load_settings({"WAREHOUSE_PATH": str(tmp_path / "b" / "dora.duckdb")})
    shutil.copytree(settings.landing_dir, clean.landing_dir)

    script = textwrap.dedent(
        f"""
        from doraflow.config import load_settings
        from doraflow.raw_loader import load_pending_batches
        load_pending_batches(load_settings({{"WAREHOUSE_PATH": {env["WAREHOUSE_PATH"]!r}}}), progress=print)
        """
    )
    killed = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        env={**os.environ, "DORAFLOW_KILL_LOAD_AT_BATCH": "6"},
        capture_output=True,
        text=True,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    # one commit group per table: the pull requests (batches 1, 3, 5, 7) committed, the Jira group
    # holding batch 6 rolled back
    assert [p.parts[-3] for p in pending_batches(settings)] == ["jira"] * 4

    resumed = load_pending_batches(settings, progress=lambda line: None)
    assert resumed.batches == 4
    load_pending_batches(clean, progress=lambda line: None)
    assert snapshot(settings.warehouse_path) == snapshot(clean.warehouse_path)
