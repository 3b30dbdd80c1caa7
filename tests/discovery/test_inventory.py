"""The inventory against moto's RDS: clusters, every member, batching, filters, failover."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from common.clients.aws import AwsClients
from common.ratelimit import RDS_CALLS, RdsCaller
from discovery.config import DiscoveryConfig, matches_pattern
from discovery.inventory import AuroraInstance, ClusterFilter, FleetDescriber

pytestmark = pytest.mark.integration


@pytest.fixture
async def rds(aws_clients: AwsClients) -> AsyncIterator[Any]:
    async with aws_clients.rds() as client:
        yield client


@pytest.fixture
def prefix() -> str:
    return f"inv{uuid.uuid4().hex[:8]}"


async def _cluster(
    rds: Any, cluster_id: str, engine: str, instances: int, tags: dict[str, str] | None = None
) -> None:
    await rds.create_db_cluster(
        DBClusterIdentifier=cluster_id,
        Engine=engine,
        MasterUsername="admin",
        MasterUserPassword="password123",
        Tags=[{"Key": key, "Value": value} for key, value in (tags or {}).items()],
    )
    for index in range(instances):
        await rds.create_db_instance(
            DBInstanceIdentifier=f"{cluster_id}-{index}",
            DBClusterIdentifier=cluster_id,
            Engine=engine,
            DBInstanceClass="db.r6g.large",
        )


def _describer(rds: Any, caller: RdsCaller, prefix: str, **filters: Any) -> FleetDescriber:
    return FleetDescriber(
        rds,
        caller,
        engines=("aurora-mysql", "aurora-postgresql"),
        cluster_filter=ClusterFilter(include=(f"{prefix}-*",), **filters),
    )


async def test_every_member_of_every_cluster_is_found(
    rds: Any, caller: RdsCaller, prefix: str
) -> None:
    await _cluster(rds, f"{prefix}-orders", "aurora-mysql", 3, {"team": "payments"})
    await _cluster(rds, f"{prefix}-billing", "aurora-postgresql", 1)
    await _cluster(rds, f"{prefix}-serverless", "aurora-postgresql", 0)
    fleet = await _describer(rds, caller, prefix).describe()
    assert set(fleet.instances) == {
        f"{prefix}-orders-0",
        f"{prefix}-orders-1",
        f"{prefix}-orders-2",
        f"{prefix}-billing-0",
    }
    orders = fleet.instances[f"{prefix}-orders-1"]
    assert orders.cluster_id == f"{prefix}-orders"
    assert orders.engine == "aurora-mysql"
    assert orders.engine_version
    writers = [i.instance_id for i in fleet.instances.values() if i.is_writer]
    assert sorted(writers) == [f"{prefix}-billing-0", f"{prefix}-orders-0"]


async def test_instances_are_described_at_most_a_hundred_clusters_a_call(
    rds: Any, caller: RdsCaller, prefix: str
) -> None:
    for index in range(105):
        await _cluster(rds, f"{prefix}-c{index:03d}", "aurora-mysql", 1)
    before = RDS_CALLS.labels("DescribeDBInstances", "ok")._value.get()
    fleet = await _describer(rds, caller, prefix).describe()
    assert len(fleet.instances) == 105
    assert RDS_CALLS.labels("DescribeDBInstances", "ok")._value.get() - before == 2


async def test_failover_and_membership_changes_are_followed(
    rds: Any, caller: RdsCaller, prefix: str
) -> None:
    cluster = f"{prefix}-ha"
    await _cluster(rds, cluster, "aurora-mysql", 2)
    describer = _describer(rds, caller, prefix)
    before = await describer.describe()
    assert before.instances[f"{cluster}-0"].is_writer
    await rds.failover_db_cluster(
        DBClusterIdentifier=cluster, TargetDBInstanceIdentifier=f"{cluster}-1"
    )
    await rds.create_db_instance(
        DBInstanceIdentifier=f"{cluster}-2",
        DBClusterIdentifier=cluster,
        Engine="aurora-mysql",
        DBInstanceClass="db.r6g.large",
    )
    after = await describer.describe()
    assert set(after.instances) == {f"{cluster}-0", f"{cluster}-1", f"{cluster}-2"}
    assert after.instances[f"{cluster}-1"].is_writer
    assert not after.instances[f"{cluster}-0"].is_writer
    await rds.delete_db_instance(DBInstanceIdentifier=f"{cluster}-0", SkipFinalSnapshot=True)
    assert set((await describer.describe()).instances) == {f"{cluster}-1", f"{cluster}-2"}


async def test_clusters_are_filtered_by_id_and_tags(
    rds: Any, caller: RdsCaller, prefix: str
) -> None:
    await _cluster(rds, f"{prefix}-prod-a", "aurora-mysql", 1, {"env": "prod", "logs": "on"})
    await _cluster(rds, f"{prefix}-prod-b", "aurora-mysql", 1, {"env": "prod", "logs": "off"})
    await _cluster(rds, f"{prefix}-dev-a", "aurora-mysql", 1, {"env": "dev"})
    describer = FleetDescriber(
        rds,
        caller,
        engines=("aurora-mysql",),
        cluster_filter=ClusterFilter(
            include=(f"re:{prefix}-(prod|dev)-.*",),
            exclude=(f"{prefix}-dev-*",),
            include_tags={"env": "prod"},
            exclude_tags={"logs": "off"},
        ),
    )
    fleet = await describer.describe()
    assert set(fleet.instances) == {f"{prefix}-prod-a-0"}


def test_filter_rules() -> None:
    rule = ClusterFilter(include=("orders-*", "re:^pay[0-9]+$"), exclude=("*-test",))
    assert rule.admits("orders-eu", {})
    assert rule.admits("pay42", {})
    assert not rule.admits("pay", {})
    assert not rule.admits("orders-test", {})
    assert not rule.admits("billing", {})
    tagged = ClusterFilter(include_tags={"team": "pay*"}, exclude_tags={"logging": "disabled"})
    assert tagged.admits("x", {"team": "payments"})
    assert not tagged.admits("x", {"team": "search"})
    assert not tagged.admits("x", {})
    assert not tagged.admits("x", {"team": "payments", "logging": "disabled"})
    assert matches_pattern("re:a.c", "abc")
    assert not matches_pattern("re:a.c", "xabc")


def test_filter_from_settings_and_instance_json_round_trip() -> None:
    config = DiscoveryConfig(include_clusters=("a-*",), exclude_tags={"x": "y"})
    rule = ClusterFilter.from_config(config)
    assert rule.admits("a-1", {})
    assert not rule.admits("a-1", {"x": "y"})
    instance = AuroraInstance("i", "c", "aurora-postgresql", "16.4", True, "available")
    assert AuroraInstance.from_json(instance.to_json()) == instance
