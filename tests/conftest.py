"""Shared fixtures: a real PostgreSQL server, the shared API specs, a simulator, isolated settings."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SPECS_DIR = Path(os.environ.get("DORAFLOW_SPECS_DIR", REPO_ROOT.parent / "shared" / "specs"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _postgres_bin() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    found = shutil.which("pg_ctl")
    if found:
        candidates.insert(0, found)
    return Path(candidates[0]).parent if candidates else None


@pytest.fixture(scope="session")
def specs_dir() -> Path:
    """The official API excerpts in ../shared/specs (absent from a user's clone: those tests skip)."""
    if not (SPECS_DIR / "spec_validate.py").is_file():
        pytest.skip(
            f"API spec excerpts not found at {SPECS_DIR} (set DORAFLOW_SPECS_DIR); fidelity tests skipped"
        )
    return SPECS_DIR


@pytest.fixture(scope="session")
def postgres_server():
    """Start a throwaway PostgreSQL server on a free loopback port; yields its admin URL (database postgres)."""
    bindir = _postgres_bin()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not found (install postgresql to run these tests)")
    as_root = os.geteuid() == 0
    data_dir = Path(tempfile.mkdtemp(prefix="doraflow-pg-"))
    prefix: list[str] = []
    if as_root:  # PostgreSQL refuses to run as root
        shutil.chown(data_dir, "postgres", "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    subprocess.run(
        [*prefix, str(bindir / "initdb"), "-D", str(data_dir), "-A", "trust", "-U", "postgres"],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {data_dir} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        [
            *prefix,
            str(bindir / "pg_ctl"),
            "-D",
            str(data_dir),
            "-o",
            options,
            "-w",
            "start",
            "-l",
            str(data_dir / "server.log"),
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data_dir), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def postgres_database(postgres_server):
    """A fresh, empty database on the session's server; yields its URL."""
    import uuid

    import psycopg2

    name = "t_" + uuid.uuid4().hex[:12]
    admin = psycopg2.connect(postgres_server)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'create database "{name}"')
    admin.close()
    yield postgres_server.rsplit("/", 1)[0] + "/" + name
