"""dbt build benchmark on a loaded warehouse (never part of pytest).

    .venv/bin/python benchmarks/benchmark_extract.py --workdir /tmp/bench200      # builds the warehouse (~50 min)
    .venv/bin/python benchmarks/benchmark_transform.py --warehouse /tmp/bench200/dora.duckdb
    .venv/bin/python benchmarks/benchmark_transform.py --warehouse ... --memory-limits default,2GB,1GB
    .venv/bin/python benchmarks/benchmark_transform.py --warehouse ... --repeat 3

Each build is `doraflow transform` in a child process (all models and tests, as the nightly run does), so its
wall time and peak resident memory are the process's own. Reports per build: wall seconds, peak RSS, dbt's
thread-seconds per layer (staging, intermediate, marts, tests) and the slowest nodes; and the raw and mart row
counts the build worked on. With `--memory-limits`, one build per DUCKDB_MEMORY_LIMIT value ('default' = unset).

The bound beside each build, run right after it in the same script: the compiled SQL alone. On a copy of the
warehouse the build left, one DuckDB connection (Python API, no dbt) runs the build's own compiled SQL in the
order the build finished its nodes (a valid DAG order): each model as `create or replace view|table ... as` its
compiled SQL, as its materialization says, each data test as `select count(*)` over its compiled SQL (as dbt
runs it) and each unit test's compiled SQL (the model over its fixtures) the same way. A mart's `not_null` columns
are constraints of its enforced contract, not tests (dbt creates the table with NOT NULL columns and fills it, so
DuckDB checks each row): the bound does the same work with one `select count(*) ... where a is null or b is null`
over the table it just created, counted in the model's time. Seeds stay as the build left them (small CSV files).
The build writes dbt's JSON artifacts (`DBT_WRITE_JSON=true`: the per-node times and compiled SQL come from them),
which `doraflow transform` otherwise skips: about 1 s of CPU more than the nightly build. Reported per build:
`compiled_sql_seconds` (the bound's wall time), the ratio, and where the difference goes: the bound's seconds per
layer beside dbt's thread-seconds, dbt's mean cost per node above the bound's, and the time outside the nodes
(Python start, dbt's import, parse, the build-state record). CPU seconds (user + system, all threads) are
reported beside wall seconds for both: on a shared machine they move far less with other jobs' load. With
`--repeat N`, builds and bounds alternate N times and the fastest of each is reported.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]


def _row_counts(warehouse: Path) -> dict[str, dict[str, int]]:
    connection = duckdb.connect(str(warehouse), read_only=True)
    try:
        counts: dict[str, dict[str, int]] = {}
        for schema in ("raw", "marts"):
            tables = connection.execute(
                "select table_name from information_schema.tables where table_schema = ? order by 1", [schema]
            ).fetchall()
            counts[schema] = {
                name: connection.execute(f'select count(*) from {schema}."{name}"').fetchone()[0]
                for (name,) in tables
            }
        return counts
    finally:
        connection.close()


def _layer(unique_id: str, path: str) -> str:
    if unique_id.startswith(("test.", "unit_test.")):
        return "tests"
    if unique_id.startswith("seed."):
        return "seeds"
    for layer in ("staging", "intermediate", "marts", "ops"):
        if f"/{layer}/" in f"/{path}":
            return layer
    return "other"


def _build(warehouse: Path, memory_limit: str | None) -> dict:
    # dbt's run_results.json and manifest.json give the per-node times and compiled SQL; `doraflow transform` does
    # not write them unless asked (about 1 s of CPU: the build measured here pays it, the nightly one does not)
    env = {**os.environ, "WAREHOUSE_PATH": str(warehouse), "DBT_WRITE_JSON": "true"}
    env.pop("DUCKDB_MEMORY_LIMIT", None)
    if memory_limit:
        env["DUCKDB_MEMORY_LIMIT"] = memory_limit
    doraflow = Path(sys.executable).with_name("doraflow")
    started = time.monotonic()
    child = subprocess.Popen(
        # --full-build: the same warehouse again would otherwise be skipped (nothing changed since the last build)
        [str(doraflow), "transform", "--full-build"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"doraflow transform failed (memory limit {memory_limit or 'default'}):\n{output}")
    results = json.loads((warehouse.parent / "dbt_target" / "run_results.json").read_text())
    paths = _node_paths(warehouse)
    layers: dict[str, float] = {}
    for node in results["results"]:
        name = _layer(node["unique_id"], paths.get(node["unique_id"], ""))
        layers[name] = round(layers.get(name, 0.0) + node["execution_time"], 1)
    slowest = sorted(results["results"], key=lambda node: -node["execution_time"])[:8]
    return {
        "nodes": {node["unique_id"]: node["execution_time"] for node in results["results"]},
        "memory_limit": memory_limit or "default (80% of RAM)",
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        "dbt_elapsed_seconds": round(results["elapsed_time"], 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
        "thread_seconds_by_layer": layers,
        "slowest_nodes": [[node["unique_id"], round(node["execution_time"], 1)] for node in slowest],
        "summary_line": output.strip().splitlines()[-1] if output.strip() else "",
    }


def _bound(warehouse: Path, memory_limit: str | None) -> dict:
    """The compiled SQL of the build that just ran, alone, on a copy of the warehouse it left."""
    target = warehouse.parent / "dbt_target"
    results = json.loads((target / "run_results.json").read_text())["results"]
    manifest = json.loads((target / "manifest.json").read_text())
    nodes = {**manifest["nodes"], **manifest.get("unit_tests", {})}
    with tempfile.TemporaryDirectory(prefix="doraflow-bound-", dir=warehouse.parent) as scratch:
        # The same file name: compiled SQL names relations "<catalog>"."schema"."name", the catalog being the file's.
        copy = Path(scratch) / warehouse.name
        shutil.copyfile(warehouse, copy)
        connection = duckdb.connect(str(copy))
        if memory_limit:
            connection.execute(f"set memory_limit = '{memory_limit}'")
        seconds: dict[str, float] = {}
        before = resource.getrusage(resource.RUSAGE_SELF)
        started = time.monotonic()
        try:
            for result in results:
                unique_id, sql = result["unique_id"], result.get("compiled_code")
                node = nodes.get(unique_id, {})
                if not sql or unique_id.startswith("seed."):
                    continue
                if unique_id.startswith("model."):
                    kind = node["config"]["materialized"]
                    if kind == "ephemeral":  # inlined into its readers' compiled SQL
                        continue
                    kind = "view" if kind == "view" else "table"  # incremental: a full build rebuilds it
                    statement = f"create or replace {kind} {result['relation_name']} as (\n{sql}\n)"
                    not_null = _not_null_columns(node)
                    # the contract's NOT NULL constraints, which the engine checks as dbt fills the table
                    if not_null:
                        nulls = " or ".join(f'"{column}" is null' for column in not_null)
                        statement += f";\nselect count(*) from {result['relation_name']} where {nulls}"
                else:  # data and unit tests: dbt counts the rows their SQL returns
                    statement = f"select count(*) from (\n{sql}\n) as bound_test"
                node_started = time.monotonic()
                connection.execute(statement).fetchall()
                seconds[unique_id] = time.monotonic() - node_started
            wall = time.monotonic() - started
            after = resource.getrusage(resource.RUSAGE_SELF)
        finally:
            connection.close()
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return {"wall_seconds": wall, "cpu_seconds": cpu, "nodes": seconds}


def _not_null_columns(node: dict) -> list[str]:
    """The columns a contract-enforced model declares `constraints: [{type: not_null}]` on."""
    if not (node.get("contract") or {}).get("enforced"):
        return []
    return [
        name
        for name, column in (node.get("columns") or {}).items()
        if any(constraint.get("type") == "not_null" for constraint in column.get("constraints") or [])
    ]


def _compare(build: dict, bound: dict, paths: dict[str, str]) -> dict:
    """Where dbt's time above the bound goes, from the per-node times of both."""
    dbt_layers: dict[str, float] = {}
    bound_layers: dict[str, float] = {}
    extra = []
    for unique_id, dbt_seconds in build["nodes"].items():
        if unique_id not in bound["nodes"]:
            continue
        layer = _layer(unique_id, paths.get(unique_id, ""))
        dbt_layers[layer] = dbt_layers.get(layer, 0.0) + dbt_seconds
        bound_layers[layer] = bound_layers.get(layer, 0.0) + bound["nodes"][unique_id]
        extra.append(dbt_seconds - bound["nodes"][unique_id])
    extra.sort()
    slowest = sorted(bound["nodes"].items(), key=lambda item: -item[1])[:8]
    return {
        "compiled_sql_seconds": round(bound["wall_seconds"], 2),
        "ratio": round(build["wall_seconds"] / bound["wall_seconds"], 2),
        # CPU seconds (all threads, DuckDB's included) barely move with other jobs' load on a shared machine
        "compiled_sql_cpu_seconds": round(bound["cpu_seconds"], 2),
        "cpu_ratio": round(build["cpu_seconds"] / bound["cpu_seconds"], 2),
        "dbt_elapsed_ratio": round(build["dbt_elapsed_seconds"] / bound["wall_seconds"], 2),
        "nodes_compared": len(extra),
        "dbt_thread_seconds_by_layer": {key: round(value, 2) for key, value in dbt_layers.items()},
        "bound_seconds_by_layer": {key: round(value, 2) for key, value in bound_layers.items()},
        "dbt_extra_seconds_per_node_mean": round(sum(extra) / len(extra), 3) if extra else None,
        "dbt_extra_seconds_per_node_median": round(extra[len(extra) // 2], 3) if extra else None,
        "outside_nodes_seconds": round(build["wall_seconds"] - build["dbt_elapsed_seconds"], 1),
        "bound_slowest_nodes": [[unique_id, round(value, 2)] for unique_id, value in slowest],
    }


def _node_paths(warehouse: Path) -> dict[str, str]:
    manifest = json.loads((warehouse.parent / "dbt_target" / "manifest.json").read_text())
    return {unique_id: node.get("original_file_path", "") for unique_id, node in manifest["nodes"].items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--warehouse", type=Path, required=True, help="a loaded DuckDB warehouse (raw.* filled)"
    )
    parser.add_argument(
        "--memory-limits",
        default="default",
        help="comma-separated DUCKDB_MEMORY_LIMIT values; 'default' = unset",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="builds and bounds alternate this many times per memory limit; the fastest of each is reported",
    )
    parser.add_argument("--output", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args()
    warehouse = args.warehouse.resolve()
    if not warehouse.is_file():
        raise SystemExit(f"{warehouse}: no such warehouse (build one with benchmarks/benchmark_extract.py)")

    builds = []
    for value in args.memory_limits.split(","):
        value = value.strip()
        limit = None if value == "default" else value
        runs, bounds = [], []
        for _ in range(max(args.repeat, 1)):
            runs.append(_build(warehouse, limit))
            bounds.append(_bound(warehouse, limit))
        build = min(runs, key=lambda run: run["wall_seconds"])
        bound = min(bounds, key=lambda run: run["wall_seconds"])
        build["wall_seconds_runs"] = [run["wall_seconds"] for run in runs]
        build["compiled_sql_seconds_runs"] = [round(run["wall_seconds"], 2) for run in bounds]
        build["cpu_seconds_runs"] = [run["cpu_seconds"] for run in runs]
        build["compiled_sql_cpu_seconds_runs"] = [round(run["cpu_seconds"], 2) for run in bounds]
        # CPU: the least of each side's runs, whichever run was fastest by the wall clock
        build["cpu_seconds"] = min(run["cpu_seconds"] for run in runs)
        bound = {**bound, "cpu_seconds": min(run["cpu_seconds"] for run in bounds)}
        build.update(_compare(build, bound, _node_paths(warehouse)))
        del build["nodes"]
        print(json.dumps(build), flush=True)
        builds.append(build)
    counts = _row_counts(warehouse)
    figures = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "warehouse_bytes": warehouse.stat().st_size,
        "raw_rows": sum(
            rows for name, rows in counts["raw"].items() if "__" in name and not name.startswith("_")
        ),
        "raw_rows_by_table": counts["raw"],
        "mart_rows": counts["marts"],
        "builds": builds,
    }
    print(json.dumps({key: figures[key] for key in ("machine", "warehouse_bytes", "raw_rows", "mart_rows")}))
    if args.output:
        args.output.write_text(json.dumps(figures, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
