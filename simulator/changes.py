"""Records which objects of each raw table were added or updated while the clock moves."""

from __future__ import annotations


class Changes:
    """`enabled=False` records nothing (the initial generation has nothing to report)."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.added: dict[str, set] = {}
        self.updated: dict[str, set] = {}

    def add(self, table: str, key) -> None:
        if self.enabled:
            self.added.setdefault(table, set()).add(key)

    def update(self, table: str, key) -> None:
        if self.enabled and key not in self.added.get(table, ()):
            self.updated.setdefault(table, set()).add(key)

    def summary(self) -> dict[str, dict[str, int]]:
        tables = sorted(set(self.added) | set(self.updated))
        return {
            table: {"added": len(self.added.get(table, ())), "updated": len(self.updated.get(table, ()))}
            for table in tables
        }
