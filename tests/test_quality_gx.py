"""The gates' GX side and their single contract: checks read from the marts' YAML, computed in SQL on DuckDB and
PostgreSQL, stored through a Checkpoint per gate with history, and Data Docs that render with no network."""

from __future__ import annotations

import json
import re

import duckdb
import pytest
from test_quality import make_marts, write_batch
from test_report_browser import _open_page, browser, phone_layout_in_chromium  # noqa: F401 - the fixture

from doraflow.config import load_settings
from doraflow.quality import check_batches, check_marts
from doraflow.quality import marts as marts_gate


@pytest.fixture
def settings(tmp_path):
    return load_settings({"WAREHOUSE_PATH": str(tmp_path / "wh" / "dora.duckdb")})


def test_a_test_added_to_the_marts_yaml_is_checked_with_no_code_change(settings, tmp_path, monkeypatch):
    contract = tmp_path / "_marts__models.yml"
    contract.write_text(
        """
version: 2
models:
- name: fct_releases
  columns:
  - name: release_id
    data_tests: [unique, not_null]
  - name: kind
    data_tests:
    - accepted_values:
        arguments:
          values: [release, rollout_step]
  - name: share
    meta: {min_value: 0, max_value: 1}
    constraints: [{type: not_null}]
  - name: steps
    data_tests:
    - not_negative:
        config:
          severity: warn
"""
    )
    monkeypatch.setattr(marts_gate, "MARTS_CONTRACT", contract)
    settings.warehouse_path.parent.mkdir(parents=True)
    con = duckdb.connect(str(settings.warehouse_path))
    con.execute("create schema marts")
    con.execute("""create table marts.fct_releases as select * from (values
        ('r1', 'release', 0.5, 1), ('r1', 'rollback', 1.5, -1), (null, 'release', null, 0))
        t(release_id, kind, share, steps)""")
    con.close()
    result = check_marts(settings, env={})
    failed = {(r.expectation, r.column): r for r in result.results if not r.success}
    assert set(failed) == {
        ("expect_column_values_to_be_unique", "release_id"),
        ("expect_column_values_to_not_be_null", "release_id"),
        ("expect_column_values_to_be_in_set", "kind"),
        ("expect_column_values_to_be_between", "share"),
        # a column constraint (dbt enforces it when building a contract-enforced mart) is checked as its test is
        ("expect_column_values_to_not_be_null", "share"),  # the third row's share is NULL
        ("expect_column_values_to_be_between", "steps"),
    }
    assert failed[("expect_column_values_to_be_unique", "release_id")].failing_count == 2  # both r1 rows
    assert failed[("expect_column_values_to_be_in_set", "kind")].sample == [
        {"release_id": "r1", "kind": "rollback"}
    ]
    assert (
        failed[("expect_column_values_to_be_between", "steps")].severity == "warning"
    )  # config: severity: warn
    assert [r.column for r in result.critical_failures if r.expectation.endswith("between")] == ["share"]


def test_marts_gate_runs_on_postgresql_with_the_same_outcome(tmp_path, postgres_database):
    """The same hand-made marts on DuckDB and PostgreSQL give the same failing checks and counts."""
    import psycopg2

    duck = load_settings({"WAREHOUSE_PATH": str(tmp_path / "duck" / "dora.duckdb")})
    duck.warehouse_path.parent.mkdir(parents=True)
    make_marts(duck.warehouse_path, rate=1.5, ttr=-5.0, gap=True)
    source = duckdb.connect(str(duck.warehouse_path))
    target = psycopg2.connect(postgres_database)
    with target, target.cursor() as cursor:
        cursor.execute("create schema marts")
        for (table,) in source.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'"
        ).fetchall():
            columns = source.execute(
                "select column_name, data_type from information_schema.columns"
                " where table_schema = 'marts' and table_name = ? order by ordinal_position",
                [table],
            ).fetchall()
            types = {
                "VARCHAR": "text",
                "DOUBLE": "double precision",
                "TIMESTAMP WITH TIME ZONE": "timestamptz",
            }
            ddl = ", ".join(f'"{name}" {types.get(kind, kind)}' for name, kind in columns)
            cursor.execute(f"create table marts.{table} ({ddl})")
            rows = source.execute(f"select * from marts.{table}").fetchall()
            if rows:
                marks = ", ".join(["%s"] * len(columns))
                cursor.executemany(f"insert into marts.{table} values ({marks})", rows)
    target.close()
    source.close()
    postgres = load_settings(
        {
            "WAREHOUSE_PATH": str(tmp_path / "pg" / "dora.duckdb"),
            "WAREHOUSE_TARGET": "postgres",
            "WAREHOUSE_POSTGRES_URL": postgres_database,
        }
    )

    def failing(settings):
        result = check_marts(settings, env={})
        return sorted((r.suite, r.expectation, r.column, r.failing_count) for r in result.critical_failures)

    on_duckdb = failing(duck)
    assert ("marts.dora_metrics", "expect_column_values_to_be_between", "change_failure_rate", 3) in on_duckdb
    assert (
        "marts.fct_incidents",
        "expect_column_values_to_be_between",
        "time_to_restore_minutes",
        1,
    ) in on_duckdb
    assert ("marts.dora_metrics.period_spine", "expect_column_pair_values_to_be_equal",
            "previous_period_start = expected_previous_period_start", 1) in on_duckdb  # fmt: skip
    assert failing(postgres) == on_duckdb


def _gx_context(settings, gate):
    import great_expectations as gx

    from doraflow.quality.gx_store import project_dir

    return gx.get_context(mode="file", project_root_dir=str(project_dir(settings, gate)))


def test_each_gate_has_a_checkpoint_suites_named_for_what_they_guard_and_a_results_history(settings):
    settings.warehouse_path.parent.mkdir(parents=True)
    make_marts(settings.warehouse_path)
    first = check_marts(settings, env={})
    con = duckdb.connect(str(settings.warehouse_path))
    con.execute("update marts.fct_incidents set time_to_restore_minutes = -1")
    con.close()
    second = check_marts(settings, env={})
    assert first.success and not second.success

    context = _gx_context(settings, "marts")
    checkpoint = context.checkpoints.get("marts_gate")
    assert [a.type for a in checkpoint.actions] == ["update_data_docs"]
    guarded = {d.suite.name for d in checkpoint.validation_definitions}
    assert {"marts.fct_deployments", "marts.fct_incidents", "marts.dora_metrics.period_spine"} <= guarded
    suite = context.suites.get("marts.fct_incidents")
    in_result = [
        r
        for r in second.results
        if r.suite == "marts.fct_incidents" and r.expectation != "expect_table_to_exist"
    ]
    assert len(suite.expectations) == len(in_result)
    history = [
        key
        for key in context.validation_results_store.list_keys()
        if key.expectation_suite_identifier.name == "marts.fct_incidents"
    ]
    assert len(history) == 2  # both runs kept
    outcomes = sorted(
        (context.validation_results_store.get(key) for key in history),
        key=lambda r: str(r.meta["validation_time"]),
    )
    assert [r.success for r in outcomes] == [True, False]
    failed = [r for r in outcomes[1].results if not r.success]
    assert [(r.expectation_config.type, r.result["unexpected_count"]) for r in failed] == [
        ("expect_column_values_to_be_between", 1)
    ]

    batch = write_batch(settings.landing_dir, "jira", "projects", "jira", [(None, {"id": "1"})])
    check_batches(settings, [batch])
    landing = _gx_context(settings, "landing").checkpoints.get("landing_gate")
    assert {d.suite.name for d in landing.validation_definitions} == {
        "landing.batch_headers",
        "landing.jira__projects",
    }
    # a later run with another stream only: the Checkpoint keeps guarding both streams
    other = write_batch(settings.landing_dir, "pagerduty", "services", "pagerduty", [(None, {"id": "S1"})])
    check_batches(settings, [other])
    landing = _gx_context(settings, "landing").checkpoints.get("landing_gate")
    assert {d.suite.name for d in landing.validation_definitions} == {
        "landing.batch_headers",
        "landing.jira__projects",
        "landing.pagerduty__services",
    }


def test_data_docs_render_offline_in_chromium(settings, browser):  # noqa: F811 - the fixture
    settings.warehouse_path.parent.mkdir(parents=True)
    make_marts(settings.warehouse_path)
    check_marts(settings, env={})
    index = settings.data_docs_dir / "marts" / "index.html"
    html = index.read_text(encoding="utf-8")
    assert "https://" not in html.split("<body")[0]  # every asset of the head is local
    validation_pages = sorted((settings.data_docs_dir / "marts" / "validations").rglob("*.html"))
    assert validation_pages
    for page_file in [index, *validation_pages]:  # every relative address of every page leads to a file
        for address in re.findall(r'(?:href|src)="((?:\.\./|\./)*static/[^"]+)"', page_file.read_text()):
            assert (page_file.parent / address).resolve().is_file(), (page_file, address)
    for page_file, probe in ((index, "#section-1 table tbody tr"), (validation_pages[0], ".card")):
        page = _open_page(browser)
        try:
            page.call("Runtime.enable")
            page.call("Log.enable")
            page.call("Page.enable")
            page.call("Network.enable")
            page.call("Page.navigate", url=page_file.resolve().as_uri())
            page.wait_for("Page.loadEventFired")
            state = page.call(
                "Runtime.evaluate",
                expression=(
                    "JSON.stringify({jquery: typeof window.jQuery, table: typeof (window.jQuery && jQuery.fn.bootstrapTable),"
                    f" rows: document.querySelectorAll('{probe}').length,"
                    " font: getComputedStyle(document.body).fontFamily,"
                    " icons: document.fonts.check('16px \"Font Awesome 6 Free\"')})"
                ),
                returnByValue=True,
            )
            figures = json.loads(state["result"]["value"])
            assert figures["jquery"] == "function" and figures["table"] == "function", figures
            assert figures["rows"] > 0, figures
            assert "apple-system" in figures["font"], figures  # Bootstrap's font stack: its CSS loaded
            requested = [
                event["params"]["request"]["url"]
                for event in page.events
                if event.get("method") == "Network.requestWillBeSent"
            ]
            remote = [url for url in requested if not url.startswith(("file:", "data:"))]
            assert requested and remote == [], remote
            urls = {
                e["params"]["requestId"]: e["params"]["request"]["url"]
                for e in page.events
                if e.get("method") == "Network.requestWillBeSent"
            }
            failed = [
                urls.get(e["params"]["requestId"])
                for e in page.events
                if e.get("method") == "Network.loadingFailed"
            ]
            assert failed == [], failed  # every local asset found
            assert page.errors() == []
        finally:
            page.close()
    # The report links the Data Docs, so a phone opens them too: laid out for its width, not blank, no text below
    # the legible size, and the page never scrolls sideways (the results table scrolls in bootstrap-table's own
    # box). Screenshots: <warehouse folder>/data-docs-phone-<n>.png.
    phone = phone_layout_in_chromium(browser, index, settings.warehouse_path.parent / "data-docs-phone.png")
    assert phone["layout"] == phone["page"] == 390 and phone["textLength"] > 0 and phone["small"] == [], phone


def test_results_history_is_capped_per_suite(settings, monkeypatch):
    from doraflow.quality import gx_store

    monkeypatch.setattr(gx_store, "HISTORY_RUNS", 2)
    batch = write_batch(settings.landing_dir, "jira", "projects", "jira", [(None, {"id": "1"})])
    for _ in range(3):
        check_batches(settings, [batch])
    store = _gx_context(settings, "landing").validation_results_store
    per_suite = {}
    for key in store.list_keys():
        per_suite.setdefault(key.expectation_suite_identifier.name, []).append(key)
    assert {name: len(keys) for name, keys in per_suite.items()} == {
        "landing.batch_headers": 2,
        "landing.jira__projects": 2,
    }


def test_the_gates_benchmark_bound_writes_every_check_of_the_marts_contract():
    """benchmarks/benchmark_gates.py's plain-SQL bound reads the same contract: a new test kind in the marts'
    YAML fails here, not in the nightly benchmark."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import benchmark_gates

    expectations = {check.expectation for c in marts_gate.read_contract() for _, check in c.checks}
    assert expectations and expectations <= set(benchmark_gates.BOUND_SQL)
    filtered = next(check for c in marts_gate.read_contract() for _, check in c.checks if check.row_filter)
    assert f"where {filtered.row_filter}" in benchmark_gates.bound_query(filtered, "marts.x")


def test_results_stored_before_the_docs_render_later_and_the_site_keeps_exactly_the_kept_runs(
    settings, monkeypatch
):
    """The pipeline stores the marts gate's results at its verdict and renders their pages after publish."""
    from doraflow.quality import gx_store

    monkeypatch.setattr(gx_store, "HISTORY_RUNS", 2)
    settings.warehouse_path.parent.mkdir(parents=True)
    make_marts(settings.warehouse_path)
    site = settings.data_docs_dir / "marts"

    def pages(suite: str) -> list[str]:
        folder = site / "validations" / "marts" / suite
        return (
            sorted(p.relative_to(site).as_posix() for p in folder.rglob("*.html")) if folder.is_dir() else []
        )

    for _ in range(3):
        check_marts(settings, env={}, render=False)
    assert pages("fct_incidents") == []  # stored, not rendered yet
    gx_store.render_docs(settings, "marts")
    # three runs stored, two kept (HISTORY_RUNS): a page for each kept run, the index linking each of them
    rendered = pages("fct_incidents")
    assert len(rendered) == 2
    index = (site / "index.html").read_text(encoding="utf-8")
    assert all(page in index for page in rendered)

    check_marts(settings, env={})  # a fourth run, rendered at once: the oldest kept run's page goes
    latest = pages("fct_incidents")
    assert len(latest) == 2 and latest[0] == rendered[1] and latest[1] not in rendered

    # each result is stored as GX's own store writes it: loaded and written again by GX, the same document
    store = _gx_context(settings, "marts").validation_results_store
    for key in store.list_keys():
        written = store._store_backend.get(key.to_tuple())
        assert json.loads(store.serialize(store.get(key))) == json.loads(written)
