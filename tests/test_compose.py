"""docker-compose.yml: valid against the Compose Specification and consistent with the project."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
COMPOSE = REPO / "docker-compose.yml"
SECRET_NAME = re.compile(r"TOKEN|PASSWORD|SECRET|SQL_ALCHEMY_CONN|WEBHOOK")
AIRFLOW_SERVICES = {"airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def test_valid_against_the_compose_specification(compose, specs_dir):
    import jsonschema

    schema = json.loads((specs_dir / "compose" / "compose-spec.json").read_text(encoding="utf-8"))
    errors = [f"{list(e.path)}: {e.message}" for e in jsonschema.Draft7Validator(schema).iter_errors(compose)]
    assert errors == []


def test_services_of_the_deployment(compose):
    services = compose["services"]
    assert AIRFLOW_SERVICES | {"postgres", "airflow-init", "simulator"} == set(services)
    assert services["simulator"]["profiles"] == ["simulator"]  # optional
    for name in AIRFLOW_SERVICES | {"airflow-init"}:
        env = services[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://airflow:${")
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("@postgres:5432/airflow")
    assert services["postgres"]["environment"]["POSTGRES_DB"] == "airflow"


def _mounts(service: dict) -> dict[str, str]:
    """container path -> host path or volume name."""
    mounts = {}
    for item in service.get("volumes", []):
        host, container = item.split(":")[:2]
        mounts[container] = host
    return mounts


def test_mounts_paths_and_environment_agree_with_the_project(compose):
    volumes = set(compose["volumes"])
    for name, service in compose["services"].items():
        if not name.startswith("airflow") and name != "simulator":
            continue
        env, mounts = service["environment"], _mounts(service)
        project = service["working_dir"]
        assert (REPO / mounts[project]).resolve() == REPO  # the project is mounted as a whole
        dags = env["AIRFLOW__CORE__DAGS_FOLDER"]
        assert dags.startswith(project + "/")
        dag_dir = REPO / Path(dags).relative_to(project)
        assert (dag_dir / "dora_nightly.py").is_file()
        warehouse = Path(env["WAREHOUSE_PATH"])
        assert warehouse.suffix == ".duckdb"
        assert mounts[str(warehouse.parent)] in volumes  # the warehouse lives on a named volume
        for path in re.findall(r"/opt/doraflow/\S+", env["_PIP_ADDITIONAL_REQUIREMENTS"]):
            assert (REPO / Path(path).relative_to(project)).exists(), path


def test_no_secret_literals(compose):
    text = COMPOSE.read_text(encoding="utf-8")
    checked = 0
    for name, service in compose["services"].items():
        for variable, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(variable) and not variable.endswith("_FILE"):
                assert "${" in str(value), f"{name}: {variable} must use ${{VAR}} interpolation"
                checked += 1
    assert checked >= 8  # database, JWT, GitHub/Jira/PagerDuty tokens, webhook, ...
    assert not re.search(r"(ghp_|github_pat_)[A-Za-z0-9_]{10,}", text)


def test_commands_exist(compose):
    from airflow.cli.cli_parser import get_parser

    parser = get_parser()
    for name in AIRFLOW_SERVICES:
        command = compose["services"][name]["command"]
        assert command[0] == "airflow"
        parser.parse_args(command[1:])  # exits (SystemExit) on an unknown subcommand
    init = compose["services"]["airflow-init"]["command"][-1]
    for part in init.split("&&"):
        words = shlex.split(part)
        assert words[0] == "airflow"
        parser.parse_args(words[1:])
    assert "dora_warehouse 1" in init
    simulator = compose["services"]["simulator"]["command"]
    assert simulator[:2] == ["doraflow", "simulate"]
    out = subprocess.run([sys.executable, "-m", "doraflow.cli", "--help"], capture_output=True, text=True)
    if out.returncode != 0 or "simulate" not in out.stdout:
        out = subprocess.run(
            [str(Path(sys.executable).parent / "doraflow"), "--help"], capture_output=True, text=True
        )
    assert "simulate" in out.stdout
    help_text = subprocess.run([sys.executable, "-m", "doraflow.cli", "simulate", "--help"], capture_output=True,
                               text=True).stdout  # fmt: skip
    for flag in [word for word in simulator if word.startswith("--")]:
        assert flag in help_text, f"doraflow simulate has no {flag} option"
