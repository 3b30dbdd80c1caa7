"""The inventory: which Aurora instances exist and are to be watched.

DescribeDBClusters (filtered by engine, paginated) gives the clusters with their tags;
DescribeDBInstances with the ``db-cluster-id`` filter, up to 100 cluster ids a call, gives every
member of those clusters, writer and readers alike, so a failover (roles swap, ids stay) changes
nothing and an added or removed reader shows up at the next refresh. Clusters without instances
(Aurora Serverless v1) simply contribute none. Each call goes through the shared RDS budget.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, cast

from common.events import Engine
from common.logs import get_logger
from common.ratelimit import RdsCaller
from discovery.config import DiscoveryConfig, matches_pattern

if TYPE_CHECKING:
    from types_aiobotocore_rds.client import RDSClient

__all__ = ["AuroraInstance", "ClusterFilter", "Fleet", "FleetDescriber"]

log = get_logger(__name__)

# DescribeDBInstances accepts at most 100 values per filter and 100 records per page.
_IDS_PER_CALL = 100
_PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class AuroraInstance:
    """One DB instance of an Aurora cluster, as the inventory saw it."""

    instance_id: str
    cluster_id: str
    engine: Engine
    engine_version: str
    is_writer: bool = False
    status: str = "available"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AuroraInstance:
        return cls(
            instance_id=str(data["instance_id"]),
            cluster_id=str(data["cluster_id"]),
            engine=cast(Engine, data["engine"]),
            engine_version=str(data.get("engine_version", "")),
            is_writer=bool(data.get("is_writer", False)),
            status=str(data.get("status", "")),
        )


@dataclass(frozen=True)
class Fleet:
    """The instances to watch, by id, and when the inventory was taken (epoch ms)."""

    instances: Mapping[str, AuroraInstance]
    taken_at_ms: int

    @classmethod
    def of(cls, instances: Iterable[AuroraInstance], taken_at_ms: int) -> Fleet:
        return cls({instance.instance_id: instance for instance in instances}, taken_at_ms)


@dataclass(frozen=True)
class ClusterFilter:
    """Include/exclude rules on cluster ids (glob or ``re:`` regex) and tags (value globs)."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    include_tags: Mapping[str, str] | None = None
    exclude_tags: Mapping[str, str] | None = None

    @classmethod
    def from_config(cls, config: DiscoveryConfig) -> ClusterFilter:
        return cls(
            include=config.include_clusters,
            exclude=config.exclude_clusters,
            include_tags=dict(config.include_tags),
            exclude_tags=dict(config.exclude_tags),
        )

    def admits(self, cluster_id: str, tags: Mapping[str, str]) -> bool:
        if self.include and not any(matches_pattern(p, cluster_id) for p in self.include):
            return False
        if any(matches_pattern(p, cluster_id) for p in self.exclude):
            return False
        for key, pattern in (self.include_tags or {}).items():
            if key not in tags or not matches_pattern(pattern, tags[key]):
                return False
        return not any(
            key in tags and matches_pattern(pattern, tags[key])
            for key, pattern in (self.exclude_tags or {}).items()
        )


class FleetDescriber:
    """Describes the fleet from the RDS API. Each call waits for a token of the shared budget."""

    def __init__(
        self,
        rds: RDSClient,
        caller: RdsCaller,
        *,
        engines: Sequence[Engine],
        cluster_filter: ClusterFilter,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
        on_call: Callable[[], None] = lambda: None,
    ) -> None:
        self._rds = rds
        self._caller = caller
        self._engines = list(engines)
        self._filter = cluster_filter
        self._clock_ms = clock_ms
        self._on_call = on_call

    async def describe(self) -> Fleet:
        """Every member instance of every admitted cluster. Raises on any RDS error (the
        caller keeps the previous inventory): a partial inventory would drop instances."""
        clusters = await self._clusters()
        instances: list[AuroraInstance] = []
        ids = sorted(clusters)
        for start in range(0, len(ids), _IDS_PER_CALL):
            batch = ids[start : start + _IDS_PER_CALL]
            instances.extend(await self._instances(batch, clusters))
        fleet = Fleet.of(instances, self._clock_ms())
        log.info(
            "inventory_described",
            clusters=len(clusters),
            instances=len(fleet.instances),
            empty_clusters=sum(1 for members in clusters.values() if not members),
        )
        return fleet

    async def _call(self, operation: str, request: Callable[[], Awaitable[Any]]) -> Any:
        self._on_call()  # charged to discovery's share like the polls' calls
        return await self._caller.call(operation, request)

    async def _clusters(self) -> dict[str, dict[str, bool]]:
        """Admitted cluster id -> {member instance id: is writer}."""
        clusters: dict[str, dict[str, bool]] = {}
        marker: str | None = None
        while True:
            kwargs: dict[str, Any] = {
                "Filters": [{"Name": "engine", "Values": self._engines}],
                "MaxRecords": _PAGE_SIZE,
            }
            if marker:
                kwargs["Marker"] = marker
            answer = await self._call(
                "DescribeDBClusters",
                functools.partial(self._rds.describe_db_clusters, **kwargs),
            )
            for cluster in answer.get("DBClusters", []):
                if cluster.get("Engine") not in self._engines:
                    continue
                cluster_id = str(cluster["DBClusterIdentifier"])
                tags = {str(t["Key"]): str(t.get("Value", "")) for t in cluster.get("TagList", [])}
                if not self._filter.admits(cluster_id, tags):
                    continue
                clusters[cluster_id] = {
                    str(member["DBInstanceIdentifier"]): bool(member.get("IsClusterWriter"))
                    for member in cluster.get("DBClusterMembers", [])
                }
            marker = answer.get("Marker")
            if not marker:
                return clusters

    async def _instances(
        self, cluster_ids: list[str], clusters: Mapping[str, Mapping[str, bool]]
    ) -> list[AuroraInstance]:
        found: list[AuroraInstance] = []
        marker: str | None = None
        while True:
            kwargs: dict[str, Any] = {
                "Filters": [{"Name": "db-cluster-id", "Values": cluster_ids}],
                "MaxRecords": _PAGE_SIZE,
            }
            if marker:
                kwargs["Marker"] = marker
            answer = await self._call(
                "DescribeDBInstances",
                functools.partial(self._rds.describe_db_instances, **kwargs),
            )
            for raw in answer.get("DBInstances", []):
                cluster_id = raw.get("DBClusterIdentifier")
                engine = raw.get("Engine")
                if cluster_id not in clusters or engine not in self._engines:
                    continue
                instance_id = str(raw["DBInstanceIdentifier"])
                found.append(
                    AuroraInstance(
                        instance_id=instance_id,
                        cluster_id=str(cluster_id),
                        engine=cast(Engine, engine),
                        engine_version=str(raw.get("EngineVersion", "")),
                        is_writer=clusters[str(cluster_id)].get(instance_id, False),
                        status=str(raw.get("DBInstanceStatus", "")),
                    )
                )
            marker = answer.get("Marker")
            if not marker:
                return found
