"""What a PostgreSQL message says, whatever the log format it came in (stderr, csvlog, jsonlog).

A message is a severity, a primary text and optional secondary fields (DETAIL, HINT, QUERY,
CONTEXT, LOCATION, STATEMENT). The primary text of a ``LOG`` may be a statement log
(``statement: ...``, ``execute S_1: ...``), a duration (``duration: 1.2 ms  statement: ...``,
``parse``/``bind``/``execute`` steps) or an auto_explain plan (``duration: ... ms  plan:``
then ``Query Text:`` and a text or JSON plan). :func:`interpret` turns all of that into
record fields; it never raises.
"""

from __future__ import annotations

import json
import re
from typing import Any

from processor.parsing.entries import RDS_TRUNCATION_MARKER, set_if, without_rds_marker
from processor.parsing.fingerprint import cached_fingerprint, redact_pg
from processor.parsing.records import Record

__all__ = ["SECONDARY_SEVERITIES", "interpret"]

SECONDARY_SEVERITIES = frozenset({"DETAIL", "HINT", "QUERY", "CONTEXT", "LOCATION", "STATEMENT"})
_DURATION = re.compile(
    r"duration: (?P<ms>\d+(?:\.\d+)?) ms(?:\s{1,2}(?P<kind>statement|parse|bind|execute|plan"
    r"|fastpath function call)(?: (?P<name>[^:\n]*?))?:(?:[ \t]?\n?(?P<text>.*))?)?",
    re.S,
)
_STATEMENT = re.compile(
    r"(?P<kind>statement|parse|bind|execute|fastpath function call)(?: (?P<name>[^:\n]*?))?:"
    r" (?P<text>.*)",
    re.S,
)
_SQLSTATE = re.compile(r"(?=[0-9A-Z]{0,4}\d)(?P<code>[0-9A-Z]{5}): ")
_PARAMETERS = "parameters: "
_PLAN_NODE = re.compile(r"^\s*(?:Query Parameters: |->|\S.*?\s\((?:cost|actual)[ =])", re.M)
_QUERY_TEXT_JSON = re.compile(r'"Query Text":\s*"((?:[^"\\]|\\.)*)"', re.S)
_SECONDARY_KEYS = {
    "DETAIL": "detail",
    "HINT": "hint",
    "QUERY": "internal_query",
    "CONTEXT": "context",
    "LOCATION": "location",
}


def interpret(
    record: Record,
    severity: str,
    text: str,
    secondary: dict[str, str],
    *,
    redacting: bool,
) -> None:
    """Add the fields of one message to ``record`` (severity, statement, duration...).

    ``secondary`` maps DETAIL/HINT/QUERY/CONTEXT/LOCATION/STATEMENT to their text. With
    ``redacting``, literals in the statement and in value fields become ``?``.
    """
    record["severity"] = severity
    if text[5:7] == ": " and (code := _SQLSTATE.match(text)) is not None:
        record.setdefault("sqlstate", code["code"])
        text = text[code.end() :]
    statement: str | None = None
    if severity == "LOG" and text.startswith("duration: "):
        statement = _duration(record, text)
    elif severity == "LOG" and (logged := _STATEMENT.match(text)) is not None:
        record["statement_kind"] = logged["kind"]
        set_if(record, "prepared_name", logged["name"])
        statement = logged["text"]
    else:
        set_if(record, "text", redact_pg(text) if redacting else text)
    for key, value in secondary.items():
        if key == "STATEMENT":
            if statement is None:
                statement = value
        elif key == "DETAIL" and value.startswith(_PARAMETERS):
            parameters = value[len(_PARAMETERS) :]
            record["parameters"] = redact_pg(parameters) if redacting else parameters
        elif key in _SECONDARY_KEYS:
            set_if(record, _SECONDARY_KEYS[key], redact_pg(value) if redacting else value)
    if statement is not None:
        if RDS_TRUNCATION_MARKER in statement:
            statement = without_rds_marker(statement)
        statement = statement.strip()
        if statement:
            fp, qid = cached_fingerprint(statement, postgresql=True)
            record["statement"] = redact_pg(statement) if redacting else statement
            record["fingerprint"] = fp
            record["query_id"] = qid


def _duration(record: Record, text: str) -> str | None:
    """Fields of a ``duration:`` message; returns its statement text, if any."""
    # The most common shape, read without a regex: "duration: 1.234 ms  statement: SQL".
    end = text.find(" ms  statement: ", 10)
    if end > 0:
        number = text[10:end]
        if number.replace(".", "", 1).isdigit():
            record["duration_ms"] = float(number)
            record["statement_kind"] = "statement"
            return text[end + 16 :]
    match = _DURATION.match(text)
    if match is None:
        set_if(record, "text", text)
        return None
    record["duration_ms"] = float(match["ms"])
    kind = match["kind"]
    if kind is None:
        return None
    record["statement_kind"] = kind
    set_if(record, "prepared_name", match["name"])
    body = match["text"] or ""
    if kind == "plan":
        return _plan(record, body)
    return body


def _plan(record: Record, body: str) -> str | None:
    """An auto_explain plan: keep it whole in ``plan``, return its query text."""
    plan = body.strip()
    record["plan"] = plan
    if plan.startswith("{"):
        try:
            document: Any = json.loads(plan)
        except ValueError:  # cut by the RDS download limit: the query text may still be whole
            quoted = _QUERY_TEXT_JSON.search(plan)
            if quoted is None:
                return None
            try:
                text = json.loads(f'"{quoted.group(1)}"')
            except ValueError:
                return None
            return text if isinstance(text, str) else None
        if isinstance(document, dict) and isinstance(document.get("Query Text"), str):
            query: str = document["Query Text"]
            return query
        return None
    if not plan.startswith("Query Text: "):
        return None
    rest = plan[len("Query Text: ") :]
    end = _PLAN_NODE.search(rest, rest.find("\n") + 1 if "\n" in rest else len(rest))
    return rest[: end.start()] if end is not None else rest
