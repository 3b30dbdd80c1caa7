"""The admin HTTP API of the simulator, served by the moto process under ``/_simulator/``.

JSON in, JSON out. :class:`simulator.client.SimulatorControl` wraps it for Python; anything
else (curl, another language) can use it directly.

========  ==================================  =================================================
GET       /_simulator/info                    data_dir, config, the simulator's access key id
GET       /_simulator/config                  API behaviour (:class:`ApiConfig`)
PATCH     /_simulator/config                  change some of it: ``{"page_cap_bytes": 4096}``
POST      /_simulator/reset                   config from the environment, no faults, no calls
GET       /_simulator/faults                  installed faults, each with ``id`` and ``fired``
POST      /_simulator/faults                  install one: ``{"type": "gap", "lines": 5}``
DELETE    /_simulator/faults                  remove them all
GET       /_simulator/faults/{id}             one fault
DELETE    /_simulator/faults/{id}             remove it
POST      /_simulator/faults/{id}/fired       the writer reports firings: ``{"times": 1}``
GET       /_simulator/requests?since=N        calls with seq > N (``limit``, ``instance``,
                                              ``access_key_id``, ``action`` filter them)
DELETE    /_simulator/requests                forget them
GET       /_simulator/writer                  writer faults and pending rotation requests
                                              (rotation requests are handed out once)
========  ==================================  =================================================
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from pydantic import ValidationError

from common.logs import get_logger
from simulator.faults import fault_from_json
from simulator.requestlog import SIMULATOR_ACCESS_KEY_ID
from simulator.server import SimulatorServer

__all__ = ["admin_app"]

_log = get_logger("simulator.admin")
StartResponse = Callable[..., Any]
_REASONS = {200: "OK", 201: "Created", 400: "Bad Request", 404: "Not Found", 405: "Not Allowed"}


def _reply(start_response: StartResponse, status: int, payload: Any) -> Iterable[bytes]:
    body = json.dumps(payload).encode()
    start_response(
        f"{status} {_REASONS[status]}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]


def _body(environ: dict[str, Any]) -> Any:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length else b""
    return json.loads(raw) if raw else {}


def _query(environ: dict[str, Any]) -> dict[str, str]:
    return dict(parse_qsl(environ.get("QUERY_STRING", "")))


def admin_app(
    server: SimulatorServer, environ: dict[str, Any], start_response: StartResponse
) -> Iterable[bytes]:
    """Answer one admin request (WSGI)."""
    method = environ.get("REQUEST_METHOD", "GET")
    parts = [part for part in environ.get("PATH_INFO", "").split("/") if part][1:]
    try:
        return _route(server, method, parts, environ, start_response)
    except (ValueError, ValidationError) as exc:
        # json.JSONDecodeError is a ValueError too.
        return _reply(start_response, 400, {"error": str(exc)})


def _route(
    server: SimulatorServer,
    method: str,
    parts: list[str],
    environ: dict[str, Any],
    start_response: StartResponse,
) -> Iterable[bytes]:
    head = parts[0] if parts else ""
    if head == "info" and method == "GET":
        return _reply(
            start_response,
            200,
            {
                "data_dir": str(server.data_dir),
                "config": server.config.model_dump(mode="json"),
                "simulator_access_key_id": SIMULATOR_ACCESS_KEY_ID,
            },
        )
    if head == "config":
        if method == "GET":
            return _reply(start_response, 200, server.config.model_dump(mode="json"))
        if method in ("PATCH", "PUT", "POST"):
            config = server.configure(**_body(environ))
            _log.info("api_configured", **config.model_dump(mode="json"))
            return _reply(start_response, 200, config.model_dump(mode="json"))
    if head == "reset" and method == "POST":
        server.reset()
        _log.info("simulator_reset")
        return _reply(start_response, 200, {"reset": True})
    if head == "faults":
        return _faults(server, method, parts[1:], environ, start_response)
    if head == "requests":
        if method == "GET":
            query = _query(environ)
            since = int(query.get("since", "0"))
            limit = int(query["limit"]) if "limit" in query else None
            records = server.requests.since(since)
            for field in ("instance", "access_key_id", "action"):
                if field in query:
                    records = [r for r in records if getattr(r, field) == query[field]]
            if limit is not None:
                records = records[:limit]
            return _reply(
                start_response,
                200,
                {
                    "records": [record.to_json() for record in records],
                    "last_seq": server.requests.last_seq,
                    "dropped": server.requests.dropped,
                },
            )
        if method == "DELETE":
            server.requests.clear()
            return _reply(start_response, 200, {"cleared": True})
    if head == "writer" and method == "GET":
        return _reply(
            start_response,
            200,
            {
                "faults": [state.describe() for state in server.faults.writer_faults()],
                "rotations": [
                    {"instance": r.instance, "file": r.file, "fault_id": r.fault_id}
                    for r in server.take_rotations()
                ],
            },
        )
    return _reply(start_response, 404, {"error": f"no such admin route: {method} {parts}"})


def _faults(
    server: SimulatorServer,
    method: str,
    rest: list[str],
    environ: dict[str, Any],
    start_response: StartResponse,
) -> Iterable[bytes]:
    registry = server.faults
    if not rest:
        if method == "GET":
            return _reply(start_response, 200, [state.describe() for state in registry.states()])
        if method == "POST":
            state = registry.add(fault_from_json(_body(environ)))
            _log.info("fault_injected", fault_id=state.id, **state.fault.model_dump(mode="json"))
            return _reply(start_response, 201, state.describe())
        if method == "DELETE":
            registry.clear()
            _log.info("faults_cleared")
            return _reply(start_response, 200, {"cleared": True})
    else:
        found = registry.get(rest[0])
        if found is None:
            return _reply(start_response, 404, {"error": f"no fault {rest[0]}"})
        if len(rest) == 1 and method == "GET":
            return _reply(start_response, 200, found.describe())
        if len(rest) == 1 and method == "DELETE":
            registry.remove(found.id)
            _log.info("fault_removed", fault_id=found.id)
            return _reply(start_response, 200, {"removed": found.id})
        if rest[1:] == ["fired"] and method == "POST":
            registry.record_fired(found.id, int(_body(environ).get("times", 1)))
            return _reply(start_response, 200, found.describe())
    return _reply(start_response, 405, {"error": f"{method} not allowed here"})
