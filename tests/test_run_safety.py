"""Runs that never jam and gates nothing bypasses (issue 11: items 4, 5, 6, 8), through the pipeline's own
entry points: `doraflow` in a subprocess where the user would see it, a second process holding the warehouse."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from doraflow.config import load_settings
from doraflow.errors import PublishError, QualityGateError
from doraflow.ops import RunRecorder, record_marts_event
from doraflow.pipeline import NO_SOURCE, RUN_LOG, Handoff, execute, run_step, step_check_landing, step_load
from doraflow.raw_loader import pending_batches
from doraflow.warehouse import RunLocked, extract_lock, run_lock
from extractors.landing import ScopeIndex

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PR = {"number": 1, "title": "a", "state": "open", "created_at": "2026-03-01T10:00:00Z",
      "updated_at": "2026-03-01T10:00:00Z", "merged_at": None, "closed_at": None}  # fmt: skip


def make_settings(tmp_path, **extra):
    return load_settings({"WAREHOUSE_PATH": str(tmp_path / "wh" / "dora.duckdb"), **extra})


def land(settings, scope, records):
    return ScopeIndex(settings.landing_dir, "github", "pull_requests", scope).write_batch(
        [(None, record) for record in records], None, T0
    )


def quiet(_line: str) -> None:
    pass


def doraflow(*args, env, cwd):
    environment = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **env}
    return subprocess.run([sys.executable, "-m", "doraflow.cli", *args], capture_output=True, text=True,
                          env=environment, cwd=cwd, timeout=180)  # fmt: skip


def raw_keys(settings) -> list[str]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return [
            r[0] for r in con.execute("select _key from raw.github__pull_requests order by _key").fetchall()
        ]


# -- item 4: load exactly what passed the gate; no entry point skips a gate ------------------------------------
def test_load_merges_exactly_the_batches_the_landing_gate_passed(tmp_path):
    settings = make_settings(tmp_path)
    land(settings, "acme/api", [PR])
    land(settings, "acme/web", [PR])
    handoff = Handoff()
    step_check_landing(settings, handoff, progress=quiet)
    assert len(handoff.checked_batches) == 2
    late = land(settings, "acme/ops", [{**PR, "state": "bogus"}])  # lands after the gate, would fail it
    lines: list[str] = []
    result = step_load(settings, handoff, progress=lines.append)
    assert result.batches == 2 and raw_keys(settings) == ["acme/api#1", "acme/web#1"]
    assert [p.name.split(".")[0] for p in pending_batches(settings)] == [late]  # left for the next run's gate
    assert "1 batch(es) landed after the landing gate wait for the next run" in " ".join(lines)


def test_doraflow_load_alone_runs_the_landing_gate_on_what_it_loads(tmp_path):
    settings = make_settings(tmp_path)
    land(settings, "acme/api", [PR])
    land(settings, "acme/web", [{**PR, "state": "bogus"}])
    done = doraflow("load", env={"WAREHOUSE_PATH": str(settings.warehouse_path)}, cwd=tmp_path)
    assert done.returncode == 1
    assert len(done.stderr.splitlines()) == 1 and "state" in done.stderr and "Traceback" not in done.stderr
    assert len(pending_batches(settings)) == 2  # nothing merged: the gate judged the set as a whole
    with pytest.raises(QualityGateError):
        run_step("load", settings, quiet)


def test_publish_serves_only_marts_that_passed_the_marts_gate(tmp_path):
    settings = make_settings(tmp_path)
    env = {"WAREHOUSE_PATH": str(settings.warehouse_path)}
    duckdb.connect(str(settings.warehouse_path.parent.mkdir(parents=True) or settings.warehouse_path)).close()
    done = doraflow("publish", env=env, cwd=tmp_path)
    assert done.returncode == 1 and done.stderr.splitlines() == [
        "doraflow publish: error: not publishing: the marts gate has never passed on this warehouse; run "
        "`doraflow check marts` (or a full `doraflow run`) and publish when it passes"
    ]
    record_marts_event(settings, "passed", "run-1")
    record_marts_event(settings, "building", "run-2")  # a later build (e.g. `doraflow transform`) not checked
    with pytest.raises(PublishError, match="the marts were rebuilt at .* and not checked since"):
        run_step("publish", settings, quiet)
    record_marts_event(settings, "failed", "run-2")
    with pytest.raises(PublishError, match="the marts failed the marts gate at"):
        run_step("publish", settings, quiet)
    record_marts_event(settings, "passed", "run-3")
    with pytest.raises(PublishError) as passed:  # the gate lets it through: publish itself finds no marts
        run_step("publish", settings, quiet)
    assert "not publishing" not in str(passed.value) and "no tables in schema 'marts'" in str(passed.value)
    assert not settings.serving_path.exists()
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:  # a publish alone is no run
        assert con.execute("select count(*) from ops.pipeline_runs").fetchone()[0] == 0


# -- item 5: one run at a time, held by the warehouse ------------------------------------------------------------
HOLDER = r"""
import sys, time
from doraflow.config import load_settings
from doraflow.ops import RunRecorder
from doraflow.warehouse import run_lock
settings = load_settings({"WAREHOUSE_PATH": sys.argv[1]})
recorder = RunRecorder(settings, "cli", run_id="holder-run")
with run_lock(settings, recorder.run_id):
    recorder.start()
    print("held", flush=True)
    time.sleep(120)
"""


def start_holder(settings) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(settings.warehouse_path)], stdout=subprocess.PIPE,
                              text=True)  # fmt: skip
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_second_run_exits_at_once_naming_the_holder_and_a_killed_holder_does_not_jam(tmp_path):
    settings = make_settings(tmp_path)
    holder = start_holder(settings)
    env = {"WAREHOUSE_PATH": str(settings.warehouse_path), "PAGERDUTY_TOKEN": "t",
           "PAGERDUTY_API_URL": "http://127.0.0.1:9"}  # fmt: skip
    try:
        started = time.monotonic()
        done = doraflow("run", env=env, cwd=tmp_path)
        assert time.monotonic() - started < 30
        assert done.returncode == 1
        [line] = done.stderr.splitlines()
        assert line.startswith(
            f"doraflow run: error: the warehouse {settings.warehouse_path} is in use by run "
        )
        assert f"holder-run (pid {holder.pid} on {socket.gethostname()}, started 20" in line
        assert line.endswith("wait for it to finish, then rerun")
        assert not settings.landing_dir.exists()  # nothing extracted twice
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # the kernel dropped the killed holder's lock: the next run takes it, and records the holder as abandoned
    recorder = RunRecorder(settings, "cli")
    with run_lock(settings, recorder.run_id):
        assert recorder.start() == ["holder-run"]
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        status = con.execute(
            "select status, error from ops.pipeline_runs where run_id = 'holder-run'"
        ).fetchone()
    assert status[0] == "abandoned" and recorder.run_id in status[1]


def test_the_lock_is_reentrant_in_its_process_and_exclusive_between_runs(tmp_path):
    settings = make_settings(tmp_path)
    with run_lock(settings, "a"):
        with run_lock(settings, "a"):  # a step of the run that holds it
            pass
        holder = subprocess.run(
            [sys.executable, "-c", "import sys; from doraflow.config import load_settings; "
             "from doraflow.warehouse import run_lock; s = load_settings({'WAREHOUSE_PATH': sys.argv[1]});\n"
             "with run_lock(s, 'b'): pass", str(settings.warehouse_path)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert (
            holder.returncode == 1
            and "RunLocked" in holder.stderr
            and "is in use by run a (pid" in holder.stderr
        )
    with run_lock(settings, "c"):  # released
        pass


def test_a_cli_run_during_a_dag_runs_extract_is_refused_and_the_runs_extract_tasks_share_the_lock(tmp_path):
    settings = make_settings(tmp_path)
    env = {"WAREHOUSE_PATH": str(settings.warehouse_path), "PAGERDUTY_TOKEN": "t",
           "PAGERDUTY_API_URL": "http://127.0.0.1:9"}  # fmt: skip
    with extract_lock(settings, "airflow-dora_nightly-x"):  # a mapped extract task of a DAG run
        with extract_lock(settings, "airflow-dora_nightly-x"):  # a second one of the same run, at once
            done = doraflow("run", env=env, cwd=tmp_path)
            assert done.returncode == 1
            [line] = done.stderr.splitlines()
            assert line.startswith(
                f"doraflow run: error: the warehouse {settings.warehouse_path} is in use by run "
            )
            assert f"airflow-dora_nightly-x (pid {os.getpid()} on {socket.gethostname()}, started 20" in line
            assert line.endswith(", extracting: wait for it to finish, then rerun")
            assert not settings.landing_dir.exists()  # the API budget is not spent twice
            done = doraflow("extract", env=env, cwd=tmp_path)  # an extract alone, too
            assert done.returncode == 1 and len(done.stderr.splitlines()) == 1
            assert (
                "is in use by run airflow-dora_nightly-x (pid" in done.stderr
                and not settings.landing_dir.exists()
            )
            with pytest.raises(RunLocked, match="is in use by run airflow-dora_nightly-x "):
                with extract_lock(settings, "airflow-dora_nightly-y"):  # another run's task
                    pass
    with run_lock(settings, "cli-run"):  # the tasks are done: a run takes it, and a task waits for the run
        task = subprocess.run(
            [sys.executable, "-c", "import sys; from doraflow.config import load_settings; "
             "from doraflow.warehouse import extract_lock; s = load_settings({'WAREHOUSE_PATH': sys.argv[1]});\n"
             "with extract_lock(s, 'airflow-dora_nightly-z'): pass", str(settings.warehouse_path)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert (
            task.returncode == 1
            and "RunLocked" in task.stderr
            and "is in use by run cli-run (pid" in task.stderr
        )
    with extract_lock(settings, "airflow-dora_nightly-z"):  # and after the run, free again
        pass


def test_postgres_run_lock_is_an_advisory_lock(postgres_database, tmp_path):
    settings = make_settings(tmp_path, WAREHOUSE_TARGET="postgres", WAREHOUSE_POSTGRES_URL=postgres_database)
    code = (
        "import sys; from doraflow.config import load_settings; from doraflow.warehouse import run_lock\n"
        "s = load_settings({'WAREHOUSE_PATH': sys.argv[1], 'WAREHOUSE_TARGET': 'postgres', "
        "'WAREHOUSE_POSTGRES_URL': sys.argv[2]})\n"
        "with run_lock(s, 'pg-holder'):\n    print('held', flush=True); import time; time.sleep(120)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code, str(settings.warehouse_path), postgres_database],
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunLocked, match=rf"is in use by run pg-holder \(pid {holder.pid} on "):
            with run_lock(settings, "second"):
                pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    deadline = time.monotonic() + 20
    while True:  # the server notices the dead session and drops its lock
        try:
            with run_lock(settings, "third"):
                break
        except RunLocked:
            assert time.monotonic() < deadline
            time.sleep(0.2)


def test_postgres_extract_lock_is_a_shared_advisory_lock_of_one_run(postgres_database, tmp_path):
    settings = make_settings(tmp_path, WAREHOUSE_TARGET="postgres", WAREHOUSE_POSTGRES_URL=postgres_database)
    with extract_lock(settings, "dag-1"), extract_lock(settings, "dag-1"):  # two mapped tasks of one run
        with pytest.raises(RunLocked, match=r"is in use by run dag-1 \(pid .*\), extracting: wait"):
            with run_lock(settings, "cli"):
                pass
        with pytest.raises(RunLocked, match="is in use by run dag-1 "):  # `doraflow extract` alone
            with extract_lock(settings, "cli-extract", shared=False):
                pass
        with pytest.raises(RunLocked, match="is in use by run dag-1 "):
            with extract_lock(settings, "dag-2"):
                pass
    with run_lock(settings, "cli"):  # released with the tasks' sessions
        pass


# -- item 6: a run with no source fails unless asked ---------------------------------------------------------------
def test_a_run_with_no_source_fails_unless_asked(tmp_path):
    env = {"WAREHOUSE_PATH": str(tmp_path / "wh" / "dora.duckdb")}
    done = doraflow("run", env=env, cwd=tmp_path)
    assert done.returncode == 1 and done.stderr.splitlines() == [f"doraflow run: error: {NO_SOURCE}"]
    allowed = doraflow("run", "--allow-no-source", env=env, cwd=tmp_path)
    assert "no source is configured (--allow-no-source)" in allowed.stdout
    assert (
        "no source configured" not in allowed.stderr
    )  # it went on (and stops later: nothing was ever landed)
    assert "== load" in allowed.stdout


# -- item 8: the warehouse cannot be opened: one line, an alert, a line in the run log -------------------------
def test_warehouse_held_by_another_process_is_one_line_with_a_run_log(tmp_path):
    settings = make_settings(tmp_path)
    settings.warehouse_path.parent.mkdir(parents=True)
    code = "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('open', flush=True); time.sleep(120)"
    other = subprocess.Popen([sys.executable, "-c", code, str(settings.warehouse_path)], stdout=subprocess.PIPE,
                             text=True)  # fmt: skip
    try:
        assert other.stdout.readline().strip() == "open"
        env = {"WAREHOUSE_PATH": str(settings.warehouse_path), "PAGERDUTY_TOKEN": "t"}
        done = doraflow("run", env=env, cwd=tmp_path)
    finally:
        other.kill()
        other.wait()
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"doraflow run: error: the warehouse {settings.warehouse_path} is held by process {other.pid}: wait for it "
        "or stop it (BI tools and notebooks should read the serving copy, not the warehouse)"
    ]
    log = (settings.warehouse_dir / RUN_LOG).read_text(encoding="utf-8").splitlines()
    assert len(log) == 1 and "| failed |" in log[0] and f"held by process {other.pid}" in log[0]


def test_read_only_warehouse_folder_is_one_line(tmp_path):
    if os.geteuid() == 0:
        # root writes through permissions: a read-only bind is what a real read-only volume looks like
        folder = tmp_path / "ro"
        folder.mkdir()
        if subprocess.run(
            ["mount", "--bind", "-o", "ro", str(folder), str(folder)], capture_output=True
        ).returncode:
            pytest.skip("cannot make a read-only mount here")
    else:
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(0o555)
    try:
        env = {"WAREHOUSE_PATH": str(folder / "dora.duckdb"), "PAGERDUTY_TOKEN": "t"}
        done = doraflow("run", env=env, cwd=tmp_path)
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", str(folder)], capture_output=True)
        folder.chmod(0o755)
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert (
        f"the warehouse {folder / 'dora.duckdb'} cannot be written (read-only or permission denied)" in line
    )
    assert "point WAREHOUSE_PATH at a writable folder" in line


def test_postgres_down_is_one_line_naming_the_fix(tmp_path):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {"WAREHOUSE_PATH": str(tmp_path / "wh" / "dora.duckdb"), "WAREHOUSE_TARGET": "postgres",
           "WAREHOUSE_POSTGRES_URL": f"postgresql://dora:s3cret@127.0.0.1:{port}/dora", "PAGERDUTY_TOKEN": "t"}  # fmt: skip
    done = doraflow("run", env=env, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"doraflow run: error: PostgreSQL at 127.0.0.1:{port}/dora is not reachable (connection refused): start the "
        "server or fix the host and port in WAREHOUSE_POSTGRES_URL"
    ]
    assert "s3cret" not in done.stdout + done.stderr
    assert "s3cret" not in (tmp_path / "wh" / RUN_LOG).read_text(encoding="utf-8")


def test_postgres_wrong_password_is_one_line(postgres_server, tmp_path):
    import psycopg2

    # The test server trusts every local login; a role behind a password needs a password rule in front of it,
    # so the message is provoked through the real server with a pg_hba rule for this one role.
    admin = psycopg2.connect(postgres_server)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("select setting from pg_settings where name = 'hba_file'")
        hba = Path(cursor.fetchone()[0])
        cursor.execute("drop role if exists dora_pw; create role dora_pw login password 'right'")
        original = hba.read_text(encoding="utf-8")
        hba.write_text("host all dora_pw 127.0.0.1/32 scram-sha-256\n" + original, encoding="utf-8")
        cursor.execute("select pg_reload_conf()")
    try:
        url = postgres_server.replace("postgres@", "dora_pw:wrong@")
        settings = make_settings(tmp_path, WAREHOUSE_TARGET="postgres", WAREHOUSE_POSTGRES_URL=url)
        recorder = RunRecorder(settings, "cli")
        from doraflow.warehouse import WarehouseUnavailable

        with pytest.raises(WarehouseUnavailable) as error:
            execute(
                __import__("doraflow.pipeline", fromlist=["STEP"]).STEP["check_marts"],
                settings,
                Handoff(),
                recorder,
                quiet,
            )
        assert str(error.value).endswith(
            "refused the login: fix the user or password in WAREHOUSE_POSTGRES_URL"
        )
        assert "wrong" not in str(error.value)
    finally:
        hba.write_text(original, encoding="utf-8")
        with admin.cursor() as cursor:
            cursor.execute("select pg_reload_conf()")
        admin.close()


def test_full_disk_is_one_line_and_a_rerun_after_freeing_space_works(tmp_path):
    folder = tmp_path / "full"
    folder.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4k", "tmpfs", str(folder)],
                                           capture_output=True).returncode:  # fmt: skip
        pytest.skip("needs root to mount a tiny tmpfs")
    try:
        env = {"WAREHOUSE_PATH": str(folder / "dora.duckdb"), "PAGERDUTY_TOKEN": "t"}
        done = doraflow("run", env=env, cwd=tmp_path)
        assert done.returncode == 1
        assert done.stderr.splitlines() == [
            f"doraflow run: error: the disk holding {folder} is full: free some space and rerun (nothing was lost)"
        ]
        assert "| failed |" in (folder / RUN_LOG).read_text(encoding="utf-8")
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True)


def test_a_step_run_alone_on_a_held_warehouse_is_one_line(tmp_path):
    settings = make_settings(tmp_path)
    land(settings, "acme/api", [PR])
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    code = "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('open', flush=True); time.sleep(120)"
    other = subprocess.Popen([sys.executable, "-c", code, str(settings.warehouse_path)], stdout=subprocess.PIPE,
                             text=True)  # fmt: skip
    try:
        assert other.stdout.readline().strip() == "open"
        done = doraflow("load", env={"WAREHOUSE_PATH": str(settings.warehouse_path)}, cwd=tmp_path)
    finally:
        other.kill()
        other.wait()
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"doraflow load: error: the warehouse {settings.warehouse_path} is held by process {other.pid}: wait for it "
        "or stop it (BI tools and notebooks should read the serving copy, not the warehouse)"
    ]


@pytest.mark.slow
def test_a_whole_run_on_postgres_records_the_gates_and_releases_its_lock(tmp_path, postgres_database):
    import psycopg2

    from doraflow.pipeline import STEPS, run_pipeline
    from simulator import Simulator, SimulatorConfig

    with Simulator(SimulatorConfig(seed=3, repositories=1, services=1, days=10)) as sim:
        settings = load_settings({**sim.env(), "WAREHOUSE_PATH": str(tmp_path / "wh" / "dora.duckdb"),
                                  "WAREHOUSE_TARGET": "postgres", "WAREHOUSE_POSTGRES_URL": postgres_database})  # fmt: skip
        run = run_pipeline(settings, trigger="cli", progress=quiet)
    assert run.status == "success" and settings.serving_path.is_file()
    with psycopg2.connect(postgres_database) as con, con.cursor() as cursor:
        cursor.execute("select step from ops.step_runs where run_id = %s order by started_at", (run.run_id,))
        assert [r[0] for r in cursor.fetchall()] == [step.name for step in STEPS]
        cursor.execute("select event from ops.marts_gate order by event_at")
        assert [r[0] for r in cursor.fetchall()] == ["building", "passed"]
        cursor.execute("select count(*) from ops.dbt_source_freshness where run_id = %s", (run.run_id,))
        assert cursor.fetchone()[0] > 0
        cursor.execute("select count(*) from pg_locks where locktype = 'advisory'")
        assert cursor.fetchone()[0] == 0  # the run's advisory lock went with its session
    con.close()


def test_the_landing_gate_refuses_a_run_without_source_for_the_dag_and_records_it(tmp_path):
    settings = make_settings(tmp_path)
    land(settings, "acme/api", [PR])
    recorder = RunRecorder(settings, "airflow", run_id="airflow-x")
    from doraflow.errors import DoraflowError
    from doraflow.pipeline import STEP

    with pytest.raises(DoraflowError, match="^no source configured"):
        execute(STEP["check_landing"], settings, Handoff(require_source=True), recorder, quiet)
    assert [(s.step, s.status) for s in recorder.steps] == [("check landed batches", "failed")]
    allowed = Handoff(require_source=True, allow_no_source=True)
    execute(STEP["check_landing"], settings, allowed, recorder, quiet)  # the param allow_no_source
    assert len(allowed.checked_batches) == 1
