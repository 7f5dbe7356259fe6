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
    names = [line.split()[0] for line in body[4:-1]]
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
