"""Clusters and instances in moto, as discovery will see them through the RDS API."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from botocore.exceptions import ClientError

from simulator.fleet import Fleet
from simulator.profiles import (
    AURORA_MYSQL_2,
    AURORA_MYSQL_3,
    AURORA_POSTGRESQL,
    LogOptions,
    LogProfile,
    Rate,
)

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient

pytestmark = pytest.mark.integration


def _members(rds: RDSClient, cluster_id: str) -> dict[str, bool]:
    cluster = rds.describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"][0]
    return {m["DBInstanceIdentifier"]: m["IsClusterWriter"] for m in cluster["DBClusterMembers"]}


def test_clusters_and_instances_are_listed_with_engines_roles_and_tags(
    fleet: Fleet, rds: RDSClient, ident: Callable[[str], str]
) -> None:
    names = {
        engine: ident(engine.short)
        for engine in (AURORA_MYSQL_2, AURORA_MYSQL_3, AURORA_POSTGRESQL)
    }
    for engine, name in names.items():
        fleet.add_cluster(
            name, engine, instances=3, tags={"team": "payments"}, instance_tags={"tier": "gold"}
        )
    for engine, name in names.items():
        cluster = rds.describe_db_clusters(DBClusterIdentifier=name)["DBClusters"][0]
        assert cluster["Engine"] == engine.name
        assert cluster["EngineVersion"] == engine.version
        assert {"Key": "team", "Value": "payments"} in cluster["TagList"]
        assert _members(rds, name) == {f"{name}-1": True, f"{name}-2": False, f"{name}-3": False}
        instances = rds.describe_db_instances(
            Filters=[{"Name": "db-cluster-id", "Values": [name]}]
        )["DBInstances"]
        assert sorted(i["DBInstanceIdentifier"] for i in instances) == [
            f"{name}-1",
            f"{name}-2",
            f"{name}-3",
        ]
        for instance in instances:
            assert instance["Engine"] == engine.name
            assert {"Key": "tier", "Value": "gold"} in instance["TagList"]
            files = rds.describe_db_log_files(DBInstanceIdentifier=instance["DBInstanceIdentifier"])
            kinds = {f["LogFileName"].split("/")[0] for f in files["DescribeDBLogFiles"]}
            assert kinds == (
                {"error", "slowquery", "general", "audit"} if engine.is_mysql else {"error"}
            )


def test_failover_swaps_roles_and_restarts_both_instances(
    fleet: Fleet, rds: RDSClient, ident: Callable[[str], str]
) -> None:
    name = ident("orders")
    cluster = fleet.add_cluster(name, AURORA_MYSQL_3, instances=3)
    fleet.advance(60)
    new_writer = fleet.failover(name, target=f"{name}-3")
    assert new_writer == f"{name}-3"
    assert cluster.writer == f"{name}-3"
    assert _members(rds, name) == {f"{name}-1": False, f"{name}-2": False, f"{name}-3": True}
    for member, restarted in ((f"{name}-1", True), (f"{name}-2", False), (f"{name}-3", True)):
        error = fleet.path(member, "error/mysql-error-running.log").read_text()
        assert ("ready for connections" in error) is restarted
    # Without a target, moto picks a reader.
    again = fleet.failover(name)
    assert again != f"{name}-3"
    assert _members(rds, name)[again] is True


def test_instances_can_be_added_and_removed(
    fleet: Fleet, rds: RDSClient, ident: Callable[[str], str]
) -> None:
    name = ident("billing")
    fleet.add_cluster(name, AURORA_POSTGRESQL, instances=1)
    added = fleet.add_instance(name)
    assert added.id == f"{name}-2"
    fleet.advance(30)
    assert _members(rds, name) == {f"{name}-1": True, f"{name}-2": False}
    assert rds.describe_db_log_files(DBInstanceIdentifier=added.id)["DescribeDBLogFiles"]
    fleet.remove_instance(added.id)
    assert _members(rds, name) == {f"{name}-1": True}
    with pytest.raises(ClientError) as gone:
        rds.describe_db_log_files(DBInstanceIdentifier=added.id)
    assert gone.value.response["Error"]["Code"] == "DBInstanceNotFound"
    assert not added.directory.exists()
    removed = fleet.truth.files(instance=added.id)
    assert removed
    assert all(f.delete_reason == "instance_removed" for f in removed)
    # Removing the writer leaves moto to choose; the fleet follows.
    fleet.add_instance(name)
    fleet.remove_instance(f"{name}-1")
    assert fleet.clusters[name].writer == next(
        member for member, writer in _members(rds, name).items() if writer
    )


def test_a_cluster_can_have_no_instances(
    fleet: Fleet, rds: RDSClient, ident: Callable[[str], str]
) -> None:
    name = ident("serverless")
    cluster = fleet.add_cluster(name, AURORA_MYSQL_2, instances=0)
    assert cluster.writer is None
    assert _members(rds, name) == {}
    fleet.advance(10)
    assert rds.describe_db_clusters(DBClusterIdentifier=name)["DBClusters"][0]["Engine"] == (
        "aurora-mysql"
    )


def test_closing_the_fleet_removes_its_clusters(
    moto_url: str, rds: RDSClient, ident: Callable[[str], str]
) -> None:
    name = ident("temporary")
    with Fleet(moto_url) as fleet:
        fleet.add_cluster(name, AURORA_MYSQL_3, instances=1)
        directory = fleet.instance(f"{name}-1").directory
    with pytest.raises(ClientError):
        rds.describe_db_clusters(DBClusterIdentifier=name)
    assert not directory.exists()


def test_a_background_loop_writes_as_real_time_passes(
    fleet: Fleet, ident: Callable[[str], str]
) -> None:
    profile = LogProfile({"general": Rate(entries_per_s=200)}, LogOptions())
    cluster = fleet.add_cluster(ident("live"), AURORA_MYSQL_3, instances=1, profile=profile)
    assert cluster.writer is not None
    path = fleet.path(cluster.writer, "general/mysql-general.log")
    size = path.stat().st_size
    began = fleet.clock.now_us()
    fleet.start(tick_s=0.05)
    try:
        # Real time drives this loop: poll with a deadline.
        deadline = time.monotonic() + 10
        while path.stat().st_size == size and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        fleet.stop()
    assert path.stat().st_size > size
    # The simulated clock moved by the wall time that passed, and the truth kept up.
    assert fleet.clock.now_us() > began
    assert fleet.truth.bytes_written(instance=cluster.writer) == sum(
        p.stat().st_size for p in fleet.instance(cluster.writer).directory.rglob("*.log*")
    )
