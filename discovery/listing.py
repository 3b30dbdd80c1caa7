"""Listing one instance's log files: DescribeDBLogFiles, every page, inside the RDS budget.

An *incremental* listing passes ``FileLastWritten`` and returns only files written since then;
a *full* listing passes none and returns every file. :mod:`discovery.identity` knows the
difference (a file absent from an incremental listing may simply be idle).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from common.errors import UnavailableError
from common.ratelimit import RdsCaller
from discovery.identity import Entry, Listing

if TYPE_CHECKING:
    from types_aiobotocore_rds.client import RDSClient

__all__ = ["FileLister", "ListedFiles", "LogFileLister"]

# A marker that never ends is an API fault, not a reason to spend the budget forever.
_MAX_PAGES = 200


@dataclass(frozen=True)
class ListedFiles:
    """A listing and the number of RDS calls it took."""

    listing: Listing
    calls: int


class FileLister(Protocol):
    async def list(self, instance_id: str, since_ms: int | None) -> ListedFiles: ...


class LogFileLister:
    """Lists log files through the shared budget. Each page is one RDS call."""

    def __init__(self, rds: RDSClient, caller: RdsCaller, *, page_size: int | None = None):
        self._rds = rds
        self._caller = caller
        self._page_size = page_size

    async def list(self, instance_id: str, since_ms: int | None) -> ListedFiles:
        """Every file of ``instance_id`` written since ``since_ms`` (all files when None).

        Raises :class:`~common.errors.NotFoundError` when the instance no longer exists,
        :class:`~common.errors.ThrottledError` when the budget or AWS keeps refusing, and the
        other translated AWS errors as they come.
        """
        entries: dict[str, Entry] = {}
        marker: str | None = None
        calls = 0
        while True:
            kwargs: dict[str, Any] = {"DBInstanceIdentifier": instance_id}
            if since_ms is not None:
                kwargs["FileLastWritten"] = since_ms
            if self._page_size is not None:
                kwargs["MaxRecords"] = self._page_size
            if marker:
                kwargs["Marker"] = marker
            answer = await self._caller.call(
                "DescribeDBLogFiles",
                functools.partial(self._rds.describe_db_log_files, **kwargs),
            )
            calls += 1
            for raw in answer.get("DescribeDBLogFiles", []):
                name = raw.get("LogFileName")
                if not name:
                    continue
                entries[str(name)] = Entry(
                    name=str(name),
                    size=max(0, int(raw.get("Size", 0))),
                    last_written_ms=int(raw.get("LastWritten", 0)),
                )
            marker = answer.get("Marker")
            if not marker:
                return ListedFiles(Listing(tuple(entries.values()), since_ms), calls)
            if calls >= _MAX_PAGES:
                raise UnavailableError(
                    f"DescribeDBLogFiles for {instance_id} did not end after {calls} pages",
                    reason="endless_pagination",
                )
