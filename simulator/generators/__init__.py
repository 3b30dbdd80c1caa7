"""Entry generators: one per log kind and engine, each writing the exact format Aurora writes.

A generator turns a sorted list of timestamps into entries: the exact bytes of each log entry
(a multi-line slow-log entry, one audit line, a PostgreSQL message with its secondary lines).
It may emit more entries than timestamps (an audit ``QUERY`` line is followed by one line per
table it touched). A generator has one or more *outputs* (PostgreSQL with csvlog writes every
message to the stderr file and to its ``.csv`` twin); :meth:`Generator.generate` returns one
list per output.

Generators are deterministic for a seeded ``random.Random`` and hold the per-file state the
format needs (the slow log's last ``use db;``), reset by :meth:`Generator.file_opened`.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

__all__ = ["Entry", "Generator"]


class Entry(NamedTuple):
    """One log entry: its time, exact bytes (ending in a newline) and where it goes.

    ``header`` marks blocks that are not log records (the slow log's ``mysqld, Version:``
    banner); ``stripe`` picks one of the files written at once (Aurora's four audit files).
    """

    ts_us: int
    data: bytes
    header: bool = False
    stripe: int = 0


class Generator(Protocol):
    """What a log stream asks of its generator. Never blocks, never raises on valid input."""

    #: Outputs written per call (1, or 2 for PostgreSQL with its csvlog twin).
    outputs: int
    #: A first guess of the mean entry size, refined by the stream from what it writes.
    typical_entry_bytes: int

    def generate(self, timestamps: list[int]) -> list[list[Entry]]:
        """Entries for ``timestamps`` (sorted µs), one list per output, each sorted by time."""
        ...

    def huge(self, ts_us: int, line_bytes: int) -> list[list[Entry]]:
        """One entry holding a single line longer than ``line_bytes`` (the >1 MB-line fault)."""
        ...

    def file_opened(self, output: int, ts_us: int) -> list[Entry]:
        """A new file was opened for ``output``: reset per-file state, return its header."""
        ...

    def restart(self, ts_us: int) -> list[list[Entry]]:
        """What the server writes when it starts (after a reboot or failover)."""
        ...
