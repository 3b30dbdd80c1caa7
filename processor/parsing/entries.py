"""The machinery every grammar shares: bytes in, entries framed, records finished.

A log file is a sequence of *entries*; each grammar says where entries begin (its boundary
lines) and how one entry's text becomes a record. :class:`EntryParser` does the rest, the same
way for every grammar:

* framing: bytes are buffered until a line is complete; boundaries are looked for only in
  complete lines, once each; the text between two boundaries is one entry. The last entry is
  held back (the next line may continue it) unless the grammar's boundary scan says it is
  complete (one JSON object per line, a CSV row whose quotes are balanced).
* offsets: every record carries the absolute byte ``offset`` and ``length`` of its entry, and
  :meth:`EntryParser.checkpoint` says where the held-back bytes begin.
* the first bytes of a parser's input up to its first boundary (a file read from its middle)
  are not dropped: they become one ``parse_error`` record, unless they are blank.
* an entry longer than ``max_entry_bytes`` is cut at the first line start past that size:
  the part before becomes a record with ``truncated: true`` and parsing goes on after the cut
  (the rest of the entry becomes ``parse_error`` records), so the buffer stays bounded by that
  size plus one page plus the longest line. Only a single line longer than everything else
  is held whole until its newline arrives.
* records are finished uniformly: ``message`` capped, the RDS truncation marker flagged, bytes
  that are not UTF-8 written as ``\\xNN`` (see :func:`clean_text`).
"""

from __future__ import annotations

import re
import time
from abc import abstractmethod
from typing import Any, ClassVar

from processor.parsing.options import ParsingSettings
from processor.parsing.records import CheckpointState, Parser, ParserCheckpoint, Record
from processor.parsing.timestamps import Timestamps

__all__ = [
    "RDS_TRUNCATION_MARKER",
    "EntryParser",
    "cap_utf8",
    "clean_text",
    "decode",
    "entry_text",
    "set_if",
    "without_rds_marker",
]

RDS_TRUNCATION_MARKER = "[Your log message was truncated]"
_SURROGATES = re.compile("[\udc80-\udcff]+")
# Checkpoint state keys owned by this module; grammars use names without the underscore.
_STATE_LAST_TS = "_last_ts_us"
_STATE_SCANNED = "_scanned"
_STATE_FALLBACK = "_fallback_ts_us"


def decode(data: bytes | bytearray) -> tuple[str, bool]:
    """``data`` as text, and whether it held bytes that are not UTF-8.

    Bytes that are not UTF-8 decode as lone surrogates (``surrogateescape``), so grammars can
    parse around them; :func:`clean_text` turns them into ``\\xNN`` before anything ships.
    """
    try:
        return data.decode("utf-8"), False
    except UnicodeDecodeError:
        return data.decode("utf-8", "surrogateescape"), True


def clean_text(text: str) -> str:
    """Replace each undecodable byte (a ``surrogateescape`` surrogate) by its ``\\xNN`` form.

    Deterministic and lossless for the reader: ``caf\\xe9`` shows the byte the server wrote.
    """
    return _SURROGATES.sub(
        lambda m: "".join(f"\\x{ord(ch) - 0xDC00:02x}" for ch in m.group(0)), text
    )


def cap_utf8(text: str, max_bytes: int) -> tuple[str, bool]:
    """``text`` cut to at most ``max_bytes`` UTF-8 bytes (never inside a character)."""
    if len(text) * 4 <= max_bytes:
        return text, False
    encoded = text.encode("utf-8", "surrogateescape")
    if len(encoded) <= max_bytes:
        return text, False
    return encoded[:max_bytes].decode("utf-8", "ignore"), True


class EntryParser(Parser):
    """Base of every grammar: framing, offsets, checkpoints and record finishing.

    A grammar implements :meth:`_boundaries` (where entries start) and :meth:`_parse_entry`
    (one entry's text to records), and keeps any carried context in :meth:`_save_state` /
    :meth:`_load_state`.
    """

    record_type: ClassVar[str]
    # Fields cut to max_statement_bytes, besides `message`.
    long_fields: ClassVar[tuple[str, ...]] = ("statement",)

    def __init__(
        self,
        settings: ParsingSettings,
        *,
        checkpoint: ParserCheckpoint | None = None,
        fallback_timestamp_us: int | None = None,
    ) -> None:
        self._settings = settings
        self._times = Timestamps(settings.local_timezone)
        self._limit = settings.max_entry_bytes
        self._min_cap = min(settings.max_message_bytes, settings.max_statement_bytes)
        self._ascii: str | None = None
        self._buf = bytearray()
        state: CheckpointState = dict(checkpoint.state) if checkpoint is not None else {}
        self._base = checkpoint.offset if checkpoint is not None else 0
        scanned = state.get(_STATE_SCANNED)
        self._scanned = scanned if isinstance(scanned, int) and scanned > 0 else 0
        last_ts = state.get(_STATE_LAST_TS)
        self._last_ts_us: int | None = last_ts if isinstance(last_ts, int) else None
        saved_fallback = state.get(_STATE_FALLBACK)
        if fallback_timestamp_us is not None:
            self._fallback_us = fallback_timestamp_us
        elif isinstance(saved_fallback, int):
            self._fallback_us = saved_fallback
        else:
            self._fallback_us = time.time_ns() // 1000
        self._load_state(state)

    # -- grammar hooks --------------------------------------------------------------------

    @abstractmethod
    def _boundaries(self, buf: bytearray, pos: int, end: int) -> list[int]:
        """Entry starts among the complete lines in ``buf[pos:end]``, ascending.

        ``pos`` is a line start; ``buf[0]`` is where the held-back entry begins. ``end`` may be
        returned to say the entry before it is complete (line-terminated grammars). Must
        depend only on the bytes, never on how they were split into feeds.
        """

    @abstractmethod
    def _parse_entry(self, text: str, offset: int, length: int, dirty: bool) -> list[Record]:
        """Records of one entry (its text ends with its newline, if any).

        Called in file order. ``dirty`` says the text holds undecodable bytes (surrogates).
        Builds records with :meth:`_new_record`; may return none for text that is not an
        entry (blank lines, a server's header lines) and more than one if the text holds an
        unparseable remainder. Must not raise.
        """

    def _load_state(self, state: CheckpointState) -> None:
        """Restore the grammar's carried context from a checkpoint's state."""

    def _after_cut(self, start: int, cut: int) -> None:
        """An oversized entry was cut at ``cut`` (not a boundary): carry any scan context."""

    def _rebased(self, shift: int) -> None:
        """The buffer dropped its first ``shift`` bytes (up to a boundary or a cut)."""

    def _save_state(self) -> CheckpointState:
        """The grammar's carried context, as of the held-back entry's start."""
        return {}

    # -- the Parser contract ----------------------------------------------------------------

    def feed(self, data: bytes) -> list[Record]:
        if not data:
            return []
        buf = self._buf
        buf += data
        end = buf.rfind(b"\n", self._scanned) + 1
        if end == 0:
            return []
        return self._consume(end, final=False)

    def flush(self) -> list[Record]:
        if not self._buf:
            return []
        return self._consume(len(self._buf), final=True)

    def checkpoint(self) -> ParserCheckpoint:
        state = self._save_state()
        if self._last_ts_us is not None:
            state[_STATE_LAST_TS] = self._last_ts_us
        if self._scanned:
            state[_STATE_SCANNED] = self._scanned
        state[_STATE_FALLBACK] = self._fallback_us
        return ParserCheckpoint(offset=self._base, state=state)

    # -- framing --------------------------------------------------------------------------

    def _consume(self, end: int, *, final: bool) -> list[Record]:
        buf = self._buf
        records: list[Record] = []
        # Most pages are plain ASCII: decode them once, and entries are slices of the text
        # whose character offsets are byte offsets (grammars may scan this text too).
        region = buf[:end]
        self._ascii = region.decode("ascii") if region.isascii() else None
        starts = self._boundaries(buf, self._scanned, end) if self._scanned < end else []
        self._scanned = end
        seg = self._segments(0, starts, records)
        if end - seg > self._limit:
            seg = self._cut_oversized(seg, end, records)
        if final and end > seg:
            seg = self._segments(seg, [end], records)
        self._ascii = None
        if seg:
            del buf[:seg]
            self._base += seg
            self._scanned -= seg
            self._rebased(seg)
        return records

    def _cut_oversized(self, seg: int, stop: int, records: list[Record]) -> int:
        """Emit the first pieces of an entry longer than ``max_entry_bytes``; its new start.

        The cut is at the first line start at or after the limit, so where it falls depends on
        the bytes only, never on how they were fed, and the piece after it starts a line like
        any entry. An entry that is one line longer than the limit is not cut (see the module
        docstring); ``stop`` is a boundary or the end of the scanned lines.
        """
        limit = self._limit
        while stop - seg > limit:
            cut = self._buf.find(b"\n", seg + limit - 1, stop) + 1
            if cut == 0 or cut >= stop:
                break
            self._segments(seg, [cut], records, cut=True)
            self._after_cut(seg, cut)
            seg = cut
        return seg

    def _segments(self, seg: int, stops: list[int], out: list[Record], *, cut: bool = False) -> int:
        """Parse the entries ``buf[seg:stops[0]]``, ``buf[stops[0]:stops[1]]``... (empty ones
        skipped), append their finished records to ``out``, and return where the next begins.

        An entry longer than ``max_entry_bytes`` is cut first, unless it is a piece of such
        a cut (``cut``: its record says ``truncated``). All the entries of a page go through
        this one loop, so what it needs is looked up once per page, not once per entry.
        """
        ascii_text = self._ascii
        buf = self._buf
        base = self._base
        limit = self._limit
        parse = self._parse_entry
        # A record whose message is shorter than this needs no cap (see _finish).
        short = self._min_cap // 4
        for stop in stops:
            if stop <= seg:
                continue
            if stop - seg > limit and not cut:
                seg = self._cut_oversized(seg, stop, out)
            if ascii_text is not None:
                text, dirty = ascii_text[seg:stop], False
            else:  # decode(), without the call
                chunk = buf[seg:stop]
                try:
                    text, dirty = chunk.decode("utf-8"), False
                except UnicodeDecodeError:
                    text, dirty = chunk.decode("utf-8", "surrogateescape"), True
            offset = base + seg
            try:
                records = parse(text, offset, stop - seg, dirty)
            except Exception:  # a grammar bug must not lose the entry nor stop the file
                records = [self._error_record(text, offset, stop - seg)]
            if cut and records:
                records[0]["truncated"] = True
            for record in records:
                # Nearly every record is short, clean and unmarked: _finish's first test,
                # here, spares it the call.
                message: str = record["message"]
                if dirty or len(message) > short or RDS_TRUNCATION_MARKER in message:
                    self._finish(record, dirty)
                out.append(record)
            seg = stop
        return seg

    # -- record helpers for grammars ----------------------------------------------------------

    def _new_record(self, ts_us: int | None, offset: int, length: int, message: str) -> Record:
        """A record with the keys every record has; ``ts_us`` None means "not in the entry"."""
        if ts_us is None:
            ts_us = self._last_ts_us if self._last_ts_us is not None else self._fallback_us
        else:
            self._last_ts_us = ts_us
        return {
            "_timestamp": ts_us,
            "log_type": self.record_type,
            "offset": offset,
            "length": length,
            "message": message,
        }

    def _error_record(self, text: str, offset: int, length: int) -> Record:
        """The record of text that fits no grammar: raw text, best-effort time."""
        record = self._new_record(None, offset, length, entry_text(text))
        record["parse_error"] = True
        return record

    def _finish(self, record: Record, dirty: bool) -> None:
        message: str = record["message"]
        if RDS_TRUNCATION_MARKER in message:
            record["rds_truncated"] = True
        # Every text field is cut from the entry's text, so none is longer than `message`:
        # a short message means nothing can exceed a cap.
        if len(message) * 4 <= self._min_cap and not dirty:
            return
        settings = self._settings
        truncated = False
        message, cut = cap_utf8(message, settings.max_message_bytes)
        if cut:
            record["message"] = message
            truncated = True
        for key in self.long_fields:
            value = record.get(key)
            if value is not None:
                value, cut = cap_utf8(value, settings.max_statement_bytes)
                if cut:
                    record[key] = value
                    truncated = True
        if truncated:
            record["truncated"] = True
        if dirty:
            replaced = False
            for key, value in record.items():
                if isinstance(value, str) and _SURROGATES.search(value):
                    record[key] = clean_text(value)
                    replaced = True
            if replaced:
                record["invalid_utf8"] = True


def entry_text(text: str) -> str:
    """An entry's text as ``message`` shows it: no final line end, CRLF line ends as LF."""
    text = text.rstrip("\r\n")
    return text.replace("\r\n", "\n") if "\r" in text else text


def without_rds_marker(text: str) -> str:
    """``text`` without the RDS truncation marker (the record says ``rds_truncated``)."""
    if RDS_TRUNCATION_MARKER not in text:
        return text
    return text.replace(" " + RDS_TRUNCATION_MARKER, "").replace(RDS_TRUNCATION_MARKER, "")


def set_if(record: Record, key: str, value: Any) -> None:
    """Set ``key`` unless ``value`` is None or empty: absent keys beat nulls in OpenObserve."""
    if value is not None and value != "":
        record[key] = value
