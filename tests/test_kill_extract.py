"""SIGKILL in the middle of extraction and of loading, then rerun: the same raw tables as a clean run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import duckdb
import pytest

from doraflow.config import load_settings
from doraflow.raw_loader import load_pending_batches, pending_batches
from extractors import extract_sources
from extractors.streams import STREAMS

simulator = pytest.importorskip("simulator", reason="the simulator package is not importable")

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUIET = dict(progress=lambda line: None)
SCRIPT = {
    "extract": "from doraflow.config import load_settings\nfrom extractors import extract_sources\n"
    "extract_sources(load_settings(), progress=lambda line: None)\n",
    "load": "from doraflow.config import load_settings\nfrom doraflow.raw_loader import load_pending_batches\n"
    "load_pending_batches(load_settings(), progress=lambda line: None)\n",
}


def snapshot(settings):
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return {
            s.table: con.execute(
                f"select _key, _scope, _parent_id, payload::varchar from raw.{s.table} order by _key"
            ).fetchall()
            for s in STREAMS
        }


def killed(step: str, env: dict, hook: str, value: int, cwd) -> None:
    process = subprocess.run(
        [sys.executable, "-c", SCRIPT[step]],
        cwd=cwd,
        env={**os.environ, **env, "PYTHONPATH": REPO_ROOT, hook: str(value)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert process.returncode == -signal.SIGKILL, process.stderr[-2000:]


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory):
    """One simulator for the module, and the raw tables of an uninterrupted run against it."""
    config = simulator.SimulatorConfig(
        seed=11, repositories=2, services=2, days=14, jira_projects=1, jira_issues_per_project=20
    )
    with simulator.Simulator(config) as sim:
        base = {**sim.env(), "EXTRACT_CONCURRENCY": "1"}
        folder = tmp_path_factory.mktemp("clean")
        clean = load_settings({**base, "WAREHOUSE_PATH": str(folder / "dora.duckdb")})
        extract_sources(clean, **QUIET)
        load_pending_batches(clean, **QUIET)
        yield base, snapshot(clean)


@pytest.mark.slow
# the clean run answers 28 pages (GitHub over GraphQL, compare ranges included): early, and late in the run
@pytest.mark.parametrize("kill_page", [4, 24])
def test_killed_extract_and_load_converge(tmp_path, clean_run, kill_page):
    base, expected = clean_run
    env = {**base, "WAREHOUSE_PATH": str(tmp_path / "killed" / "dora.duckdb")}
    settings = load_settings(env)
    killed("extract", env, "DORAFLOW_KILL_AFTER_PAGES", kill_page, tmp_path)
    extract_sources(settings, **QUIET)  # the rerun resumes from the landed state
    pending = pending_batches(settings)
    kill_at = max(len(pending) // 2, 1)
    killed("load", env, "DORAFLOW_KILL_LOAD_AT_BATCH", kill_at, tmp_path)
    after = pending_batches(settings)
    assert pending[kill_at - 1] in after and len(after) < len(pending)  # the killed group rolled back
    load_pending_batches(settings, **QUIET)
    assert snapshot(settings) == expected
