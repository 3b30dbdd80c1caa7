"""The provisioning assets: JSON files describing what OpenObserve must contain.

Layout of an assets folder (``openobserve/provisioning/`` in a checkout)::

    streams.json                 [{"name", "log_type"?, "fields", "settings"}]
    dashboards/*.json            one v5 dashboard per file (the body POSTed to OpenObserve)
    alerts/templates.json        [alert template bodies]
    alerts/destinations.json     [alert destination bodies]; strings may hold ${VAR} or
                                 ${VAR:-default}, expanded from the environment, and a header
                                 whose value expands to "" is left out
    alerts/alerts.json           [v2 alert bodies]

:func:`load_assets` reads and cross-checks them (every field a setting names is declared, every
stream a dashboard or alert reads is provisioned, every destination an alert names exists) and
raises :class:`~common.errors.ConfigurationError` naming the file and the problem.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.errors import ConfigurationError

__all__ = ["ARROW_TYPES", "Assets", "StreamSpec", "expand_placeholders", "load_assets"]

ARROW_TYPES = frozenset({"Utf8", "Int64", "UInt64", "Float64", "Boolean"})
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)(?::-([^}]*))?\}")


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """One logs stream and the settings it must have."""

    name: str
    log_type: str | None
    fields: tuple[tuple[str, str], ...]
    partition_keys: tuple[tuple[str, Any], ...]
    """``(field, types)`` pairs; ``types`` is ``"value"``, ``"prefix"`` or ``{"hash": n}``."""
    full_text_search_keys: tuple[str, ...]
    bloom_filter_fields: tuple[str, ...]
    data_retention_days: int

    def create_body(self) -> dict[str, Any]:
        """The body of ``POST /api/{org}/streams/{name}``."""
        return {
            "fields": [{"name": name, "type": kind} for name, kind in self.fields],
            "settings": {
                "partition_keys": [
                    {"field": field, "types": types} for field, types in self.partition_keys
                ],
                "full_text_search_keys": list(self.full_text_search_keys),
                "bloom_filter_fields": list(self.bloom_filter_fields),
                "data_retention": self.data_retention_days,
            },
        }


@dataclass(frozen=True, slots=True)
class Assets:
    """Everything one assets folder asks for, checked and with placeholders expanded."""

    streams: tuple[StreamSpec, ...]
    dashboards: tuple[dict[str, Any], ...]
    templates: tuple[dict[str, Any], ...]
    destinations: tuple[dict[str, Any], ...]
    alerts: tuple[dict[str, Any], ...]


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(f"{path}: missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{path}: not valid JSON: {exc}") from None


def _objects(path: Path) -> list[dict[str, Any]]:
    data = _read(path)
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise ConfigurationError(f"{path}: expected a JSON array of objects")
    return data


def _names(items: list[str], where: str) -> tuple[str, ...]:
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise ConfigurationError(f"{where}: expected a list of field names")
    return tuple(items)


def _stream(raw: Mapping[str, Any], where: str) -> StreamSpec:
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigurationError(f"{where}: name must be lower snake_case, got {name!r}")
    where = f"{where} ({name})"
    fields: list[tuple[str, str]] = []
    for field in raw.get("fields", []):
        if not isinstance(field, dict) or field.get("type") not in ARROW_TYPES:
            raise ConfigurationError(f"{where}: field {field!r} needs a name and an Arrow type")
        fields.append((str(field["name"]), str(field["type"])))
    declared = dict(fields)
    settings = raw.get("settings", {})
    partitions = []
    for key in settings.get("partition_keys", []):
        if not isinstance(key, dict) or key.get("field") not in declared:
            raise ConfigurationError(f"{where}: partition key {key!r} is not a declared field")
        partitions.append((str(key["field"]), key.get("types", "value")))
    full_text = _names(settings.get("full_text_search_keys", []), where)
    for key in full_text:
        if declared.get(key) != "Utf8":
            raise ConfigurationError(
                f"{where}: full-text key {key!r} must be a declared Utf8 field"
            )
    bloom = _names(settings.get("bloom_filter_fields", []), where)
    if unknown := sorted(set(bloom) - set(declared)):
        raise ConfigurationError(f"{where}: bloom filter fields {unknown} are not declared")
    retention = settings.get("data_retention")
    if not isinstance(retention, int) or isinstance(retention, bool) or retention < 1:
        raise ConfigurationError(f"{where}: data_retention must be a number of days >= 1")
    log_type = raw.get("log_type")
    return StreamSpec(
        name=name,
        log_type=str(log_type) if log_type is not None else None,
        fields=tuple(fields),
        partition_keys=tuple(partitions),
        full_text_search_keys=full_text,
        bloom_filter_fields=bloom,
        data_retention_days=retention,
    )


def expand_placeholders(value: Any, environ: Mapping[str, str], where: str) -> Any:
    """``value`` with every ``${VAR}`` / ``${VAR:-default}`` in its strings expanded.

    Raises :class:`ConfigurationError` naming ``where`` and the variable when one without a
    default is unset.
    """
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in environ:
                return environ[name]
            if default is not None:
                return default
            raise ConfigurationError(f"{where}: environment variable {name} is not set")

        return _PLACEHOLDER.sub(substitute, value)
    if isinstance(value, list):
        return [expand_placeholders(item, environ, where) for item in value]
    if isinstance(value, dict):
        return {key: expand_placeholders(item, environ, where) for key, item in value.items()}
    return value


def _destination(raw: dict[str, Any], environ: Mapping[str, str], where: str) -> dict[str, Any]:
    expanded: dict[str, Any] = expand_placeholders(raw, environ, where)
    headers = expanded.get("headers")
    if isinstance(headers, dict):
        expanded["headers"] = {key: value for key, value in headers.items() if value != ""}
    return expanded


def _unique(items: list[dict[str, Any]], key: str, where: Path) -> None:
    seen: set[str] = set()
    for item in items:
        value = item.get(key)
        if not isinstance(value, str) or not value.strip():
            raise ConfigurationError(f"{where}: every entry needs a {key}")
        if value in seen:
            raise ConfigurationError(f"{where}: {key} {value!r} appears twice")
        seen.add(value)


def _panel_streams(dashboard: Mapping[str, Any]) -> set[str]:
    streams = set()
    for tab in dashboard.get("tabs", []):
        for panel in tab.get("panels", []):
            for query in panel.get("queries", []):
                streams.add(str(query.get("fields", {}).get("stream", "")))
    return streams


def load_assets(directory: Path, environ: Mapping[str, str] | None = None) -> Assets:
    """Read and check the assets under ``directory``; placeholders come from ``environ``
    (default: the process environment). Blocks on file reads only."""
    env = os.environ if environ is None else environ
    raw_streams = _objects(directory / "streams.json")
    _unique(raw_streams, "name", directory / "streams.json")
    streams = tuple(
        _stream(raw, f"{directory / 'streams.json'}[{i}]") for i, raw in enumerate(raw_streams)
    )
    stream_names = {stream.name for stream in streams}

    dashboards = []
    for path in sorted((directory / "dashboards").glob("*.json")):
        body = _read(path)
        if not isinstance(body, dict) or body.get("version") != 5 or not body.get("title"):
            raise ConfigurationError(f"{path}: expected a v5 dashboard with a title")
        if missing := sorted(_panel_streams(body) - stream_names):
            raise ConfigurationError(f"{path}: panels read streams not provisioned: {missing}")
        dashboards.append(body)
    _unique(dashboards, "title", directory / "dashboards")

    alerts_dir = directory / "alerts"
    templates = _objects(alerts_dir / "templates.json")
    _unique(templates, "name", alerts_dir / "templates.json")
    destinations = [
        _destination(raw, env, f"{alerts_dir / 'destinations.json'} ({raw.get('name')})")
        for raw in _objects(alerts_dir / "destinations.json")
    ]
    _unique(destinations, "name", alerts_dir / "destinations.json")
    template_names = {t["name"] for t in templates}
    for destination in destinations:
        if destination.get("template") not in template_names:
            raise ConfigurationError(
                f"{alerts_dir / 'destinations.json'}: destination {destination['name']!r} "
                f"names template {destination.get('template')!r}, which is not provisioned"
            )
    alerts = _objects(alerts_dir / "alerts.json")
    _unique(alerts, "name", alerts_dir / "alerts.json")
    destination_names = {d["name"] for d in destinations}
    for alert in alerts:
        where = f"{alerts_dir / 'alerts.json'} ({alert['name']})"
        if alert.get("stream_name") not in stream_names:
            raise ConfigurationError(
                f"{where}: stream {alert.get('stream_name')!r} is not provisioned"
            )
        if not alert.get("destinations") or set(alert["destinations"]) - destination_names:
            raise ConfigurationError(f"{where}: destinations must be provisioned destinations")
    return Assets(
        streams=streams,
        dashboards=tuple(dashboards),
        templates=tuple(templates),
        destinations=tuple(destinations),
        alerts=tuple(alerts),
    )
