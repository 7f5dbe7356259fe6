"""The `doraflow` command: help on every command, and user mistakes end in one clear line."""

import os
import subprocess
import sys

import pytest

from doraflow.cli import build_parser

COMMANDS = [
    "run",
    "demo",
    "simulate",
    "extract",
    "load",
    "replay",
    "transform",
    "check",
    "publish",
    "report",
    "summary",
]


def doraflow(*args, env=None, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "doraflow.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )


def test_every_command_has_help():
    parser = build_parser()
    for command in COMMANDS:
        with pytest.raises(SystemExit) as exited:
            parser.parse_args([command, "--help"])
        assert exited.value.code == 0


def test_help_lists_commands_and_configuration():
    result = doraflow("--help")
    assert result.returncode == 0
    for command in COMMANDS:
        assert command in result.stdout
    assert "GITHUB_REPOS" in result.stdout and "WAREHOUSE_PATH" in result.stdout


def test_malformed_configuration_stops_before_any_request(tmp_path):
    env = {
        "PATH": os.environ["PATH"],
        "GITHUB_TOKEN": "gh-very-secret",
        "GITHUB_REPOS": "acme",
        "WAREHOUSE_PATH": str(tmp_path / "w" / "dora.duckdb"),
    }
    result = doraflow("extract", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "doraflow extract: error: GITHUB_REPOS entries must look like owner/name, got 'acme'"
    )
    assert "Traceback" not in result.stderr
    assert "gh-very-secret" not in result.stdout + result.stderr
    assert not (tmp_path / "w").exists()


def test_unknown_source_is_named(tmp_path):
    env = {
        "PATH": os.environ["PATH"],
        "PAGERDUTY_TOKEN": "t",
        "WAREHOUSE_PATH": str(tmp_path / "dora.duckdb"),
    }
    result = doraflow("extract", "gitlab", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "unknown source(s) gitlab" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_failed_run_says_its_error_once(tmp_path):
    env = {
        "PATH": os.environ["PATH"],
        "PAGERDUTY_TOKEN": "t",
        "WAREHOUSE_PATH": str(tmp_path / "dora.duckdb"),
    }
    result = doraflow("run", "gitlab", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "doraflow run: error: unknown source(s) gitlab: choose from github, jira, pagerduty"
    ]
