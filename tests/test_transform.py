"""doraflow.transform around dbt: what a dbt call leaves behind in the calling process."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures" / "metrics"


def test_dbt_leaves_the_root_logger_as_it_found_it(tmp_path):
    # dbt adds a handler to the root logger when it is imported; left there, every later library's INFO line (GX's
    # "Created temporary directory", for one) reached the terminal of `doraflow demo`. A fresh interpreter, so the
    # import happens inside dbt_build as in the CLI.
    script = textwrap.dedent(
        f"""
        import logging, sys
        from datetime import date
        sys.path.insert(0, {str(FIXTURES)!r})
        import golden_scenario
        from doraflow.config import load_settings
        from doraflow.transform import dbt_build

        golden_scenario.write_duckdb({str(tmp_path / "dora.duckdb")!r})
        settings = load_settings({{"WAREHOUSE_PATH": {str(tmp_path / "dora.duckdb")!r}}}, today=date(2024, 3, 1))
        before = list(logging.getLogger().handlers)
        dbt_build(settings, select="+stg_service_catalog", progress=lambda line: None)
        assert "dbt" in sys.modules
        assert logging.getLogger().handlers == before, logging.getLogger().handlers
        logging.getLogger("great_expectations").info("must not be printed")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "must not be printed" not in result.stderr
