"""publish(): the serving copy holds the marts only, exports match, a failure leaves the last publication."""

from __future__ import annotations

import os
import stat

import duckdb
import pytest
from test_serving_support import build_duckdb_marts, sample_settings

from doraflow.errors import PublishError
from doraflow.publish import SERVING_STORAGE_VERSION, publish

MARTS = [
    "dim_services",
    "dora_coverage",
    "dora_metrics",
    "dora_metrics_by_team",
    "fct_changes",
    "fct_deployments",
    "fct_incidents",
]


@pytest.fixture
def settings(tmp_path):
    warehouse = tmp_path / "warehouse" / "dora.duckdb"
    warehouse.parent.mkdir()
    build_duckdb_marts(warehouse)
    return sample_settings(warehouse)


def _quiet(_message: str) -> None:
    return None


def test_publish_writes_marts_only_read_only_with_old_storage_version(settings):
    result = publish(settings, progress=_quiet)
    assert result.serving_path == settings.serving_path
    # Hand count from test_serving_support: 7 deployments (d0..d6), 6 changes, 4 incidents, 2 services;
    # dora_metrics: 3 names x (3 months + 9 weeks) = 36 rows.
    assert result.row_counts == {
        "dim_services": 2,
        "dora_coverage": 4,
        "dora_metrics": 36,
        "dora_metrics_by_team": 36,
        "fct_changes": 6,
        "fct_deployments": 7,
        "fct_incidents": 4,
    }
    assert not os.stat(settings.serving_path).st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    connection = duckdb.connect(str(settings.serving_path), read_only=True)
    try:
        schemas = {
            row[0]
            for row in connection.execute(
                "select distinct table_schema from information_schema.tables"
            ).fetchall()
        }
        assert schemas == {"marts"}  # no raw, no staging
        tables = [
            row[0]
            for row in connection.execute(
                "select table_name from information_schema.tables order by table_name"
            ).fetchall()
        ]
        assert tables == MARTS
        assert connection.execute(
            "select deployment_id, outcome, deployed_at is null from marts.fct_deployments "
            "where deployment_id = 'd2'"
        ).fetchall() == [("d2", "failure", True)]
        version = connection.execute(
            "select tags['storage_version'] from duckdb_databases() where database_name = current_database()"
        ).fetchone()
    finally:
        connection.close()
    assert version[0].startswith(SERVING_STORAGE_VERSION)  # 'v1.0.0+': readable by DuckDB >= 1.0
    # Nothing temporary is left beside the published files.
    leftovers = sorted(p.name for p in settings.warehouse_dir.iterdir() if p.name.startswith("."))
    assert leftovers == []


def test_exports_hold_one_parquet_per_mart_with_the_same_rows(settings):
    publish(settings, progress=_quiet)
    assert settings.exports_dir.is_symlink()
    files = sorted(p.name for p in settings.exports_dir.iterdir())
    assert files == [f"{name}.parquet" for name in MARTS]
    connection = duckdb.connect()
    try:
        rows = connection.execute(
            f"select count(*), count(*) filter (where is_change_failure) from "
            f"read_parquet('{settings.exports_dir / 'fct_deployments.parquet'}')"
        ).fetchone()
    finally:
        connection.close()
    assert rows == (7, 1)  # d3 is the one change failure


def test_republish_swaps_exports_and_keeps_two_versions(settings):
    publish(settings, progress=_quiet)
    first = os.readlink(settings.exports_dir)
    working = duckdb.connect(str(settings.warehouse_path))
    working.execute("delete from marts.fct_incidents where incident_id = 'i4'")
    working.close()
    publish(settings, progress=_quiet)
    publish(settings, progress=_quiet)
    third = os.readlink(settings.exports_dir)
    assert third != first
    versions = sorted(p.name for p in (settings.warehouse_dir / "exports.versions").iterdir())
    assert len(versions) == 2 and first.rsplit("/", 1)[-1] not in versions
    connection = duckdb.connect()
    try:
        count = connection.execute(
            f"select count(*) from read_parquet('{settings.exports_dir / 'fct_incidents.parquet'}')"
        ).fetchone()[0]
    finally:
        connection.close()
    assert count == 3


def test_failed_publish_leaves_the_previous_publication(settings):
    publish(settings, progress=_quiet)
    before = {path: path.read_bytes() for path in (settings.serving_path, settings.report_path)}
    export_link = os.readlink(settings.exports_dir)
    working = duckdb.connect(str(settings.warehouse_path))
    working.execute("drop table marts.dora_metrics")  # the report cannot be built without it
    working.close()
    with pytest.raises(PublishError, match="dora_metrics"):
        publish(settings, progress=_quiet)
    assert {path: path.read_bytes() for path in before} == before
    assert os.readlink(settings.exports_dir) == export_link
    assert len(list((settings.warehouse_dir / "exports.versions").iterdir())) == 1
    assert sorted(p.name for p in settings.warehouse_dir.iterdir() if p.name.startswith(".")) == []


def test_missing_warehouse_names_the_file(tmp_path):
    settings = sample_settings(tmp_path / "nowhere" / "dora.duckdb")
    with pytest.raises(PublishError, match=r"nowhere/dora\.duckdb does not exist"):
        publish(settings, progress=_quiet)


def test_warehouse_without_marts_says_to_transform(tmp_path):
    warehouse = tmp_path / "dora.duckdb"
    duckdb.connect(str(warehouse)).execute("create schema raw").close()
    with pytest.raises(PublishError, match="no tables in schema 'marts'.*dbt build"):
        publish(sample_settings(warehouse), progress=_quiet)


def test_cleanup_spares_a_newer_export_being_written_and_migrates_a_plain_directory(settings):
    settings.exports_dir.mkdir()  # a plain directory from an older layout
    (settings.exports_dir / "stale.parquet").write_bytes(b"old")
    publish(settings, progress=_quiet)
    assert settings.exports_dir.is_symlink()
    assert "stale.parquet" not in {p.name for p in settings.exports_dir.iterdir()}
    versions = settings.warehouse_dir / "exports.versions"
    newer = versions / "99991231T000000000000Z-concurrent"  # another publish, still writing
    newer.mkdir()
    publish(settings, progress=_quiet)
    publish(settings, progress=_quiet)
    names = sorted(p.name for p in versions.iterdir())
    # the newer one is untouched; of the older ones only the previous version is kept (the legacy one is gone)
    assert newer.name in names and len(names) == 3
    assert not any("legacy" in name for name in names)


KILLED_PUBLISH = """
import os, signal, sys
sys.path.insert(0, {tests!r})
from test_serving_support import sample_settings
from pathlib import Path
import doraflow.publish as publish_module
from doraflow.publish import publish

def killed(*args, **kwargs):  # SIGKILL once the serving copy and the export version are written
    os.kill(os.getpid(), signal.SIGKILL)

publish_module.os.chmod = killed
publish(sample_settings(Path({warehouse!r})), progress=lambda line: None)
"""


def test_publish_killed_half_way_is_cleaned_by_the_next_and_readers_keep_their_exports(settings):
    """Issue #11.10: a kill leaves `.dora_serving.duckdb.*.tmp`, `.publish-*` and an export version behind."""
    import subprocess
    import sys

    publish(settings, progress=_quiet)
    readers_version = os.readlink(settings.exports_dir)
    script = KILLED_PUBLISH.format(tests=os.path.dirname(__file__), warehouse=str(settings.warehouse_path))
    process = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert process.returncode == -9, process.stderr
    leftovers = sorted(p.name for p in settings.warehouse_dir.iterdir() if p.name.startswith("."))
    assert any(name.endswith(".tmp") for name in leftovers) and any(
        n.startswith(".publish-") for n in leftovers
    )
    versions = settings.warehouse_dir / "exports.versions"
    assert len(list(versions.iterdir())) == 2  # the readers' one and the killed publish's unlinked one

    lines: list[str] = []
    publish(settings, progress=lines.append)
    assert sorted(p.name for p in settings.warehouse_dir.iterdir() if p.name.startswith(".")) == []
    assert any("leftover(s) of a publish that was killed" in line for line in lines)
    names = sorted(p.name for p in versions.iterdir())
    # the new version and the one readers were using; the killed publish's version is gone
    assert names == sorted(
        [os.path.basename(readers_version), os.path.basename(os.readlink(settings.exports_dir))]
    )


def test_a_running_publish_is_not_cleaned(settings):
    """A leftover whose lock is held belongs to a publish still running: the cleaner leaves it alone."""
    import fcntl

    publish(settings, progress=_quiet)
    running = settings.warehouse_dir / ".publish-20990101T000000000000Z-abcdef"
    running.mkdir()
    serving_tmp = settings.warehouse_dir / f".{settings.serving_path.name}.20990101T000000000000Z-abcdef.tmp"
    serving_tmp.write_bytes(b"being written")
    with (running / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        publish(settings, progress=_quiet)
        assert running.is_dir() and serving_tmp.is_file()
    publish(settings, progress=_quiet)  # its lock is free now: it died
    assert not running.exists() and not serving_tmp.exists()
