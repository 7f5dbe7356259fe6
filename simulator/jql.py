"""The subset of JQL the simulator understands: restrictions joined by AND, then ORDER BY."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\')|(?P<op>>=|<=|!=|=|>|<|~|\(|\)|,)|(?P<word>[^\s=<>!~(),"\']+))'
)
TIME_FIELDS = ("updated", "created", "resolved", "resolutiondate")


class JqlError(ValueError):
    """The JQL cannot be parsed or is not allowed; the message is Jira's."""


@dataclass
class Clause:
    field: str
    op: str
    values: list


@dataclass
class Query:
    clauses: list
    order: list  # (field, descending)

    @property
    def bounded(self) -> bool:
        return any(c.field in ("project", "key", "issuekey", "id", *TIME_FIELDS) for c in self.clauses)


def _tokens(text: str) -> list[tuple[str, str]]:
    out = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = TOKEN.match(text, position)
        if not match or match.end() == position:
            raise JqlError(f"Error in the JQL Query: unexpected character at position {position + 1}.")
        position = match.end()
        if match.group("str") is not None:
            out.append(("value", match.group("str")[1:-1]))
        elif match.group("op") is not None:
            out.append(("op", match.group("op")))
        elif match.group("word") is not None:
            out.append(("word", match.group("word")))
        rest = text[position:]
        if not rest.strip():
            break
    return out


def parse(text: str) -> Query:
    tokens = _tokens(text or "")
    clauses: list[Clause] = []
    order: list[tuple[str, bool]] = []
    i = 0

    def peek(offset: int = 0):
        return tokens[i + offset] if i + offset < len(tokens) else (None, None)

    while i < len(tokens):
        kind, value = peek()
        if kind == "word" and value.lower() == "order" and (peek(1)[1] or "").lower() == "by":
            i += 2
            while i < len(tokens):
                kind, value = peek()
                if kind not in ("word", "value"):
                    raise JqlError("Error in the JQL Query: expected a field name after ORDER BY.")
                field = value.lower()
                i += 1
                descending = False
                if peek()[0] == "word" and peek()[1].lower() in ("asc", "desc"):
                    descending = peek()[1].lower() == "desc"
                    i += 1
                order.append((field, descending))
                if peek() == ("op", ","):
                    i += 1
                    continue
                break
            if not order:
                raise JqlError("Error in the JQL Query: expecting a field name after ORDER BY.")
            if i < len(tokens):
                raise JqlError(f"Error in the JQL Query: unexpected '{tokens[i][1]}' after ORDER BY.")
            break
        if kind == "word" and value.lower() == "and" and clauses:
            i += 1
            continue
        if kind not in ("word", "value"):
            raise JqlError(f"Error in the JQL Query: expected a field name, found '{value}'.")
        field = value.lower()
        i += 1
        kind, op = peek()
        if kind == "word" and op.lower() == "not" and (peek(1)[1] or "").lower() == "in":
            op = "not in"
            i += 2
        elif kind == "word" and op.lower() == "in":
            op = "in"
            i += 1
        elif kind == "op" and op in ("=", "!=", ">", ">=", "<", "<="):
            i += 1
        else:
            raise JqlError(f"Error in the JQL Query: expecting an operator after '{field}'.")
        values = []
        if op in ("in", "not in"):
            if peek() != ("op", "("):
                raise JqlError(f"Error in the JQL Query: expecting '(' after '{op}'.")
            i += 1
            while True:
                kind, value = peek()
                if kind not in ("word", "value"):
                    raise JqlError("Error in the JQL Query: expecting a value in the list.")
                values.append(value)
                i += 1
                if peek() == ("op", ","):
                    i += 1
                    continue
                if peek() == ("op", ")"):
                    i += 1
                    break
                raise JqlError("Error in the JQL Query: expecting ')' to close the list.")
        else:
            kind, value = peek()
            if kind not in ("word", "value"):
                raise JqlError(f"Error in the JQL Query: expecting a value after '{field} {op}'.")
            values.append(value)
            i += 1
        clauses.append(Clause(field, op, values))
        kind, value = peek()
        if kind == "word" and value.lower() == "or":
            raise JqlError("The simulator supports clauses joined by AND only.")
        if kind is not None and not (kind == "word" and value.lower() in ("and", "order")):
            raise JqlError(f"Error in the JQL Query: expecting AND or ORDER BY, found '{value}'.")
    return Query(clauses, order)


def parse_time(value: str, clock: float) -> float:
    """A JQL date in the user's time zone (the simulator's user is in UTC): "YYYY-MM-DD HH:mm",
    "YYYY/MM/DD HH:mm", "YYYY-MM-DD", or relative "-5d" / "-12h" / "-30m" / "-1w"."""
    text = value.strip()
    match = re.fullmatch(r"([+-]?)(\d+)([wdhm])", text)
    if match:
        sign = -1 if match.group(1) == "-" else 1
        unit = {"w": 604800, "d": 86400, "h": 3600, "m": 60}[match.group(3)]
        return clock + sign * int(match.group(2)) * unit
    for pattern in ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d"):
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=UTC).timestamp()
        except ValueError:
            continue
    raise JqlError(
        f"Date value '{value}' for field is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', "
        "'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'."
    )
