"""Fingerprints: pt-query-digest's rules exactly, the PostgreSQL variant, redaction."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processor.parsing.fingerprint import (
    cached_fingerprint,
    digit_blind,
    fingerprint,
    pg_fingerprint,
    query_id,
    redact,
    redact_pg,
)

# Expected values are pt-fingerprint 3.2.1's output for each query.
PT_FINGERPRINTS = [
    ("SELECT /*!40001 SQL_NO_CACHE */ * FROM `film`", "mysqldump"),
    ("REPLACE /*foo.bar:3/3*/ INTO checksum.checksum", "percona-toolkit"),
    ("administrator command: Init DB", "administrator command: Init DB"),
    ("CALL foo(1, 2, 3)", "call foo"),
    ("INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y'), (3, 'z')", "insert into t (a, b) values(?+)"),
    ("REPLACE IGNORE INTO t VALUES (1),(2)", "replace ignore into t values(?+)"),
    ("select /* hello */ 1 /*! STRAIGHT_JOIN */ from t", "select ? /*! straight_join */ from t"),
    ("select 1 -- trailing comment\nfrom t # another", "select ? from t "),
    ("use `my_db`", "use ?"),
    ("SELECT * FROM t WHERE a = 'it\\'s' AND b = \"dq\"", "select * from t where a = ? and b = ?"),
    (
        "select * from tbl1 join db2.tbl_33 using (id) where c = 0x1F and d = -1.5e+10",
        "select * from tbl? join d?tbl_? using (id) where c = ?f and d = ?",
    ),
    (
        "SELECT * FROM t WHERE a IS NULL AND b IN ( 1 ,2,  3 ) AND c NOT IN (4)",
        "select * from t where a is ? and b in(?+) and c not in(?+)",
    ),
    (
        "select a from b where c = 1 union select a from b where c = 2 union all select a from b"
        " where c = 3",
        "select a from b where c = ? /*repeat union all*/",
    ),
    ("select * from t limit 10, 20", "select * from t limit ?"),
    ("select * from t limit 10 offset 20", "select * from t limit ?"),
    ("select * from t order by a ASC, b desc, c asc", "select * from t order by a, b desc, c"),
    ("   SELECT\t*\n\n  FROM   t   ", "select * from t "),
    ("select 'É' from TÊTE", "select ? from tÊte"),  # pt lowercases ASCII only (bytes)
    ("select * from t where id = 1\n", "select * from t where id = ?"),
]


@pytest.mark.parametrize(("query", "expected"), PT_FINGERPRINTS)
def test_fingerprint_matches_pt_fingerprint(query: str, expected: str) -> None:
    assert fingerprint(query) == expected


def test_booleans_follow_pt_query_digest() -> None:
    # pt-query-digest (whose IDs we reproduce) abstracts true/false; pt-fingerprint 3.2.1's
    # copy of the same function predates that rule.
    assert fingerprint("select * from t where a = TRUE or b = false") == (
        "select * from t where a = ? or b = ?"
    )


def test_reference_worked_example_and_its_id() -> None:
    query = (
        "update db2.tuningdetail_21_265507 n\n      inner join db1.gonzo a using(gonzo) \n"
        "      set n.column1 = a.column1, n.word3 = a.word3"
    )
    fp = fingerprint(query)
    assert fp == (
        "update d?tuningdetail_?_? n inner join d?gonzo a using(gonzo) set n.column? = a.column?,"
        " n.word? = a.word?"
    )
    assert query_id(fp) == "0x45FE45AEC222350466825DDC008FFA89"


def test_query_id_is_upper_case_md5_of_the_fingerprint() -> None:
    fp = "select ? from t"
    assert query_id(fp) == "0x" + hashlib.md5(fp.encode()).hexdigest().upper()
    assert len(query_id(fp)) == 34


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("SELECT * FROM t WHERE id = $1 AND b = $2", "select * from t where id = $1 and b = $2"),
        ("SELECT E'it\\'s', 'a''b' FROM t", "select ?, ? from t"),
        ("SELECT $$ 1 'x' $$, $fn$body$fn$", "select ?, ?"),
        (
            "SELECT a::int4, b::numeric(10,2), c :: text[]",
            "select a::int4, b::numeric(?,?), c::text[]",
        ),
        (
            'SELECT "Name", "t1" FROM "Tbl2" WHERE x = 5',
            'select "name", "t?" from "tbl?" where x = ?',
        ),
        ("SELECT $1, $12, $1a FROM t WHERE a = $2", "select $1, $12, $? from t where a = $2"),
        ("SELECT 1 # 2 -- bitwise xor", "select ? # ? "),
        ("select * from t where a in (1, 2)", "select * from t where a in(?+)"),
    ],
)
def test_pg_fingerprint(query: str, expected: str) -> None:
    assert pg_fingerprint(query) == expected


def test_redact_keeps_identifiers_and_case() -> None:
    assert redact("SELECT name FROM tbl1 WHERE id = 42 AND email = 'bob@example.com'") == (
        "SELECT name FROM tbl1 WHERE id = ? AND email = ?"
    )
    assert redact('UPDATE t SET a = "x", b = 0xFF, c = 1.5e3') == "UPDATE t SET a = ?, b = ?, c = ?"


def test_redact_pg_keeps_identifiers_and_placeholders() -> None:
    assert redact_pg("SELECT \"Email\" FROM t WHERE a = $1 AND b = E'x\\'y' AND c = 'it''s'") == (
        'SELECT "Email" FROM t WHERE a = $1 AND b = ? AND c = ?'
    )
    assert redact_pg("parameters: $1 = '1000', $2 = NULL") == "parameters: $1 = ?, $2 = NULL"


def test_cached_fingerprint_equals_uncached() -> None:
    for query, expected in PT_FINGERPRINTS:
        assert cached_fingerprint(query) == (expected, query_id(expected))
        assert cached_fingerprint(query) == (expected, query_id(expected))


@pytest.mark.parametrize(
    ("postgresql", "statements"),
    [
        (False, ["CALL proc1(1)", "CALL proc2(1)", "CALL proc1(2)"]),
        (False, ["administrator command: Kill 12", "administrator command: Kill 34"]),
        (False, ["select /* id 1 */ a1 from t", "select /* id 2 */ a2 from t"]),
        (True, ["SELECT a::int4 FROM t", "SELECT a::int8 FROM t", "SELECT a::int4 FROM t"]),
        (True, ["SELECT $1 FROM t", "SELECT $2 FROM t", "SELECT $1 FROM t9"]),
    ],
)
def test_cached_fingerprint_keeps_digits_that_matter(
    postgresql: bool, statements: list[str]
) -> None:
    """Statements whose digits a rule keeps share a digit-blind text, not a fingerprint."""
    normalise = pg_fingerprint if postgresql else fingerprint
    for _ in range(2):
        for statement in statements:
            expected = normalise(statement)
            assert cached_fingerprint(statement, postgresql=postgresql) == (
                expected,
                query_id(expected),
            )


SQLISH = st.text(
    alphabet=st.sampled_from(list("0123456789abcefxINSERTselctfromwhv_.+-,()'\"`$:#/*! \n\t;")),
    max_size=80,
)


@settings(max_examples=500, deadline=None)
@given(SQLISH, st.text(alphabet="0123456789", min_size=1))
def test_statements_differing_in_digits_share_a_cache_key_only_when_safe(
    query: str, digits: str
) -> None:
    """The cache serves one fingerprint to every statement with the same digit-blind key:
    that must be the fingerprint each would get on its own."""
    other = query.translate(str.maketrans("0123456789", (digits * 10)[:10]))
    for postgresql, normalise in ((False, fingerprint), (True, pg_fingerprint)):
        if digit_blind(query, postgresql=postgresql) == digit_blind(other, postgresql=postgresql):
            assert normalise(query) == normalise(other)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_fingerprints_and_redaction_never_raise(query: str) -> None:
    assert isinstance(fingerprint(query), str)
    assert isinstance(pg_fingerprint(query), str)
    assert isinstance(redact(query), str)
    assert isinstance(redact_pg(query), str)
