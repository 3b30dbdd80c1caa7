"""Query fingerprints: the abstract form of a statement that groups its executions.

:func:`fingerprint` reproduces pt-fingerprint (percona-toolkit ``QueryRewriter::fingerprint``,
default options) step for step, including its quirks, because users join our ``query_id`` with
pt-query-digest reports: numbers are abstracted even inside identifiers (``tbl1`` becomes
``tbl?``), only ASCII letters are lowercased (pt works on bytes), and ``ASC`` is dropped after
``ORDER BY``. :func:`query_id` is the ID pt-query-digest prints for a fingerprint.

:func:`pg_fingerprint` is the PostgreSQL variant: the same normaliser, but ``$n`` placeholders
survive, ``"..."`` stays an identifier, and ``E'...'``, ``$tag$...$tag$`` and ``::type`` casts
are understood. :func:`redact` replaces literals by ``?`` while keeping the statement readable
(case, spacing and identifiers untouched); it backs the ``redact_literals`` setting.

All functions are pure, never raise on any input string and are safe to call from any thread.
"""

from __future__ import annotations

import hashlib
import re

__all__ = [
    "cached_fingerprint",
    "digit_blind",
    "fingerprint",
    "pg_fingerprint",
    "query_id",
    "redact",
    "redact_pg",
]

# Perl's regexes in pt work on bytes: \b, \w and \s are ASCII-only there, hence re.ASCII.
_A = re.ASCII
_MYSQLDUMP = re.compile(r"\ASELECT /\*!40001 SQL_NO_CACHE \*/ \* FROM `", _A)
_PT_CHECKSUM = re.compile(r"/\*\w+\.\w+:[0-9]/[0-9]\*/", _A)
_CALL = re.compile(r"\A\s*(call\s+\S+)\(", _A | re.I)
_MULTI_INSERT = re.compile(
    r"\A((?:INSERT|REPLACE)(?: IGNORE)?\s+INTO.+?VALUES\s*\(.*?\))\s*,\s*\(", _A | re.I | re.S
)
_ML_COMMENT = re.compile(r"/\*[^!].*?\*/", _A | re.S)
_OL_COMMENT = re.compile(r"(?:--|#)[^'\"\r\n]*(?=[\r\n]|\Z)", _A)
_USE = re.compile(r"\Ause \S+(?=\n?\Z)", _A | re.I)
_ESCAPED_QUOTE = re.compile(r"\\[\"']")
_DQ_STRING = re.compile(r'".*?"', re.S)
_SQ_STRING = re.compile(r"'.*?'", re.S)
_BOOLEAN = re.compile(r"\bfalse\b|\btrue\b", _A | re.I)
_NUMBER = re.compile(r"[0-9+-][0-9a-f.xb+-]*")
_NUMBER_PREFIX = re.compile(r"[xb.+-]\?")
_LEADING_SPACE = re.compile(r"\A\s+", _A)
# Runs of whitespace become one space; a lone space is left alone (same result, far fewer
# replacements).
_WHITESPACE_RUN = re.compile(r"[ \n\t\r\f]{2,}|[\n\t\r\f]")
_NULL = re.compile(r"\bnull\b", _A)
_LISTS = re.compile(r"\b(in|values?)(?:[\s,]*\([\s?,]*\))+", _A)
_UNION = re.compile(r"\b(select\s.*?)(?:(\sunion(?:\sall)?)\s\1)+", _A)
_LIMIT = re.compile(r"\blimit \?(?:, ?\?| offset \?)?", _A)
_ORDER_BY = re.compile(r"\bORDER BY ", _A | re.I)
_ASC_STEP = re.compile(r"(.+?)\s+ASC", _A | re.I)

# PostgreSQL: dollar quoting, E'' strings (backslash escapes) and standard '' strings with
# doubled quotes; placeholders and casts survive the number rule.
# The tag group always takes part (it may be empty) so that \1 can close `$$...$$`.
_PG_DOLLAR = re.compile(r"\$([A-Za-z_][A-Za-z_0-9]*|)\$.*?\$\1\$", re.S)
_PG_ESTRING = re.compile(r"(?<![\w])[eE]'(?:[^'\\]|\\.|'')*'", re.S)
_PG_STRING = re.compile(r"'(?:[^']|'')*'", re.S)
# What the number rule turns into `$?`: a `$` before a number-like run.
_PG_DOLLAR_NUMBER = re.compile(r"\$([0-9+-][0-9a-f.xb+-]*)")
_PG_CAST = re.compile(r"\s*::\s*(\"[^\"]*\"|[A-Za-z_][\w.]*(?:\s*\[\])*)", _A)
_PG_OL_COMMENT = re.compile(r"--[^'\"\r\n]*(?=[\r\n]|\Z)")
# A protected token becomes one private-use character, which no normalisation rule touches.
_PG_MARK_BASE = 0xF0000
_PG_MARKS = re.compile("[\U000f0000-\U000ffffd]")

# redact(): literals only, identifiers untouched.
_RX_STRING = re.compile(r"'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.|\"\")*\"", re.S)
_RX_PG_STRING = re.compile(
    r"\$([A-Za-z_][A-Za-z_0-9]*|)\$.*?\$\1\$|(?<!\w)[eE]'(?:[^'\\]|\\.|'')*'|'(?:[^']|'')*'", re.S
)
_RX_NUMBER = re.compile(
    r"(?<![\w$.])(?:0x[0-9a-fA-F]+|[xXbB]'[0-9a-fA-F]*'|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+)(?!\w)"
)


def _ascii_lower(text: str) -> str:
    # Perl's lc on a byte string only folds A-Z; str.lower() would also fold e.g. "É".
    # bytes.lower() folds only A-Z too, and no byte of a multi-byte UTF-8 sequence is ASCII:
    # much faster than str.translate, which looks up every character in a dict.
    if text.isascii():
        return text.lower()
    return text.encode("utf-8", "surrogatepass").lower().decode("utf-8", "surrogatepass")


def _drop_asc_after_order_by(query: str) -> str:
    """pt: ``1 while s/\\G(.+?)\\s+ASC/$1/gi`` anchored after the first ``ORDER BY``."""
    start = _ORDER_BY.search(query)
    if start is None or " asc" not in query:  # whitespace is single spaces by now
        return query
    pos = start.end()
    parts = [query[:pos]]
    while True:
        step = _ASC_STEP.match(query, pos)
        if step is None:
            break
        parts.append(step.group(1))
        pos = step.end()
    parts.append(query[pos:])
    return "".join(parts)


def _normalise(query: str) -> str:
    """Steps 6-9 of pt's fingerprint, on a query whose strings are already ``?``.

    Each rule runs only when a cheap substring test says it can match: fingerprinting is the
    costliest part of parsing a statement.
    """
    folded = query.lower()
    if "true" in folded or "false" in folded:
        query = _BOOLEAN.sub("?", query)
    query = _NUMBER.sub("?", query)
    if "x?" in query or "b?" in query or ".?" in query or "+?" in query or "-?" in query:
        query = _NUMBER_PREFIX.sub("?", query)
    if query[:1].isspace():
        query = _LEADING_SPACE.sub("", query)
    if query.endswith("\n"):  # Perl's chomp: one trailing newline only
        query = query[:-1]
    if "  " in query or "\n" in query or "\t" in query or "\r" in query or "\f" in query:
        query = _WHITESPACE_RUN.sub(" ", query)
    query = _ascii_lower(query)
    if "null" in query:
        query = _NULL.sub("?", query)
    if "value" in query or "in(" in query or "in (" in query or "in," in query:
        query = _LISTS.sub(r"\1(?+)", query)
    if "union" in query:
        query = _UNION.sub(r"\1 /*repeat\2*/", query)
    if "limit" in query:
        query = _LIMIT.sub("limit ?", query, count=1)
    if "order by" in query:
        query = _drop_asc_after_order_by(query)
    return query


def _special(query: str) -> str | None:
    """The early returns of pt's fingerprint, or None when the query needs the full treatment."""
    if query.startswith("SELECT /*!40001") and _MYSQLDUMP.match(query):
        return "mysqldump"
    if "/*" in query and _PT_CHECKSUM.search(query):
        return "percona-toolkit"
    if query.startswith("administrator command: "):
        return query
    if "(" in query and query.lstrip()[:4].lower() == "call":
        call = _CALL.match(query)
        if call is not None:
            return _ascii_lower(call.group(1))
    return None


def _first_insert_tuple(query: str) -> str:
    """A multi-row INSERT/REPLACE cut to its first tuple (pt does it before anything else)."""
    if query[:6].upper() == "INSERT" or query[:7].upper() == "REPLACE":
        multi = _MULTI_INSERT.match(query)
        if multi is not None:
            return multi.group(1)
    return query


def _strip_comments(query: str) -> str:
    if "/*" in query:
        query = _ML_COMMENT.sub("", query)
    if "--" in query or "#" in query:
        query = _OL_COMMENT.sub("", query)
    return query


def _strip_pg_comments(query: str) -> str:
    # "#" is an operator in PostgreSQL, not a comment.
    if "/*" in query:
        query = _ML_COMMENT.sub("", query)
    if "--" in query:
        query = _PG_OL_COMMENT.sub("", query)
    return query


def fingerprint(query: str) -> str:
    """The pt-fingerprint form of a MySQL statement (default options).

    ``query`` is the statement as the slow log shows it, without the final ``;`` the server
    appends. Pure; never raises.
    """
    special = _special(query)
    if special is not None:
        return special
    query = _first_insert_tuple(query)
    query = _strip_comments(query)
    if query[:4].lower() == "use " and _USE.match(query):
        return _USE.sub("use ?", query, count=1)
    if "\\" in query:
        query = _ESCAPED_QUOTE.sub("", query)
    if '"' in query:
        query = _DQ_STRING.sub("?", query)
    if "'" in query:
        query = _SQ_STRING.sub("?", query)
    return _normalise(query)


def pg_fingerprint(query: str) -> str:
    """The PostgreSQL variant of :func:`fingerprint`.

    Differences from the MySQL form, each because PostgreSQL's syntax differs: ``$1``
    placeholders stay ``$1``; ``"quoted"`` names are identifiers, not strings (treated like
    unquoted names: lowercased, digits abstracted as pt does for ``tbl1``); ``E'...'``
    (backslash escapes) and ``$tag$...$tag$`` bodies are strings; ``'it''s'`` is one string;
    ``::type`` casts keep their type name (``::int4`` is not a number); ``#`` is an operator,
    not a comment. Pure.
    """
    special = _special(query)
    if special is not None:
        return special
    query = _first_insert_tuple(query)
    query = _strip_pg_comments(query)
    if "$" in query:
        query = _PG_DOLLAR.sub("?", query)
    if "'" in query:
        query = _PG_ESTRING.sub("?", query)
        query = _PG_STRING.sub("?", query)
    casts: list[str] = []
    if "::" in query:
        # Protected as one private-use character each, which no normalisation rule touches.
        def keep(match: re.Match[str]) -> str:
            casts.append("::" + match.group(1))  # however it was spaced
            return chr(_PG_MARK_BASE + len(casts) - 1) if len(casts) < 0xFFFD else match[0]

        query = _PG_CAST.sub(keep, query)
    numbered = _PG_DOLLAR_NUMBER.findall(query) if "$" in query else []
    query = _normalise(query)
    if numbered:
        # The number rule made each `$1` a `$?`, in order: put the placeholders' numbers back.
        parts = query.split("$?")
        if len(parts) == len(numbered) + 1:
            restored = [f"${n}" if n.isdigit() else "$?" for n in numbered]
            query = "".join(part + mark for part, mark in zip(parts, [*restored, ""], strict=True))
    if casts:
        query = _PG_MARKS.sub(lambda m: _ascii_lower(casts[ord(m.group(0)) - _PG_MARK_BASE]), query)
    return query


def query_id(fp: str) -> str:
    """``0x`` + upper-case MD5 hex of ``fp``, exactly as pt-query-digest prints a query's ID."""
    digest = hashlib.md5(fp.encode("utf-8", "surrogateescape"), usedforsecurity=False)
    return "0x" + digest.hexdigest().upper()


def redact(text: str) -> str:
    """``text`` with MySQL literals replaced by ``?``: quoted strings, numbers, hex and bit values.

    Identifiers (even with digits, like ``tbl1``), keywords, case and spacing are kept so the
    result stays readable. Pure; never raises.
    """
    if "'" in text or '"' in text:
        text = _RX_STRING.sub("?", text)
    return _RX_NUMBER.sub("?", text)


def redact_pg(text: str) -> str:
    """:func:`redact` for PostgreSQL: ``"names"`` are identifiers, ``$n`` placeholders stay."""
    if "'" in text or "$" in text:
        text = _RX_PG_STRING.sub("?", text)
    return _RX_NUMBER.sub("?", text)


# Statements repeat (the same ORM query thousands of times a minute, with other ids):
# fingerprinting is the costliest step of parsing a statement, so results are kept by the
# statement's *digit-blind* text. Every digit a fingerprint sees ends up inside a `?` (the
# number rule takes any digit, in names too), so two statements that differ only in their
# digits have the same fingerprint. The rules that return digits verbatim are excluded:
# comments (`/*!40001` marks mysqldump), CALL names, administrator commands, and in the
# PostgreSQL variant `$n` placeholders and `::int4` casts.
#
# The key is bytes: `bytes.translate` is a table lookup per byte, about ten times faster
# than `str.translate` (a dict lookup per character), and encoding an ASCII statement is a
# copy. "surrogatepass" keeps the key one-to-one with the text: undecodable bytes (lone
# surrogates) encode to sequences that no real character has.
#
# Whether a statement's digits matter depends on its other characters only, so it is decided
# once per digit-blind key, when that key is first seen: a key whose statements keep their
# digits maps to _KEEPS_DIGITS, and each such statement is then kept under its own text (a
# str key, never equal to a bytes one). A hit costs an encode, a translate and a lookup.
#
# Each variant keeps two generations of keys: a lookup tries the recent one, then the old
# one (a hit there is copied forward); when the recent generation is full it becomes the old
# one and the oldest is dropped. Shapes in use survive a turnover, unlike with one dict
# cleared when full, at the price of twice the entries. A generation also closes when its
# keys hold _GENERATION_BYTES, so long statements cannot make the cache large.
_GENERATION_ENTRIES = 8192
_GENERATION_BYTES = 4 * 1024 * 1024
_DIGITS_BLIND = bytes.maketrans(b"123456789", b"000000000")
_KEEPS_DIGITS = ("", "")


class _Generations:
    """The two generations of one variant's cache (see above); not thread-safe."""

    __slots__ = ("key_bytes", "old", "recent")

    def __init__(self) -> None:
        self.recent: dict[bytes | str, tuple[str, str]] = {}
        self.old: dict[bytes | str, tuple[str, str]] = {}
        self.key_bytes = 0

    def get(self, key: bytes | str) -> tuple[str, str] | None:
        hit = self.recent.get(key)
        if hit is None:
            hit = self.old.get(key)
            if hit is not None:
                self.add(key, hit)
        return hit

    def add(self, key: bytes | str, value: tuple[str, str]) -> None:
        if len(self.recent) >= _GENERATION_ENTRIES or self.key_bytes >= _GENERATION_BYTES:
            self.old = self.recent
            self.recent = {}
            self.key_bytes = 0
        self.recent[key] = value
        self.key_bytes += len(key)


_mysql_cache = _Generations()
_pg_cache = _Generations()
# Different statements share a fingerprint far more often: one (fingerprint, ID) pair serves
# all of them, computed once and stored once.
_by_fingerprint: dict[str, tuple[str, str]] = {}


def _keeps_digits(statement: str, postgresql: bool) -> bool:
    """Whether a rule of the fingerprint may keep digits of ``statement`` verbatim."""
    return (
        "/*" in statement
        or statement.startswith("administrator command: ")
        or statement.lstrip()[:4].lower() == "call"
        or (postgresql and ("$" in statement or "::" in statement))
    )


def digit_blind(statement: str, *, postgresql: bool = False) -> bytes:
    """The text under which ``statement``'s fingerprint is cached, as UTF-8 bytes: its digits
    as ``0`` unless that could change its fingerprint."""
    key = statement.encode("utf-8", "surrogatepass")
    return key if _keeps_digits(statement, postgresql) else key.translate(_DIGITS_BLIND)


def cached_fingerprint(statement: str, *, postgresql: bool = False) -> tuple[str, str]:
    """``(fingerprint, query_id)`` of ``statement``, memoised for recently seen shapes."""
    cache = _pg_cache if postgresql else _mysql_cache
    blind = statement.encode("utf-8", "surrogatepass").translate(_DIGITS_BLIND)
    hit = cache.recent.get(blind) or cache.get(blind)
    if hit is None:
        hit = _fingerprint_and_id(statement, postgresql)
        if _keeps_digits(statement, postgresql):
            cache.add(blind, _KEEPS_DIGITS)
            cache.add(statement, hit)
        else:
            cache.add(blind, hit)
    elif hit is _KEEPS_DIGITS:
        hit = cache.get(statement)
        if hit is None:
            hit = _fingerprint_and_id(statement, postgresql)
            cache.add(statement, hit)
    return hit


def _fingerprint_and_id(statement: str, postgresql: bool) -> tuple[str, str]:
    fp = pg_fingerprint(statement) if postgresql else fingerprint(statement)
    pair = _by_fingerprint.get(fp)
    if pair is None:
        if len(_by_fingerprint) >= _GENERATION_ENTRIES:
            _by_fingerprint.clear()
        pair = _by_fingerprint[fp] = (fp, query_id(fp))
    return pair
