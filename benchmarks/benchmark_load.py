"""The raw loader side by side with its engine's bound (never part of pytest).

    .venv/bin/python benchmarks/benchmark_load.py                          # 40 repositories x 90 days
    .venv/bin/python benchmarks/benchmark_load.py --repositories 10 --days 30 --repeat 1

Lands a backfill and an incremental set of batches from the simulator once (kept in --workdir, reused when
it already holds them), then times, on the same files and back-to-back:

- doraflow: `load_pending_batches` (validation, natural keys, quarantine, duplicates, change detection,
  `raw._loaded_batches`, crash-safe commit groups, one checkpoint);
- the bound: what DuckDB alone needs for the same result: `read_json` of the same `.jsonl.gz` files and one
  `insert or replace` per table keyed by the same natural key (newest batch wins), one commit, one checkpoint.

The backfill loads into an empty warehouse; the incremental load starts from a copy of the warehouse after
the backfill. Each figure is the minimum of --repeat runs; the ratio is bound seconds / doraflow seconds
(1.0 = as fast as the bound; the goal is >= 0.5).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchmark_extract import RemoteSimulator  # noqa: E402

from doraflow.config import load_settings  # noqa: E402
from doraflow.raw_loader import _Dialect, load_pending_batches  # noqa: E402
from extractors import extract_sources  # noqa: E402
from extractors.landing import all_batch_files, read_header  # noqa: E402
from extractors.streams import get_stream  # noqa: E402
from simulator import SimulatorConfig  # noqa: E402


def _quiet(line: str) -> None:
    pass


def land(workdir: Path, args) -> dict[str, list[str]]:
    """Backfill and incremental batch files under workdir/source/landing (extracted once)."""
    manifest = workdir / "batches.json"
    if manifest.is_file():
        return json.loads(manifest.read_text())
    config = SimulatorConfig(
        seed=2026,
        repositories=args.repositories,
        services=min(args.repositories, 16),
        days=args.days,
        jira_projects=4,
        jira_issues_per_project=200,
        github_rate_limit=10**9,
    )
    sim = RemoteSimulator(config)
    try:
        env = {
            **sim.env(),
            "WAREHOUSE_PATH": str(workdir / "source" / "dora.duckdb"),
            "EXTRACT_CONCURRENCY": "8",
        }
        settings = load_settings(env)
        clock = time.monotonic()
        extract_sources(settings, progress=_quiet)
        backfill = [str(p) for p in all_batch_files(settings.landing_dir)]
        print(f"backfill landed: {len(backfill)} batches in {time.monotonic() - clock:.0f} s", flush=True)
        sim.advance(args.days * 24 * 0.01)  # 1 % of the history
        extract_sources(settings, progress=_quiet)
        incremental = [str(p) for p in all_batch_files(settings.landing_dir) if str(p) not in set(backfill)]
        print(f"incremental landed: {len(incremental)} batches", flush=True)
    finally:
        sim.close()
    batches = {"backfill": backfill, "incremental": incremental}
    manifest.write_text(json.dumps(batches))
    return batches


def run_doraflow(warehouse: Path, batches: list[str]) -> float:
    settings = load_settings({"WAREHOUSE_PATH": str(warehouse)})
    clock = time.monotonic()
    load_pending_batches(settings, progress=_quiet, batches=[Path(b) for b in batches])
    return time.monotonic() - clock


def _key_expression(spec) -> str:
    parts = (["b.scope"] if spec.key_scope else []) + (["r.parent_id"] if spec.key_parent else [])
    parts += [f"json_extract_string(r.payload, '$.{'.'.join(f.path)}')" for f in spec.key_fields]
    return "concat_ws('#', " + ", ".join(parts) + ")"


def run_bound(warehouse: Path, batches: list[str]) -> float:
    """read_json of the same files + one upsert per table, one transaction, one checkpoint."""
    clock = time.monotonic()
    by_table: dict = defaultdict(list)
    for path in batches:
        header = read_header(Path(path))
        by_table[get_stream(header.source, header.stream)].append((path, header))
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("set enable_progress_bar = false")
        con.execute("set checkpoint_threshold = '1TB'")
        con.execute("begin transaction")
        for statement in _Dialect("duckdb").ddl():
            con.execute(statement)
        for spec, members in by_table.items():
            con.execute(
                "create or replace temp table _b as select unnest(?::varchar[]) as path, unnest(?::varchar[]) as "
                "batch_id, unnest(?::varchar[]) as scope, unnest(?::varchar[])::timestamptz as extracted_at",
                [
                    [p for p, _ in members],
                    [h.batch_id for _, h in members],
                    [h.scope for _, h in members],
                    [h.extracted_at for _, h in members],
                ],
            )
            con.execute(
                f"insert or replace into raw.{spec.table} select {_key_expression(spec)} as _key, b.scope, "
                "r.parent_id, r.payload, b.extracted_at, b.batch_id from read_json(?, format = "
                "'newline_delimited', columns = {'parent_id': 'VARCHAR', 'payload': 'JSON'}, filename = true) r "
                "join _b b on b.path = r.filename where r.payload is not null "
                "qualify row_number() over (partition by _key order by b.batch_id desc) = 1",
                [[p for p, _ in members]],
            )
        con.execute("commit")
        con.execute("checkpoint")
    finally:
        con.close()
    return time.monotonic() - clock


def fresh(folder: Path, landing: Path, start: Path | None) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (folder / "landing").symlink_to(landing)
    warehouse = folder / "dora.duckdb"
    if start is not None:
        shutil.copy(start, warehouse)
    return warehouse


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repositories", type=int, default=40)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None, help="keeps the landed batches between runs")
    parser.add_argument("--output", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="doraflow-bench-load-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"working in {workdir}", flush=True)
    batches = land(workdir, args)
    landing = workdir / "source" / "landing"
    size = sum(os.path.getsize(p) for p in batches["backfill"] + batches["incremental"])

    # the state after the backfill, the start of every incremental measurement
    after_backfill = fresh(workdir / "start", landing, None)
    run_doraflow(after_backfill, batches["backfill"])

    results = {}
    for phase, start in (("backfill", None), ("incremental", after_backfill)):
        timings = {"doraflow": [], "bound": []}
        for _ in range(args.repeat):  # interleaved, so both see the same machine load
            timings["doraflow"].append(run_doraflow(fresh(workdir / "run", landing, start), batches[phase]))
            timings["bound"].append(run_bound(fresh(workdir / "run", landing, start), batches[phase]))
        best = {name: min(values) for name, values in timings.items()}
        results[phase] = {
            "batches": len(batches[phase]),
            "doraflow_seconds": round(best["doraflow"], 2),
            "bound_seconds": round(best["bound"], 2),
            "ratio_bound_over_doraflow": round(best["bound"] / best["doraflow"], 2),
            "all_seconds": {name: [round(v, 2) for v in values] for name, values in timings.items()},
        }
        print(json.dumps({phase: results[phase]}), flush=True)

    report = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "duckdb": duckdb.__version__,
        "config": {"repositories": args.repositories, "days": args.days, "repeat": args.repeat},
        "landed_gzip_bytes": size,
        "results": results,
    }
    print(json.dumps(report, indent=2))
    print("| load | batches | doraflow | bound (read_json + upsert) | bound / doraflow |")
    print("|---|---|---|---|---|")
    for phase, figures in results.items():
        print(
            f"| {phase} | {figures['batches']} | {figures['doraflow_seconds']} s | {figures['bound_seconds']} s "
            f"| {figures['ratio_bound_over_doraflow']}x |"
        )
    if args.output:
        args.output.write_text(json.dumps(report, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
