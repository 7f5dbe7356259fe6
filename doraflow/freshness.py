"""Source freshness as `dbt source freshness` computes it, from the same rules, in SQL on the warehouse.

The rules stay in the sources' YAML (dbt_project/models/**/_*__sources.yml: `loaded_at_field`, `freshness:
{warn_after, error_after}` and `filter`, under `config:` or beside it, a table's own settings over its
source's), the one place dbt reads them too. This module reads that YAML and runs dbt's own freshness query
(`select max(<loaded_at_field>), now() from <table> [where <filter>]`) on DuckDB or PostgreSQL, then applies
dbt's rule: `error` when the age exceeds error_after, else `warn` when it exceeds warn_after, else `pass`; a
table with no row is loaded at 0001-01-01 as dbt takes it (so `error`), one not in the warehouse `missing`. So the
nightly step pays one query per table instead of dbt's import and parse (seconds); tests/test_freshness.py
checks the result against `dbt source freshness` (doraflow.transform.dbt_source_freshness) on the same data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from doraflow.config import DBT_PROJECT_DIR, Settings

PERIOD_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}  # dbt's periods
NEVER = datetime(1, 1, 1, tzinfo=UTC)  # dbt's max_loaded_at of a table with no row


@dataclass(frozen=True)
class FreshnessRule:
    source: str
    table: str  # the identifier in the warehouse
    schema: str
    loaded_at_field: str
    warn_after: float | None  # seconds
    error_after: float | None
    filter: str | None = None


def _setting(node: dict, name: str, default=None):
    """A source or table setting: under `config:` (dbt 1.10+) or at the top level (older style)."""
    config = node.get("config") or {}
    if name in config:
        return config[name]
    return node.get(name, default)


def _seconds(threshold: dict | None) -> float | None:
    if not threshold or threshold.get("count") is None or threshold.get("period") is None:
        return None
    return float(threshold["count"]) * PERIOD_SECONDS[str(threshold["period"])]


def read_rules(models_dir: Path | None = None) -> list[FreshnessRule]:
    """Every source table with a freshness rule, as dbt resolves it (a table's settings over its source's)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    rules = []
    for path in sorted((models_dir or DBT_PROJECT_DIR / "models").rglob("*.yml")):
        text = path.read_text(encoding="utf-8")
        if "sources:" not in text:  # the models' YAML (the marts' contract is most of it) declares no source
            continue
        document = yaml.load(text, Loader=loader) or {}  # noqa: S506 - a safe loader, in C when available
        for source in document.get("sources") or []:
            for table in source.get("tables") or []:
                freshness = dict(_setting(source, "freshness") or {})
                own = {**(table.get("config") or {}), **{k: v for k, v in table.items() if k != "config"}}
                if "freshness" in own:
                    if own["freshness"] is None:  # `freshness: null` turns the source's rule off
                        continue
                    freshness.update(own["freshness"])
                loaded_at = own.get("loaded_at_field") or _setting(source, "loaded_at_field")
                warn, error = _seconds(freshness.get("warn_after")), _seconds(freshness.get("error_after"))
                if not loaded_at or (warn is None and error is None):
                    continue  # dbt does not check a table without a rule
                rules.append(
                    FreshnessRule(
                        source=source["name"],
                        table=table.get("identifier") or table["name"],
                        schema=source.get("schema") or source["name"],
                        loaded_at_field=loaded_at,
                        warn_after=warn,
                        error_after=error,
                        filter=freshness.get("filter"),
                    )
                )
    return rules


def _utc(value) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def status(rule: FreshnessRule, age_seconds: float) -> str:
    if rule.error_after is not None and age_seconds > rule.error_after:
        return "error"
    if rule.warn_after is not None and age_seconds > rule.warn_after:
        return "warn"
    return "pass"


def source_freshness(settings: Settings, rules: list[FreshnessRule] | None = None) -> list[dict]:
    """[{source, table, status, max_loaded_at, age_seconds}] for every table with a rule, as dbt's command gives."""
    from doraflow.warehouse import warehouse_cursor

    rules = read_rules() if rules is None else rules
    rows = []
    with warehouse_cursor(settings) as cursor:
        cursor.execute("select table_schema, table_name from information_schema.tables")
        existing = set(cursor.fetchall())
        for rule in rules:
            row = {"source": rule.source, "table": rule.table, "max_loaded_at": None, "age_seconds": None}
            if (rule.schema, rule.table) not in existing:
                rows.append({**row, "status": "missing"})
                continue
            where = f" where {rule.filter}" if rule.filter else ""
            cursor.execute(
                f'select max({rule.loaded_at_field}), now() from "{rule.schema}"."{rule.table}"{where}'
            )
            latest, now = cursor.fetchone()
            latest = NEVER if latest is None else _utc(latest)
            age = (_utc(now) - latest).total_seconds()
            rows.append(
                {**row, "status": status(rule, age), "max_loaded_at": str(latest), "age_seconds": age}
            )
    return sorted(rows, key=lambda row: (row["source"], row["table"]))
