"""Records leave the parser as dicts; here they get their context and their identity.

``record_id`` is a deterministic function of (instance, file identity, byte offset): the same
entry of the same file always gets the same id, whichever replica reads it and however often,
so a record re-sent after a crash is recognisable in OpenObserve (``SELECT record_id, count(*)
... GROUP BY record_id HAVING count(*) > 1``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from common.events import LogFileEvent

__all__ = ["FileContext", "record_id"]


def record_id(instance_id: str, identity: str, offset: int) -> str:
    """32 hex digits naming one entry of one file generation."""
    key = f"{instance_id}\x00{identity}\x00{offset}".encode()
    return hashlib.blake2b(key, digest_size=16).hexdigest()


@dataclass(frozen=True, slots=True)
class FileContext:
    """The fields every record of one file carries."""

    cluster: str
    instance: str
    engine: str
    engine_version: str
    log_file: str
    identity: str

    @classmethod
    def of(cls, event: LogFileEvent) -> FileContext:
        return cls(
            cluster=event.cluster_id,
            instance=event.instance_id,
            engine=event.engine,
            engine_version=event.engine_version,
            log_file=event.log_file,
            identity=event.file_identity,
        )

    def finish(self, record: dict[str, Any]) -> tuple[str, bytes]:
        """Add the context and the id to ``record`` (in place); returns (id, JSON body)."""
        rid = record_id(self.instance, self.identity, int(record["offset"]))
        record["record_id"] = rid
        record["cluster"] = self.cluster
        record["instance"] = self.instance
        record["engine"] = self.engine
        record["engine_version"] = self.engine_version
        record["log_file"] = self.log_file
        return rid, orjson.dumps(record)
