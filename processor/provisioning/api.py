"""OpenObserve's admin HTTP API, as much of it as provisioning needs (synchronous httpx).

Paths and shapes follow ``shared/reference/openobserve.md``. Every method blocks for one HTTP
request and raises, never returns an error body:

- :class:`~common.errors.AccessDeniedError` for 401/403 (wrong credentials, no permission);
- :class:`~common.errors.UnavailableError` when OpenObserve cannot be reached or answers 5xx;
- :class:`~common.errors.RejectedError` for any other refusal, with OpenObserve's message.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx

from common.errors import AccessDeniedError, RejectedError, UnavailableError
from common.settings import OpenObserveSettings

__all__ = ["OpenObserveApi"]


class OpenObserveApi:
    """One organisation of one OpenObserve, reached with the settings' root credentials.

    ``transport`` replaces the network in tests. Use as a context manager, or call
    :meth:`close`.
    """

    def __init__(
        self, settings: OpenObserveSettings, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        self._org = quote(settings.organization, safe="")
        self._client = httpx.Client(
            base_url=str(settings.url).rstrip("/"),
            auth=(settings.user, settings.password.get_secret_value()),
            timeout=settings.request_timeout_s,
            transport=transport,
        )

    def __enter__(self) -> OpenObserveApi:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    # plumbing --------------------------------------------------------------------------------
    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: Any = None,
        missing_ok: bool = False,
    ) -> Any:
        try:
            response = self._client.request(method, path, params=params, json=body)
        except httpx.HTTPError as exc:
            raise UnavailableError(f"{method} {path}: {exc!r}") from exc
        status = response.status_code
        if status == 404 and missing_ok:
            return None
        if status in (401, 403):
            raise AccessDeniedError(f"{method} {path}: {status} {response.text[:300]}")
        if status >= 500:
            raise UnavailableError(f"{method} {path}: {status} {response.text[:300]}")
        if status >= 400:
            raise RejectedError(f"{method} {path}: {status} {response.text[:500]}")
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise RejectedError(f"{method} {path}: answer is not JSON") from exc

    def _api(self, *parts: str) -> str:
        return "/api/" + self._org + "".join("/" + quote(part, safe="") for part in parts)

    # health ----------------------------------------------------------------------------------
    def wait_until_healthy(
        self,
        timeout_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Poll ``GET /healthz`` about once a second until it answers 200 or ``timeout_s``
        has passed (then raise :class:`UnavailableError`). Blocks."""
        deadline = clock() + timeout_s
        while True:
            try:
                if self._client.get("/healthz").status_code == 200:
                    return
                problem = "not healthy yet"
            except httpx.HTTPError as exc:
                problem = repr(exc)
            if clock() >= deadline:
                raise UnavailableError(f"OpenObserve did not become healthy: {problem}")
            sleep(1.0)

    # streams ---------------------------------------------------------------------------------
    def stream(self, name: str) -> dict[str, Any] | None:
        """The stream's schema and settings, or None when it does not exist."""
        found: dict[str, Any] | None = self._call(
            "GET", self._api("streams", name, "schema"), params={"type": "logs"}, missing_ok=True
        )
        return found

    def create_stream(self, name: str, body: dict[str, Any]) -> None:
        self._call("POST", self._api("streams", name), params={"type": "logs"}, body=body)

    def update_stream_settings(self, name: str, update: dict[str, Any]) -> None:
        """``update`` uses OpenObserve's add/remove wrappers for list settings."""
        self._call(
            "PUT", self._api("streams", name, "settings"), params={"type": "logs"}, body=update
        )

    # dashboards ------------------------------------------------------------------------------
    def dashboards(self) -> list[dict[str, Any]]:
        """Every dashboard of the organisation (each with ``dashboard_id``, ``hash``, ``v5``)."""
        answer = self._call("GET", self._api("dashboards"))
        listed: list[dict[str, Any]] = answer.get("dashboards", []) if answer else []
        return listed

    def create_dashboard(self, body: dict[str, Any]) -> None:
        self._call("POST", self._api("dashboards"), params={"folder": "default"}, body=body)

    def update_dashboard(self, dashboard_id: str, hash_value: str, body: dict[str, Any]) -> None:
        """Replace a dashboard; ``hash_value`` is the hash of the version being replaced."""
        self._call(
            "PUT", self._api("dashboards", dashboard_id), params={"hash": hash_value}, body=body
        )

    # alerting --------------------------------------------------------------------------------
    def templates(self) -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = self._call("GET", self._api("alerts", "templates")) or []
        return listed

    def create_template(self, body: dict[str, Any]) -> None:
        self._call("POST", self._api("alerts", "templates"), body=body)

    def destinations(self) -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = self._call("GET", self._api("alerts", "destinations")) or []
        return listed

    def create_destination(self, body: dict[str, Any]) -> None:
        self._call("POST", self._api("alerts", "destinations"), body=body)

    def alerts(self) -> list[dict[str, Any]]:
        """Every v2 alert (``name``, ``condition``, ``trigger_condition``, ``enabled`` ...)."""
        answer = self._call("GET", "/api/v2/" + self._org + "/alerts")
        listed: list[dict[str, Any]] = answer.get("list", []) if answer else []
        return listed

    def create_alert(self, body: dict[str, Any]) -> None:
        self._call(
            "POST", "/api/v2/" + self._org + "/alerts", params={"folder": "default"}, body=body
        )
