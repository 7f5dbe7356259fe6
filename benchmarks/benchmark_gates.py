"""Quality gates beside the same checks as plain SQL (never part of pytest).

    .venv/bin/python benchmarks/benchmark_gates.py                       # 200,000 landed records, 100,000 mart rows
    .venv/bin/python benchmarks/benchmark_gates.py --records 1000000 --mart-rows 500000 --runs 3

Makes its own data in a temporary folder: landed batches (gzip JSON lines, docs/architecture.md) for the streams
with suites, spread over 50 batches each, and every mart of the marts' YAML filled with rows that meet its
contract. Then, min of `--runs` runs each, in one warm process (Great Expectations imported once before timing,
its import time printed apart):

- each gate as `doraflow run` runs it: until its verdict (its checks in SQL, its GX results stored through the
  Checkpoint), then its Data Docs (`gx_store.render_docs`, which the pipeline runs after publish), each timed
  and set beside the bound, and its checks alone and its results stored alone;
- landing bound: the same expectations written as plain SQL over the files, one query per stream (a reader of
  the suites would write these by hand);
- marts bound: the same checks as plain SQL, one query per check (as dbt's tests run), generated from the
  marts' YAML.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from doraflow.config import load_settings  # noqa: E402
from doraflow.quality import batches as landing_gate  # noqa: E402
from doraflow.quality import gx_store  # noqa: E402
from doraflow.quality import marts as marts_gate  # noqa: E402
from doraflow.quality.runner import Engine, run_targets  # noqa: E402

BATCHES_PER_STREAM = 50
STREAMS = {
    ("github", "pull_requests"): lambda i: {
        "number": i, "state": "closed", "created_at": "2025-03-01T10:00:00Z", "updated_at": "2025-03-02T10:00:00Z",
        "merged_at": "2025-03-01T12:00:00Z", "closed_at": "2025-03-01T12:00:00Z", "title": "x" * 60,
    },
    ("github", "deployments"): lambda i: {
        "id": i, "environment": "production", "sha": f"{i:040x}", "created_at": "2025-03-01T10:00:00Z",
        "updated_at": "2025-03-01T10:05:00Z",
    },
    ("github", "deployment_statuses"): lambda i: {
        "id": i, "state": "success", "created_at": "2025-03-01T10:05:00Z", "updated_at": "2025-03-01T10:05:00Z",
    },
    ("pagerduty", "incidents"): lambda i: {
        "id": f"P{i}", "status": "resolved", "urgency": "high", "created_at": "2025-03-01T10:00:00Z",
        "updated_at": "2025-03-01T11:00:00Z", "resolved_at": "2025-03-01T11:00:00Z", "title": "y" * 40,
    },
    ("jira", "issue_changelogs"): lambda i: {"id": str(i), "created": 1740823200000 + i},
}  # fmt: skip


def write_landing(landing: Path, records: int) -> list[Path]:
    per_stream = records // len(STREAMS)
    paths = []
    for (source, stream), make in STREAMS.items():
        folder = landing / source / stream
        folder.mkdir(parents=True, exist_ok=True)
        per_batch = max(1, per_stream // BATCHES_PER_STREAM)
        for batch in range(BATCHES_PER_STREAM):
            batch_id = f"20250301T{batch:06d}000000Z-{source}-{stream}-{batch:08x}"
            path = folder / f"{batch_id}.jsonl.gz"
            header = {"batch_id": batch_id, "source": source, "stream": stream, "scope": "acme/api",
                      "extracted_at": "2025-03-01T00:00:00+00:00", "record_count": per_batch, "state": None}  # fmt: skip
            with gzip.open(path, "wt", encoding="utf-8", compresslevel=1) as handle:
                handle.write(json.dumps(header) + "\n")
                for n in range(per_batch):
                    payload = make(batch * per_batch + n)
                    handle.write(json.dumps({"parent_id": 1, "payload": payload}) + "\n")
            paths.append(path)
    return paths


def landing_bound(connection, paths: list[Path]) -> int:
    """The landing suites' expectations as plain SQL over the files: one query per stream, plus the headers."""
    queries = 0
    by_stream: dict[tuple[str, str], list[str]] = {}
    for path in paths:
        by_stream.setdefault((path.parent.parent.name, path.parent.name), []).append(str(path))
    for (source, stream), files in by_stream.items():
        suite = landing_gate.SUITES[(source, stream)]
        lines = "(select filename, json from read_ndjson_objects(?, filename = true))"

        def field(path: str, suite=suite) -> str:
            if path.startswith("_"):
                return {"_scope": "h.json->>'scope'", "_parent_id": "r.json->>'parent_id'"}[path]
            text = f"json_extract_string(r.json, '$.payload.{path}')"
            if path in suite.epoch_ms_timestamps:
                iso = f"strftime(epoch_ms(cast(json_extract(r.json, '$.payload.{path}') as bigint)), '%Y-%m-%dT%H:%M:%S.%gZ')"
                return f"case when json_type(r.json, '$.payload.{path}') in ('UBIGINT', 'BIGINT') then {iso} else {text} end"
            return text

        keys = [field(k) for k in suite.key]
        counts = ["count(*)", "count(*) filter (where json_type(r.json, '$.payload') <> 'OBJECT')"]
        counts += [f"count(*) filter (where {k} is null)" for k in keys]
        counts += [
            f"count(*) filter (where {field(t)} is not null and not regexp_matches({field(t)}, '{landing_gate.ISO_TIMESTAMP}'))"
            for t in suite.timestamps
        ]
        counts += [
            f"count(*) filter (where try_cast({field(a)} as timestamptz) < try_cast({field(b)} as timestamptz))"
            for a, b, _ in suite.ordered
        ]
        counts += [
            f"count(*) filter (where {field(p)} not in ({', '.join(repr(v) for v in values)}))"
            for p, values, _ in suite.enums
        ]
        duplicates = (
            f"(select count(*) from (select h.json->>'batch_id', {', '.join(keys)} from r0 r join h using (filename)"
            f" where r.json->>'payload' is not null group by all having count(*) > 1))"
        )
        connection.execute(
            f"with l as {lines}, h as (select * from l where json->>'batch_id' is not null),"
            f" r0 as (select * from l where json->>'batch_id' is null)"
            f" select {', '.join(counts)}, {duplicates} from r0 r join h using (filename)",
            [files],
        ).fetchall()
        queries += 1
    connection.execute(
        "select count(*) filter (where json->>'batch_id' is null), count(distinct json->>'batch_id'),"
        " count(*) filter (where not regexp_matches(json->>'extracted_at', ?))"
        " from read_ndjson_objects(?, filename = true) where json->>'batch_id' is not null",
        [landing_gate.ISO_TIMESTAMP, [str(p) for p in paths]],
    ).fetchall()
    return queries + 1


def _value(column: dict, row: str) -> str:
    kind = (column.get("data_type") or "text").lower()
    tests = [t if isinstance(t, str) else next(iter(t)) for t in column.get("data_tests") or []]
    for test in column.get("data_tests") or []:
        if isinstance(test, dict) and "accepted_values" in test:
            values = (test["accepted_values"].get("arguments") or test["accepted_values"])["values"]
            return f"'{values[0]}'"
    if kind in ("text", "varchar"):
        return f"'v' || {row}" if "unique" in tests else f"'v' || ({row} % 97)"
    if kind in ("integer", "bigint"):
        return f"cast({row} % 50 as integer)"
    if kind in ("double precision", "double", "numeric"):
        return "random()"
    if kind == "boolean":
        return "false"
    if kind == "date":
        return f"date '2020-01-01' + cast({row} as integer)"
    if kind.startswith("timestamp"):
        return "timestamp '2025-03-01 10:00:00'"
    return "null"


def write_marts(warehouse: Path, rows: int) -> int:
    contract = yaml.safe_load(marts_gate.MARTS_CONTRACT.read_text(encoding="utf-8"))
    connection = duckdb.connect(str(warehouse))
    connection.execute("create schema marts")
    total = 0
    for model in contract["models"]:
        count = 4 if model["name"] == "dora_coverage" else rows
        columns = ", ".join(f'{_value(c, "i")} as "{c["name"]}"' for c in model["columns"])
        connection.execute(f"create table marts.{model['name']} as select {columns} from range({count}) t(i)")
        total += count
    connection.close()
    return total


# Each expectation the marts' contract can produce (doraflow.quality.marts._checks_of, _range_checks), written as
# the failing-row count a person would query by hand over `relation` (the mart, or its rows a `where` keeps).
BOUND_SQL = {
    "ExpectColumnValuesToNotBeNull": lambda k, rel: (
        f'select count(*) from {rel} where "{k["column"]}" is null'
    ),
    "ExpectColumnValuesToBeNull": lambda k, rel: (
        f'select count(*) from {rel} where "{k["column"]}" is not null'
    ),
    "ExpectColumnValuesToBeUnique": lambda k, rel: (
        f'select count(*) from (select "{k["column"]}" from {rel} where "{k["column"]}" is not null'
        " group by 1 having count(*) > 1)"
    ),
    "ExpectCompoundColumnsToBeUnique": lambda k, rel: (
        f"select count(*) from (select {', '.join(k['column_list'])} from {rel} group by all having count(*) > 1)"
    ),
    "ExpectColumnValuesToBeInSet": lambda k, rel: (
        f'select count(*) from {rel} where "{k["column"]}" not in ({", ".join(repr(v) for v in k["value_set"])})'
    ),
    "ExpectColumnValuesToBeBetween": lambda k, rel: (
        f'select count(*) from {rel} where "{k["column"]}" < {k.get("min_value", "-1e300")}'
        f' or "{k["column"]}" > {k.get("max_value", "1e300")}'
    ),
    "ExpectColumnPairValuesAToBeGreaterThanB": lambda k, rel: (
        f'select count(*) from {rel} where "{k["column_A"]}" < "{k["column_B"]}"'
    ),
}


def bound_query(check, table: str) -> str:
    """One check of the contract as plain SQL; an expectation the bound cannot write is named, not a KeyError."""
    translate = BOUND_SQL.get(check.expectation)
    if translate is None:
        raise SystemExit(
            f"benchmark_gates: the marts' YAML produces {check.expectation}, which the plain-SQL bound cannot "
            "write yet: add it to BOUND_SQL in benchmarks/benchmark_gates.py"
        )
    relation = f"(select * from {table} where {check.row_filter}) filtered" if check.row_filter else table
    return translate(check.kwargs, relation)


def marts_bound(connection) -> int:
    """The marts gate's checks as plain SQL, one query per check (as dbt runs its tests), from the same contract."""
    queries = 0
    for contract in marts_gate.read_contract():
        table = f"marts.{contract.name}"
        for _, check in contract.checks:
            connection.execute(bound_query(check, table)).fetchall()
            queries += 1
        connection.execute(f"select count(*) from {table}").fetchall()  # the row count
        queries += 1
    for table, by in marts_gate.SPINE_GROUPS.items():
        connection.execute(
            f"select count(*) from ({marts_gate._gap_query(table, by)})"
            " where previous_period_start <> expected_previous_period_start"
        ).fetchall()
        queries += 1
    return queries


def best(runs: int, work) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--records", type=int, default=200_000, help="landed records in all (default 200,000)"
    )
    parser.add_argument("--mart-rows", type=int, default=100_000, help="rows of each mart (default 100,000)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each measure; the minimum is reported")
    parser.add_argument(
        "--history", type=int, default=gx_store.HISTORY_RUNS,
        help=f"earlier runs stored in each gate's results history before timing (default {gx_store.HISTORY_RUNS},"
        " the most the gates keep)",
    )  # fmt: skip
    parser.add_argument("--output", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args()

    start = time.perf_counter()
    import great_expectations  # noqa: F401 - paid once per process, reported apart

    gx_import = time.perf_counter() - start
    with tempfile.TemporaryDirectory(prefix="doraflow-gates-") as folder:
        workdir = Path(folder)
        settings = load_settings({"WAREHOUSE_PATH": str(workdir / "dora.duckdb")})
        paths = write_landing(settings.landing_dir, args.records)
        mart_rows = write_marts(settings.warehouse_path, args.mart_rows)
        landing_gate.check_batches(settings, paths)  # warm: GX project and suites created once
        marts_gate.check_marts(settings, env={})

        def landing_checks():
            connection = duckdb.connect()
            try:
                engine = Engine(connection, "duckdb")
                targets, _ = landing_gate.build_targets(engine, paths)
                return run_targets(engine, targets)
            finally:
                connection.close()

        def marts_checks():
            warehouse = marts_gate._Warehouse(settings)
            try:
                targets, _ = marts_gate.build_targets(warehouse, settings.quality)
                return run_targets(warehouse.engine, targets)
            finally:
                warehouse.close()

        def bound_landing():
            connection = duckdb.connect()
            try:
                return landing_bound(connection, paths)
            finally:
                connection.close()

        def bound_marts():
            connection = duckdb.connect(str(settings.warehouse_path))
            try:
                return marts_bound(connection)
            finally:
                connection.close()

        def docs_apart(gate, docs):
            """The gate until its verdict, then its Data Docs, each run timed apart (min of --runs each)."""
            verdicts, rendering, wholes, result = [], [], [], None
            for _ in range(args.runs):
                start = time.perf_counter()
                result = gate()
                verdict = time.perf_counter()
                docs()
                end = time.perf_counter()
                verdicts.append(verdict - start)
                rendering.append(end - verdict)
                wholes.append(end - start)
            return min(verdicts), min(rendering), min(wholes), result

        figures = []
        # as `doraflow run` runs each gate: its results stored at the verdict, its Data Docs rendered after publish
        for name, gate, checks, bound in (
            ("landing", lambda: landing_gate.check_batches(settings, paths, render=False), landing_checks,
             bound_landing),
            ("marts", lambda: marts_gate.check_marts(settings, env={}, render=False), marts_checks, bound_marts),
        ):  # fmt: skip
            bound_time, queries = best(args.runs, bound)
            checks_time, outcomes = best(args.runs, checks)
            for run in range(args.history):  # the results history a gate renders its Data Docs index from
                gx_store.record(settings, name, outcomes, f"history-{run}", render=False)
            # the history's pages, as the runs that stored it rendered them
            gx_store.render_docs(settings, name)
            store_time, _ = best(
                args.runs, lambda o=outcomes, r=name: gx_store.record(settings, r, o, render=False)
            )
            gx_store.render_docs(settings, name)
            verdict_time, docs_time, whole_time, result = docs_apart(
                gate, lambda r=name: gx_store.render_docs(settings, r)
            )
            count = len(result.results)
            figures.append(
                (
                    name,
                    count,
                    queries,
                    bound_time,
                    checks_time,
                    store_time,
                    verdict_time,
                    docs_time,
                    whole_time,
                )
            )

    print(
        f"landed records: {args.records:,} in {len(paths)} batches; mart rows: {mart_rows:,}; min of {args.runs} runs;"
        f" results history: {args.history} earlier runs"
    )
    print(f"Great Expectations import (once per process, not in the figures below): {gx_import:.2f} s")
    print()
    print(
        "| gate | expectations | plain SQL (queries) | gate's checks in SQL | ratio | GX results stored"
        " | gate until its verdict | ratio | Data Docs, after publish | whole, Data Docs included | ratio |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, count, queries, bound_time, checks_time, store_time, verdict, docs_time, whole in figures:
        print(
            f"| {name} | {count} | {bound_time:.3f} s ({queries}) | {checks_time:.3f} s | {checks_time / bound_time:.2f}x"
            f" | {store_time:.3f} s | {verdict:.3f} s | {verdict / bound_time:.2f}x"
            f" | {docs_time:.3f} s | {whole:.3f} s | {whole / bound_time:.2f}x |"
        )
    if args.output:
        gates = [
            {"gate": name, "checks": count, "bound_queries": queries, "bound_seconds": round(bound_time, 3),
             "checks_seconds": round(checks_time, 3), "store_seconds": round(store_time, 3),
             "verdict_seconds": round(verdict, 3), "docs_seconds": round(docs_time, 3),
             "gate_seconds": round(whole, 3)}
            for name, count, queries, bound_time, checks_time, store_time, verdict, docs_time, whole in figures
        ]  # fmt: skip
        report = {
            "records": args.records,
            "mart_rows": mart_rows,
            "runs": args.runs,
            "history_runs": args.history,
            "gx_import_seconds": gx_import,
        }
        args.output.write_text(json.dumps({**report, "gates": gates}, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
