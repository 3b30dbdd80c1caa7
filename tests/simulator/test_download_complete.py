"""The REST downloadCompleteLogFile route, signed as the processor will sign it."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from simulator.fleet import Fleet
from simulator.profiles import AURORA_POSTGRESQL, LogOptions, LogProfile, Rate

pytestmark = pytest.mark.integration


def signed_get(url: str, access_key_id: str = "AKIAPROCESSOR0000001") -> httpx.Response:
    """GET ``url`` signed with SigV4 for service ``rds`` (botocore signs; httpx sends)."""
    request = AWSRequest(method="GET", url=url)
    SigV4Auth(Credentials(access_key_id, "test-secret"), "rds", "us-east-1").add_auth(request)
    return httpx.get(url, headers=dict(request.headers.items()), timeout=30)


@pytest.fixture
def pg_instance(fleet: Fleet, ident: Callable[[str], str]) -> str:
    profile = LogProfile({"postgresql": Rate(bytes_per_min=200_000)}, LogOptions(csvlog=True))
    cluster = fleet.add_cluster(ident("pg"), AURORA_POSTGRESQL, instances=1, profile=profile)
    fleet.advance(15 * 60)
    assert cluster.writer is not None
    return cluster.writer


@pytest.mark.parametrize("prefix", ["/v13/", "/v19/"])
def test_a_signed_request_streams_the_whole_file(
    fleet: Fleet, moto_url: str, pg_instance: str, prefix: str
) -> None:
    name = "error/postgresql.log.2024-01-04-0917"
    expected = fleet.path(pg_instance, name).read_bytes()
    assert len(expected) > 2_000_000
    response = signed_get(f"{moto_url}{prefix}downloadCompleteLogFile/{pg_instance}/{name}")
    assert response.status_code == 200
    assert response.content == expected
    assert int(response.headers["content-length"]) == len(expected)
    csv = signed_get(f"{moto_url}{prefix}downloadCompleteLogFile/{pg_instance}/{name}.csv")
    assert csv.content == fleet.path(pg_instance, f"{name}.csv").read_bytes()
    calls = fleet.requests.records(action="DownloadCompleteDBLogFile", instance=pg_instance)
    assert [(c.file, c.access_key_id, c.outcome, c.bytes) for c in calls][:1] == [
        (name, "AKIAPROCESSOR0000001", "ok", len(expected))
    ]


def test_unsigned_requests_are_refused(moto_url: str, pg_instance: str) -> None:
    url = (
        f"{moto_url}/v13/downloadCompleteLogFile/{pg_instance}/error/postgresql.log.2024-01-04-0917"
    )
    response = httpx.get(url)
    assert response.status_code == 403
    assert "<Code>MissingAuthenticationToken</Code>" in response.text


def test_missing_files_and_instances_are_not_found(moto_url: str, pg_instance: str) -> None:
    missing_file = signed_get(f"{moto_url}/v13/downloadCompleteLogFile/{pg_instance}/error/nope")
    assert missing_file.status_code == 404
    assert "<Code>DBLogFileNotFoundFault</Code>" in missing_file.text
    missing_instance = signed_get(f"{moto_url}/v13/downloadCompleteLogFile/no-such-db/error/x")
    assert missing_instance.status_code == 404
    assert "<Code>DBInstanceNotFound</Code>" in missing_instance.text


def test_the_path_prefix_is_configurable(fleet: Fleet, moto_url: str, pg_instance: str) -> None:
    name = "error/postgresql.log.2024-01-04-0917"
    fleet.api.set(download_path_prefixes=["/v13/"])
    assert (
        signed_get(f"{moto_url}/v13/downloadCompleteLogFile/{pg_instance}/{name}").status_code
        == 200
    )
    # /v19/ is then no route of ours; moto answers it, not with the file.
    other = signed_get(f"{moto_url}/v19/downloadCompleteLogFile/{pg_instance}/{name}")
    assert other.content != fleet.path(pg_instance, name).read_bytes()
