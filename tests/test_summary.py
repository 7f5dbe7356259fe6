"""`doraflow summary`: period, services or teams, and formats; every figure equals the marts' row."""

from __future__ import annotations

import csv
import io
import json

import duckdb
import pytest
from test_serving_support import build_duckdb_marts, sample_settings

from doraflow.cli import main
from doraflow.publish import build_serving_copy


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    root = tmp_path_factory.mktemp("summary")
    warehouse = root / "dora.duckdb"
    build_duckdb_marts(warehouse)
    settings = sample_settings(warehouse)
    build_serving_copy(settings, settings.serving_path, root)
    return settings


@pytest.fixture
def summary(published, monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    monkeypatch.setenv("WAREHOUSE_PATH", str(published.warehouse_path))

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["summary", *args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def _mart(settings, table: str, dimension: str, grain: str, start: str) -> dict[str, dict]:
    with duckdb.connect(str(settings.serving_path), read_only=True) as connection:
        cursor = connection.execute(
            f"select * from marts.{table} where period_grain = ? and period_start = ?", [grain, start]
        )
        names = [column[0] for column in cursor.description]
        return {row[names.index(dimension)]: dict(zip(names, row)) for row in cursor.fetchall()}


def test_csv_for_a_month_carries_the_marts_values_unrounded(summary, published):
    code, out, _ = summary("--period", "2026-10", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    mart = _mart(published, "dora_metrics", "service", "month", "2026-10-01")
    assert [row["service"] for row in rows] == ["all", "checkout", "search"]  # organisation first
    for row in rows:
        expected = mart[row["service"]]
        assert (row["period_grain"], row["period_start"]) == ("month", "2026-10-01")
        assert int(row["deployments"]) == expected["deployments"]
        assert float(row["lead_time_median_minutes"]) == pytest.approx(expected["lead_time_median_minutes"])
        assert float(row["deployment_frequency_per_day"]) == pytest.approx(
            expected["deployment_frequency_per_day"]
        )
    # The organisation's October (test_serving_support, seed 1): 4 deployments in 31 days.
    assert float(rows[0]["deployment_frequency_per_day"]) == pytest.approx(4 / 31)


def test_json_for_one_team_and_an_iso_week(summary, published):
    code, out, _ = summary("--team", "payments", "--period", "2026-W43", "--format", "json")
    assert code == 0
    rows = json.loads(out)
    mart = _mart(published, "dora_metrics_by_team", "team", "week", "2026-10-19")  # Monday of ISO week 43
    assert [row["team"] for row in rows] == ["payments"]
    assert rows[0]["period_start"] == "2026-10-19" and rows[0]["period_grain"] == "week"
    assert rows[0]["deployments"] == mart["payments"]["deployments"]
    assert rows[0]["change_failure_rate"] == (
        pytest.approx(mart["payments"]["change_failure_rate"])
        if mart["payments"]["change_failure_rate"] is not None
        else None
    )


def test_every_team_as_markdown(summary, published):
    code, out, _ = summary("--team", "--period", "2026-10", "--format", "markdown")
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].startswith("**DORA summary, by team, month 2026-10-01 to 2026-10-31")
    assert lines[2].startswith("| team | deploys | per day |")
    assert lines[3].startswith("| --- | ---: |")
    assert [line.split("|")[1].strip() for line in lines[4:]] == ["all", "discovery", "payments"]


def test_table_for_some_services(summary):
    code, out, _ = summary("--service", "search", "--period", "2026-10")
    assert code == 0
    body = out.strip().splitlines()
    assert body[0].startswith("DORA summary, month 2026-10-01 to 2026-10-31")
    names = [line.split()[0] for line in body[4 : body.index(body[1], 4)]]  # between the rules
    assert names == ["search"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--period", "2026-13"], "--period must be a month YYYY-MM (e.g. 2026-10) or an ISO week"),
        (
            ["--period", "2025-01"],
            "no figures for the month of 2025-01-01 (2025-01): the marts hold months from",
        ),
        (["--service", "billing", "--period", "2026-10"], "no service 'billing' in marts.dora_metrics"),
        (["--team", "nobody", "--period", "2026-10"], "teams: discovery, payments"),
    ],
)
def test_a_wrong_value_gets_one_line_naming_it(summary, args, message):
    code, out, err = summary(*args)
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err, err


def test_service_and_team_exclude_each_other(summary, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["summary", "--service", "search", "--team", "payments"])
    assert exit_info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_a_partial_period_is_said_so(tmp_path, monkeypatch, capsys):
    warehouse = tmp_path / "dora.duckdb"
    build_duckdb_marts(warehouse)
    with duckdb.connect(str(warehouse)) as connection:  # the marts say November is not complete
        connection.execute("alter table marts.dora_metrics add column is_complete_period boolean")
        connection.execute(
            "update marts.dora_metrics set is_complete_period = period_start < date '2026-11-01'"
        )
    settings = sample_settings(warehouse)
    build_serving_copy(settings, settings.serving_path, tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WAREHOUSE_PATH", str(warehouse))
    assert main(["summary", "--period", "2026-11"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith(
        "DORA summary, month 2026-11-01 to 2026-11-30 (UTC), partial period;"
    )
    assert main(["summary", "--period", "2026-10"]) == 0
    assert "partial" not in capsys.readouterr().out


@pytest.fixture(scope="module")
def published_with_ci_jobs(tmp_path_factory):
    """The sample marts with the flow marts of October 2026 (test_serving_support.ci_stage_rows)."""
    from datetime import date

    from test_serving_support import (
        REPORT_ANCHOR,
        REPORT_MONTHS,
        REPORT_WEEKS_FROM,
        flow_marts_statements,
        marts_statements,
    )

    root = tmp_path_factory.mktemp("summary_ci")
    warehouse = root / "dora.duckdb"
    october = date(2026, 10, 1)
    build_duckdb_marts(
        warehouse,
        marts_statements(REPORT_ANCHOR, weeks_from=REPORT_WEEKS_FROM, weeks=9, months=REPORT_MONTHS)
        + flow_marts_statements(october, october),
    )
    settings = sample_settings(warehouse)
    build_serving_copy(settings, settings.serving_path, root)
    return settings


def _summary_of(settings, monkeypatch, tmp_path, capsys, *args: str) -> list[str]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WAREHOUSE_PATH", str(settings.warehouse_path))
    assert main(["summary", *args]) == 0
    return capsys.readouterr().out.strip().splitlines()


def _ci_block(lines: list[str]) -> list[str]:
    """The lines after the DORA table's closing rule."""
    rule = lines[1]
    return lines[lines.index(rule, 4) + 1 :]


def test_the_table_is_followed_by_ci_jobs_by_stage(published_with_ci_jobs, monkeypatch, tmp_path, capsys):
    lines = _summary_of(published_with_ci_jobs, monkeypatch, tmp_path, capsys, "--period", "2026-10")
    block = _ci_block(lines)
    # all services: 100 jobs, 9 of them re-run attempts (9%); the stages in pipeline order
    assert block[0] == (
        "CI jobs by stage, all services, month starting 2026-10-01 (marts.ci_stage_metrics): 100 jobs, "
        "9% re-run attempts"
    )
    assert block[1].split() == [
        "stage",
        "jobs",
        "re-runs",
        "queue",
        "p50",
        "queue",
        "p90",
        "run",
        "p50",
        "run",
        "p90",
    ]
    assert [line.split()[:3] for line in block[2:5]] == [
        ["build", "40", "0%"],
        ["unit_tests", "30", "10%"],  # 3 of 30
        ["integration_tests", "(slowest)", "30"],
    ]
    # integration tests: queue p50 1.5, p90 4.0; run p50 14, p90 22
    assert block[4].split()[3:] == ["20%", "1.5", "min", "4.0", "min", "14", "min", "22", "min"]
    assert block[5] == "Slowest CI stage by service: checkout integration_tests, search build"
    assert len(block) == 6
    # CSV stays one table for scripts
    assert main(["summary", "--period", "2026-10", "--format", "csv"]) == 0
    assert "CI jobs" not in capsys.readouterr().out


def test_ci_jobs_of_one_service(published_with_ci_jobs, monkeypatch, tmp_path, capsys):
    lines = _summary_of(
        published_with_ci_jobs, monkeypatch, tmp_path, capsys, "--period", "2026-10", "--service", "search"
    )
    block = _ci_block(lines)
    assert block[0].startswith("CI jobs by stage, search, month starting 2026-10-01") and block[0].endswith(
        ": 10 jobs, 0% re-run attempts"
    )
    assert [line.split()[:2] for line in block[2:]] == [["build", "(slowest)"]]


def test_without_ci_jobs_one_line_says_how_to_fetch_them(monkeypatch, tmp_path, capsys):
    from datetime import date

    from test_serving_support import (
        REPORT_ANCHOR,
        REPORT_MONTHS,
        REPORT_WEEKS_FROM,
        flow_marts_statements,
        marts_statements,
    )

    warehouse = tmp_path / "dora.duckdb"
    build_duckdb_marts(
        warehouse,
        marts_statements(REPORT_ANCHOR, weeks_from=REPORT_WEEKS_FROM, weeks=9, months=REPORT_MONTHS)
        + flow_marts_statements(date(2026, 10, 1), date(2026, 10, 1))
        + ["delete from marts.ci_stage_metrics"],  # GITHUB_CI_JOBS off: the mart is empty
    )
    settings = sample_settings(warehouse)
    build_serving_copy(settings, settings.serving_path, tmp_path)
    lines = _summary_of(settings, monkeypatch, tmp_path, capsys, "--period", "2026-10")
    assert _ci_block(lines) == [
        "CI jobs by stage: CI jobs are not fetched, so CI time by stage is unknown: set GITHUB_CI_JOBS=true "
        "(one request per workflow run, docs/configuration.md) and run the pipeline again."
    ]
