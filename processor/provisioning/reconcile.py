"""Make OpenObserve match the assets: compare what exists with what is asked, then change it.

:func:`provision` reads everything first, then writes (nothing in a dry run), and returns one
:class:`Change` per object in asset order: streams, dashboards, templates, destinations,
alerts (alerts last: they need their stream and destinations). Objects are matched by stream
name, dashboard title, and template, destination or alert name, so a second run finds
everything ``unchanged`` and never creates a duplicate.

Content is compared as a *subset*: every key the asset sets must hold the same value in
OpenObserve's copy, while keys OpenObserve adds (ids, owners, defaults it fills in) are
ignored; otherwise every run would see a difference that is not one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from processor.provisioning.api import OpenObserveApi
from processor.provisioning.assets import Assets, StreamSpec

__all__ = ["Action", "Change", "provision", "stream_settings_update", "subset_of"]


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    DRIFT = "drift"
    """Exists but differs, and is left as it is (see the package docstring)."""
    AMBIGUOUS = "ambiguous"
    """Several objects carry the name: none is touched, a human must remove the extras."""


@dataclass(frozen=True, slots=True)
class Change:
    kind: str
    name: str
    action: Action
    detail: str = ""

    def __str__(self) -> str:
        text = f"{self.action.value:<9} {self.kind} {self.name}"
        return f"{text}: {self.detail}" if self.detail else text


def subset_of(wanted: Any, actual: Any) -> bool:
    """Whether every key of ``wanted`` holds an equal value in ``actual``, recursively; lists
    must have the same length and match item by item."""
    if isinstance(wanted, Mapping):
        return isinstance(actual, Mapping) and all(
            key in actual and subset_of(value, actual[key]) for key, value in wanted.items()
        )
    if isinstance(wanted, list):
        return (
            isinstance(actual, list)
            and len(wanted) == len(actual)
            and all(subset_of(w, a) for w, a in zip(wanted, actual, strict=True))
        )
    return bool(wanted == actual)


def _list_update(wanted: tuple[str, ...], current: list[str]) -> dict[str, list[str]] | None:
    add = [item for item in wanted if item not in current]
    remove = [item for item in current if item not in wanted]
    if not add and not remove:
        return None
    return {"add": add, "remove": remove}


def stream_settings_update(spec: StreamSpec, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The ``PUT .../settings`` body that turns ``settings`` (OpenObserve's current stream
    settings) into what ``spec`` asks for; empty when nothing differs.

    A partition key OpenObserve shows as ``disabled`` counts as absent: OpenObserve disables a
    removed key instead of forgetting it, and a run must not try to remove it again.
    """
    update: dict[str, Any] = {}
    active = {
        str(key["field"]): key.get("types", "value")
        for key in settings.get("partition_keys") or []
        if not key.get("disabled", False)
    }
    wanted = dict(spec.partition_keys)
    add = [{"field": f, "types": t} for f, t in spec.partition_keys if active.get(f) != t]
    remove = [f for f in active if f not in wanted]
    if add or remove:
        update["partition_keys"] = {"add": add, "remove": remove}
    for key, wanted_list in (
        ("full_text_search_keys", spec.full_text_search_keys),
        ("bloom_filter_fields", spec.bloom_filter_fields),
    ):
        change = _list_update(wanted_list, list(settings.get(key) or []))
        if change is not None:
            update[key] = change
    if settings.get("data_retention") != spec.data_retention_days:
        update["data_retention"] = spec.data_retention_days
    return update


def _describe_update(update: Mapping[str, Any], settings: Mapping[str, Any]) -> str:
    parts = []
    for key, value in update.items():
        if key == "data_retention":
            parts.append(f"data_retention {settings.get('data_retention')} -> {value} days")
        else:
            added = [v["field"] if isinstance(v, dict) else v for v in value["add"]]
            parts.append(f"{key} +{added} -{value['remove']}")
    return "; ".join(parts)


def _streams(api: OpenObserveApi, assets: Assets, dry_run: bool) -> list[Change]:
    changes = []
    for spec in assets.streams:
        existing = api.stream(spec.name)
        if existing is None:
            if not dry_run:
                api.create_stream(spec.name, spec.create_body())
            detail = f"retention {spec.data_retention_days} days"
            changes.append(Change("stream", spec.name, Action.CREATE, detail))
            continue
        settings = existing.get("settings") or {}
        update = stream_settings_update(spec, settings)
        if not update:
            changes.append(Change("stream", spec.name, Action.UNCHANGED))
            continue
        if not dry_run:
            api.update_stream_settings(spec.name, update)
        changes.append(
            Change("stream", spec.name, Action.UPDATE, _describe_update(update, settings))
        )
    return changes


def _dashboards(api: OpenObserveApi, assets: Assets, dry_run: bool) -> list[Change]:
    by_title: dict[str, list[dict[str, Any]]] = {}
    for entry in api.dashboards():
        title = str((entry.get("v5") or {}).get("title", entry.get("title", "")))
        by_title.setdefault(title, []).append(entry)
    changes = []
    for body in assets.dashboards:
        title = str(body["title"])
        found = by_title.get(title, [])
        if len(found) > 1:
            detail = f"{len(found)} dashboards carry this title; remove the extras"
            changes.append(Change("dashboard", title, Action.AMBIGUOUS, detail))
            continue
        if not found:
            if not dry_run:
                api.create_dashboard(body)
            changes.append(Change("dashboard", title, Action.CREATE))
            continue
        entry = found[0]
        content = {key: value for key, value in body.items() if key != "version"}
        if subset_of(content, entry.get("v5") or {}):
            changes.append(Change("dashboard", title, Action.UNCHANGED))
            continue
        if not dry_run:
            api.update_dashboard(str(entry["dashboard_id"]), str(entry["hash"]), body)
        changes.append(Change("dashboard", title, Action.UPDATE, "content differs"))
    return changes


def _named(
    kind: str,
    wanted: tuple[dict[str, Any], ...],
    existing: list[dict[str, Any]],
    comparable: Callable[[Mapping[str, Any]], dict[str, Any]],
    create: Callable[[dict[str, Any]], None],
    dry_run: bool,
) -> list[Change]:
    by_name: dict[str, list[dict[str, Any]]] = {}
    for item in existing:
        by_name.setdefault(str(item.get("name")), []).append(item)
    changes = []
    for body in wanted:
        name = str(body["name"])
        found = by_name.get(name, [])
        if len(found) > 1:
            detail = f"{len(found)} objects carry this name; remove the extras"
            changes.append(Change(kind, name, Action.AMBIGUOUS, detail))
        elif not found:
            if not dry_run:
                create(body)
            changes.append(Change(kind, name, Action.CREATE))
        elif subset_of(comparable(body), found[0]):
            changes.append(Change(kind, name, Action.UNCHANGED))
        else:
            detail = "differs from the assets; left unchanged (edit it, or delete it and re-run)"
            changes.append(Change(kind, name, Action.DRIFT, detail))
    return changes


def _template_view(body: Mapping[str, Any]) -> dict[str, Any]:
    return {key: body[key] for key in ("body", "type", "title") if key in body}


def _destination_view(body: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key != "name"}


def _alert_view(body: Mapping[str, Any]) -> dict[str, Any]:
    # The alert list shows the query condition as "condition".
    view = {"condition": body["query_condition"], "trigger_condition": body["trigger_condition"]}
    for key in ("description", "enabled"):
        if key in body:
            view[key] = body[key]
    return view


def provision(api: OpenObserveApi, assets: Assets, *, dry_run: bool = False) -> list[Change]:
    """Make OpenObserve match ``assets``; with ``dry_run`` only read and report.

    Blocks for one request per object read or written. Raises the errors of
    :class:`~processor.provisioning.api.OpenObserveApi` at the first refusal; what was done
    before it stays done, and running again continues from there.
    """
    changes = _streams(api, assets, dry_run)
    changes += _dashboards(api, assets, dry_run)
    changes += _named(
        "template", assets.templates, api.templates(), _template_view, api.create_template, dry_run
    )
    changes += _named(
        "destination",
        assets.destinations,
        api.destinations(),
        _destination_view,
        api.create_destination,
        dry_run,
    )
    changes += _named("alert", assets.alerts, api.alerts(), _alert_view, api.create_alert, dry_run)
    return changes
