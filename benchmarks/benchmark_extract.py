"""Extraction and loading benchmark against the simulator (never part of pytest).

    .venv/bin/python benchmarks/benchmark_extract.py                 # 200 repositories, a year of history
    .venv/bin/python benchmarks/benchmark_extract.py --repositories 20 --days 90

Reports: requests of the first (backfill) run, records per second extracted and loaded, the requests of a
run without changes, and of an incremental run after the simulator's clock moved by 1% of the history
(about 1% of the objects added or updated; the actual share is printed).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from doraflow.config import load_settings
from doraflow.raw_loader import load_pending_batches
from extractors import extract_sources
from simulator import Simulator, SimulatorConfig


def _quiet(line: str) -> None:
    pass


def _phase(sim, settings, name: str) -> dict:
    sim.reset_request_counts()
    clock = time.monotonic()
    results = extract_sources(settings, progress=_quiet)
    extract_seconds = time.monotonic() - clock
    clock = time.monotonic()
    loaded = load_pending_batches(settings, progress=_quiet)
    load_seconds = time.monotonic() - clock
    records = sum(r.records for r in results)
    figures = {
        "phase": name,
        "requests": sum(r.requests for r in results),
        "requests_seen_by_simulator": sim.request_counts(),
        "not_modified": sum(r.not_modified for r in results),
        "retries": sum(r.retries for r in results),
        "records_extracted": records,
        "extract_seconds": round(extract_seconds, 1),
        "records_per_second_extracted": round(records / extract_seconds, 1) if extract_seconds else None,
        "records_loaded": loaded.records,
        "inserted": loaded.inserted,
        "updated": loaded.updated,
        "load_seconds": round(load_seconds, 1),
        "records_per_second_loaded": round(loaded.records / load_seconds, 1) if load_seconds else None,
    }
    print(json.dumps(figures), flush=True)
    return figures


class RemoteSimulator:
    """The simulator in its own process (its HTTP servers would otherwise share our GIL), driven over a pipe."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.parent, child = multiprocessing.Pipe()
        self.process = multiprocessing.Process(target=_serve, args=(config, child), daemon=True)
        self.process.start()
        self.call("ping")

    def call(self, name: str, *args):
        self.parent.send((name, args))
        ok, value = self.parent.recv()
        if not ok:
            raise RuntimeError(value)
        return value

    def env(self):
        return self.call("env")

    def truth(self):
        return self.call("truth")

    def advance(self, hours: float):
        return self.call("advance", hours)

    def request_counts(self):
        return self.call("request_counts")

    def reset_request_counts(self):
        return self.call("reset_request_counts")

    def close(self) -> None:
        self.call("stop")
        self.process.join(timeout=30)


def _serve(config: SimulatorConfig, connection) -> None:
    with Simulator(config) as sim:
        while True:
            name, args = connection.recv()
            if name == "stop":
                connection.send((True, None))
                return
            try:
                value = None if name == "ping" else getattr(sim, name)(*args)
                connection.send((True, value))
            except Exception as error:  # reported to the parent
                connection.send((False, f"{type(error).__name__}: {error}"))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repositories", type=int, default=200)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--services", type=int, default=16)
    parser.add_argument("--jira-projects", type=int, default=8)
    parser.add_argument("--jira-issues-per-project", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=16, help="EXTRACT_CONCURRENCY")
    parser.add_argument("--changed-share", type=float, default=0.01, help="share of the history to advance")
    parser.add_argument(
        "--workdir", type=Path, default=None, help="where the warehouse goes (default: a temp dir)"
    )
    parser.add_argument("--output", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="doraflow-bench-"))
    print(f"working in {workdir}", flush=True)
    config = SimulatorConfig(
        seed=2026,
        repositories=args.repositories,
        services=args.services,
        days=args.days,
        jira_projects=args.jira_projects,
        jira_issues_per_project=args.jira_issues_per_project,
        github_rate_limit=10**9,  # measure requests; the 5,000/hour budget is discussed in docs/extractors.md
    )
    clock = time.monotonic()
    sim = RemoteSimulator(config)
    try:
        setup_seconds = time.monotonic() - clock
        truth = sim.truth()
        print(f"simulator ready in {setup_seconds:.0f} s: {sum(truth.values())} objects", flush=True)
        env = {
            **sim.env(),
            "WAREHOUSE_PATH": str(workdir / "dora.duckdb"),
            "EXTRACT_CONCURRENCY": str(args.concurrency),
        }
        settings = load_settings(env)
        first = _phase(sim, settings, "first run (backfill)")
        unchanged = _phase(sim, settings, "second run, no change")
        steady = _phase(sim, settings, "third run, no change")
        hours = args.days * 24 * args.changed_share
        changes = sim.advance(hours)
        changed = sum(c["added"] + c["updated"] for c in changes.values())
        total = sum(truth.values())
        incremental = _phase(sim, settings, f"incremental after {hours:.0f} h")
        incremental["objects_changed"] = changed
        incremental["changed_share_of_objects"] = round(changed / total, 4) if total else None
    finally:
        sim.close()

    report = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "config": vars(args) | {"workdir": str(workdir), "output": str(args.output)},
        "objects": truth,
        "phases": [first, unchanged, steady, incremental],
    }
    print(json.dumps(report, indent=2))
    if args.output:
        args.output.write_text(json.dumps(report, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
