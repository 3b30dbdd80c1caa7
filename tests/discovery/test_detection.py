"""Rotation, reuse, shrink and deletion detected on the simulated fleet, checked against its truth.

Each test drives one simulated instance through the real lister (DescribeDBLogFiles on the
simulator, with AWS's coarse 300 s LastWritten), the real identity rules and the real tracker
on moto's DynamoDB, polling between steps of the fleet's simulated clock. After every poll the
tracked generations are compared with the simulator's ground truth: each live generation names
the content now under its name, was born under the first name discovery saw that content
under, has no twin, and knows the content's real size.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest

from common.ratelimit import RdsCaller
from common.tracking import Checkpoint, TrackedFile, TrackingTable
from discovery import metrics
from discovery.identity import NameRules, birth_name
from discovery.inventory import AuroraInstance
from discovery.leases import Lease
from discovery.listing import LogFileLister
from discovery.ownership import OwnedInstance
from discovery.poller import InstancePoller, PollResult
from discovery.tracker import Tracker
from simulator import (
    AURORA_MYSQL_3,
    AURORA_POSTGRESQL,
    DeleteBeforeRead,
    Fleet,
    LogOptions,
    LogProfile,
    Rate,
)
from simulator.profiles import Engine
from tests.discovery.conftest import replica_clients
from tests.discovery.doubles import RecordingPublisher

pytestmark = pytest.mark.integration

RULES = NameRules(frozenset({"error", "slowquery", "general", "audit", "postgresql"}))
HOUR_S = 3600


@dataclass
class Rig:
    """One simulated instance polled by the real poller."""

    fleet: Fleet
    table: TrackingTable
    poller: InstancePoller
    publisher: RecordingPublisher
    owned: OwnedInstance

    @property
    def instance_id(self) -> str:
        return self.owned.instance_id

    async def poll(self, *, full: bool = False) -> PollResult:
        result = await self.poller.poll(self.owned, full_listing=full)
        self.check_against_truth(complete=result.full_listing)
        return result

    def live(self) -> dict[str, TrackedFile]:
        """Live generations by the name they have now."""
        assert self.owned.files is not None
        return {file.observation.log_file: file for file in self.owned.files.live()}

    async def stored(self) -> dict[str, TrackedFile]:
        return {file.identity: file for file in await self.table.files_of(self.instance_id)}

    def check_against_truth(self, *, complete: bool) -> None:
        """``complete``: the poll listed every file, so even deletions must be known."""
        truth = self.fleet.truth
        contents: dict[str, str] = {}
        for name, file in self.live().items():
            content = truth.content_id_of(self.instance_id, name)
            if content is None and not complete:
                continue  # deleted out of an incremental listing's view: the next full one
            assert content is not None, f"{file.identity} names {name}, which does not exist"
            assert content not in contents, f"{file.identity} and {contents[content]} share content"
            contents[content] = file.identity
            history = [name_ for _at, name_ in truth.file(content).names]
            seen = [*file.observation.previous_names, name]
            assert birth_name(file.identity) == seen[0]
            assert _in_order(seen, history), f"{file.identity}: {seen} not in {history}"
            assert file.observation.seen_size == truth.file(content).size

    def identity_of(self, name: str) -> str:
        return self.live()[name].identity


def _in_order(names: list[str], history: list[str]) -> bool:
    position = 0
    for name in names:
        try:
            position = history.index(name, position)
        except ValueError:
            return False
    return True


RigFactory = Callable[[Engine, LogProfile], contextlib.AbstractAsyncContextManager[Rig]]


@pytest.fixture
def make_rig(
    fleet: Fleet,
    table: TrackingTable,
    moto_url: str,
    caller: RdsCaller,
    ident: Callable[[str], str],
) -> RigFactory:
    @contextlib.asynccontextmanager
    async def make(engine: Engine, profile: LogProfile) -> AsyncIterator[Rig]:
        cluster = fleet.add_cluster(ident("db"), engine, instances=1, profile=profile)
        assert cluster.writer is not None
        clients = replica_clients(moto_url, "AKIADISCOVERYTEST001")
        async with clients.rds() as rds:
            publisher = RecordingPublisher()
            tracker = Tracker(table, publisher, rules=RULES, item_ttl_s=3600)
            poller = InstancePoller(
                LogFileLister(rds, caller), tracker, RULES, last_written_margin_ms=3_600_000
            )
            instance = AuroraInstance(cluster.writer, cluster.id, engine.name, engine.version)  # type: ignore[arg-type]
            owned = OwnedInstance(instance, Lease(cluster.writer, "t:1", 1, valid_until=1e18))
            yield Rig(fleet, table, poller, publisher, owned)

    return make


def _mysql(**options: object) -> LogProfile:
    return LogProfile.uniform(
        AURORA_MYSQL_3, Rate(bytes_per_min=3000), LogOptions().with_(**options)
    )


async def _walk(rig: Rig, hours: float, *, step_s: float = 900, full_every: int = 0) -> None:
    """Advance the fleet ``hours``, polling after every step (a full listing every
    ``full_every`` polls)."""
    steps = int(hours * HOUR_S / step_s)
    for number in range(1, steps + 1):
        rig.fleet.advance(step_s)
        await rig.poll(full=bool(full_every) and number % full_every == 0)


async def test_mysql_dated_rotation_keeps_the_identity_of_the_renamed_content(
    make_rig: RigFactory,
) -> None:
    async with make_rig(AURORA_MYSQL_3, _mysql(query_log_naming="dated")) as rig:
        rig.fleet.advance(600)  # 09:27
        await rig.poll(full=True)
        active = rig.identity_of("slowquery/mysql-slowquery.log")
        await _walk(rig, 1.0)  # past 10:00: the 09 content was renamed
        assert rig.identity_of("slowquery/mysql-slowquery.log.2024-01-04.9") == active
        renamed = rig.live()["slowquery/mysql-slowquery.log.2024-01-04.9"]
        assert renamed.observation.status == "rotated"
        assert renamed.observation.previous_names == ("slowquery/mysql-slowquery.log",)
        assert rig.identity_of("slowquery/mysql-slowquery.log") != active
        events = [o.event for o in rig.publisher.sent if o.event.file_identity == active]
        assert events[-1].log_file == "slowquery/mysql-slowquery.log.2024-01-04.9"
        assert events[-1].status == "rotated"


async def test_mysql_numbered_names_reused_the_next_day_get_new_generations(
    make_rig: RigFactory,
) -> None:
    async with make_rig(AURORA_MYSQL_3, _mysql(error_naming="hour")) as rig:
        await rig.poll(full=True)
        await _walk(rig, 2)
        first_day = rig.identity_of("error/mysql-error-running.log.9")
        await _walk(rig, 24, step_s=3600, full_every=2)
        reused = rig.identity_of("error/mysql-error-running.log.9")
        assert reused != first_day
        assert birth_name(reused) == "error/mysql-error-running.log"
        gone = (await rig.stored())[first_day]
        assert gone.observation.status == "lost"  # no processor read it before it was replaced
        assert gone.observation.lost_bytes == gone.observation.seen_size


async def test_postgresql_new_names_supersede_and_csv_twins_follow(
    make_rig: RigFactory,
) -> None:
    profile = LogProfile.uniform(
        AURORA_POSTGRESQL,
        Rate(bytes_per_min=5000),
        LogOptions(postgresql_naming="hour", csvlog=True),
    )
    async with make_rig(AURORA_POSTGRESQL, profile) as rig:
        await rig.poll(full=True)
        await _walk(rig, 3)
        live = rig.live()
        names = sorted(name for name in live if not name.endswith(".csv"))
        assert len(names) >= 3
        assert [live[name].observation.status for name in names] == ["rotated"] * (
            len(names) - 1
        ) + ["active"]
        assert live[f"{names[-1]}.csv"].observation.status == "active"
        assert all(file.identity.endswith("@1") for file in live.values())


async def test_server_audit_chain_shifts_keep_every_identity(
    make_rig: RigFactory,
) -> None:
    profile = LogProfile(
        {"audit": Rate(bytes_per_min=2000)},
        LogOptions(
            audit_style="server_audit", server_audit_rotate_bytes=16_000, server_audit_rotations=3
        ),
    )
    async with make_rig(AURORA_MYSQL_3, profile) as rig:
        await rig.poll(full=True)
        seen: dict[str, str] = {}
        for _ in range(12):
            rig.fleet.advance(300)
            await rig.poll()
            for name, file in rig.live().items():
                seen.setdefault(file.identity, name)
        live = rig.live()
        assert {"audit/server_audit.log.1", "audit/server_audit.log.3"} <= set(live)
        deepest = live["audit/server_audit.log.3"]
        assert deepest.observation.previous_names[:1] == ("audit/server_audit.log",)
        assert len(deepest.observation.previous_names) == 3
        before = metrics.FILES_GONE.labels("lost")._value.get()
        rig.fleet.advance(900)  # more shifts: the deepest falls off the chain
        await rig.poll(full=True)
        assert metrics.FILES_GONE.labels("lost")._value.get() > before


async def test_a_rotated_copy_deleted_before_read_is_a_shrink_and_counted_as_lost(
    make_rig: RigFactory,
) -> None:
    async with make_rig(AURORA_MYSQL_3, _mysql()) as rig:
        rig.fleet.advance(1200)
        await rig.poll(full=True)
        slow = rig.live()["slowquery/mysql-slowquery.log"]
        await rig.table.save_checkpoint(
            rig.instance_id, slow.identity, Checkpoint(), Checkpoint(offset=1000)
        )
        rig.fleet.faults.add(DeleteBeforeRead(instance=rig.instance_id, file="slowquery", count=1))
        lost_before = metrics.BYTES_LOST._value.get()
        rig.fleet.advance(1800)  # past 10:00: renamed, and deleted at once
        await rig.poll()
        assert "slowquery/mysql-slowquery.log.2024-01-04.9" not in rig.fleet.log_files(
            rig.instance_id
        )
        stored = (await rig.stored())[slow.identity]
        assert stored.observation.status == "lost"
        assert stored.observation.lost_bytes == stored.observation.seen_size - 1000
        assert metrics.BYTES_LOST._value.get() - lost_before >= stored.observation.lost_bytes
        assert rig.identity_of("slowquery/mysql-slowquery.log") != slow.identity


async def test_deletion_by_retention_is_deleted_when_read_and_lost_when_not(
    make_rig: RigFactory,
) -> None:
    async with make_rig(AURORA_MYSQL_3, _mysql()) as rig:
        await rig.poll(full=True)
        await _walk(rig, 2.5)
        read = rig.live()["general/mysql-general.log.2024-01-04.9"]
        unread = rig.live()["general/mysql-general.log.2024-01-04.10"]
        await rig.table.save_checkpoint(
            rig.instance_id,
            read.identity,
            Checkpoint(),
            Checkpoint(offset=read.observation.seen_size),
        )
        rig.fleet.delete_log_file(rig.instance_id, read.observation.log_file)
        rig.fleet.delete_log_file(rig.instance_id, unread.observation.log_file)
        await rig.poll()  # incremental: the quiet rotated files are out of its view
        assert read.observation.log_file in rig.live()
        await rig.poll(full=True)
        stored = await rig.stored()
        assert stored[read.identity].observation.status == "deleted"
        assert stored[unread.identity].observation.status == "lost"
        assert stored[unread.identity].observation.lost_bytes == unread.observation.seen_size
        assert stored[unread.identity].observation.expires_at_s is not None
