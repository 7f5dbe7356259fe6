"""Time helpers: the organisation keeps times as integer epoch seconds (UTC)."""

from __future__ import annotations

import heapq
from datetime import UTC, datetime

DAY = 86400
HOUR = 3600
MINUTE = 60


def to_epoch(value: datetime) -> int:
    return int(value.timestamp())


def iso_z(epoch: float) -> str:
    """GitHub / PagerDuty style: 2024-05-01T10:15:30Z."""
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_jira(epoch: float) -> str:
    """Jira style: 2024-05-01T10:15:30.000+0000 (milliseconds, offset without colon)."""
    seconds = int(epoch)
    millis = int(round((epoch - seconds) * 1000)) % 1000
    text = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{millis:03d}+0000"


def parse_iso(value: str) -> float:
    """Parse ISO 8601 (Z, +00:00, +0000 or date only); naive values are taken as UTC. Raises ValueError."""
    text = value.strip()
    if not text:
        raise ValueError("empty timestamp")
    if text.endswith("Z") or text.endswith("z"):
        text = text[:-1] + "+00:00"
    if len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit() and ":" not in text[-5:]:
        text = text[:-2] + ":" + text[-2:]
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


class EventLoop:
    """A discrete-event loop: callbacks run in time order; `run_until` stops at the clock."""

    __slots__ = ("_heap", "_seq")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, object, tuple]] = []
        self._seq = 0

    def at(self, when: float, callback, *args) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (when, self._seq, callback, args))

    def run_until(self, clock: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= clock:
            when, _, callback, args = heapq.heappop(heap)
            callback(when, *args)
