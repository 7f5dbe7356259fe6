"""`doraflow run` is never silent during the dbt build: one line per model as it finishes."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures" / "metrics"


def _event(kind: str, status: str, seconds: float, *, schema="marts", alias="dora_metrics", message=""):
    from dbt.events import core_types_pb2

    event = core_types_pb2.NodeFinishedMsg()
    event.info.name = "NodeFinished"
    event.data.node_info.resource_type = kind
    event.data.node_info.node_name = alias
    event.data.node_info.node_relation.schema = schema
    event.data.node_info.node_relation.alias = alias
    event.data.run_result.status = status
    event.data.run_result.execution_time = seconds
    event.data.run_result.message = message
    return event


def test_one_line_per_model_and_per_test_that_does_not_pass():
    from dbt.events import core_types_pb2

    from doraflow.transform import node_progress

    lines: list[str] = []
    on_event = node_progress(lines.append)
    on_event(_event("model", "success", 1.234))
    on_event(_event("seed", "success", 0.4, schema="staging", alias="service_catalog"))
    on_event(_event("test", "pass", 0.1, schema="dbt_test__audit", alias="unique_x"))  # passing tests: quiet
    on_event(
        _event(
            "test",
            "fail",
            0.2,
            schema="dbt_test__audit",
            alias="unique_fct_deployments_id",
            message="Got 2 results,\n configured to fail if != 0",
        )
    )
    other = core_types_pb2.NodeStartMsg()
    other.info.name = "NodeStart"
    on_event(other)  # other events print nothing
    on_event(object())  # and nothing unexpected breaks the build
    assert lines == [
        "dbt model marts.dora_metrics: success, 1.2 s",
        "dbt seed staging.service_catalog: success, 0.4 s",
        "dbt test dbt_test__audit.unique_fct_deployments_id: fail (Got 2 results, configured to fail if != 0), 0.2 s",
    ]


def test_a_real_build_reports_each_model_before_the_total(tmp_path):
    sys.path.insert(0, str(FIXTURES))
    import golden_scenario

    from doraflow.config import load_settings
    from doraflow.transform import dbt_build

    golden_scenario.write_duckdb(str(tmp_path / "dora.duckdb"))
    settings = load_settings({"WAREHOUSE_PATH": str(tmp_path / "dora.duckdb")}, today=date(2024, 3, 1))
    lines: list[str] = []
    result = dbt_build(settings, select="+int_repository_services", progress=lines.append)
    model_lines = [line for line in lines if line.startswith("dbt model ")]
    # Each model once, in the style of the extract lines, before the closing total.
    assert len(model_lines) == result.models == 5
    assert "dbt model intermediate.int_repository_services: success" in "\n".join(model_lines)
    assert all(line.endswith(" s") and ": success, " in line for line in model_lines)
    assert [line for line in lines if line.startswith("dbt seed ")] == [
        next(line for line in lines if line.startswith("dbt seed staging.service_catalog: success, "))
    ]
    assert lines[-1].startswith("dbt build: 5 models, ")
    assert not any(line.startswith("dbt test ") for line in lines)  # every test passed: no line each
    # A partial build records the tables it made (the marts gate after it checks only the marts among them):
    # the five models of the model lines, by the schema and name they name
    from doraflow.ops import latest_build

    built = latest_build(settings)
    made = sorted(line.split()[2].rstrip(":") for line in model_lines)
    assert built["status"] == "partial" and sorted(built["outputs"]) == made == sorted(result.rebuilt)
