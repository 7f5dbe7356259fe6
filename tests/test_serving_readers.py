"""Readers of the serving copy, in other processes, are never blocked and never see a partial set of marts.

Each publish k adds one deployment and its change to the working marts, so a complete serving copy of version k
has 7 + k deployments and 6 + k changes and all seven marts. Two reader processes query in a loop while the test
publishes three times:
- `hold`: one connection opened before the first publish, queried throughout: it keeps its consistent old copy;
- `reopen`: a new connection for every query: each sees one complete version, and the newest after the end.
The processes are told about each publish over stdin (no sleeps, no timing).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
from serving_reader import announce, start_reader, stop_reader
from test_serving_support import build_duckdb_marts, sample_settings

from doraflow.publish import publish

# Version k of the serving copy: 7 + k deployments, 6 + k changes, all seven marts, 36 dora_metrics rows.
CHECK = r"""
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


def test_readers_see_complete_marts_through_publishes(tmp_path):
    warehouse = tmp_path / "dora.duckdb"
    build_duckdb_marts(warehouse)
    settings = sample_settings(warehouse)
    publish(settings, progress=lambda _m: None)  # version 0
    readers = {mode: start_reader(settings.serving_path, mode, CHECK) for mode in ("hold", "reopen")}
    try:
        for number in range(1, 4):
            _add_deployment(settings, number)
            publish(settings, progress=lambda _m: None)  # never blocked by the readers holding the file
            # A new reader sees the new copy at once.
            fresh = duckdb.connect(str(settings.serving_path), read_only=True)
            assert fresh.execute("select count(*) from marts.fct_deployments").fetchone()[0] == 7 + number
            fresh.close()
            for reader in readers.values():
                announce(reader, number)
    finally:
        summaries = {mode: stop_reader(reader) for mode, reader in readers.items()}
    for mode, summary in summaries.items():
        assert summary["broken"] == [], mode
        assert summary["announced"] == [1, 2, 3]
        assert summary["queries"] >= 1
    assert summaries["hold"]["versions"] == [0]  # the old, consistent copy, throughout
    assert set(summaries["reopen"]["versions"]) <= {0, 1, 2, 3}
    assert summaries["reopen"]["final"] == 3
