"""Ground truth: every entry the fleet wrote, and every name each file has had.

A file's *content id* names one generation of content on disk: it is given when a file is
created and survives renames (``mysql-error-running.log`` -> ``mysql-error-running.log.9``;
``server_audit.log.1`` -> ``.2``), so a reader that tracks files by identity can be checked
against it. A reused name (``.9`` again the next day) gets a new content id.

Each entry records where it was written (content id, the file's name at write time, byte
offset, length), a digest of its exact bytes and its timestamp. Entries of one content id are
contiguous and in offset order, so the spans of a file reassemble it byte for byte.
``header`` entries are blocks that are not log records (the slow log's ``mysqld, Version:``
banner): they are part of the bytes but not of what a pipeline should ship.

Two ways to hold it: in memory (:meth:`Truth.entries` and friends, for tests in the same
process) and as JSONL (one object a line, appended as it happens, for another process:
:meth:`Truth.load_jsonl` reads it back). A process-external writer (``aurora-logs simulate``)
puts it under ``<data_dir>/_truth/``.

JSONL records::

    {"type":"file","event":"created","instance":"db-1","kind":"slowquery","content_id":"db-1#3","name":"slowquery/mysql-slowquery.log","at_us":...}
    {"type":"file","event":"renamed","content_id":"db-1#3","name":"slowquery/mysql-slowquery.log.2024-01-04.9","at_us":...}
    {"type":"file","event":"deleted","content_id":"db-1#3","reason":"retention","at_us":...}
    {"type":"entry","instance":"db-1","kind":"slowquery","content_id":"db-1#3","name":"...","offset":0,"length":312,"digest":"...","ts_us":...,"header":false}

Thread-safe: a background writer thread records while a test thread queries.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

__all__ = ["Truth", "TruthEntry", "TruthFile", "entry_digest"]


def entry_digest(data: bytes) -> str:
    """The digest the truth records for an entry's exact bytes (BLAKE2b-128, hex)."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


@dataclass(frozen=True, slots=True)
class TruthEntry:
    """One entry as written."""

    instance_id: str
    kind: str
    content_id: str
    name: str  # LogFileName when it was written
    offset: int
    length: int
    digest: str
    ts_us: int
    header: bool = False

    @property
    def end(self) -> int:
        return self.offset + self.length


@dataclass(slots=True)
class TruthFile:
    """One generation of file content and its history of names."""

    content_id: str
    instance_id: str
    kind: str
    created_us: int
    names: list[tuple[int, str]] = field(default_factory=list)  # (at_us, name), oldest first
    deleted_us: int | None = None
    delete_reason: str | None = None
    size: int = 0  # bytes written to it
    entries: int = 0  # entries written to it (headers included)

    @property
    def name(self) -> str:
        """The name it has now (or had when it was deleted)."""
        return self.names[-1][1]

    @property
    def deleted(self) -> bool:
        return self.deleted_us is not None

    def name_at(self, at_us: int) -> str | None:
        """The name it had at ``at_us`` (None before it existed or after it was deleted)."""
        if at_us < self.created_us or (self.deleted_us is not None and at_us >= self.deleted_us):
            return None
        current = None
        for since, name in self.names:
            if since <= at_us:
                current = name
        return current


class Truth:
    """What was written. ``keep_in_memory`` for queries, ``jsonl_path`` for other processes."""

    def __init__(self, *, keep_in_memory: bool = True, jsonl_path: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._memory = keep_in_memory
        self._entries: list[TruthEntry] = []
        self._files: dict[str, TruthFile] = {}
        # (instance, name) -> content id currently holding that name.
        self._names: dict[tuple[str, str], str] = {}
        self.jsonl_path = jsonl_path
        self._out: IO[str] | None = None
        if jsonl_path is not None:
            jsonl_path.parent.mkdir(parents=True, exist_ok=True)
            self._out = jsonl_path.open("a", encoding="utf-8", buffering=1 << 20)

    # Recording (the writer side). Names are plain identifiers and log file names, which never
    # need JSON escaping; the hot path formats them directly.

    def file_created(
        self, instance_id: str, kind: str, content_id: str, name: str, at_us: int
    ) -> None:
        with self._lock:
            record = TruthFile(content_id, instance_id, kind, at_us, [(at_us, name)])
            self._files[content_id] = record
            self._names[(instance_id, name)] = content_id
            if self._out is not None:
                self._out.write(
                    f'{{"type":"file","event":"created","instance":"{instance_id}",'
                    f'"kind":"{kind}","content_id":"{content_id}","name":"{name}",'
                    f'"at_us":{at_us}}}\n'
                )

    def file_renamed(self, content_id: str, name: str, at_us: int) -> None:
        with self._lock:
            record = self._files[content_id]
            old = record.name
            if self._names.get((record.instance_id, old)) == content_id:
                del self._names[(record.instance_id, old)]
            record.names.append((at_us, name))
            self._names[(record.instance_id, name)] = content_id
            if self._out is not None:
                self._out.write(
                    f'{{"type":"file","event":"renamed","content_id":"{content_id}",'
                    f'"name":"{name}","at_us":{at_us}}}\n'
                )

    def file_deleted(self, content_id: str, at_us: int, reason: str) -> None:
        with self._lock:
            record = self._files[content_id]
            record.deleted_us = at_us
            record.delete_reason = reason
            if self._names.get((record.instance_id, record.name)) == content_id:
                del self._names[(record.instance_id, record.name)]
            if self._out is not None:
                self._out.write(
                    f'{{"type":"file","event":"deleted","content_id":"{content_id}",'
                    f'"reason":"{reason}","at_us":{at_us}}}\n'
                )

    def entries_written(
        self,
        instance_id: str,
        kind: str,
        content_id: str,
        name: str,
        spans: Iterable[tuple[int, bytes, int, bool]],
    ) -> None:
        """Record entries appended to one file: ``(offset, data, ts_us, header)`` each."""
        blake = hashlib.blake2b
        with self._lock:
            record = self._files[content_id]
            out = self._out
            keep = self._memory
            entries = self._entries
            prefix = (
                f'{{"type":"entry","instance":"{instance_id}","kind":"{kind}",'
                f'"content_id":"{content_id}","name":"{name}",'
            )
            lines = []
            count = 0
            written = 0
            for offset, data, ts_us, header in spans:
                digest = blake(data, digest_size=16).hexdigest()
                length = len(data)
                count += 1
                written += length
                if keep:
                    entries.append(
                        TruthEntry(
                            instance_id,
                            kind,
                            content_id,
                            name,
                            offset,
                            length,
                            digest,
                            ts_us,
                            header,
                        )
                    )
                if out is not None:
                    lines.append(
                        f'{prefix}"offset":{offset},"length":{length},"digest":"{digest}",'
                        f'"ts_us":{ts_us},"header":{"true" if header else "false"}}}\n'
                    )
            record.size += written
            record.entries += count
            if out is not None:
                out.write("".join(lines))

    def flush(self) -> None:
        """Make the JSONL complete up to now (for a reader in another process)."""
        with self._lock:
            if self._out is not None:
                self._out.flush()

    def close(self) -> None:
        with self._lock:
            if self._out is not None:
                self._out.close()
                self._out = None

    # Queries (the test side).

    def _require_memory(self) -> None:
        if not self._memory:
            raise RuntimeError("this Truth keeps no entries in memory (keep_in_memory=False)")

    def entries(
        self,
        *,
        instance: str | None = None,
        kind: str | None = None,
        content_id: str | None = None,
        include_headers: bool = False,
    ) -> list[TruthEntry]:
        """Entries in write order, filtered; headers only when asked for."""
        self._require_memory()
        with self._lock:
            snapshot = list(self._entries)
        return [
            e
            for e in snapshot
            if (instance is None or e.instance_id == instance)
            and (kind is None or e.kind == kind)
            and (content_id is None or e.content_id == content_id)
            and (include_headers or not e.header)
        ]

    def files(
        self, *, instance: str | None = None, kind: str | None = None, include_deleted: bool = True
    ) -> list[TruthFile]:
        """Every file generation recorded, in creation order."""
        with self._lock:
            snapshot = list(self._files.values())
        return [
            f
            for f in snapshot
            if (instance is None or f.instance_id == instance)
            and (kind is None or f.kind == kind)
            and (include_deleted or not f.deleted)
        ]

    def file(self, content_id: str) -> TruthFile:
        with self._lock:
            return self._files[content_id]

    def content_id_of(self, instance_id: str, name: str) -> str | None:
        """The content id that holds ``name`` on ``instance_id`` now, if any."""
        with self._lock:
            return self._names.get((instance_id, name))

    def digests(
        self, *, instance: str | None = None, include_headers: bool = False
    ) -> Counter[tuple[str, str]]:
        """Multiset of ``(instance_id, digest)``: compare with what reached the sink."""
        return Counter(
            (e.instance_id, e.digest)
            for e in self.entries(instance=instance, include_headers=include_headers)
        )

    def bytes_written(self, *, instance: str | None = None, kind: str | None = None) -> int:
        """Total bytes written (headers included), from the per-file counters."""
        return sum(f.size for f in self.files(instance=instance, kind=kind))

    def file_bytes(self, *, instance: str | None = None) -> dict[str, int]:
        """Bytes written per content id."""
        return {f.content_id: f.size for f in self.files(instance=instance)}

    # Out-of-process use.

    @classmethod
    def load_jsonl(cls, path: Path) -> Truth:
        """A Truth in memory rebuilt from a JSONL dump (a partial last line is ignored)."""
        truth = cls(keep_in_memory=True)
        for record in _records(path):
            if record["type"] == "entry":
                entry = TruthEntry(
                    record["instance"],
                    record["kind"],
                    record["content_id"],
                    record["name"],
                    record["offset"],
                    record["length"],
                    record["digest"],
                    record["ts_us"],
                    record["header"],
                )
                truth._entries.append(entry)
                file_record = truth._files[entry.content_id]
                file_record.size += entry.length
                file_record.entries += 1
            elif record["event"] == "created":
                truth.file_created(
                    record["instance"],
                    record["kind"],
                    record["content_id"],
                    record["name"],
                    record["at_us"],
                )
            elif record["event"] == "renamed":
                truth.file_renamed(record["content_id"], record["name"], record["at_us"])
            else:
                truth.file_deleted(record["content_id"], record["at_us"], record["reason"])
        return truth


def _records(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if not line.endswith("\n"):
                return  # still being written
            record: dict[str, Any] = json.loads(line)
            yield record
