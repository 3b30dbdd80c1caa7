"""A client of OpenObserve's ``_search`` API: one SQL query over a time window, its hits back.

``POST /api/{org}/_search?type=logs`` with ``{"query": {"sql", "start_time", "end_time",
"from", "size"}}`` (times in microseconds), as ``shared/reference/openobserve.md`` describes.
Used by ``aurora-logs search`` and by ``make run``'s closing sample of records.

Errors: :class:`SearchError` for any answer but 200, carrying the status and the server's own
message (``{"code","message","error_detail"}`` JSON, or plain text such as ``Unauthorized
Access``); httpx's transport errors pass through.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx

from common.settings import OpenObserveSettings

__all__ = ["SearchError", "SearchResult", "search"]


class SearchError(Exception):
    """OpenObserve refused the query; ``str()`` is the server's message."""

    def __init__(self, status: int, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code

    def __str__(self) -> str:
        code = f", code {self.code}" if self.code is not None else ""
        return f"HTTP {self.status}{code}: {self.message}"


@dataclass(frozen=True)
class SearchResult:
    hits: list[dict[str, Any]]
    total: int
    took_ms: int


def _error(answer: httpx.Response) -> SearchError:
    try:
        body = answer.json()
    except ValueError:
        return SearchError(answer.status_code, answer.text.strip() or answer.reason_phrase)
    if not isinstance(body, dict):
        return SearchError(answer.status_code, answer.text.strip())
    message = str(body.get("message") or body.get("error") or answer.reason_phrase)
    detail = body.get("error_detail")
    if detail and str(detail) not in message:
        message = f"{message} ({detail})"
    code = body.get("code")
    return SearchError(answer.status_code, message, int(code) if isinstance(code, int) else None)


def search(
    settings: OpenObserveSettings,
    sql: str,
    *,
    start_us: int,
    end_us: int | None = None,
    limit: int = 100,
    offset: int = 0,
    client: httpx.Client | None = None,
) -> SearchResult:
    """Run ``sql`` over ``[start_us, end_us)`` (end: now); at most ``limit`` hits. Blocks."""
    body = {
        "query": {
            "sql": sql,
            "start_time": start_us,
            "end_time": end_us if end_us is not None else int(time.time() * 1_000_000),
            "from": offset,
            "size": limit,
        }
    }
    owned = client is None
    http = client or httpx.Client(
        base_url=str(settings.url).rstrip("/"),
        auth=(settings.user, settings.password.get_secret_value()),
        timeout=settings.request_timeout_s,
    )
    try:
        answer = http.post(
            f"/api/{settings.organization}/_search", params={"type": "logs"}, json=body
        )
    finally:
        if owned:
            http.close()
    if answer.status_code != 200:
        raise _error(answer)
    payload = answer.json()
    hits = [hit for hit in payload.get("hits", []) if isinstance(hit, dict)]
    return SearchResult(hits, int(payload.get("total", len(hits))), int(payload.get("took", 0)))
