"""Python side of the admin API: faults, the request log and API config of a running moto.

``SimulatorControl(endpoint_url)`` talks to the moto server's ``/_simulator/`` routes over
HTTP (blocking, short timeouts); a :class:`~simulator.fleet.Fleet` has one and exposes its
parts as ``fleet.faults``, ``fleet.requests`` and ``fleet.api``. Every call raises
:class:`SimulatorUnavailableError` when the server has no simulator extension, and
``httpx.HTTPError`` when it cannot be reached.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from simulator.faults import Fault, fault_from_json
from simulator.requestlog import RequestRecord
from simulator.settings import ApiConfig

__all__ = [
    "ApiControl",
    "FaultControl",
    "FaultStatus",
    "RequestLogControl",
    "ServerInfo",
    "SimulatorControl",
    "SimulatorUnavailableError",
    "WriterInstructions",
]


class SimulatorUnavailableError(RuntimeError):
    """The moto server answers, but not with the simulator's admin API."""


@dataclass(frozen=True)
class ServerInfo:
    data_dir: Path
    config: ApiConfig
    simulator_access_key_id: str


@dataclass(frozen=True)
class FaultStatus:
    """An installed fault as the server reports it."""

    id: str
    fault: Fault
    fired: int
    exhausted: bool

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FaultStatus:
        return cls(data["id"], fault_from_json(data["fault"]), data["fired"], data["exhausted"])

    @property
    def remaining(self) -> int | None:
        """Firings left before it goes inert (None: unlimited)."""
        count = self.fault.count
        return None if count is None else max(0, count - self.fired)


@dataclass(frozen=True)
class WriterInstructions:
    """What the writer must do before its next step."""

    faults: list[FaultStatus]
    rotations: list[tuple[str, str, str]]  # (instance, LogFileName, fault id)


class _Part:
    def __init__(self, http: httpx.Client) -> None:
        self._http = http

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, path, **kwargs)
        if response.status_code == 404 and "no such admin route" not in response.text:
            content_type = response.headers.get("content-type", "")
            if not content_type.startswith("application/json"):
                raise SimulatorUnavailableError(
                    f"{self._http.base_url} has no simulator admin API: start moto with "
                    "--extension simulator.rds_api:install"
                )
        if response.status_code >= 400:
            raise ValueError(f"simulator admin API {method} {path}: {response.text}")
        return response.json()


class FaultControl(_Part):
    """``fleet.faults``: install, list and remove faults (see :mod:`simulator.faults`)."""

    def add(self, fault: Fault) -> str:
        """Install ``fault``; returns its id."""
        data = self._call("POST", "faults", json=fault.model_dump(mode="json"))
        return str(data["id"])

    def remove(self, fault_id: str) -> None:
        self._call("DELETE", f"faults/{fault_id}")

    def clear(self) -> None:
        self._call("DELETE", "faults")

    def list(self) -> list[FaultStatus]:
        return [FaultStatus.from_json(item) for item in self._call("GET", "faults")]

    def status(self, fault_id: str) -> FaultStatus:
        return FaultStatus.from_json(self._call("GET", f"faults/{fault_id}"))

    def fired(self, fault_id: str) -> int:
        """How often the fault has fired so far."""
        return self.status(fault_id).fired

    @contextmanager
    def injected(self, fault: Fault) -> Iterator[str]:
        """Install ``fault`` for the ``with`` block; yields its id."""
        fault_id = self.add(fault)
        try:
            yield fault_id
        finally:
            self.remove(fault_id)


class RequestLogControl(_Part):
    """``fleet.requests``: the calls the RDS API answered (see :mod:`simulator.requestlog`)."""

    def records(
        self,
        *,
        since: int = 0,
        instance: str | None = None,
        access_key_id: str | None = None,
        action: str | None = None,
        limit: int | None = None,
    ) -> list[RequestRecord]:
        """Calls with ``seq > since``, oldest first, filtered."""
        filters = {
            "instance": instance,
            "access_key_id": access_key_id,
            "action": action,
            "limit": limit,
        }
        params: dict[str, Any] = {"since": since}
        params.update({name: value for name, value in filters.items() if value is not None})
        data = self._call("GET", "requests", params=params)
        return [RequestRecord.from_json(item) for item in data["records"]]

    def last_seq(self) -> int:
        """The seq of the newest call (0 if none): pass it as ``since`` to see only later ones."""
        return int(self._call("GET", "requests", params={"since": 0, "limit": 0})["last_seq"])

    def clear(self) -> None:
        self._call("DELETE", "requests")


class ApiControl(_Part):
    """``fleet.api``: how the simulated API behaves (:class:`~simulator.settings.ApiConfig`)."""

    def get(self) -> ApiConfig:
        return ApiConfig.model_validate(self._call("GET", "config"))

    def set(self, **changes: Any) -> ApiConfig:
        """Change some settings: ``fleet.api.set(page_cap_bytes=4096)``."""
        return ApiConfig.model_validate(self._call("PATCH", "config", json=changes))


class SimulatorControl(_Part):
    """The admin API of one moto server."""

    def __init__(self, endpoint_url: str, *, timeout_s: float = 30.0) -> None:
        http = httpx.Client(base_url=endpoint_url.rstrip("/") + "/_simulator/", timeout=timeout_s)
        super().__init__(http)
        self.endpoint_url = endpoint_url
        self.faults = FaultControl(http)
        self.requests = RequestLogControl(http)
        self.api = ApiControl(http)

    def info(self) -> ServerInfo:
        data = self._call("GET", "info")
        return ServerInfo(
            Path(data["data_dir"]),
            ApiConfig.model_validate(data["config"]),
            data["simulator_access_key_id"],
        )

    def reset(self) -> None:
        """Config from the environment, no faults, an empty request log."""
        self._call("POST", "reset")

    def writer_instructions(self) -> WriterInstructions:
        data = self._call("GET", "writer")
        return WriterInstructions(
            [FaultStatus.from_json(item) for item in data["faults"]],
            [(item["instance"], item["file"], item["fault_id"]) for item in data["rotations"]],
        )

    def report_fired(self, fault_id: str, times: int) -> None:
        self._call("POST", f"faults/{fault_id}/fired", json={"times": times})

    def close(self) -> None:
        self._http.close()
