"""Dashboards, alert templates, alert destinations and alerts of one contract server.

Shapes and status codes follow OpenObserve v0.15.3 (``handler/http/request/{dashboards,
alerts}``, ``service/alerts``): duplicates of templates and destinations answer 400 ("... with
the same name already exists"), a duplicate alert 409, an alert naming an unknown destination
or stream 404. Deliberate deviations, following the reference and the project's brief:
dashboards are accepted only as ``"version": 5`` (OpenObserve also reads versions 1-4) and
their v5 shape is checked field by field (OpenObserve's serde would default missing fields);
an alert's ``trigger_condition`` must carry every field the reference lists.

Every method returns ``(status, body)``; none raises for bad input. Not thread-safe: the
server holds its lock around every call.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

__all__ = ["Catalog", "dashboard_shape_error"]

Reply = tuple[int, Any]

_BAD_NAME = re.compile(r"""[:#?&%/'"\s]""")
_OPERATORS: Final = frozenset({"=", "!=", ">=", "<=", ">", "<", "Contains", "NotContains"})
_SELECT_STAR = re.compile(r"(?i)select[ ]+\*")
DEFAULT_FOLDER: Final = "default"


def _message(code: int, message: str, **extra: Any) -> Reply:
    return code, {"code": code, "message": message, **extra}


_Shape = tuple[tuple[str, type], ...]


def _require(obj: Any, key: str, kind: type, where: str) -> str | None:
    if not isinstance(obj, dict) or key not in obj:
        return f"{where}.{key} is missing"
    value = obj[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        return f"{where}.{key} has the wrong type"
    return None


_DASHBOARD_SHAPE: _Shape = (("title", str), ("tabs", list))
_TAB_SHAPE: _Shape = (("tabId", str), ("name", str), ("panels", list))
_PANEL_SHAPE: _Shape = (
    ("id", str),
    ("type", str),
    ("title", str),
    ("queryType", str),
    ("queries", list),
    ("layout", dict),
    ("config", dict),
)
_LAYOUT_SHAPE: _Shape = (("x", int), ("y", int), ("w", int), ("h", int), ("i", int))
_QUERY_SHAPE: _Shape = (("query", str), ("customQuery", bool), ("fields", dict))
_FIELDS_SHAPE: _Shape = (
    ("stream", str),
    ("stream_type", str),
    ("x", list),
    ("y", list),
    ("filter", dict),
)


def _check(obj: Any, shape: _Shape, where: str) -> str | None:
    for key, kind in shape:
        if err := _require(obj, key, kind, where):
            return err
    return None


def dashboard_shape_error(body: Any) -> str | None:
    """Why ``body`` is not a v5 dashboard of the reference's shape, or ``None`` if it is."""
    if not isinstance(body, dict):
        return "dashboard must be a JSON object"
    if body.get("version") != 5:
        return 'dashboards must be sent with "version": 5'
    if err := _check(body, _DASHBOARD_SHAPE, "dashboard"):
        return err
    if not body["title"].strip():
        return "Dashboard should have title"
    if "description" in body and not isinstance(body["description"], str):
        return "dashboard.description has the wrong type"
    for t, tab in enumerate(body["tabs"]):
        where = f"tabs[{t}]"
        if err := _check(tab, _TAB_SHAPE, where):
            return err
        for p, panel in enumerate(tab["panels"]):
            pw = f"{where}.panels[{p}]"
            if err := _check(panel, _PANEL_SHAPE, pw) or _check(
                panel["layout"], _LAYOUT_SHAPE, f"{pw}.layout"
            ):
                return err
            for q, query in enumerate(panel["queries"]):
                qw = f"{pw}.queries[{q}]"
                if err := _check(query, _QUERY_SHAPE, qw) or _check(
                    query["fields"], _FIELDS_SHAPE, f"{qw}.fields"
                ):
                    return err
    return None


class _OrgCatalog:
    def __init__(self) -> None:
        self.dashboards: dict[str, dict[str, Any]] = {}
        self.templates: dict[str, dict[str, Any]] = {}
        self.destinations: dict[str, dict[str, Any]] = {}
        self.alerts: dict[str, dict[str, Any]] = {}


class Catalog:
    """Dashboards and alerting objects of every organisation.

    ``stream_exists(org, name)`` tells whether a stream has a schema (alerts need one);
    ``now_us()`` stamps objects.
    """

    def __init__(
        self, stream_exists: Callable[[str, str], bool], now_us: Callable[[], int]
    ) -> None:
        self._orgs: dict[str, _OrgCatalog] = {}
        self._stream_exists = stream_exists
        self._now_us = now_us

    def clear(self) -> None:
        """Forget every object."""
        self._orgs.clear()

    def _org(self, org: str) -> _OrgCatalog:
        return self._orgs.setdefault(org, _OrgCatalog())

    # dashboards ------------------------------------------------------------------------------
    @staticmethod
    def _details(entry: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "v1": None,
            "v2": None,
            "v3": None,
            "v4": None,
            "v5": copy.deepcopy(entry["v5"]),
            "version": 5,
            "hash": entry["hash"],
            "updatedAt": entry["updated_at"],
        }

    def _stamp_dashboard(self, entry: dict[str, Any], body: Mapping[str, Any]) -> None:
        v5 = copy.deepcopy(dict(body))
        v5.pop("version", None)
        v5["dashboardId"] = entry["dashboard_id"]
        v5.setdefault("description", "")
        v5.setdefault("role", "")
        v5.setdefault("owner", entry["owner"])
        v5.setdefault("created", entry["created"])
        entry["v5"] = v5
        entry["updated_at"] = self._now_us()
        digest = hashlib.sha256(json.dumps(v5, sort_keys=True).encode()).hexdigest()
        entry["hash"] = str(int(digest[:15], 16))

    def create_dashboard(self, org: str, folder: str, body: Any, owner: str) -> Reply:
        """``POST /api/{org}/dashboards?folder=...``."""
        if folder != DEFAULT_FOLDER:
            return _message(404, "Folder not found")
        if (problem := dashboard_shape_error(body)) is not None:
            return _message(400, "Error parsing request body", error_detail=problem)
        dashboard_id = str(secrets.randbelow(9 * 10**18) + 10**18)
        created = datetime.fromtimestamp(self._now_us() / 1e6, tz=UTC).isoformat()
        entry: dict[str, Any] = {
            "dashboard_id": dashboard_id,
            "folder_id": folder,
            "owner": owner,
            "created": created,
        }
        self._stamp_dashboard(entry, body)
        self._org(org).dashboards[dashboard_id] = entry
        return 200, self._details(entry)

    def list_dashboards(self, org: str, folder: str | None, title: str | None) -> Reply:
        """``GET /api/{org}/dashboards``, optionally filtered like OpenObserve's query."""
        out = []
        for entry in self._org(org).dashboards.values():
            v5 = entry["v5"]
            if folder is not None and entry["folder_id"] != folder:
                continue
            if title is not None and title.lower() not in v5["title"].lower():
                continue
            out.append(
                {
                    "v1": None,
                    "v2": None,
                    "v3": None,
                    "v4": None,
                    "v5": copy.deepcopy(v5),
                    "version": 5,
                    "hash": entry["hash"],
                    "folder_id": entry["folder_id"],
                    "folder_name": "default",
                    "dashboard_id": entry["dashboard_id"],
                    "title": v5["title"],
                    "description": v5.get("description", ""),
                    "role": v5.get("role", ""),
                    "owner": entry["owner"],
                    "created": entry["created"],
                    "updatedAt": entry["updated_at"],
                }
            )
        return 200, {"dashboards": out}

    def get_dashboard(self, org: str, dashboard_id: str) -> Reply:
        """``GET /api/{org}/dashboards/{id}``."""
        entry = self._org(org).dashboards.get(dashboard_id)
        if entry is None:
            return _message(404, "Dashboard not found")
        return 200, self._details(entry)

    def update_dashboard(
        self, org: str, dashboard_id: str, body: Any, hash_value: str | None
    ) -> Reply:
        """``PUT /api/{org}/dashboards/{id}?hash=...``: the hash of the version being
        replaced is required, a stale one answers 409 as OpenObserve does."""
        entry = self._org(org).dashboards.get(dashboard_id)
        if entry is None:
            return _message(404, "Dashboard not found")
        if (problem := dashboard_shape_error(body)) is not None:
            return _message(400, "Error parsing request body", error_detail=problem)
        if hash_value is None:
            return _message(
                500, "Request to update existing dashboard with missing or invalid hash value. BUG"
            )
        if hash_value != entry["hash"]:
            return _message(
                409,
                "Conflict: Failed to save due to concurrent changes. Please refresh the page "
                "after backing up your work to avoid losing changes.",
            )
        self._stamp_dashboard(entry, body)
        return 200, self._details(entry)

    def delete_dashboard(self, org: str, dashboard_id: str) -> Reply:
        """``DELETE /api/{org}/dashboards/{id}``."""
        if self._org(org).dashboards.pop(dashboard_id, None) is None:
            return _message(404, "Dashboard not found")
        return _message(200, "Dashboard deleted")

    # alert templates and destinations --------------------------------------------------------
    def create_template(self, org: str, body: Any) -> Reply:
        """``POST /api/{org}/alerts/templates``."""
        if not isinstance(body, dict):
            return _message(400, "Json deserialize error: expected a JSON object")
        name = str(body.get("name", "")).strip()
        if not body.get("body"):
            return _message(400, "Template body cannot be empty")
        if not name:
            return _message(400, "Template name cannot be empty")
        if _BAD_NAME.search(name):
            return _message(
                400,
                "Template name cannot contain ':', '#', '?', '&', '%', '/', quotes and space "
                "characters",
            )
        if body.get("type") == "email" and not body.get("title"):
            return _message(400, "Email Template cannot have empty title")
        templates = self._org(org).templates
        if name in templates:
            return _message(400, "Template with the same name already exists")
        stored = {
            "name": name,
            "body": body["body"],
            "type": body.get("type", "http"),
            "title": body.get("title", ""),
            "isDefault": org == "default",
        }
        templates[name] = stored
        return _message(200, "Template saved", id=secrets.token_hex(13), name=name)

    def list_templates(self, org: str) -> Reply:
        """``GET /api/{org}/alerts/templates``."""
        return 200, [copy.deepcopy(t) for t in self._org(org).templates.values()]

    def create_destination(self, org: str, body: Any) -> Reply:
        """``POST /api/{org}/alerts/destinations``."""
        if not isinstance(body, dict):
            return _message(400, "Json deserialize error: expected a JSON object")
        name = str(body.get("name", "")).strip()
        kind = body.get("type", "http")
        if kind == "email" and not body.get("emails"):
            return _message(400, "Email destination must have at least one email recipient")
        if kind == "sns" and not (body.get("sns_topic_arn") and body.get("aws_region")):
            return _message(400, "SNS destination must have Topic ARN and Region")
        if kind == "http" and not body.get("url"):
            return _message(400, "HTTP destination must have a url")
        if not name:
            return _message(400, "Destination name cannot be empty")
        if _BAD_NAME.search(name):
            return _message(
                400,
                "Destination name cannot contain ':', '#', '?', '&', '%', '/', quotes and space "
                "characters",
            )
        destinations = self._org(org).destinations
        if name in destinations:
            return _message(400, "Destination with the same name already exists")
        stored = copy.deepcopy(body)
        stored["name"] = name
        stored.setdefault("type", kind)
        stored.setdefault("method", "post")
        stored.setdefault("skip_tls_verify", False)
        destinations[name] = stored
        return _message(200, "Destination saved", id=secrets.token_hex(13), name=name)

    def list_destinations(self, org: str) -> Reply:
        """``GET /api/{org}/alerts/destinations``."""
        return 200, [copy.deepcopy(d) for d in self._org(org).destinations.values()]

    # alerts (v2) -----------------------------------------------------------------------------
    def _alert_problem(self, org: str, body: Mapping[str, Any]) -> Reply | None:
        name = str(body.get("name", "")).strip()
        if not name:
            return _message(400, "Alert name is required")
        if "/" in name:
            return _message(400, "Alert name cannot contain '/'")
        if _BAD_NAME.search(name):
            return _message(
                400,
                "Alert name cannot contain ':', '#', '?', '&', '%', quotes and space characters",
            )
        destinations = body.get("destinations") or []
        if not destinations:
            return _message(400, "Alert destinations is required")
        for dest in destinations:
            if dest not in self._org(org).destinations:
                return _message(404, f"Alert destination {dest} not found")
        stream = str(body.get("stream_name", ""))
        if not stream or not self._stream_exists(org, stream):
            return _message(404, f"Stream {stream} not found")
        condition = body.get("query_condition")
        if not isinstance(condition, dict):
            return _message(400, "Error parsing request body", error_detail="query_condition")
        if condition.get("type", "custom") == "sql":
            sql = condition.get("sql")
            if not sql:
                return _message(400, "Alert with SQL mode should have a query")
            if _SELECT_STAR.search(sql):
                return _message(400, "Alert with SQL can not contain SELECT * in the SQL query")
        trigger = body.get("trigger_condition")
        for key in ("period", "operator", "threshold", "frequency", "frequency_type", "silence"):
            if not isinstance(trigger, dict) or key not in trigger:
                return _message(
                    400, "Error parsing request body", error_detail=f"trigger_condition.{key}"
                )
        assert isinstance(trigger, dict)
        if trigger["operator"] not in _OPERATORS:
            return _message(
                400, "Error parsing request body", error_detail="trigger_condition.operator"
            )
        if trigger["frequency_type"] not in ("minutes", "cron"):
            return _message(
                400, "Error parsing request body", error_detail="trigger_condition.frequency_type"
            )
        return None

    def create_alert(self, org: str, folder: str, body: Any, owner: str) -> Reply:
        """``POST /api/v2/{org}/alerts?folder=...``."""
        if not isinstance(body, dict):
            return _message(400, "Json deserialize error: expected a JSON object")
        if folder != DEFAULT_FOLDER:
            return _message(404, "Error creating alert in folder that cannot be found")
        if (problem := self._alert_problem(org, body)) is not None:
            return problem
        alerts = self._org(org).alerts
        name = str(body["name"]).strip()
        for existing in alerts.values():
            if existing["name"] == name and existing["stream_name"] == body["stream_name"]:
                return _message(409, "Alert already exists")
        alert_id = secrets.token_hex(14)[:27]
        stored = copy.deepcopy(body)
        stored.update(
            {
                "id": alert_id,
                "name": name,
                "folder_id": folder,
                "owner": owner,
                "enabled": bool(body.get("enabled", True)),
                "is_real_time": bool(body.get("is_real_time", False)),
            }
        )
        alerts[alert_id] = stored
        return _message(200, "Alert saved", id=alert_id, name=name)

    def list_alerts(self, org: str, folder: str | None) -> Reply:
        """``GET /api/v2/{org}/alerts``."""
        out = []
        for alert in self._org(org).alerts.values():
            if folder is not None and alert["folder_id"] != folder:
                continue
            out.append(
                {
                    "alert_id": alert["id"],
                    "folder_id": alert["folder_id"],
                    "folder_name": "default",
                    "name": alert["name"],
                    "owner": alert["owner"],
                    "description": alert.get("description"),
                    "condition": copy.deepcopy(alert["query_condition"]),
                    "trigger_condition": copy.deepcopy(alert["trigger_condition"]),
                    "enabled": alert["enabled"],
                    "last_triggered_at": None,
                    "last_satisfied_at": None,
                    "is_real_time": alert["is_real_time"],
                }
            )
        return 200, {"list": out}
