"""``aurora-logs openobserve provision`` against the OpenObserve contract server, in-process."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from common.cli import main as cli_main
from common.errors import ConfigurationError, UnavailableError
from common.settings import OpenObserveSettings
from processor.provisioning import Action, OpenObserveApi, load_assets, provision
from processor.provisioning.assets import StreamSpec
from processor.provisioning.cli import default_assets_dir
from processor.provisioning.reconcile import stream_settings_update, subset_of
from tests.contract.openobserve_server import OpenObserveContractServer

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "openobserve" / "provisioning"
ENV = {"ALERT_WEBHOOK_URL": "http://alert-receiver.example:8080/hook"}
WRITES = {"POST", "PUT", "DELETE"}


@pytest.fixture(scope="module")
def _server() -> Iterator[OpenObserveContractServer]:
    with OpenObserveContractServer() as srv:
        yield srv


@pytest.fixture
def server(_server: OpenObserveContractServer) -> OpenObserveContractServer:
    _server.reset()
    return _server


@pytest.fixture
def api(server: OpenObserveContractServer) -> Iterator[OpenObserveApi]:
    settings = OpenObserveSettings.model_validate(
        {"url": server.url, "user": server.root_email, "password": server.root_password}
    )
    with OpenObserveApi(settings) as client:
        yield client


@pytest.fixture
def assets_copy(tmp_path: Path) -> Path:
    target = tmp_path / "provisioning"
    shutil.copytree(ASSETS, target)
    return target


def _asset_groups() -> list[tuple[Any, ...]]:
    assets = load_assets(ASSETS, ENV)
    return [assets.streams, assets.dashboards, assets.templates, assets.destinations, assets.alerts]


def _writes(server: OpenObserveContractServer) -> list[str]:
    return [f"{r['method']} {r['path']}" for r in server.requests() if r["method"] in WRITES]


def _schema(client: httpx.Client, stream: str) -> dict[str, Any]:
    answer = client.get(f"/api/default/streams/{stream}/schema", params={"type": "logs"})
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


@pytest.fixture
def http(server: OpenObserveContractServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, auth=server.auth) as client:
        yield client


def test_first_run_creates_everything_the_assets_describe(
    server: OpenObserveContractServer, api: OpenObserveApi, http: httpx.Client
) -> None:
    assets = load_assets(ASSETS, ENV)
    changes = provision(api, assets)

    assert {c.action for c in changes} == {Action.CREATE}
    expected = (
        len(assets.streams)
        + len(assets.dashboards)
        + len(assets.templates)
        + len(assets.destinations)
        + len(assets.alerts)
    )
    assert len(changes) == expected
    slow = _schema(http, "aurora_mysql_slow")["settings"]
    assert slow["data_retention"] == 30
    assert set(slow["full_text_search_keys"]) == {"message", "statement"}
    assert [p["field"] for p in slow["partition_keys"]] == ["cluster", "instance"]
    titles = sorted(d["title"] for d in http.get("/api/default/dashboards").json()["dashboards"])
    assert titles == sorted(d["title"] for d in assets.dashboards)
    alerts = http.get("/api/v2/default/alerts").json()["list"]
    assert sorted(a["name"] for a in alerts) == sorted(a["name"] for a in assets.alerts)
    [destination] = http.get("/api/default/alerts/destinations").json()
    assert destination["url"] == ENV["ALERT_WEBHOOK_URL"]
    assert "Authorization" not in destination["headers"], "an empty header must be left out"


def test_second_run_changes_nothing(server: OpenObserveContractServer, api: OpenObserveApi) -> None:
    assets = load_assets(ASSETS, ENV)
    provision(api, assets)
    writes_after_first = _writes(server)

    changes = provision(api, assets)

    assert {c.action for c in changes} == {Action.UNCHANGED}
    assert _writes(server) == writes_after_first, "an unchanged run must write nothing"


def test_a_changed_retention_is_updated_and_nothing_else(
    server: OpenObserveContractServer, api: OpenObserveApi, http: httpx.Client, assets_copy: Path
) -> None:
    provision(api, load_assets(assets_copy, ENV))
    streams = json.loads((assets_copy / "streams.json").read_text())
    for stream in streams:
        if stream["name"] == "aurora_mysql_general":
            stream["settings"]["data_retention"] = 3
    (assets_copy / "streams.json").write_text(json.dumps(streams))

    changes = provision(api, load_assets(assets_copy, ENV))

    updated = [c for c in changes if c.action is not Action.UNCHANGED]
    assert [(c.kind, c.name, c.action) for c in updated] == [
        ("stream", "aurora_mysql_general", Action.UPDATE)
    ]
    assert "data_retention 7 -> 3 days" in updated[0].detail
    assert _schema(http, "aurora_mysql_general")["settings"]["data_retention"] == 3
    again = provision(api, load_assets(assets_copy, ENV))
    assert {c.action for c in again} == {Action.UNCHANGED}


def test_changed_keys_are_added_and_removed(
    api: OpenObserveApi, http: httpx.Client, assets_copy: Path
) -> None:
    provision(api, load_assets(assets_copy, ENV))
    streams = json.loads((assets_copy / "streams.json").read_text())
    slow = next(s for s in streams if s["name"] == "aurora_mysql_slow")
    slow["settings"]["full_text_search_keys"] = ["message"]
    slow["settings"]["bloom_filter_fields"] = ["record_id", "query_id", "fingerprint"]
    (assets_copy / "streams.json").write_text(json.dumps(streams))

    provision(api, load_assets(assets_copy, ENV))

    settings = _schema(http, "aurora_mysql_slow")["settings"]
    assert settings["full_text_search_keys"] == ["message"]
    assert set(settings["bloom_filter_fields"]) == {"record_id", "query_id", "fingerprint"}


def test_a_changed_dashboard_is_replaced_not_duplicated(
    api: OpenObserveApi, http: httpx.Client, assets_copy: Path
) -> None:
    provision(api, load_assets(assets_copy, ENV))
    path = assets_copy / "dashboards" / "top-errors.json"
    body = json.loads(path.read_text())
    body["description"] = "edited"
    path.write_text(json.dumps(body))

    changes = provision(api, load_assets(assets_copy, ENV))

    assert [(c.kind, c.action) for c in changes if c.action is not Action.UNCHANGED] == [
        ("dashboard", Action.UPDATE)
    ]
    dashboards = http.get("/api/default/dashboards").json()["dashboards"]
    assert len(dashboards) == 4
    assert [d["description"] for d in dashboards if d["title"] == body["title"]] == ["edited"]


def test_an_alert_that_differs_is_reported_and_left_alone(
    server: OpenObserveContractServer, api: OpenObserveApi, assets_copy: Path
) -> None:
    provision(api, load_assets(assets_copy, ENV))
    path = assets_copy / "alerts" / "alerts.json"
    alerts = json.loads(path.read_text())
    alerts[0]["trigger_condition"]["threshold"] = 7
    path.write_text(json.dumps(alerts))
    writes = _writes(server)

    changes = provision(api, load_assets(assets_copy, ENV))

    drifted = [c for c in changes if c.action is not Action.UNCHANGED]
    assert [(c.kind, c.name, c.action) for c in drifted] == [
        ("alert", alerts[0]["name"], Action.DRIFT)
    ]
    assert _writes(server) == writes


def test_two_dashboards_with_one_title_are_left_alone(
    server: OpenObserveContractServer, api: OpenObserveApi, http: httpx.Client
) -> None:
    assets = load_assets(ASSETS, ENV)
    for _ in range(2):
        answer = http.post("/api/default/dashboards?folder=default", json=assets.dashboards[0])
        assert answer.status_code == 200, answer.text

    changes = provision(api, assets)

    [ambiguous] = [c for c in changes if c.action is Action.AMBIGUOUS]
    assert ambiguous.name == assets.dashboards[0]["title"]
    assert len(http.get("/api/default/dashboards").json()["dashboards"]) == 2 + 3


def test_dry_run_reads_and_writes_nothing(
    server: OpenObserveContractServer, api: OpenObserveApi
) -> None:
    changes = provision(api, load_assets(ASSETS, ENV), dry_run=True)

    assert len(changes) == sum(len(group) for group in _asset_groups())
    assert {c.action for c in changes} == {Action.CREATE}
    assert _writes(server) == []


def test_a_disabled_partition_key_counts_as_removed() -> None:
    spec = StreamSpec(
        name="s",
        log_type=None,
        fields=(("instance", "Utf8"), ("message", "Utf8")),
        partition_keys=(("instance", {"hash": 32}),),
        full_text_search_keys=("message",),
        bloom_filter_fields=(),
        data_retention_days=30,
    )
    current = {
        "partition_keys": [
            {"field": "instance", "types": {"hash": 32}, "disabled": False},
            {"field": "cluster", "types": "value", "disabled": True},
        ],
        "full_text_search_keys": ["message"],
        "bloom_filter_fields": [],
        "data_retention": 30,
    }
    assert stream_settings_update(spec, current) == {}
    current["partition_keys"][0]["types"] = "value"
    assert stream_settings_update(spec, current) == {
        "partition_keys": {"add": [{"field": "instance", "types": {"hash": 32}}], "remove": []}
    }


@pytest.mark.parametrize(
    ("wanted", "actual", "expected"),
    [
        ({"a": 1}, {"a": 1, "b": 2}, True),
        ({"a": {"b": [1, {"c": 2}]}}, {"a": {"b": [1, {"c": 2, "d": 3}]}}, True),
        ({"a": [1, 2]}, {"a": [1, 2, 3]}, False),
        ({"a": 1}, {"b": 1}, False),
        ({"a": None}, {"a": 0}, False),
    ],
)
def test_subset_comparison(wanted: Any, actual: Any, expected: bool) -> None:
    assert subset_of(wanted, actual) is expected


def test_assets_naming_an_unprovisioned_stream_are_refused(assets_copy: Path) -> None:
    path = assets_copy / "alerts" / "alerts.json"
    alerts = json.loads(path.read_text())
    alerts[0]["stream_name"] = "nowhere"
    path.write_text(json.dumps(alerts))
    with pytest.raises(ConfigurationError, match="'nowhere' is not provisioned"):
        load_assets(assets_copy, ENV)


def test_a_destination_without_its_variable_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="ALERT_WEBHOOK_URL is not set"):
        load_assets(ASSETS, {})


def test_waiting_for_an_unreachable_openobserve_gives_up_at_the_deadline() -> None:
    now = [0.0]
    settings = OpenObserveSettings.model_validate({"url": "http://openobserve.invalid:5080"})

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    def sleep(seconds: float) -> None:
        now[0] += seconds

    with (
        OpenObserveApi(settings, transport=httpx.MockTransport(refuse)) as api,
        pytest.raises(UnavailableError, match="did not become healthy"),
    ):
        api.wait_until_healthy(5.0, clock=lambda: now[0], sleep=sleep)
    assert now[0] == 5.0


# the command ---------------------------------------------------------------------------------
@pytest.fixture
def command_env(server: OpenObserveContractServer, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AURORA_OPENOBSERVE__URL": server.url,
        "AURORA_OPENOBSERVE__USER": server.root_email,
        "AURORA_OPENOBSERVE__PASSWORD": server.root_password,
        **ENV,
    }.items():
        monkeypatch.setenv(name, value)


@pytest.mark.usefixtures("command_env")
def test_the_command_provisions_then_finds_nothing_to_do(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli_main(["openobserve", "provision", "--dir", str(ASSETS), "--wait-s", "5"]) == 0
    first = capsys.readouterr().out
    assert "create    stream aurora_mysql_slow" in first

    assert cli_main(["openobserve", "provision"]) == 0
    second = capsys.readouterr().out.splitlines()
    assert all(line.startswith("unchanged") for line in second[:-1])
    assert second[-1].endswith(f"org default: {len(second) - 1} unchanged")
    assert len(second) - 1 == sum(len(group) for group in _asset_groups())


@pytest.mark.usefixtures("command_env")
def test_the_command_answers_1_when_openobserve_refuses_the_credentials(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AURORA_OPENOBSERVE__PASSWORD", "wrong")
    assert cli_main(["openobserve", "provision", "--dry-run"]) == 1
    assert "401" in capsys.readouterr().err


@pytest.mark.usefixtures("command_env")
def test_the_command_refuses_streams_the_processor_does_not_write(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AURORA_PROCESSOR__STREAMS__MYSQL_SLOW", "slow_queries")
    assert cli_main(["openobserve", "provision"]) == 2
    assert "AURORA_PROCESSOR__STREAMS__MYSQL_SLOW" in capsys.readouterr().err


def test_a_checkout_finds_its_own_assets() -> None:
    assert default_assets_dir() == ASSETS
