"""The serving copy opens in an older DuckDB (1.4.4), as BI drivers bundle their own.

Slow and optional: installs duckdb==1.4.4 from PyPI into a throwaway folder (`pip install --target`), and skips
with the reason when that is not possible (offline).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from test_serving_support import build_duckdb_marts, sample_settings

from doraflow.publish import publish

OLD_DUCKDB = "1.4.4"

READ = """
import json, sys
import duckdb
connection = duckdb.connect(sys.argv[1], read_only=True)
print(json.dumps({
    "version": duckdb.__version__,
    "deployments": connection.execute("select count(*) from marts.fct_deployments").fetchone()[0],
    "failures": connection.execute(
        "select list(deployment_id order by deployment_id) from marts.fct_deployments where is_change_failure"
    ).fetchone()[0],
    "october": connection.execute(
        "select deployments from marts.dora_metrics where period_grain = 'month' "
        "and period_start = date '2026-10-01' and service = 'all'"
    ).fetchone()[0],
}))
"""


@pytest.mark.slow
def test_serving_copy_opens_in_duckdb_1_4(tmp_path):
    target = tmp_path / "old-duckdb"
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--target",
            str(target),
            f"duckdb=={OLD_DUCKDB}",
        ],
        capture_output=True,
        text=True,
    )
    if install.returncode != 0:
        pytest.skip(
            f"cannot install duckdb=={OLD_DUCKDB} from PyPI: {install.stderr.strip().splitlines()[-1:]}"
        )
    warehouse = tmp_path / "dora.duckdb"
    build_duckdb_marts(warehouse)
    settings = sample_settings(warehouse)
    publish(settings, progress=lambda _m: None)
    result = subprocess.run(
        [sys.executable, "-c", READ, str(settings.serving_path)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(target)},
    )
    assert result.returncode == 0, result.stderr
    # 7 hand-made deployments; d3 is the one change failure; the organisation's October row has 4 deployments.
    assert json.loads(result.stdout) == {
        "version": OLD_DUCKDB,
        "deployments": 7,
        "failures": ["d3"],
        "october": 4,
    }
