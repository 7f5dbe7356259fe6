"""Incremental state pieces: time parsing, the change filter, the landing index after a crash, PagerDuty windows."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from doraflow.config import load_settings
from extractors.core import ChangeFilter, StreamContext, StreamTask, make_client, parse_time
from extractors.landing import ScopeIndex, batch_path, read_header
from extractors.pagerduty import incidents

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_parse_time_handles_the_three_apis():
    expected = datetime(2024, 5, 1, 10, 15, 30, tzinfo=UTC)
    assert parse_time("2024-05-01T10:15:30Z") == expected  # GitHub, PagerDuty
    assert parse_time("2024-05-01T10:15:30.000+0000") == expected  # Jira
    assert parse_time("2024-05-01T12:15:30.000+0200") == expected  # Jira, another zone
    assert parse_time("2024-05-01T10:15:30+00:00") == expected
    assert parse_time("not a time") is None and parse_time(None) is None


def test_change_filter_skips_identical_rereads_and_prunes_below_the_floor():
    first = ChangeFilter(None)
    assert first.changed("1", T0, {"id": 1, "v": 1})
    assert first.changed("2", T0 + timedelta(hours=5), {"id": 2})
    state = first.state(T0 + timedelta(hours=1))  # "1" is below the floor: dropped
    assert set(state) == {"2"}
    second = ChangeFilter(state)
    assert not second.changed("2", T0 + timedelta(hours=5), {"id": 2})  # same content: skipped
    assert second.changed("2", T0 + timedelta(hours=6), {"id": 2, "title": "new"})  # changed: landed


def test_index_recovers_a_batch_renamed_before_the_index_was_updated(tmp_path):
    landing = tmp_path / "landing"
    index = ScopeIndex(landing, "github", "pull_requests", "acme/api")
    first = index.write_batch([(None, {"number": 1})], {"watermark": "a"}, T0)
    # simulate a kill between the rename and the index update: the index still names the batch as pending
    second = index.write_batch([(None, {"number": 2})], {"watermark": "b"}, T0)
    saved = json.loads(index.path.read_text())
    saved["batches"].remove(second)
    saved.update(state={"watermark": "a"}, state_batch=first, pending=second)
    index.path.write_text(json.dumps(saved))
    reopened = ScopeIndex(landing, "github", "pull_requests", "acme/api")
    assert reopened.batches == [first, second] and reopened.state == {"watermark": "b"}
    # a pending batch that was never renamed does not count
    saved["pending"] = "20990101T000000000000Z-github-pull_requests-deadbeef"
    saved["batches"] = [first]
    index.path.write_text(json.dumps(saved))
    assert ScopeIndex(landing, "github", "pull_requests", "acme/api").state == {"watermark": "a"}
    # without an index the headers are read again; other scopes' batches are ignored
    ScopeIndex(landing, "github", "pull_requests", "acme/web").write_batch([], {"watermark": "z"}, T0)
    index.path.unlink()
    rebuilt = ScopeIndex(landing, "github", "pull_requests", "acme/api")
    assert rebuilt.batches == [first, second] and rebuilt.state == {"watermark": "b"}
    assert read_header(batch_path(landing, "github", "pull_requests", second)).record_count == 1


class SyntheticPagerDuty:
    """N incidents, one a minute from T0; enforces the 10,000 offset ceiling and the six-month range."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            wbufsize = 1 << 16  # one write per answer (no Nagle/delayed-ACK stall between headers and body)

            def log_message(self, *args):
                pass

            def do_GET(self):
                query = {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}
                outer.requests.append(query)
                status, body = outer.answer(query)
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, query: dict) -> tuple[int, dict]:
        offset, limit = int(query.get("offset", 0)), int(query.get("limit", 25))
        if offset + limit > 10_000:
            return 400, {"error": {"code": 2002, "message": "Arguments Caused Error", "errors": ["offset"]}}
        since = parse_time(query["since"])
        until = parse_time(query["until"]) if "until" in query else datetime.now(UTC)  # the API default
        if until - since > timedelta(days=183):
            return 400, {"error": {"code": 2001, "message": "Invalid Input Provided", "errors": ["range"]}}
        first = max(
            0, int((since - T0).total_seconds() // 60) + (1 if (since - T0).total_seconds() % 60 else 0)
        )
        last = min(
            self.count,
            int((until - T0).total_seconds() // 60) + (1 if (until - T0).total_seconds() % 60 else 0),
        )
        ids = list(range(first, max(first, last)))
        page = ids[offset : offset + limit]
        items = [
            {
                "id": f"Q{i:06d}",
                "status": "resolved",
                "created_at": (T0 + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
            for i in page
        ]
        total = len(ids) if query.get("total") == "true" else None
        return 200, {
            "incidents": items,
            "more": offset + limit < len(ids),
            "offset": offset,
            "limit": limit,
            "total": total,
        }


def test_incident_windows_split_at_the_offset_ceiling(tmp_path):
    pd = SyntheticPagerDuty(count=23_000)  # 16 days of one incident a minute: > 2 x 10,000 in one window
    try:
        settings = load_settings(
            {
                "WAREHOUSE_PATH": str(tmp_path / "dora.duckdb"),
                "PAGERDUTY_API_URL": pd.url,
                "PAGERDUTY_TOKEN": "pd-secret",
                "EXTRACT_START_DATE": T0.date().isoformat(),
            }
        )
        task = StreamTask("pagerduty", "incidents", "pagerduty")
        with make_client(settings, "pagerduty") as client:
            ctx = StreamContext(settings, task, client, progress=lambda line: None)
            incidents(ctx)
        landed = [payload["id"] for b in ctx.index.batches for _, payload in ctx.index.read_batch(b)]
        assert len(landed) == 23_000 and len(set(landed)) == 23_000
        assert all(int(q["offset"]) + int(q["limit"]) <= 10_000 for q in pd.requests)
        # windows: [T0, T0+170 d) holds all 23,000 (total > ceiling: split to 85 d, 42.5 d, 21.25 d, 10.6 d halves
        # until each half holds at most 9,900), then pages of 100; the open window after it is empty
        assert len(pd.requests) < 23_000 // 100 + 20
        assert ctx.index.state["watermark"] == (T0 + timedelta(minutes=22_999)).strftime("%Y-%m-%dT%H:%M:%SZ")
    finally:
        pd.server.shutdown()
        pd.server.server_close()
