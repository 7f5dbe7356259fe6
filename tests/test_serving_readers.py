"""Readers of the serving copy, in other processes, are never blocked and never see a partial set of marts.

Each publish k adds one deployment and its change to the working marts, so a complete serving copy of version k
has 7 + k deployments and 6 + k changes and all seven marts. Two reader processes query in a loop while the test
publishes five times:
- `hold`: one connection opened before the first publish, queried throughout: it keeps its consistent old copy;
- `reopen`: a new connection for every query: each sees one complete version, and the newest after the end.
The processes are told about each publish over stdin (no sleeps, no timing).
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import duckdb
from test_serving_support import build_duckdb_marts, sample_settings

from doraflow.publish import publish

READER = r"""
import json, os, select, sys
import duckdb

path, mode = sys.argv[1], sys.argv[2]
QUERY = '''
select (select count(*) from information_schema.tables where table_schema = 'marts'),
       (select count(*) from marts.fct_deployments),
       (select count(*) from marts.fct_changes),
       (select count(*) from marts.dora_metrics)
'''

def check(connection):
    tables, deployments, changes, metrics = connection.execute(QUERY).fetchone()
    complete = tables == 7 and changes == deployments - 1 and metrics == 36
    return deployments - 7, complete

os.nice(19)  # query flat out, but leave the CPU to the pipeline when it needs it (2 shared cores)
held = duckdb.connect(path, read_only=True) if mode == "hold" else None
queries, broken, versions, announced = 0, [], set(), []
print("ready", flush=True)
pending, stop = b"", False
while not stop:
    if select.select([0], [], [], 0)[0]:  # raw reads: Python's stdin buffer would hide lines from select
        chunk = os.read(0, 4096)
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if line == b"stop":
                stop = True
            else:
                announced.append(int(line))
        stop = stop or not chunk
    if held is not None:
        version, complete = check(held)
    else:
        connection = duckdb.connect(path, read_only=True)
        try:
            version, complete = check(connection)
        finally:
            connection.close()
    queries += 1
    versions.add(version)
    if not complete:
        broken.append(version)
final = None
if held is None:
    connection = duckdb.connect(path, read_only=True)
    final = check(connection)[0]
    connection.close()
print(json.dumps({"queries": queries, "broken": broken, "versions": sorted(versions),
                  "announced": announced, "final": final}), flush=True)
"""


def _add_deployment(settings, number: int) -> None:
    deployed = datetime(2026, 11, 10, 12, tzinfo=UTC) + timedelta(hours=number)
    working = duckdb.connect(str(settings.warehouse_path))
    try:
        working.execute(
            "insert into marts.fct_deployments (deployment_id, repository, service, team, environment, "
            "commit_sha, created_at, deployed_at, finished_at, outcome, is_seed, is_rollback, "
            "is_change_failure, is_rework, change_count, incident_count, lead_time_median_minutes) "
            "values (?, 'acme/search', 'search', 'discovery', 'production', ?, ?, ?, ?, 'success', false, "
            "false, false, false, 1, 0, 15.0)",
            [f"n{number}", f"e{number}", deployed, deployed, deployed],
        )
        working.execute(
            "insert into marts.fct_changes values ('acme/search', 'search', ?, ?, ?, ?, ?, 15.0)",
            [f"e{number}", 100 + number, deployed - timedelta(minutes=15), f"n{number}", deployed],
        )
    finally:
        working.close()


def _start_reader(path, mode):
    process = subprocess.Popen(
        [sys.executable, "-c", READER, str(path), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().strip() == "ready"
    return process


def test_readers_see_complete_marts_through_publishes(tmp_path):
    warehouse = tmp_path / "dora.duckdb"
    build_duckdb_marts(warehouse)
    settings = sample_settings(warehouse)
    publish(settings, progress=lambda _m: None)  # version 0
    readers = {mode: _start_reader(settings.serving_path, mode) for mode in ("hold", "reopen")}
    summaries = {}
    try:
        for number in range(1, 4):
            _add_deployment(settings, number)
            publish(settings, progress=lambda _m: None)  # never blocked by the readers holding the file
            # A new reader sees the new copy at once.
            fresh = duckdb.connect(str(settings.serving_path), read_only=True)
            assert fresh.execute("select count(*) from marts.fct_deployments").fetchone()[0] == 7 + number
            fresh.close()
            for reader in readers.values():
                reader.stdin.write(f"{number}\n")
                reader.stdin.flush()
        for mode, reader in readers.items():
            reader.stdin.write("stop\n")
            reader.stdin.flush()
            summaries[mode] = json.loads(reader.stdout.readline())
    finally:
        for reader in readers.values():
            reader.stdin.close()
            reader.wait()
    for mode, summary in summaries.items():
        assert readers[mode].returncode == 0
        assert summary["broken"] == [], mode
        assert summary["announced"] == [1, 2, 3]
        assert summary["queries"] >= 1
    assert summaries["hold"]["versions"] == [0]  # the old, consistent copy, throughout
    assert set(summaries["reopen"]["versions"]) <= {0, 1, 2, 3}
    assert summaries["reopen"]["final"] == 3
