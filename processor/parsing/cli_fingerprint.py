"""``aurora-logs fingerprint``: one query per stdin line in, ``query_id<TAB>fingerprint`` out.

The fingerprint is pt-fingerprint's and the ID pt-query-digest's, so the output can be joined
with their reports; ``--postgresql`` uses the PostgreSQL variant. Blank lines are skipped.
"""

from __future__ import annotations

import argparse
import sys

from processor.parsing.fingerprint import fingerprint, pg_fingerprint, query_id

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--postgresql",
        action="store_true",
        help="PostgreSQL rules: keep $n placeholders, E'' and $$ strings, ::casts",
    )


def run(args: argparse.Namespace) -> int:
    normalise = pg_fingerprint if args.postgresql else fingerprint
    out = sys.stdout
    for line in sys.stdin:
        query = line.rstrip("\r\n")
        if not query.strip():
            continue
        fp = normalise(query)
        out.write(f"{query_id(fp)}\t{fp}\n")
    out.flush()
    return 0
