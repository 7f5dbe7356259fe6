"""Immutable landing batches (see docs/architecture.md, "Landing batches").

`<landing_dir>/<source>/<stream>/<batch_id>.jsonl.gz`, written to a `.tmp` name and renamed: a batch file
that exists is complete, and it carries the stream's state for its scope, so renaming commits the data
and the state together.

A per-scope index (`<landing_dir>/_index/<source>/<stream>/<scope>.json`) makes finding a scope's state
and its batches O(1) instead of reading every header. It is only a cache of what the batch files say
(checked against the files on every use: a batch moved aside, e.g. by `doraflow landing quarantine`,
rebuilds it from the headers, so the state never outlives its batch); it records the batch about to be renamed *before* the rename (`pending`) so a kill between the two is
resolved by checking whether the pending file exists, and when the index is missing it is rebuilt by
reading the headers.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

BATCH_SUFFIX = ".jsonl.gz"
_last_stamp_lock = threading.Lock()
_last_stamp = [""]


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_batch_id(source: str, stream: str) -> str:
    """`<UTC %Y%m%dT%H%M%S%fZ>-<source>-<stream>-<8 hex>`, strictly increasing within this process."""
    with _last_stamp_lock:
        stamp = utc_now().strftime("%Y%m%dT%H%M%S%fZ")
        if stamp <= _last_stamp[0]:  # same microsecond or a clock step back: stay ordered
            stamp = _bump(_last_stamp[0])
        _last_stamp[0] = stamp
    return f"{stamp}-{source}-{stream}-{secrets.token_hex(4)}"


def _bump(stamp: str) -> str:
    moment = datetime.strptime(stamp, "%Y%m%dT%H%M%S%fZ") + timedelta(microseconds=1)
    return moment.strftime("%Y%m%dT%H%M%S%fZ")


def scope_slug(scope: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "__", scope)


@dataclass(frozen=True)
class BatchHeader:
    batch_id: str
    source: str
    stream: str
    scope: str
    extracted_at: str
    record_count: int
    state: dict | None


def stream_dir(landing_dir: Path, source: str, stream: str) -> Path:
    return Path(landing_dir) / source / stream


def batch_path(landing_dir: Path, source: str, stream: str, batch_id: str) -> Path:
    return stream_dir(landing_dir, source, stream) / f"{batch_id}{BATCH_SUFFIX}"


def read_header(path: Path) -> BatchHeader:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        header = json.loads(handle.readline())
    return BatchHeader(
        batch_id=header["batch_id"],
        source=header["source"],
        stream=header["stream"],
        scope=header["scope"],
        extracted_at=header["extracted_at"],
        record_count=header["record_count"],
        state=header.get("state"),
    )


def read_records(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, raw line) of every record line (line 1 is the header)."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        handle.readline()
        for number, line in enumerate(handle, start=2):
            line = line.rstrip("\n")
            if line:
                yield number, line


def all_batch_files(landing_dir: Path) -> list[Path]:
    """Every complete batch file, in batch_id order."""
    root = Path(landing_dir)
    if not root.is_dir():
        return []
    files = [p for p in root.glob(f"*/*/*{BATCH_SUFFIX}") if not p.parts[-3].startswith("_")]
    return sorted(files, key=lambda p: p.name)


def _index_path(landing_dir: Path, source: str, stream: str, scope: str) -> Path:
    return Path(landing_dir) / "_index" / source / stream / f"{scope_slug(scope)}.json"


def _write_json_atomic(path: Path, value: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(value), encoding="utf-8")
    os.replace(tmp, path)


class ScopeIndex:
    """The batches and the latest state of one (source, stream, scope), derived from the batch files."""

    def __init__(self, landing_dir: Path, source: str, stream: str, scope: str) -> None:
        self.landing_dir = Path(landing_dir)
        self.source, self.stream, self.scope = source, stream, scope
        self.path = _index_path(self.landing_dir, source, stream, scope)
        self.batches: list[str] = []
        self.state: dict | None = None
        self.state_batch: str | None = None
        self._load()

    def _exists(self, batch_id: str) -> bool:
        return batch_path(self.landing_dir, self.source, self.stream, batch_id).is_file()

    def _load(self) -> None:
        data = None
        if self.path.is_file():
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
            except ValueError:
                data = None
        if data is None:
            self._rebuild()
            return
        self.batches = [b for b in data.get("batches", [])]
        self.state, self.state_batch = data.get("state"), data.get("state_batch")
        if not self._matches_files():
            self._rebuild()  # a batch was moved aside or removed: its state and ETags must go with it
            return
        pending = data.get("pending")
        if pending and pending not in self.batches and self._exists(pending):
            header = read_header(batch_path(self.landing_dir, self.source, self.stream, pending))
            self.batches.append(pending)
            if header.state is not None:
                self.state, self.state_batch = header.state, pending

    def _matches_files(self) -> bool:
        """Every batch the cache names still exists (one directory listing, no header reads)."""
        directory = stream_dir(self.landing_dir, self.source, self.stream)
        try:
            present = {
                name[: -len(BATCH_SUFFIX)] for name in os.listdir(directory) if name.endswith(BATCH_SUFFIX)
            }
        except FileNotFoundError:
            present = set()
        return all(batch in present for batch in self.batches)

    def _rebuild(self) -> None:
        directory = stream_dir(self.landing_dir, self.source, self.stream)
        self.batches, self.state, self.state_batch = [], None, None
        if not directory.is_dir():
            return
        for path in sorted(directory.glob(f"*{BATCH_SUFFIX}"), key=lambda p: p.name):
            header = read_header(path)
            if header.scope != self.scope:
                continue
            self.batches.append(header.batch_id)
            if header.state is not None:
                self.state, self.state_batch = header.state, header.batch_id

    def _save(self, pending: str | None) -> None:
        _write_json_atomic(
            self.path,
            {
                "batches": self.batches,
                "state": self.state,
                "state_batch": self.state_batch,
                "pending": pending,
            },
        )

    def write_batch(
        self, records: list[tuple[str | None, object]], state: dict | None, extracted_at: datetime
    ) -> str:
        """Land one batch (records as (parent_id, payload)) with the state after it; returns its batch_id."""
        batch_id = new_batch_id(self.source, self.stream)
        final = batch_path(self.landing_dir, self.source, self.stream, batch_id)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(final.name + ".tmp")
        header = {
            "batch_id": batch_id,
            "source": self.source,
            "stream": self.stream,
            "scope": self.scope,
            "extracted_at": extracted_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "record_count": len(records),
            "state": state,
        }
        with gzip.open(tmp, "wt", encoding="utf-8", compresslevel=5) as handle:
            handle.write(json.dumps(header) + "\n")
            for parent_id, payload in records:
                handle.write(json.dumps({"parent_id": parent_id, "payload": payload}) + "\n")
        self._save(pending=batch_id)
        os.replace(tmp, final)  # the commit point
        self.batches.append(batch_id)
        if state is not None:
            self.state, self.state_batch = state, batch_id
        self._save(pending=None)
        return batch_id

    def batches_after(self, cursor: str | None) -> list[str]:
        return [b for b in self.batches if cursor is None or b > cursor]

    def read_batch(self, batch_id: str) -> Iterator[tuple[str | None, object]]:
        """(parent_id, payload) of each well-formed record of one of this scope's batches."""
        path = batch_path(self.landing_dir, self.source, self.stream, batch_id)
        for _, line in read_records(path):
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                yield record.get("parent_id"), record.get("payload")


QUARANTINE_DIR = "_quarantine"  # beside the streams; `all_batch_files` skips folders starting with "_"


def find_batch(landing_dir: Path, batch_id: str) -> Path | None:
    matches = list(Path(landing_dir).glob(f"*/*/{batch_id}{BATCH_SUFFIX}"))
    return matches[0] if matches else None


def quarantine_batch(landing_dir: Path, batch_id: str) -> Path:
    """Move one batch into `<landing_dir>/_quarantine/<source>/<stream>/` and drop its stream's index, so
    the next extract derives its state from the batches that remain (and re-extracts what it held)."""
    landing_dir = Path(landing_dir)
    path = find_batch(landing_dir, batch_id)
    if path is None:
        raise FileNotFoundError(f"no landed batch {batch_id} under {landing_dir}")
    source, stream = path.parts[-3], path.parts[-2]
    target = landing_dir / QUARANTINE_DIR / source / stream / path.name
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(path, target)
    index = landing_dir / "_index" / source / stream
    if index.is_dir():
        for cached in index.glob("*.json"):
            cached.unlink()
    return target
