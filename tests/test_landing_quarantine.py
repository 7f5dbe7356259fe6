"""Issue #11.2: a truncated batch -> the loader names the recovery command -> it heals (raw equals a clean run)."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pytest

from doraflow import cli
from doraflow.config import load_settings
from doraflow.errors import LoadError
from doraflow.raw_loader import load_pending_batches
from extractors import extract_sources
from extractors.landing import ScopeIndex
from extractors.streams import STREAMS

simulator = pytest.importorskip("simulator")
QUIET = dict(progress=lambda line: None)


def snapshot(settings) -> dict[str, list]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return {
            s.table: con.execute(
                f"select _key, _scope, _parent_id, payload::varchar from raw.{s.table} order by _key"
            ).fetchall()
            for s in STREAMS
        }


def test_truncated_batch_error_names_the_command_that_heals(tmp_path, monkeypatch, capsys):
    config = simulator.SimulatorConfig(seed=4, repositories=1, services=1, days=30, jira_projects=1)
    with simulator.Simulator(config) as sim:
        base = {**sim.env(), "EXTRACT_CONCURRENCY": "1"}
        clean = load_settings({**base, "WAREHOUSE_PATH": str(tmp_path / "clean" / "dora.duckdb")})
        extract_sources(clean, ["github"], **QUIET)
        load_pending_batches(clean, **QUIET)

        env = {**base, "WAREHOUSE_PATH": str(tmp_path / "broken" / "dora.duckdb")}
        broken = load_settings(env)
        extract_sources(broken, ["github"], **QUIET)
        pulls = sorted((broken.landing_dir / "github" / "pull_requests").glob("*.jsonl.gz"))
        assert len(pulls) == 1
        data = pulls[0].read_bytes()
        pulls[0].write_bytes(data[: len(data) // 2])  # cut in the middle: a disk full or a copy that failed
        batch_id = pulls[0].name.split(".")[0]
        assert ScopeIndex(broken.landing_dir, "github", "pull_requests", "acme/checkout").state is not None

        with pytest.raises(LoadError) as caught:
            load_pending_batches(broken, **QUIET)
        message = str(caught.value)
        assert f"doraflow landing quarantine {batch_id}" in message and "\n" not in message

        for name, value in env.items():
            monkeypatch.setenv(name, value)
        assert cli.main(["landing", "quarantine", batch_id]) == 0
        assert batch_id in capsys.readouterr().out
        assert not pulls[0].exists()
        assert (broken.landing_dir / "_quarantine" / "github" / "pull_requests" / pulls[0].name).is_file()
        # the state went with the batch: the pull requests stream starts again from the start date
        assert ScopeIndex(broken.landing_dir, "github", "pull_requests", "acme/checkout").state is None

        extract_sources(broken, ["github"], **QUIET)  # the normal run that follows
        load_pending_batches(broken, **QUIET)
    assert snapshot(broken) == snapshot(clean)
    assert len(snapshot(broken)["github__pull_requests"]) > 0


def test_quarantine_refuses_unknown_and_merged_batches(tmp_path, monkeypatch, capsys):
    settings = load_settings({"WAREHOUSE_PATH": str(tmp_path / "wh" / "dora.duckdb")})
    monkeypatch.setenv("WAREHOUSE_PATH", str(settings.warehouse_path))
    for name in ("GITHUB_TOKEN", "JIRA_API_TOKEN", "PAGERDUTY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    batch = ScopeIndex(settings.landing_dir, "jira", "issues", "PAY").write_batch(
        [(None, {"id": "1"})], {"watermark": "x"}, datetime.now(UTC)
    )
    assert cli.main(["landing", "quarantine", "20990101T000000000000Z-jira-issues-00000000"]) == 1
    assert "no landed batch" in capsys.readouterr().err
    load_pending_batches(settings, **QUIET)
    assert cli.main(["landing", "quarantine", batch]) == 1
    assert "already merged" in capsys.readouterr().err
    assert (settings.landing_dir / "jira" / "issues" / f"{batch}.jsonl.gz").is_file()


def test_index_cache_follows_the_batch_files(tmp_path):
    first = ScopeIndex(tmp_path, "jira", "issues", "PAY").write_batch(
        [(None, {"id": "1"})], {"w": 1}, datetime.now(UTC)
    )
    second = ScopeIndex(tmp_path, "jira", "issues", "PAY").write_batch(
        [(None, {"id": "2"})], {"w": 2}, datetime.now(UTC)
    )
    assert ScopeIndex(tmp_path, "jira", "issues", "PAY").state == {"w": 2}
    (tmp_path / "jira" / "issues" / f"{second}.jsonl.gz").unlink()  # removed by hand, index left as it was
    index = ScopeIndex(tmp_path, "jira", "issues", "PAY")
    assert (index.batches, index.state, index.state_batch) == ([first], {"w": 1}, first)


@pytest.mark.parametrize("damage", ["not gzip at all", "cut inside the header"])
def test_load_of_a_broken_gzip_says_so_in_one_line(tmp_path, monkeypatch, capsys, damage):
    """Issue #11.10: not "cannot rollback - no transaction is active"."""
    settings = load_settings({"WAREHOUSE_PATH": str(tmp_path / "wh" / "dora.duckdb")})
    monkeypatch.setenv("WAREHOUSE_PATH", str(settings.warehouse_path))
    batch = ScopeIndex(settings.landing_dir, "jira", "issues", "PAY").write_batch(
        [(None, {"id": str(n)}) for n in range(50)], None, datetime.now(UTC)
    )
    path = settings.landing_dir / "jira" / "issues" / f"{batch}.jsonl.gz"
    path.write_bytes(b"plain text" if damage == "not gzip at all" else path.read_bytes()[:20])
    assert cli.main(["load"]) == 1
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "rollback" not in error
    assert f"doraflow landing quarantine {batch}" in error
