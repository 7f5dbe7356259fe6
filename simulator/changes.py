"""Records which objects of each raw table were added or updated while the clock moves."""

from __future__ import annotations


class Changes:
    def __init__(self) -> None:
        self.added: dict[str, set] = {}
        self.updated: dict[str, set] = {}

    def add(self, table: str, key) -> None:
        self.added.setdefault(table, set()).add(key)

    def update(self, table: str, key) -> None:
        if key not in self.added.get(table, ()):
            self.updated.setdefault(table, set()).add(key)

    def summary(self) -> dict[str, dict[str, int]]:
        tables = sorted(set(self.added) | set(self.updated))
        return {
            table: {"added": len(self.added.get(table, ())), "updated": len(self.updated.get(table, ()))}
            for table in tables
        }
