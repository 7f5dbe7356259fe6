"""A run with nothing new skips the dbt build in one line; anything the build is built from makes it build.

One warehouse for the module (the simulator's small organisation), its tests in order: a first run builds, a
second run with nothing new skips the build and publish (the publication in place is of these marts), a removed
report or serving copy and a publish killed before its record publish again, `--full-build` forces; then each input the build depends on
(a setting, the reporting day, a model file, the service catalog file, a dropped or altered mart, a loaded batch,
a failed or killed build) is changed alone and the decision must name it. One PostgreSQL case at the end.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

from doraflow import transform
from doraflow.config import load_settings
from doraflow.errors import TransformError
from doraflow.ops import latest_build, latest_marts_event, record_build_start, record_marts_event
from doraflow.pipeline import Handoff, run_pipeline, run_step
from doraflow.transform import build_decision, built_tables, dbt_build, reporting_date
from simulator import Simulator, SimulatorConfig

pytestmark = pytest.mark.slow
TODAY = date(2026, 11, 22)  # the marts' today (dbt var as_of_date)
FIXTURES = Path(__file__).parent / "fixtures" / "metrics"


@pytest.fixture(scope="module")
def simulator():
    config = SimulatorConfig(
        seed=5, repositories=2, services=2, days=14, end_at=datetime(2026, 11, 21, tzinfo=UTC)
    )
    with Simulator(config) as sim:
        yield sim


@pytest.fixture(scope="module")
def settings(simulator, tmp_path_factory):
    folder = tmp_path_factory.mktemp("skip")
    settings = load_settings({**simulator.env(), "WAREHOUSE_PATH": str(folder / "dora.duckdb")}, today=TODAY)
    assert run_pipeline(settings, progress=lambda line: None).status == "success"
    return settings


def builds(settings) -> list[tuple[str, str]]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
        return connection.execute("select status, run_id from ops.dbt_builds order by started_at").fetchall()


def model_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("dbt model ")]


def publish_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("publish")]


def test_a_run_with_nothing_new_skips_the_build_and_publish_in_one_line_each(settings):
    serving = settings.serving_path.stat()
    before = builds(settings)
    assert [status for status, _ in before] == ["success"]
    lines: list[str] = []
    run = run_pipeline(settings, progress=lines.append)
    assert run.status == "success" and run.transform_result.skipped
    dbt_lines = [line for line in lines if line.startswith("dbt ")]
    assert len(dbt_lines) == 1 and dbt_lines[0].startswith(
        "dbt build skipped: nothing changed since the last"
    )
    assert "--full-build" in dbt_lines[0]
    assert builds(settings) == before  # no build recorded
    # The marts gate passed these very marts after the first run's build: not checked again, in one line; its
    # log is unchanged (still that run's pass), so publish's rule let them through.
    gate_lines = [line for line in lines if line.startswith("marts gate skipped")]
    assert gate_lines == [line for line in lines if "marts gate" in line or line.startswith("checked marts")]
    assert len(gate_lines) == 1 and f"(run {before[0][1]})" in gate_lines[0]
    assert latest_marts_event(settings)[0] == "passed" and latest_marts_event(settings)[2] == before[0][1]
    # The first run published these very marts (its build), today, with these settings: publish is one line and
    # the serving copy is the same file, untouched.
    assert run.publish_result.skipped
    assert (
        publish_lines(lines)
        == [
            line
            for line in lines
            if line.startswith(
                "publish skipped: the serving copy, exports and report are those of the build at "
            )
        ]
        and len(publish_lines(lines)) == 1
    )
    after = settings.serving_path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (serving.st_ino, serving.st_mtime_ns)
    assert run.publish_result.row_counts and all(
        (settings.exports_dir / f"{name}.parquet").is_file() for name in run.publish_result.row_counts
    )


def test_a_removed_report_or_serving_copy_publishes_again(settings):
    for part in (settings.report_path, settings.serving_path):
        part.unlink()
        lines: list[str] = []
        run = run_pipeline(settings, progress=lines.append)
        assert run.transform_result.skipped and not run.publish_result.skipped
        assert not any(line.startswith("publish skipped") for line in lines)
        assert settings.report_path.is_file() and settings.serving_path.is_file()
    # ... and once published again, the next run with nothing new skips publish again.
    assert run_pipeline(settings, progress=lambda line: None).publish_result.skipped


def test_a_publish_killed_before_its_record_publishes_next_time(settings, monkeypatch):
    from doraflow import publish

    def killed(*args, **kwargs):
        raise RuntimeError("killed after the swaps, before the record")

    serving = settings.serving_path.stat()
    with monkeypatch.context() as patch:
        patch.setattr(publish, "_record_publication", killed)
        with pytest.raises(RuntimeError, match="killed after the swaps"):
            run_step("publish", settings, lambda line: None)  # `doraflow publish`: always publishes
    assert settings.serving_path.stat().st_ino != serving.st_ino  # swapped in, then "killed"
    assert not publish.publication_record_path(settings).exists()  # removed before the first swap
    run = run_pipeline(settings, progress=lambda line: None)
    assert run.transform_result.skipped and not run.publish_result.skipped
    assert publish.publication_record_path(settings).is_file()
    assert run_pipeline(settings, progress=lambda line: None).publish_result.skipped


def test_a_skipped_build_still_checks_marts_the_gate_has_not_passed(settings):
    record_marts_event(settings, "failed", "by-hand")  # e.g. a gate that failed on these marts
    lines: list[str] = []
    run = run_pipeline(settings, progress=lines.append)
    assert run.status == "success" and run.transform_result.skipped
    assert not any(line.startswith("marts gate skipped") for line in lines)
    assert any(line.startswith("checked marts: 0 critical failure(s)") for line in lines)
    assert latest_marts_event(settings)[:3:2] == ("passed", run.run_id)


def test_full_build_forces_a_build_and_the_setting_too(settings):
    lines: list[str] = []
    run = run_pipeline(settings, progress=lines.append, full_build=True)
    assert run.status == "success" and not run.transform_result.skipped
    assert not run.publish_result.skipped  # a new build: its marts are published
    assert not any(line.startswith("dbt build skipped") for line in lines)
    assert len(model_lines(lines)) == run.transform_result.models > 0
    assert [status for status, _ in builds(settings)] == ["success", "success"]
    # TRANSFORM_SKIP_UNCHANGED=false: the step does not even ask (checked on the setting, no second build here).
    assert (
        load_settings(
            {"WAREHOUSE_PATH": "w/d.duckdb", "TRANSFORM_SKIP_UNCHANGED": "false"}
        ).transform_skip_unchanged
        is False
    )
    assert load_settings({"WAREHOUSE_PATH": "w/d.duckdb"}).transform_skip_unchanged is True


def test_a_changed_setting_builds_and_so_does_a_new_reporting_day_but_not_a_later_hour(settings):
    assert not build_decision(settings).build
    next_day = build_decision(replace(settings, as_of_date=date(2026, 11, 23)))
    assert next_day.build and next_day.line == "dbt build: reporting date changed since the last build"
    wider = build_decision(replace(settings, incident_attribution_window_hours=48))
    assert wider.build and wider.line == "dbt build: dbt vars changed since the last build"
    both = build_decision(replace(settings, hotfix_pattern="(?i)fix", as_of_date=date(2026, 11, 24)))
    assert both.line == "dbt build: dbt vars, reporting date changed since the last build"
    # Unpinned, the day is today's in the reporting time zone: a later hour is the same day, 23:30 UTC is already
    # the next day in Berlin and still the same one in New York.
    clock = replace(settings, as_of_date=None)
    morning, evening = (
        datetime(2026, 11, 22, 0, 0, 1, tzinfo=UTC),
        datetime(2026, 11, 22, 23, 59, 59, tzinfo=UTC),
    )
    assert reporting_date(clock, morning) == reporting_date(clock, evening) == "2026-11-22"
    late = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)
    assert reporting_date(replace(clock, reporting_timezone="Europe/Berlin"), late) == "2026-11-23"
    assert reporting_date(replace(clock, reporting_timezone="America/New_York"), late) == "2026-11-22"


def test_a_changed_service_catalog_file_builds(settings, tmp_path):
    catalog = tmp_path / "catalog.csv"
    catalog.write_text("service,team,github_repository,pagerduty_service_id,jira_project_key\n")
    decision = build_decision(replace(settings, service_catalog_path=catalog))
    assert decision.build and decision.line == "dbt build: service catalog file changed since the last build"


def test_a_changed_team_members_file_builds(settings, tmp_path):
    members = tmp_path / "team_members.csv"
    members.write_text("team,github_login,pagerduty_user_id,name\n")
    decision = build_decision(replace(settings, team_members_path=members))
    assert decision.build and decision.line == "dbt build: team members file changed since the last build"


def test_a_changed_model_file_builds_and_files_dbt_writes_do_not(settings, tmp_path, monkeypatch):
    copy = tmp_path / "dbt_project"
    shutil.copytree(
        transform.PROJECT_DIR, copy, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages")
    )
    monkeypatch.setattr(transform, "PROJECT_DIR", copy)
    assert not build_decision(settings).build  # the same files elsewhere: the same project
    (copy / "target").mkdir()
    (copy / "target" / "manifest.json").write_text("{}")  # written by a build by hand, not the project
    (copy / "logs").mkdir()
    (copy / "logs" / "dbt.log").write_text("a line")
    assert not build_decision(settings).build
    model = sorted((copy / "models").rglob("*.sql"))[0]
    model.write_text(model.read_text() + "\n-- a comment changes the file: dbt would rebuild, so do we\n")
    decision = build_decision(settings)
    assert decision.build and decision.line == "dbt build: dbt project files changed since the last build"
    model.unlink()  # a removed model too
    assert build_decision(settings).build
    monkeypatch.undo()
    assert not build_decision(settings).build


def test_a_dropped_or_altered_mart_builds(settings):
    tables = built_tables(settings)
    marts = sorted(name for name, count in tables.items() if count)  # marts tables with rows
    assert len(marts) >= 2
    with duckdb.connect(str(settings.warehouse_path)) as connection:
        connection.execute(f"delete from {marts[0]} where true")
    altered = build_decision(settings)
    assert altered.line == f"dbt build: {marts[0]} changed outside the build (row count)"
    with duckdb.connect(str(settings.warehouse_path)) as connection:
        connection.execute(f"drop table {marts[1]}")
    dropped = build_decision(settings)
    assert dropped.build and dropped.line == f"dbt build: {marts[1]} missing since the last build"


def test_a_loaded_batch_builds_and_the_build_heals_the_marts(settings, simulator):
    # left by the test above: the marts whose rows differ from what the last build recorded (a mart empty by
    # nature here, such as fct_ci_jobs with GITHUB_CI_JOBS off, is not broken)
    recorded, now = latest_build(settings)["outputs"], built_tables(settings)
    broken = [name for name, count in recorded.items() if count and now.get(name) != count]
    assert len(broken) == 2
    simulator.advance(hours=24)
    lines: list[str] = []
    run = run_pipeline(settings, progress=lines.append)
    assert run.status == "success" and not run.transform_result.skipped
    assert run.load_result is not None
    reason = next(line for line in lines if line.startswith("dbt build: ") and "changed since" in line)
    assert reason.startswith("dbt build: raw rows")
    assert len(model_lines(lines)) == run.transform_result.models > 0
    healed = built_tables(settings)
    assert all(healed.get(name) for name in broken)
    assert not build_decision(settings).build  # and the next run skips again


def test_a_failed_or_killed_build_is_never_skipped_after(settings, tmp_path, monkeypatch):
    copy = tmp_path / "dbt_project"
    shutil.copytree(
        transform.PROJECT_DIR, copy, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages")
    )
    staging = sorted((copy / "models" / "staging").glob("stg_*.sql"))[0]
    staging.write_text("select no_such_column from no_such_table\n")
    monkeypatch.setattr(transform, "PROJECT_DIR", copy)
    with pytest.raises(TransformError, match="dbt build failed"):
        run_step("transform", settings, lambda line: None, Handoff(full_build=True))
    assert latest_build(settings)["status"] == "failed"
    monkeypatch.undo()  # the project as it was at the last successful build: the failure alone forces a build
    decision = build_decision(settings)
    assert (
        decision.build
        and decision.line.startswith("dbt build: the last build (")
        and "failed" in decision.line
    )
    # A build killed while dbt ran leaves its 'building' row: also never skipped after.
    record_build_start(settings, None, transform.build_inputs(settings))
    killed = build_decision(settings)
    assert killed.build and killed.line.endswith(" did not finish")


def test_postgres_skips_when_nothing_changed_and_builds_after_a_dropped_mart(postgres_database, tmp_path):
    import psycopg2

    sys.path.insert(0, str(FIXTURES))
    import golden_scenario

    golden_scenario.write_postgres(postgres_database)
    settings = load_settings(
        {
            "WAREHOUSE_TARGET": "postgres",
            "WAREHOUSE_POSTGRES_URL": postgres_database,
            "WAREHOUSE_PATH": str(tmp_path / "dora.duckdb"),  # dbt's target folder goes beside it
        },
        today=date(2024, 3, 1),
    )
    assert build_decision(settings).line == "dbt build: no earlier build recorded on this warehouse"
    dbt_build(settings, progress=lambda line: None)
    record = latest_build(settings)
    assert record["status"] == "success" and "@" in record["inputs"]["warehouse"]
    assert ":" not in record["inputs"]["warehouse"].split("@")[0].removeprefix("postgres://")  # no password
    assert not build_decision(settings).build
    # Publish from PostgreSQL follows the same rule: after a skipped build, the publication of this build is kept.
    record_marts_event(settings, "passed", "by-hand")
    assert not run_step("publish", settings, lambda line: None).skipped
    lines: list[str] = []
    assert run_step("publish", settings, lines.append, Handoff(build_skipped=True)).skipped
    assert [line for line in lines if line.startswith("publish")][0].startswith("publish skipped: ")
    mart = sorted(name for name, count in built_tables(settings).items() if count)[0]
    connection = psycopg2.connect(postgres_database)
    with connection, connection.cursor() as cursor:
        cursor.execute(f"drop table {mart} cascade")
    connection.close()
    decision = build_decision(settings)
    assert decision.build and decision.line.startswith("dbt build: ") and mart in decision.line
    assert decision.line.endswith(" missing since the last build")


def test_full_build_reaches_the_step_from_the_cli_and_through_an_xcom():
    from doraflow.cli import build_parser

    assert build_parser().parse_args(["run", "--full-build"]).full_build is True
    assert build_parser().parse_args(["run"]).full_build is False
    assert build_parser().parse_args(["transform", "--full-build"]).full_build is True
    assert Handoff.from_dict(Handoff(full_build=True).to_dict()).full_build is True
    assert Handoff.from_dict(Handoff(build_skipped=True).to_dict()).build_skipped is True
