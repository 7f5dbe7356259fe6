"""Issue #11.3: a PagerDuty sweep checks what it received against what it asked for before its state moves."""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timedelta

import pytest

from doraflow.config import load_settings
from doraflow.errors import SourceError
from extractors import extract_stream
from extractors.core import StreamTask, day_start
from extractors.landing import ScopeIndex

simulator = pytest.importorskip("simulator")
QUIET = dict(progress=lambda line: None)
LOG = StreamTask("pagerduty", "incident_log_entries", "pagerduty")


@pytest.fixture(scope="module")
def sim():
    config = simulator.SimulatorConfig(seed=9, repositories=3, services=3, days=120, incident_rate=0.3)
    with simulator.Simulator(config) as running:
        yield running


def landed_ids(settings) -> list[str]:
    ids = []
    for path in sorted((settings.landing_dir / "pagerduty" / "incident_log_entries").glob("*.jsonl.gz")):
        with gzip.open(path, "rt") as handle:
            ids.extend(json.loads(line)["payload"]["id"] for line in handle.read().splitlines()[1:])
    return ids


def sweep(sim, tmp_path, faults):
    settings = load_settings({**sim.env(), "WAREHOUSE_PATH": str(tmp_path / "dora.duckdb")})
    for stream in ("services", "incidents"):
        extract_stream(settings, StreamTask("pagerduty", stream, "pagerduty"), **QUIET)
    sim.set_faults(faults)
    try:
        extract_stream(settings, LOG, **QUIET)
    finally:
        sim.set_faults(simulator.Faults())
    return settings


def test_repeated_page_after_a_shift_loses_nothing(sim, tmp_path):
    truth = sim.truth()["pagerduty__incident_log_entries"]
    assert truth > 300  # at least four pages of 100
    # request 2 (offset 100) shifts the listing by one, request 3 (offset 200) repeats the previous page
    # unshifted: not identical to the page received, so only a check of the ids and the total notices
    settings = sweep(
        sim, tmp_path, simulator.Faults(shifting_item_every=2, repeat_page_every=3, fail_first_n=2)
    )
    ids = landed_ids(settings)
    assert len(set(ids)) == truth
    assert ScopeIndex(settings.landing_dir, "pagerduty", "incident_log_entries", "pagerduty").state[
        "watermark"
    ]


def test_a_listing_that_never_settles_fails_in_one_line_without_advancing(sim, tmp_path):
    settings = load_settings({**sim.env(), "WAREHOUSE_PATH": str(tmp_path / "dora.duckdb")})
    for stream in ("services", "incidents"):
        extract_stream(settings, StreamTask("pagerduty", stream, "pagerduty"), **QUIET)
    sim.set_faults(simulator.Faults(shifting_item_every=2, repeat_page_every=3))  # unbounded
    try:
        with pytest.raises(SourceError) as caught:
            extract_stream(settings, LOG, **QUIET)
    finally:
        sim.set_faults(simulator.Faults())
    message = str(caught.value)
    assert "\n" not in message and "log_entries" in message and "rerun" in message
    assert ScopeIndex(settings.landing_dir, "pagerduty", "incident_log_entries", "pagerduty").state is None


def test_open_incidents_are_not_landed_again_by_a_run_without_changes(tmp_path):
    """Issue #11.10: an unresolved incident older than the overlap is re-read each run, landed only if changed."""
    config = simulator.SimulatorConfig(seed=9, repositories=3, services=3, days=20, incident_rate=0.5)
    with simulator.Simulator(config) as sim:
        settings = load_settings({**sim.env(), "WAREHOUSE_PATH": str(tmp_path / "dora.duckdb")})
        task = StreamTask("pagerduty", "incidents", "pagerduty")
        extract_stream(settings, StreamTask("pagerduty", "services", "pagerduty"), **QUIET)
        extract_stream(settings, task, **QUIET)
        first = ScopeIndex(settings.landing_dir, "pagerduty", "incidents", "pagerduty").state
        (open_id,) = first["open"]  # the simulator leaves one incident open at the end of its history
        sim.advance(72)  # newer incidents move the watermark on
        left_open = sim.org.pagerduty.by_id[open_id]
        with sim.org.lock:  # nobody resolved it: it stays open as it was
            left_open.status, left_open.resolved_at = "triggered", None
            left_open.acknowledged_at = left_open.acknowledged_by = None
        extract_stream(settings, task, **QUIET)
        state = ScopeIndex(settings.landing_dir, "pagerduty", "incidents", "pagerduty").state
        watermark = datetime.fromisoformat(state["watermark"].replace("Z", "+00:00"))
        created = datetime.fromisoformat(state["open"][open_id].replace("Z", "+00:00"))
        assert created < day_start(watermark - timedelta(hours=1)), "below the overlap window"
        again = extract_stream(settings, task, **QUIET)
    assert (again.records, again.batches) == (0, 0)
