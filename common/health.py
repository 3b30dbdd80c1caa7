"""The operations endpoint of every service: ``/healthz``, ``/readyz`` and ``/metrics``.

- ``/healthz`` (liveness) answers 200 while the service loop reports progress through
  :meth:`Liveness.beat`; after ``liveness_timeout_s`` of silence it answers 503 and Kubernetes
  restarts the pod. It checks nothing external: a dead dependency is not cured by a restart.
- ``/readyz`` runs every registered readiness check concurrently, each bounded by
  ``readiness_check_timeout_s``, and answers 200 only when all pass and the service is not
  shutting down.
- ``/metrics`` is the Prometheus text exposition of the process registry.

The server is a deliberately small HTTP/1.1 responder (GET and HEAD, one request per
connection): probes and scrapers need nothing more, and it adds no dependency.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from common.logs import get_logger
from common.settings import HttpSettings

__all__ = ["HealthServer", "Liveness", "Readiness", "ReadinessCheck"]

log = get_logger(__name__)

ReadinessCheck = Callable[[], Awaitable[None]]
"""An async check that returns when its dependency is usable and raises otherwise."""

_MAX_REQUEST_BYTES = 8192
_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


class Liveness:
    """Progress reports of the service loop; ``clock`` is injectable for tests."""

    def __init__(self, timeout_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._timeout_s = timeout_s
        self._clock = clock
        self._last_beat = clock()

    def beat(self) -> None:
        """Record progress. Call from the service loop at least once per ``timeout_s``."""
        self._last_beat = self._clock()

    def silence_s(self) -> float:
        return self._clock() - self._last_beat

    def is_alive(self) -> bool:
        return self.silence_s() <= self._timeout_s


class Readiness:
    """Named readiness checks plus the shutting-down flag."""

    def __init__(self, check_timeout_s: float) -> None:
        self._checks: dict[str, ReadinessCheck] = {}
        self._timeout_s = check_timeout_s
        self.shutting_down = False

    def add(self, name: str, check: ReadinessCheck) -> None:
        self._checks[name] = check

    async def evaluate(self) -> tuple[bool, dict[str, str]]:
        """Run every check concurrently; never raises. Returns (ready, outcome per check)."""
        names = list(self._checks)
        results = await asyncio.gather(
            *(self._run(self._checks[name]) for name in names), return_exceptions=False
        )
        outcome = dict(zip(names, results, strict=True))
        if self.shutting_down:
            outcome["shutdown"] = "in progress"
        ready = not self.shutting_down and all(value == "ok" for value in outcome.values())
        return ready, outcome

    async def _run(self, check: ReadinessCheck) -> str:
        try:
            async with asyncio.timeout(self._timeout_s):
                await check()
        except TimeoutError:
            return f"timed out after {self._timeout_s:g}s"
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"[:300]
        return "ok"


class HealthServer:
    """Serves the three endpoints on ``settings.host:settings.port`` (port 0 picks a free one)."""

    def __init__(
        self,
        settings: HttpSettings,
        *,
        liveness: Liveness,
        readiness: Readiness,
        registry: CollectorRegistry = REGISTRY,
    ) -> None:
        self._settings = settings
        self._liveness = liveness
        self._readiness = readiness
        self._registry = registry
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        """The bound port. Only valid after :meth:`start`."""
        if self._server is None:
            raise RuntimeError("health server not started")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        """Bind and start serving. Raises ``OSError`` if the port is taken."""
        self._server = await asyncio.start_server(
            self._handle, self._settings.host, self._settings.port
        )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
            if len(head) > _MAX_REQUEST_BYTES:
                return
            method, _, rest = head.decode("latin-1").partition(" ")
            path = rest.split(" ", 1)[0].split("?", 1)[0]
            status, content_type, body = await self._route(method, path)
            reason = _REASONS.get(status, "")
            header = (
                f"HTTP/1.1 {status} {reason}\r\n"
                f"Content-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n"
            ).encode("latin-1")
            writer.write(header if method == "HEAD" else header + body)
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            pass
        finally:
            writer.close()

    async def _route(self, method: str, path: str) -> tuple[int, str, bytes]:
        if method not in {"GET", "HEAD"}:
            return 405, "text/plain", b"method not allowed\n"
        if path == "/healthz":
            alive = self._liveness.is_alive()
            liveness = {
                "status": "ok" if alive else "stalled",
                "seconds_since_progress": round(self._liveness.silence_s(), 3),
            }
            return (200 if alive else 503), "application/json", _json(liveness)
        if path == "/readyz":
            ready, checks = await self._readiness.evaluate()
            payload: dict[str, object] = {
                "status": "ready" if ready else "not ready",
                "checks": checks,
            }
            return (200 if ready else 503), "application/json", _json(payload)
        if path == "/metrics":
            return 200, CONTENT_TYPE_LATEST, generate_latest(self._registry)
        return 404, "text/plain", b"not found\n"


def _json(payload: object) -> bytes:
    return json.dumps(payload, sort_keys=True).encode() + b"\n"
