"""The raw loader on hand-made batches: natural keys, latest wins, quarantine, replay, PostgreSQL."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime

import duckdb
import pytest

from doraflow.config import load_settings
from doraflow.errors import LoadError
from doraflow.raw_loader import load_pending_batches, pending_batches, replay_landing
from extractors.landing import ScopeIndex

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def make_settings(tmp_path, **extra):
    env = {"WAREHOUSE_PATH": str(tmp_path / "wh" / "dora.duckdb"), **extra}
    return load_settings(env)


def land(settings, source, stream, scope, records, state=None):
    return ScopeIndex(settings.landing_dir, source, stream, scope).write_batch(records, state, T0)


def rows(settings, table):
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return con.execute(
            f"select _key, _scope, _parent_id, payload::varchar, _batch_id from raw.{table} order by _key"
        ).fetchall()


def test_merges_by_natural_key_latest_version_wins(tmp_path):
    settings = make_settings(tmp_path)
    first = land(
        settings,
        "github",
        "pull_requests",
        "acme/api",
        [(None, {"number": 1, "title": "a"}), (None, {"number": 2, "title": "b"})],
    )
    land(settings, "github", "pull_requests", "acme/web", [(None, {"number": 1, "title": "other repo"})])
    second = land(
        settings,
        "github",
        "pull_requests",
        "acme/api",
        [(None, {"number": 1, "title": "a2"}), (None, {"number": 2, "title": "b"})],
    )
    assert [p.name.split(".")[0] for p in pending_batches(settings)][0] == first
    result = load_pending_batches(settings, progress=lambda line: None)
    # 3 batches, 5 records: PR 1 and 2 of acme/api and PR 1 of acme/web inserted; PR 1 changed once; PR 2 same
    assert (result.batches, result.records, result.inserted, result.updated, result.quarantined) == (
        3,
        5,
        3,
        1,
        0,
    )
    table = rows(settings, "github__pull_requests")
    assert [r[0] for r in table] == ["acme/api#1", "acme/api#2", "acme/web#1"]
    assert json.loads(table[0][3])["title"] == "a2" and table[0][4] == second
    assert table[1][4] == first  # an identical re-read keeps the version it already had
    assert pending_batches(settings) == []
    again = load_pending_batches(settings, progress=lambda line: None)
    assert again.batches == 0


def test_child_keys_and_parent_ids(tmp_path):
    settings = make_settings(tmp_path)
    land(
        settings, "github", "pull_request_commits", "acme/api", [("7", {"sha": "abc"}), ("8", {"sha": "abc"})]
    )
    land(settings, "jira", "issue_changelogs", "PAY", [("10001", {"id": "5"}), ("10002", {"id": "5"})])
    land(settings, "github", "comparisons", "acme/api", [("a1...b2", {"status": "ahead", "ahead_by": 2})])
    load_pending_batches(settings, progress=lambda line: None)
    assert [(r[0], r[2]) for r in rows(settings, "github__pull_request_commits")] == [
        ("acme/api#7#abc", "7"),
        ("acme/api#8#abc", "8"),
    ]
    assert [r[0] for r in rows(settings, "jira__issue_changelogs")] == ["10001#5", "10002#5"]
    assert [r[0] for r in rows(settings, "github__comparisons")] == ["acme/api#a1...b2"]


def test_bad_records_are_quarantined_and_good_ones_load(tmp_path):
    settings = make_settings(tmp_path)
    batch = land(
        settings,
        "pagerduty",
        "incidents",
        "pagerduty",
        [
            (None, {"id": "P1", "status": "resolved", "new_field": {"x": 1}}),  # shape change: absorbed
            (None, {"status": "triggered"}),  # missing key
            (None, {"id": 42}),  # wrong type
            (None, "not an object"),
        ],
    )
    lines: list[str] = []
    result = load_pending_batches(settings, progress=lines.append)
    assert (result.inserted, result.quarantined) == (1, 3)
    assert any("3 bad record(s) quarantined" in line for line in lines)
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        quarantine = con.execute(
            "select batch_id, stream, line_number, reason from raw._quarantine order by line_number"
        ).fetchall()
        loaded = con.execute("select record_count, quarantined_count from raw._loaded_batches").fetchall()
    assert quarantine == [
        (batch, "incidents", 3, "missing key field 'id'"),
        (batch, "incidents", 4, "key field 'id' is int, expected str"),
        (batch, "incidents", 5, "payload is str, expected a JSON object"),
    ]
    assert loaded == [(4, 3)]


def test_batch_with_every_record_bad_fails_loudly_after_committing(tmp_path):
    settings = make_settings(tmp_path)
    land(settings, "github", "releases", "acme/api", [(None, {"release_id": 1}), (None, {"release_id": 2})])
    with pytest.raises(LoadError) as caught:
        load_pending_batches(settings, progress=lambda line: None)
    assert "raw.github__releases" in str(caught.value) and "raw._quarantine" in str(caught.value)
    assert pending_batches(settings) == []  # recorded: the quarantine keeps the records


def test_unparseable_line_is_quarantined(tmp_path):
    settings = make_settings(tmp_path)
    batch = land(settings, "jira", "issues", "PAY", [(None, {"id": "1"})])
    path = settings.landing_dir / "jira" / "issues" / f"{batch}.jsonl.gz"
    with gzip.open(path, "at", encoding="utf-8") as handle:
        handle.write('{"parent_id": null, "payload": {"id": \n')
    result = load_pending_batches(settings, progress=lambda line: None)
    assert (result.inserted, result.quarantined) == (1, 1)


def test_replay_rebuilds_the_same_raw_tables(tmp_path):
    settings = make_settings(tmp_path)
    land(settings, "github", "deployments", "acme/api", [(None, {"id": 1, "environment": "production"})])
    land(
        settings,
        "github",
        "deployments",
        "acme/api",
        [(None, {"id": 1, "environment": "production", "x": 1})],
    )
    land(settings, "github", "deployments", "acme/api", [(None, {"id": 2, "environment": "staging"})])
    load_pending_batches(settings, progress=lambda line: None)
    before = rows(settings, "github__deployments")
    result = replay_landing(settings, progress=lambda line: None)
    assert result.batches == 3 and (result.inserted, result.updated) == (2, 1)
    assert rows(settings, "github__deployments") == before


def test_loads_into_postgres(tmp_path, postgres_database):
    import psycopg2

    settings = make_settings(tmp_path, WAREHOUSE_TARGET="postgres", WAREHOUSE_POSTGRES_URL=postgres_database)
    land(
        settings,
        "jira",
        "issues",
        "PAY",
        [(None, {"id": "1", "fields": {"summary": "a"}}), (None, {"key": "x"})],
    )
    land(settings, "jira", "issues", "PAY", [(None, {"id": "1", "fields": {"summary": "b"}})])
    result = load_pending_batches(settings, progress=lambda line: None)
    assert (result.batches, result.inserted, result.updated, result.quarantined) == (2, 1, 1, 1)
    assert pending_batches(settings) == []
    with psycopg2.connect(postgres_database) as con, con.cursor() as cur:
        cur.execute(
            "select _key, payload->'fields'->>'summary', pg_typeof(payload)::text, "
            "pg_typeof(_extracted_at)::text from raw.jira__issues"
        )
        assert cur.fetchall() == [("1", "b", "jsonb", "timestamp with time zone")]
    replayed = replay_landing(settings, progress=lambda line: None)
    assert (replayed.batches, replayed.inserted, replayed.updated) == (2, 1, 1)


def test_duplicate_keys_in_one_batch_keep_the_newest_version_and_are_counted(tmp_path):
    """A list that shifted while paged lands the same key twice in one batch (issue #11.1)."""
    settings = make_settings(tmp_path)
    pulls = land(
        settings,
        "github",
        "pull_requests",
        "acme/api",
        [
            (None, {"number": 1, "title": "new", "updated_at": "2026-03-01T10:00:00Z"}),
            (None, {"number": 2, "title": "only"}),
            (None, {"number": 1, "title": "old", "updated_at": "2026-03-01T09:00:00Z"}),  # re-served later
        ],
    )
    issues = land(
        settings,
        "jira",
        "issues",
        "PAY",
        [
            (None, {"id": "7", "fields": {"updated": "2026-03-01T09:00:00.000+0000"}, "v": "old"}),
            (None, {"id": "7", "fields": {"updated": "2026-03-01T11:00:00.000+0000"}, "v": "new"}),
        ],
    )
    # no version field: the last line wins
    statuses = land(settings, "github", "deployment_statuses", "acme/api", [(None, {"id": 5, "s": "a"})] * 2)
    lines: list[str] = []
    result = load_pending_batches(settings, progress=lines.append)
    assert (result.records, result.inserted, result.updated, result.duplicates) == (7, 4, 0, 3)
    titles = {r[0]: json.loads(r[3])["title"] for r in rows(settings, "github__pull_requests")}
    assert titles == {"acme/api#1": "new", "acme/api#2": "only"}
    assert [json.loads(r[3])["v"] for r in rows(settings, "jira__issues")] == ["new"]
    assert len(rows(settings, "github__deployment_statuses")) == 1
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        loaded = dict(con.execute("select batch_id, duplicate_count from raw._loaded_batches").fetchall())
    assert loaded == {pulls: 1, issues: 1, statuses: 1}
    warnings = [line for line in lines if "duplicate key(s)" in line]
    assert len(warnings) == 3 and all("\n" not in line for line in warnings)
    assert "3 duplicate(s)" in lines[-1]


def test_shifting_page_duplicate_from_the_simulator_loads(tmp_path):
    """Reproduced with the simulator's `shifting_item` switch: a page boundary item is served twice."""
    simulator = pytest.importorskip("simulator")
    from extractors import extract_sources

    config = simulator.SimulatorConfig(seed=5, repositories=1, services=1, days=70, jira_projects=1)
    with simulator.Simulator(config) as sim:
        settings = load_settings(
            {**sim.env(), "WAREHOUSE_PATH": str(tmp_path / "wh" / "dora.duckdb"), "EXTRACT_CONCURRENCY": "1"}
        )
        truth = sim.truth()["github__pull_requests"]
        assert truth > 100  # more than one page of 100
        sim.set_faults(simulator.Faults(shifting_item_every=2, fail_first_n=1, apis=("github",)))
        extract_sources(settings, sources=["github"], progress=lambda line: None)
    landed = [
        json.loads(line)["payload"]["number"]
        for path in (settings.landing_dir / "github" / "pull_requests").glob("*.jsonl.gz")
        for line in gzip.open(path, "rt").read().splitlines()[1:]
    ]
    assert len(landed) == truth + 1 and len(set(landed)) == truth  # one key twice in one batch
    result = load_pending_batches(settings, progress=lambda line: None)
    assert result.duplicates == 1
    assert len(rows(settings, "github__pull_requests")) == truth


@pytest.mark.parametrize("target", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_set_based_merge_replays_the_per_batch_rule(tmp_path, request, target):
    """Stored X; then batches Y, X, X: per batch that is two updates and the row ends as the first trailing X.

    A second load brings an identical re-read (no change, keeps its batch), a change, and a new key with a
    within-batch duplicate; the figures are those of merging the batches one by one."""
    extra = {}
    if target == "postgres":
        extra = dict(
            WAREHOUSE_TARGET="postgres", WAREHOUSE_POSTGRES_URL=request.getfixturevalue("postgres_database")
        )
    settings = make_settings(tmp_path, **extra)

    def table() -> dict[str, tuple[str, str]]:
        if target == "duckdb":
            return {r[0]: (json.loads(r[3])["v"], r[4]) for r in rows(settings, "jira__issues")}
        import psycopg2

        with psycopg2.connect(extra["WAREHOUSE_POSTGRES_URL"]) as con, con.cursor() as cur:
            cur.execute("select _key, payload->>'v', _batch_id from raw.jira__issues")
            return {key: (value, batch) for key, value, batch in cur.fetchall()}

    b1 = land(
        settings, "jira", "issues", "PAY", [(None, {"id": "1", "v": "x"}), (None, {"id": "2", "v": "a"})]
    )
    assert load_pending_batches(settings, progress=lambda line: None).inserted == 2
    b2 = land(settings, "jira", "issues", "PAY", [(None, {"id": "1", "v": "y"})])
    b3 = land(
        settings, "jira", "issues", "PAY", [(None, {"id": "1", "v": "x"}), (None, {"id": "2", "v": "a"})]
    )
    land(settings, "jira", "issues", "PAY", [(None, {"id": "1", "v": "x"})])
    b5 = land(
        settings,
        "jira",
        "issues",
        "PAY",
        [
            (None, {"id": "3", "v": "p", "updated_at": "2026-03-02"}),
            (None, {"id": "3", "v": "q", "updated_at": "2026-03-01"}),
        ],
    )
    result = load_pending_batches(settings, progress=lambda line: None)
    # key 1: x(b1) -> y(b2) -> x(b3) -> x(b4): 2 updates, ends as b3; key 2: identical, keeps b1; key 3: new
    assert (result.batches, result.records, result.inserted, result.updated, result.duplicates) == (
        4,
        6,
        1,
        2,
        1,
    )
    assert table() == {"1": ("x", b3), "2": ("a", b1), "3": ("p", b5)}
    assert b2 < b3
