"""A reader of the serving copy in its own process, querying in a loop while a test publishes.

The test gives the reader a `check(connection) -> (version, complete)` function as source text; the reader runs
it on every query, in one of two modes:
- `hold`: one connection opened at the start and queried throughout (it must keep its consistent old copy);
- `reopen`: a new connection for every query (each must see one complete version).
The test tells the reader about each publish over stdin (`announce`) and ends it with `stop_reader`, which
returns the reader's summary: queries made, versions seen, versions seen incomplete ("broken"), announced
publish numbers and, in `reopen` mode, the version a last fresh connection sees ("final"). No sleeps, no timing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

_LOOP = r"""
os.nice(19)  # query flat out, but leave the CPU to the pipeline when it needs it (2 shared cores)
held = duckdb.connect(path, read_only=True) if mode == "hold" else None
queries, broken, versions, announced = 0, [], set(), []
print("ready", flush=True)
pending, stop = b"", False
while not stop:
    if select.select([0], [], [], 0)[0]:  # raw reads: Python's stdin buffer would hide lines from select
        chunk = os.read(0, 4096)
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if line == b"stop":
                stop = True
            else:
                announced.append(int(line))
        stop = stop or not chunk
    if held is not None:
        version, complete = check(held)
    else:
        connection = duckdb.connect(path, read_only=True)
        try:
            version, complete = check(connection)
        finally:
            connection.close()
    queries += 1
    versions.add(version)
    if not complete:
        broken.append(version)
final = None
if held is None:
    connection = duckdb.connect(path, read_only=True)
    final = check(connection)[0]
    connection.close()
print(json.dumps({"queries": queries, "broken": broken, "versions": sorted(versions),
                  "announced": announced, "final": final}), flush=True)
"""


def start_reader(path: Path, mode: str, check_source: str) -> subprocess.Popen:
    """Start a reader of the DuckDB file `path` (mode 'hold' or 'reopen'); returns once it is querying."""
    script = "import json, os, select, sys\nimport duckdb\npath, mode = sys.argv[1], sys.argv[2]\n"
    process = subprocess.Popen(
        [sys.executable, "-c", script + check_source + _LOOP, str(path), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().strip() == "ready"
    return process


def announce(process: subprocess.Popen, number: int) -> None:
    process.stdin.write(f"{number}\n")
    process.stdin.flush()


def stop_reader(process: subprocess.Popen) -> dict:
    """Stop the reader and return its summary; the reader must exit cleanly."""
    try:
        process.stdin.write("stop\n")
        process.stdin.flush()
        summary = json.loads(process.stdout.readline())
    finally:
        process.stdin.close()
        process.wait()
    assert process.returncode == 0
    return summary
