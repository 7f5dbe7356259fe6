"""The marts gate after a partial build checks only the marts it rebuilt, and never lets unchecked marts through.

Hand-made marts (tests/test_quality.py's `make_marts`) and builds recorded in ops as `dbt_build` records them (a
partial build keeps the tables it made), so no dbt runs here.
"""

from __future__ import annotations

import duckdb
import pytest
from test_quality import make_marts

from doraflow.config import load_settings
from doraflow.errors import QualityGateError
from doraflow.ops import latest_marts_event, record_build_end, record_build_start, record_marts_event
from doraflow.pipeline import run_step
from doraflow.quality.marts import read_contract


@pytest.fixture
def settings(tmp_path):
    settings = load_settings({"WAREHOUSE_PATH": str(tmp_path / "wh" / "dora.duckdb")})
    settings.warehouse_path.parent.mkdir(parents=True)
    make_marts(settings.warehouse_path)
    return settings


def build(settings, run_id: str, rebuilt: list[str] | None) -> None:
    """A build as step_transform records it: the "building" event, then the build (None: a full one)."""
    record_marts_event(settings, "building", run_id)
    build_id = record_build_start(settings, run_id, {})
    if rebuilt is None:
        record_build_end(settings, build_id, "success", {})
    else:
        record_build_end(settings, build_id, "partial", {f"marts.{name}": 1 for name in rebuilt})


def check(settings) -> tuple[list[str], set[str]]:
    lines: list[str] = []
    result = run_step("check_marts", settings, lines.append)
    return lines, {r.suite for r in result.results}


def break_deployments(settings) -> None:
    with duckdb.connect(str(settings.warehouse_path)) as connection:
        connection.execute("update marts.fct_deployments set outcome = 'exploded' where deployment_id = 'd1'")


def test_a_partial_build_is_checked_on_the_marts_it_rebuilt_only_and_the_next_full_check_sees_the_rest(
    settings,
):
    build(settings, "full-1", None)
    _, suites = check(settings)
    every = {f"marts.{c.name}" for c in read_contract()}
    assert every <= suites  # a full build: every mart's suite

    build(settings, "partial-2", ["fct_incidents"])
    break_deployments(settings)  # a mart the partial build did not rebuild, broken behind the gate's back
    lines, suites = check(settings)
    # fct_incidents has no rule of the gate's own (spine, coverage): its suite alone
    assert suites == {"marts.fct_incidents"}
    (scope,) = [line for line in lines if line.startswith("marts gate:")]
    left = [c.name for c in read_contract() if c.name != "fct_incidents"]  # every other mart of the YAML
    assert scope.startswith("marts gate: checking the marts the partial build at ")
    assert " rebuilt: fct_incidents; left as they were (passed the gate at " in scope
    assert scope.endswith("): " + ", ".join(left))
    assert latest_marts_event(settings)[0] == "passed"

    build(settings, "full-3", None)
    with pytest.raises(QualityGateError, match="fct_deployments"):
        check(settings)
    assert latest_marts_event(settings)[0] == "failed"


def test_a_partial_build_after_a_failed_gate_checks_every_mart(settings):
    build(settings, "full-1", None)
    break_deployments(settings)
    with pytest.raises(QualityGateError):
        check(settings)
    # the gate failed on fct_deployments: a pass of the one mart a partial build then rebuilds would say nothing
    # of it, so the gate checks them all (and fails again) rather than record a pass publish would trust
    build(settings, "partial-2", ["fct_incidents"])
    lines: list[str] = []
    with pytest.raises(QualityGateError, match="fct_deployments"):
        run_step("check_marts", settings, lines.append)
    assert any(line.startswith("marts gate: checking every mart") and "were failed" in line for line in lines)
    assert latest_marts_event(settings)[0] == "failed"


def test_in_a_run_the_gates_pages_wait_for_publish_unless_the_gate_fails(settings):
    from doraflow.pipeline import Handoff, render_gate_docs

    def pages() -> int:
        return len(list((settings.data_docs_dir / "marts" / "validations").rglob("*.html")))

    build(settings, "full-1", None)
    check(settings)  # `doraflow check marts`: rendered in the gate
    first = pages()
    assert first > 0
    handoff = Handoff(docs_after_publish=True)  # as run_pipeline hands it on
    run_step("check_marts", settings, lambda line: None, handoff)
    assert pages() == first  # stored at the verdict, not drawn yet
    render_gate_docs(settings, "landing", "marts")  # what step_publish does after publishing
    assert pages() == 2 * first  # a page per suite for the second run too; the landing gate had nothing
    break_deployments(settings)
    with pytest.raises(QualityGateError):
        run_step("check_marts", settings, lambda line: None, handoff)
    assert pages() == 3 * first  # no publish follows a failed gate: its pages at once


def test_the_scope_reads_the_same_from_postgresql(tmp_path, postgres_database):
    from doraflow.pipeline import marts_gate_scope

    settings = load_settings(
        {
            "WAREHOUSE_PATH": str(tmp_path / "pg" / "dora.duckdb"),
            "WAREHOUSE_TARGET": "postgres",
            "WAREHOUSE_POSTGRES_URL": postgres_database,
        }
    )
    build(settings, "full-1", None)
    assert marts_gate_scope(settings) == (None, None)  # a full build: every mart, no line
    record_marts_event(settings, "passed", "full-1")
    build(settings, "partial-2", ["fct_incidents", "dora_metrics"])
    marts, line = marts_gate_scope(settings)
    # in the YAML's order; the "building" event of the partial build itself is skipped, the pass before it counts
    assert marts == [c.name for c in read_contract() if c.name in ("fct_incidents", "dora_metrics")]
    assert line.startswith("marts gate: checking the marts the partial build at ")
    record_marts_event(settings, "failed", "partial-2")
    build(settings, "partial-3", ["fct_incidents"])
    marts, line = marts_gate_scope(settings)
    assert marts is None and "were failed, not passed" in line
