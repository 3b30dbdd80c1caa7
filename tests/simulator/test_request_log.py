"""The request log attributes every RDS call to the access key id that signed it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from botocore.exceptions import ClientError

from simulator.faults import Throttle, Truncate
from simulator.fleet import Fleet
from simulator.profiles import AURORA_MYSQL_3, LogOptions, LogProfile, Rate
from simulator.requestlog import RequestRecord, access_key_id_of, conforms_to_budget
from tests.simulator.conftest import make_rds

pytestmark = pytest.mark.integration


def test_calls_are_attributed_to_their_replica_with_their_outcome(
    fleet: Fleet, moto_url: str, ident: Callable[[str], str]
) -> None:
    profile = LogProfile({"slowquery": Rate(bytes_per_min=120_000)}, LogOptions())
    cluster = fleet.add_cluster(ident("log"), AURORA_MYSQL_3, instances=1, profile=profile)
    instance = cluster.writer
    assert instance is not None
    fleet.advance(10 * 60)
    # The fleet's own calls (creating the cluster, or any made with its client) are not in
    # the log, and no fault touches them.
    fleet.faults.add(Throttle())
    assert fleet.rds.describe_db_log_files(DBInstanceIdentifier=instance)["DescribeDBLogFiles"]
    fleet.faults.clear()
    assert fleet.requests.records() == []
    discovery = make_rds(moto_url, "AKIADISCOVERY0000001")
    processor = make_rds(moto_url, "AKIAPROCESSOR0000001")
    try:
        discovery.describe_db_clusters()
        discovery.describe_db_log_files(DBInstanceIdentifier=instance)
        processor.download_db_log_file_portion(
            DBInstanceIdentifier=instance, LogFileName="slowquery/mysql-slowquery.log", Marker="0"
        )
        with pytest.raises(ClientError):
            processor.download_db_log_file_portion(
                DBInstanceIdentifier=instance, LogFileName="slowquery/nope.log"
            )
        fleet.faults.add(Throttle(action="DescribeDBLogFiles", count=1))
        with pytest.raises(ClientError):
            discovery.describe_db_log_files(DBInstanceIdentifier=instance)
        fleet.faults.add(Truncate(instance=instance))
        processor.download_db_log_file_portion(
            DBInstanceIdentifier=instance, LogFileName="slowquery/mysql-slowquery.log", Marker="0"
        )
    finally:
        discovery.close()
        processor.close()
    records = fleet.requests.records()
    summary = [
        (r.access_key_id, r.action, r.instance, r.outcome, r.error_code, r.fault) for r in records
    ]
    assert summary == [
        ("AKIADISCOVERY0000001", "DescribeDBClusters", None, "ok", None, None),
        ("AKIADISCOVERY0000001", "DescribeDBLogFiles", instance, "ok", None, None),
        ("AKIAPROCESSOR0000001", "DownloadDBLogFilePortion", instance, "ok", None, None),
        (
            "AKIAPROCESSOR0000001",
            "DownloadDBLogFilePortion",
            instance,
            "error",
            "DBLogFileNotFoundFault",
            None,
        ),
        (
            "AKIADISCOVERY0000001",
            "DescribeDBLogFiles",
            instance,
            "throttled",
            "Throttling",
            "throttle",
        ),
        ("AKIAPROCESSOR0000001", "DownloadDBLogFilePortion", instance, "fault", None, "truncate"),
    ]
    download = records[2]
    assert download.file == "slowquery/mysql-slowquery.log"
    assert download.marker == "0"
    assert download.pending is True
    assert download.bytes > 0
    assert download.next_marker is not None
    assert records[5].pending is False
    assert [r.seq for r in records] == sorted(r.seq for r in records)
    assert all(r.wall_time > 0 and r.duration_ms >= 0 for r in records)
    # Filters and incremental reads.
    assert len(fleet.requests.records(access_key_id="AKIAPROCESSOR0000001")) == 3
    assert len(fleet.requests.records(action="DescribeDBLogFiles")) == 2
    assert fleet.requests.records(since=records[3].seq) == records[4:]
    assert fleet.requests.last_seq() == records[-1].seq
    fleet.requests.clear()
    assert fleet.requests.records() == []


def test_access_key_ids_come_from_sigv4_credentials() -> None:
    header = (
        "AWS4-HMAC-SHA256 Credential=replica-7/20240104/us-east-1/rds/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=abc"
    )
    assert access_key_id_of(header) == "replica-7"
    assert access_key_id_of(None, "AKIAQUERY/20240104/us-east-1/rds/aws4_request") == "AKIAQUERY"
    assert access_key_id_of(None) is None


def _record(seq: int, at: float, outcome: str = "ok") -> RequestRecord:
    return RequestRecord(seq, at, "DescribeDBLogFiles", "k", "db", None, None, None, outcome, 200)  # type: ignore[arg-type]


def test_budget_conformance_replays_a_token_bucket() -> None:
    burst = [_record(n, 100.0 + n * 0.001) for n in range(5)]
    assert conforms_to_budget(burst, burst=5, rate_per_s=1) == (True, None)
    assert conforms_to_budget(burst, burst=4, rate_per_s=1) == (False, burst[4])
    # Throttled calls did not reach the API and do not count.
    with_refused = [*burst, _record(6, 100.01, "throttled")]
    assert conforms_to_budget(with_refused, burst=5, rate_per_s=1) == (True, None)
    # Tokens come back at the rate.
    later = [*burst, _record(7, 102.0)]
    assert conforms_to_budget(later, burst=5, rate_per_s=1)[0]
    assert not conforms_to_budget(later, burst=5, rate_per_s=0.1)[0]
