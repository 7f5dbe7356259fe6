"""dbt build benchmark on a loaded warehouse (never part of pytest).

    .venv/bin/python benchmarks/benchmark_extract.py --workdir /tmp/bench200      # builds the warehouse (~50 min)
    .venv/bin/python benchmarks/benchmark_transform.py --warehouse /tmp/bench200/dora.duckdb
    .venv/bin/python benchmarks/benchmark_transform.py --warehouse ... --memory-limits default,2GB,1GB

Each build is `doraflow transform` in a child process (all models and tests, as the nightly run does), so its
wall time and peak resident memory are the process's own. Reports per build: wall seconds, peak RSS, dbt's
thread-seconds per layer (staging, intermediate, marts, tests) and the slowest nodes; and the raw and mart row
counts the build worked on. With `--memory-limits`, one build per DUCKDB_MEMORY_LIMIT value ('default' = unset).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
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
    env = {**os.environ, "WAREHOUSE_PATH": str(warehouse)}
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
        "memory_limit": memory_limit or "default (80% of RAM)",
        "wall_seconds": round(wall, 1),
        "dbt_elapsed_seconds": round(results["elapsed_time"], 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
        "thread_seconds_by_layer": layers,
        "slowest_nodes": [[node["unique_id"], round(node["execution_time"], 1)] for node in slowest],
        "summary_line": output.strip().splitlines()[-1] if output.strip() else "",
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
    parser.add_argument("--output", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args()
    warehouse = args.warehouse.resolve()
    if not warehouse.is_file():
        raise SystemExit(f"{warehouse}: no such warehouse (build one with benchmarks/benchmark_extract.py)")

    builds = []
    for value in args.memory_limits.split(","):
        value = value.strip()
        build = _build(warehouse, None if value == "default" else value)
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
