"""docker-compose.yml: valid against the Compose Specification and consistent with the project."""

from __future__ import annotations

import importlib.util
import json
import posixpath
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


def _dockerfile() -> list[str]:
    """The Dockerfile's instructions, continuation lines joined."""
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    text = re.sub(r"\\\n\s*", " ", text)
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==")
            pins[name.lower()] = version.strip()
    return pins


def test_the_image_is_built_once_from_the_dockerfile_with_the_constraints(compose):
    text = COMPOSE.read_text(encoding="utf-8")
    assert "_PIP_ADDITIONAL_REQUIREMENTS" not in text  # nothing installed at container start
    airflow_like = {
        name: s
        for name, s in compose["services"].items()
        if name.startswith("airflow") or name == "simulator"
    }
    images = {service["image"] for service in airflow_like.values()}
    assert len(images) == 1 and all(service["build"] == "." for service in airflow_like.values())
    instructions = _dockerfile()
    runtime = _pins(REPO / "requirements.txt")
    assert instructions[0] == f"FROM apache/airflow:{runtime['apache-airflow']}-python3.11"
    installs = [line for line in instructions if line.startswith("RUN pip install")]
    assert any("-r requirements.txt -c constraints.txt" in line for line in installs), installs
    assert not any("requirements-dev" in line for line in instructions)
    # The runtime pins carry no test or lint tools; they are in requirements-dev.txt, which the image never sees.
    dev_only = set(_pins(REPO / "requirements-dev.txt"))
    assert {"pytest", "ruff", "jsonschema", "websockets"} <= dev_only
    assert not dev_only & set(runtime)
    ignored = (REPO / ".dockerignore").read_text(encoding="utf-8").split()
    for line in instructions:
        if line.startswith("COPY"):
            sources = [word for word in line.split()[1:-1] if not word.startswith("--")]
            for source in sources:
                assert (REPO / source).exists(), source
                assert source not in ignored, source


def test_the_warehouse_volume_is_on_a_folder_the_image_makes_for_uid_50000(compose):
    instructions = _dockerfile()
    made = " ".join(line for line in instructions if line.startswith("RUN") and "mkdir" in line)
    for name, service in compose["services"].items():
        if not name.startswith("airflow") and name != "simulator":
            continue
        assert service["user"] == "50000:0"
        mounts = _mounts(service)
        warehouse = Path(service["environment"]["WAREHOUSE_PATH"])
        assert warehouse.suffix == ".duckdb"
        assert mounts[str(warehouse.parent)] == "warehouse" and "warehouse" in compose["volumes"]
        # No bind mount hides the image's folder (a new named volume copies the folder's owner from the image).
        assert not any(str(warehouse.parent).startswith(path + "/") for path in mounts)
        for container_path, volume in mounts.items():
            assert volume in compose["volumes"], (name, container_path)  # named volumes only, no host paths
            assert container_path in made, f"the Dockerfile does not create {container_path}"
        dags = service["environment"]["AIRFLOW__CORE__DAGS_FOLDER"]
        assert (REPO / Path(dags).relative_to(service["working_dir"]) / "dora_nightly.py").is_file()
    assert re.search(r"chown -R 50000:0 [^&]*/opt/doraflow(\s|$)", made), made
    assert "USER 50000" in instructions


def test_the_fernet_key_is_required_from_the_environment(compose):
    for name, service in compose["services"].items():
        if not name.startswith("airflow") and name != "simulator":
            continue
        value = service["environment"]["AIRFLOW__CORE__FERNET_KEY"]
        match = re.fullmatch(r"\$\{AIRFLOW__CORE__FERNET_KEY:\?(.+)\}", value)
        assert match, value  # compose stops with this message when the variable is unset or empty
        assert "set AIRFLOW__CORE__FERNET_KEY" in match.group(1) and "docs/airflow.md" in match.group(1)
    assert "AIRFLOW__CORE__FERNET_KEY" in (REPO / "docs" / "airflow.md").read_text(encoding="utf-8")


def test_healthchecks_of_every_long_running_airflow_service(compose):
    from airflow.cli.cli_parser import get_parser

    parser = get_parser()
    services = compose["services"]
    for name in AIRFLOW_SERVICES:
        assert "healthcheck" in services[name], name
    scheduler = services["airflow-scheduler"]
    assert scheduler["environment"]["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"] == "true"
    assert scheduler["healthcheck"]["test"] == ["CMD", "curl", "--fail", "http://localhost:8974/health"]
    for name, job_type in (
        ("airflow-dag-processor", "DagProcessorJob"),
        ("airflow-triggerer", "TriggererJob"),
    ):
        kind, command = services[name]["healthcheck"]["test"]
        assert kind == "CMD-SHELL"
        words = shlex.split(command.replace("$$", "$"))
        assert words[:2] == ["airflow", "jobs"] and job_type in words
        parser.parse_args(words[1:])  # a real `airflow jobs check` invocation


def test_source_credentials_reach_only_the_containers_that_run_tasks(compose):
    for name, service in compose["services"].items():
        env = service.get("environment") or {}
        sources = {key for key in env if key.startswith(("GITHUB_", "JIRA_", "PAGERDUTY_"))}
        if name == "airflow-scheduler":  # LocalExecutor: the tasks run here
            assert {"GITHUB_TOKEN", "JIRA_API_TOKEN", "PAGERDUTY_TOKEN", "ALERT_WEBHOOK_URL"} <= set(env)
        else:
            assert not sources, f"{name} gets {sorted(sources)}"
        if name not in ("airflow-scheduler", "airflow-dag-processor"):
            assert "ALERT_WEBHOOK_URL" not in env, name
        if name != "airflow-init":
            assert "AIRFLOW_ADMIN_PASSWORD" not in env, name


def test_the_admin_password_is_set_from_the_environment_or_generated(compose, tmp_path):
    from doraflow.airflow_admin_password import set_admin_password

    init = compose["services"]["airflow-init"]
    assert init["environment"]["AIRFLOW_ADMIN_PASSWORD"] == "${AIRFLOW_ADMIN_PASSWORD:-}"
    assert "python -m doraflow.airflow_admin_password" in init["command"][-1]
    passwords = init["environment"]["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]
    assert str(Path(passwords).parent) in _mounts(
        compose["services"]["airflow-apiserver"]
    )  # kept on a volume
    header = COMPOSE.read_text(encoding="utf-8").split("name: doraflow")[0]
    assert "docker compose logs airflow-apiserver" in header and passwords in header

    path = tmp_path / "auth" / "passwords.json"
    unset = set_admin_password({"AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(path)})
    assert "generates the password" in unset and not path.exists()
    path.parent.mkdir()
    path.write_text('{"viewer": "v-secret"}\n', encoding="utf-8")
    line = set_admin_password(
        {
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(path),
            "AIRFLOW_ADMIN_PASSWORD": "s3cret-Admin",
        }
    )
    assert "s3cret" not in line
    assert json.loads(path.read_text(encoding="utf-8")) == {"viewer": "v-secret", "admin": "s3cret-Admin"}
    assert path.stat().st_mode & 0o777 == 0o600


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
        if words[:2] == ["python", "-m"]:
            assert importlib.util.find_spec(words[2]) is not None, words[2]
            continue
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


# What `docker compose build` would do, checked without a Docker engine (none on the machines this suite runs on;
# the image build itself is unverified here: docs/airflow.md, "Docker Compose").


def _image_layout() -> tuple[dict[str, str], str]:
    """Replay the Dockerfile's file-system steps: {folder or copied path: owner} and the final USER.

    Understands the instructions this Dockerfile uses (USER, WORKDIR, `RUN mkdir -p`, `RUN ... chown -R`, COPY
    --chown); the base image's own folders are not known, so a mounted path must be one the Dockerfile makes.
    """
    owners: dict[str, str] = {}
    user, workdir = "root", "/"
    for line in _dockerfile():
        word, _, rest = line.partition(" ")
        if word == "USER":
            user = rest.strip()
        elif word == "WORKDIR":
            workdir = rest.strip()
            owners.setdefault(workdir, "0:0")
        elif word == "RUN":
            for command in rest.split("&&"):
                argv = shlex.split(command)
                if argv[:2] == ["mkdir", "-p"]:
                    for folder in argv[2:]:
                        owners[folder] = "0:0" if user == "root" else f"{user}:0"
                elif argv[:2] == ["chown", "-R"]:
                    owner, targets = argv[2], argv[3:]
                    for path in list(owners):
                        if any(path == target or path.startswith(target + "/") for target in targets):
                            owners[path] = owner
        elif word == "COPY":
            argv = shlex.split(rest)
            chown = next((a.split("=", 1)[1] for a in argv if a.startswith("--chown=")), "0:0")
            *sources, target = [a for a in argv if not a.startswith("--")]
            destination = posixpath.join(workdir, target)
            for source in sources:  # `COPY a b ./` puts a and b in the folder; `COPY a ./a` names the target
                path = posixpath.join(destination, source) if target.endswith("/") else destination
                owners[posixpath.normpath(path)] = chown
    return owners, user


def _normalised_pins(name: str) -> dict[str, str]:
    """_pins with PEP 503 names (great_expectations and great-expectations are one package)."""
    return {re.sub(r"[-_.]+", "-", package): version for package, version in _pins(REPO / name).items()}


def test_the_image_installs_exactly_the_runtime_pins_with_the_constraints():
    instructions = _dockerfile()
    installs = [line for line in instructions if "pip install" in line]
    # one dependency install (requirements.txt resolved against constraints.txt), then the project without deps
    assert installs == [
        "RUN pip install --no-cache-dir -r requirements.txt -c constraints.txt",
        "RUN pip install --no-cache-dir --no-deps -e .",
    ], installs
    copied_before = [
        line for line in instructions[: instructions.index(installs[0])] if line.startswith(("COPY", "ADD"))
    ]
    assert copied_before == ["COPY --chown=50000:0 requirements.txt constraints.txt ./"], copied_before
    # requirements.txt includes no other file, and constraints.txt pins each of its packages at the same version
    requirements = (REPO / "requirements.txt").read_text(encoding="utf-8")
    assert not re.search(r"^\s*-[rc]\s", requirements, re.MULTILINE)
    runtime, constraints = _normalised_pins("requirements.txt"), _normalised_pins("constraints.txt")
    assert {name: constraints.get(name) for name in runtime} == runtime
    assert "ADD " not in "\n".join(instructions)  # nothing fetched from outside the build context


def test_mounted_folders_exist_in_the_image_owned_by_the_airflow_uid(compose):
    owners, final_user = _image_layout()
    assert final_user == "50000"  # the containers run as the airflow user (compose: user 50000:0)
    for name, service in compose["services"].items():
        if not name.startswith("airflow") and name != "simulator":
            continue
        for container_path in _mounts(service):
            # A new named volume takes the owner of the image's folder it is mounted on.
            assert owners.get(container_path) == "50000:0", (name, container_path, owners.get(container_path))
    # every file the project COPYs is the airflow user's too (the editable install writes beside them)
    copied = {path: owner for path, owner in owners.items() if path.startswith("/opt/doraflow/")}
    assert copied and set(copied.values()) == {"50000:0"}, copied


@pytest.mark.slow
def test_the_runtime_pins_resolve_without_conflict_for_the_image_python(tmp_path):
    """`pip install --dry-run -r requirements.txt -c constraints.txt` as the image's RUN line, on the image's
    Python minor (python3.11 of the FROM line), against the package index pip is configured with here."""
    base = _dockerfile()[0]
    image_python = re.search(r"-python(\d+)\.(\d+)$", base)
    assert image_python, base
    if sys.version_info[:2] != tuple(int(part) for part in image_python.groups()):
        pytest.skip(
            f"the image's Python is {'.'.join(image_python.groups())}, this one {sys.version.split()[0]}"
        )
    report = tmp_path / "report.json"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet"]
        + ["--disable-pip-version-check", "--report", str(report)]
        + ["-r", "requirements.txt", "-c", "constraints.txt"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    chosen = {
        re.sub(r"[-_.]+", "-", item["metadata"]["name"]).lower(): item["metadata"]["version"]
        for item in json.loads(report.read_text(encoding="utf-8"))["install"]
    }
    constraints, runtime = _normalised_pins("constraints.txt"), set(_normalised_pins("requirements.txt"))
    assert runtime <= set(chosen)
    # every package the image would install is pinned by constraints.txt, at that version: a reproducible image
    assert {name: version for name, version in chosen.items() if constraints.get(name) != version} == {}
    tools = {
        name
        for name in _normalised_pins("requirements-dev.txt")
        if name.startswith("pytest") or name == "ruff"
    }
    assert tools and not tools & set(chosen), tools & set(chosen)  # no test or lint tool reaches the image
