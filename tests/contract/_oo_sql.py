"""The subset of OpenObserve's SQL (DataFusion) that the contract server executes in SQLite.

Supported: one ``SELECT`` over one stream (``FROM "stream"`` or ``FROM stream``) with ``*``,
columns, ``COUNT(*)``/``COUNT(col)``/``MIN``/``MAX``/``SUM``/``AVG``, aliases, ``WHERE`` with
``= != <> < <= > >= IN LIKE IS [NOT] NULL AND OR NOT`` and parentheses, ``GROUP BY``,
``HAVING``, ``ORDER BY ... [ASC|DESC]``, ``LIMIT``/``OFFSET``. Everything else (joins,
sub-queries, ``WITH``, ``UNION``, OpenObserve functions such as ``histogram`` or
``match_all``, several statements) is refused with :class:`UnsupportedSql` so a caller learns
at once that the contract server cannot vouch for that query.

The time range and paging of a ``_search`` request are applied around the query, the way
OpenObserve applies them: a ``WITH`` clause shadows the stream's table by a view restricted to
``start_time <= _timestamp < end_time``; a query that is neither aggregated nor ordered gets
OpenObserve's default ``ORDER BY _timestamp DESC``; ``from``/``size`` page the result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

__all__ = ["PreparedQuery", "UnsupportedSql", "prepare_query"]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^']|'')*')
      | (?P<quoted>"(?:[^"]|"")+")
      | (?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<op><>|!=|<=|>=|\|\||[=<>(),*.+\-/%])
    )""",
    re.VERBOSE,
)

_FUNCTIONS: Final = frozenset({"count", "min", "max", "sum", "avg"})
_REFUSED_WORDS: Final = frozenset(
    {
        "join",
        "union",
        "intersect",
        "except",
        "with",
        "over",
        "window",
        "insert",
        "update",
        "delete",
        "drop",
        "create",
        "alter",
        "attach",
        "detach",
        "pragma",
        "replace",
        "vacuum",
        "glob",
        "regexp",
        "match",
        "case",
        "cast",
        "exists",
        "between",
        "collate",
        "escape",
    }
)
_AGGREGATES: Final = _FUNCTIONS
# Words that may stand before "(" without being a function call.
_KEYWORDS: Final = frozenset(
    {
        "in",
        "and",
        "or",
        "not",
        "where",
        "having",
        "select",
        "from",
        "by",
        "is",
        "like",
        "as",
        "distinct",
        "on",
        "limit",
        "offset",
        "asc",
        "desc",
    }
)


class UnsupportedSql(ValueError):
    """The query is outside the subset above or cannot be read; the message says why."""


@dataclass(frozen=True, slots=True)
class PreparedQuery:
    """A query ready for SQLite: ``sql`` takes ``params`` (start, end, then paging)."""

    stream: str
    sql: str
    params: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: str

    @property
    def lower(self) -> str:
        return self.text.lower()


def _tokenize(sql: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    text = sql.rstrip()
    if text.endswith(";"):
        text = text[:-1]
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        rest = text[pos:].lstrip()
        if rest.startswith(("--", "/*")):
            raise UnsupportedSql("SQL comments are not supported")
        if rest.startswith(";"):
            raise UnsupportedSql("only one SQL statement is supported")
        m = _TOKEN.match(text, pos)
        if m is None or m.lastgroup is None:
            raise UnsupportedSql(f"cannot read SQL near {text[pos : pos + 20]!r}")
        tokens.append(_Token(m.lastgroup, m.group(m.lastgroup)))
        pos = m.end()
    return tokens


def _unquote(token: _Token) -> str:
    if token.kind == "quoted":
        return token.text[1:-1].replace('""', '"')
    return token.text


def _top_level_index(tokens: list[_Token], word: str, start: int = 0) -> int:
    """Index of the first ``word`` keyword outside parentheses at or after ``start``, or -1."""
    depth = 0
    for i in range(start, len(tokens)):
        tok = tokens[i]
        if tok.text == "(":
            depth += 1
        elif tok.text == ")":
            depth -= 1
        elif depth == 0 and tok.kind == "word" and tok.lower == word:
            return i
    return -1


def _check_words(tokens: list[_Token]) -> None:
    selects = 0
    for i, tok in enumerate(tokens):
        if tok.kind != "word":
            continue
        word = tok.lower
        if word == "select":
            selects += 1
            if selects > 1:
                raise UnsupportedSql("sub-queries are not supported")
        if word in _REFUSED_WORDS:
            raise UnsupportedSql(f"{tok.text.upper()} is not supported by the contract server")
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if nxt is not None and nxt.text == "(" and word not in _FUNCTIONS | _KEYWORDS:
            raise UnsupportedSql(f"function {tok.text}() is not supported by the contract server")


def prepare_query(
    sql: str, start_time_us: int, end_time_us: int, offset: int, size: int
) -> PreparedQuery:
    """Check ``sql`` against the supported subset and wrap it for execution.

    Raises :class:`UnsupportedSql` for anything outside the subset. ``size <= 0`` means no
    paging limit beyond the query's own ``LIMIT``.
    """
    tokens = _tokenize(sql)
    if not tokens or tokens[0].lower != "select":
        raise UnsupportedSql("only SELECT queries are supported")
    _check_words(tokens)
    from_at = _top_level_index(tokens, "from")
    if from_at < 0 or from_at + 1 >= len(tokens):
        raise UnsupportedSql("the query needs FROM <stream>")
    table = tokens[from_at + 1]
    if table.kind not in ("quoted", "word"):
        raise UnsupportedSql("FROM must name one stream")
    after = tokens[from_at + 2] if from_at + 2 < len(tokens) else None
    if after is not None and (after.text in (",", ".") or after.lower == "as"):
        raise UnsupportedSql("FROM must name exactly one stream, without alias or schema")
    stream = _unquote(table)

    has_order = _top_level_index(tokens, "order") >= 0
    has_group = _top_level_index(tokens, "group") >= 0
    has_aggregate = any(
        t.kind == "word"
        and t.lower in _AGGREGATES
        and i + 1 < len(tokens)
        and tokens[i + 1].text == "("
        for i, t in enumerate(tokens)
    )
    limit_at = _top_level_index(tokens, "limit")
    body_tokens = tokens if limit_at < 0 else tokens[:limit_at]
    tail_tokens: list[_Token] = [] if limit_at < 0 else tokens[limit_at:]
    body = _render(body_tokens)
    if not (has_order or has_group or has_aggregate):
        body += " ORDER BY _timestamp DESC"
    inner = f"{body} {_render(tail_tokens)}".strip()

    quoted = '"' + stream.replace('"', '""') + '"'
    view = (
        f"WITH {quoted} AS (SELECT * FROM main.{quoted} WHERE _timestamp >= ? AND _timestamp < ?)"
    )
    params: tuple[int, ...] = (start_time_us, end_time_us)
    if size > 0:
        statement = f"{view} SELECT * FROM ({inner}) LIMIT ? OFFSET ?"
        params += (size, max(offset, 0))
    elif offset > 0:
        statement = f"{view} SELECT * FROM ({inner}) LIMIT -1 OFFSET ?"
        params += (offset,)
    else:
        statement = f"{view} {inner}"
    return PreparedQuery(stream=stream, sql=statement, params=params)


def _render(tokens: list[_Token]) -> str:
    # Re-joining tokens (rather than slicing the text) keeps quoting exactly as tokenised.
    out: list[str] = []
    for tok in tokens:
        text = tok.text
        if tok.kind == "op" and text == "!=":
            text = "<>"
        out.append(text)
    return " ".join(out)
