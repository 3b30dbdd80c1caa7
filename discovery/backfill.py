"""``aurora-logs backfill``: have the processor (re)ingest log files still on an instance.

For each ``--instance``, files last written since ``--since`` are listed with
DescribeDBLogFiles (``FileLastWritten``; the services' RDS client settings, every call drawing
a token from the shared RDS budget) and compared with the tracking table:

- **catch-up**: tracked, not fully read (checkpoint before the size listed): an event is
  published; the processor reads from its checkpoint to the end, as for any event.
- **from-start** (``--from-start``): tracked: an event with ``from_start`` is published; the
  processor rewinds the checkpoint to byte 0 and reads the whole file again. Records already
  delivered are sent again *with the same record_id*: duplicates an operator can count and
  drop (``GROUP BY record_id HAVING count(*) > 1``).
- **up-to-date**: tracked and fully read: nothing to do.
- **untracked**: discovery has not recorded this file (or this generation of its name). The
  processor refuses an event for a file without a tracking item, so backfill does not publish
  one: it takes the instance's discovery lease and runs one complete discovery poll (the same
  code, the same fenced writes), which records the file and publishes its event: reported as
  **recorded**. If a discovery replica holds the lease, that replica records new files on its
  next poll: reported as **untracked**, with the holder, and the exit status is 1.

Tracking items are only read here, never written, except through that discovery poll.
``--dry-run`` lists and compares without the lease, the poll or any event. Exit status: 0 done,
1 something was left undone (an event Kafka did not confirm, a file left untracked, AWS or
Kafka trouble), 2 bad settings.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal, TextIO, cast

from common.cli import point_in_time_ms
from common.clients.aws import AwsClients
from common.clients.kafka import ensure_topics, make_producer
from common.clients.valkey import make_valkey
from common.command import run_command
from common.errors import AuroraLogsError, NotFoundError, RejectedError
from common.events import Engine
from common.ratelimit import RdsBudget, RdsCaller
from common.tracking import TrackedFile, TrackingTable
from discovery.config import ALL_LOG_KINDS, DiscoverySettings, matches_pattern
from discovery.identity import Entry, NameRules
from discovery.inventory import AuroraInstance
from discovery.leases import LeaseStore
from discovery.listing import LogFileLister
from discovery.ownership import OwnedInstance
from discovery.poller import InstancePoller
from discovery.publisher import EventPublisher, KafkaEventPublisher, Outgoing
from discovery.tracker import Tracker, outgoing_event

if TYPE_CHECKING:
    from types_aiobotocore_rds.client import RDSClient

__all__ = ["add_arguments", "run"]

_EVENTS_PER_BATCH = 500


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--instance",
        action="append",
        required=True,
        metavar="ID",
        help="DB instance identifier (repeat for several)",
    )
    parser.add_argument(
        "--since",
        required=True,
        type=point_in_time_ms,
        help="files last written at or after this: ISO 8601 (UTC by default) or an age (2h, 7d)",
    )
    parser.add_argument(
        "--file-type",
        action="append",
        choices=ALL_LOG_KINDS,
        help="only files of this log kind (repeat for several)",
    )
    parser.add_argument(
        "--pattern",
        action="append",
        help="only files whose name matches this glob, or regex when it starts with re: "
        "(repeat for several)",
    )
    parser.add_argument(
        "--from-start",
        action="store_true",
        help="have the processor read tracked files again from byte 0 (duplicates, same ids)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="list and compare only; publish nothing"
    )


Action = Literal["catch-up", "from-start", "up-to-date", "untracked", "recorded"]


@dataclass(frozen=True)
class _Decision:
    """What backfill does about one listed file (see the module docstring)."""

    entry: Entry
    action: Action
    file: TrackedFile | None = None


class _Backfill:
    def __init__(
        self,
        settings: DiscoverySettings,
        args: argparse.Namespace,
        *,
        lister: LogFileLister,
        tracking: TrackingTable,
        publisher: EventPublisher,
        poller: InstancePoller,
        leases: LeaseStore,
        caller: RdsCaller,
        rds: RDSClient,
        out: TextIO,
    ) -> None:
        self._settings = settings
        self._args = args
        self._lister = lister
        self._tracking = tracking
        self._publisher = publisher
        self._poller = poller
        self._leases = leases
        self._caller = caller
        self._rds = rds
        self._out = out
        config = settings.discovery
        self._rules = NameRules(frozenset(config.log_kinds), frozenset(config.ignored_files))

    def _wanted(self, entry: Entry) -> bool:
        parsed = self._rules.classify(entry.name)
        if parsed is None:
            return False  # a file discovery does not follow: the processor would not either
        if self._args.file_type and parsed.kind not in self._args.file_type:
            return False
        patterns: list[str] = self._args.pattern or []
        return not patterns or any(matches_pattern(p, entry.name) for p in patterns)

    async def _decide(self, instance_id: str, entries: Sequence[Entry]) -> list[_Decision]:
        live: dict[str, TrackedFile] = {}
        for file in await self._tracking.files_of(instance_id):
            if file.observation.status not in {"active", "rotated"}:
                continue
            name = file.observation.log_file
            held = live.get(name)
            if held is None or file.observation.first_seen_ms >= held.observation.first_seen_ms:
                live[name] = file
        decisions = []
        for entry in entries:
            tracked = live.get(entry.name)
            # A name smaller than the generation tracked under it holds newer content.
            if tracked is None or entry.size < tracked.observation.seen_size:
                decisions.append(_Decision(entry, "untracked"))
            elif self._args.from_start and max(entry.size, tracked.observation.seen_size) > 0:
                decisions.append(_Decision(entry, "from-start", tracked))
            elif tracked.checkpoint.offset < max(entry.size, tracked.observation.seen_size):
                decisions.append(_Decision(entry, "catch-up", tracked))
            else:
                decisions.append(_Decision(entry, "up-to-date", tracked))
        return decisions

    async def instance(self, instance_id: str) -> bool:
        """Backfill one instance; True when nothing was left undone."""
        listed = await self._lister.list(instance_id, self._args.since)
        entries = sorted(
            (e for e in listed.listing.entries if self._wanted(e)), key=lambda e: e.name
        )
        decisions = await self._decide(instance_id, entries)
        untracked = [d for d in decisions if d.action == "untracked"]
        note = ""
        if untracked and not self._args.dry_run:
            before = {d.file.identity for d in decisions if d.file is not None}
            note = await self._record(instance_id)
            decisions = await self._decide(instance_id, entries)
            decisions = [
                replace(d, action="recorded")
                if d.file is not None and d.file.identity not in before and d.action != "untracked"
                else d
                for d in decisions
            ]
        return await self._publish(instance_id, decisions, note)

    async def _record(self, instance_id: str) -> str:
        """One complete discovery poll of the instance under its lease; '' when it ran, else
        why it did not."""
        lease = (await self._leases.acquire([instance_id])).get(instance_id)
        if lease is None:
            holder = await self._leases.holder_of(instance_id)
            return (
                f"discovery replica {holder} holds the lease of {instance_id}: "
                "it records new files on its next poll"
            )
        try:
            instance = await self._describe(instance_id)
            await self._poller.poll(OwnedInstance(instance, lease), full_listing=True)
        finally:
            await self._leases.release([lease])
        return ""

    async def _describe(self, instance_id: str) -> AuroraInstance:
        answer = await self._caller.call(
            "DescribeDBInstances",
            functools.partial(self._rds.describe_db_instances, DBInstanceIdentifier=instance_id),
        )
        found = answer.get("DBInstances", [])
        if not found:
            raise NotFoundError(f"instance {instance_id} not found")
        raw = found[0]
        engine = raw.get("Engine")
        if engine not in {"aurora-mysql", "aurora-postgresql"} or not raw.get(
            "DBClusterIdentifier"
        ):
            raise RejectedError(f"{instance_id} is not an Aurora instance (engine {engine})")
        return AuroraInstance(
            instance_id=instance_id,
            cluster_id=str(raw["DBClusterIdentifier"]),
            engine=cast(Engine, engine),
            engine_version=str(raw.get("EngineVersion", "")),
        )

    async def _publish(self, instance_id: str, decisions: list[_Decision], note: str) -> bool:
        now_ms = int(time.time() * 1000)
        outgoing: list[Outgoing] = []
        for decision in decisions:
            file = decision.file
            if file is None or decision.action not in {"catch-up", "from-start"}:
                continue
            seen = file.observation
            observation = replace(
                seen,
                seen_size=max(decision.entry.size, seen.seen_size),
                seen_last_written_ms=max(decision.entry.last_written_ms, seen.seen_last_written_ms),
            )
            outgoing.append(
                outgoing_event(
                    file, observation, now_ms, from_start=decision.action == "from-start"
                )
            )
        confirmed: list[bool] = []
        if not self._args.dry_run:
            for start in range(0, len(outgoing), _EVENTS_PER_BATCH):
                confirmed += await self._publisher.publish(
                    outgoing[start : start + _EVENTS_PER_BATCH]
                )
        ok = dict(zip((o.event.file_identity for o in outgoing), confirmed, strict=False))
        counts: dict[str, int] = {}
        for decision in decisions:
            action: str = decision.action
            if decision.file is not None and ok.get(decision.file.identity) is False:
                action = "unconfirmed"
            counts[action] = counts.get(action, 0) + 1
            self._line(instance_id, decision, action)
        self._summary(instance_id, len(decisions), counts, sum(confirmed))
        if note:
            print(f"  {note}", file=self._out)
        return not counts.get("unconfirmed") and not counts.get("untracked")

    def _line(self, instance_id: str, decision: _Decision, action: str) -> None:
        entry, file = decision.entry, decision.file
        written = datetime.fromtimestamp(entry.last_written_ms / 1000, UTC)
        where = f"{file.identity} at {file.checkpoint.offset}" if file is not None else "-"
        print(
            f"  {action:<11} {instance_id}  {entry.name}  size {entry.size}  "
            f"written {written:%Y-%m-%dT%H:%M:%SZ}  ({where})",
            file=self._out,
        )

    def _summary(self, instance_id: str, files: int, counts: dict[str, int], sent: int) -> None:
        since = datetime.fromtimestamp(self._args.since / 1000, UTC)
        parts = ", ".join(f"{counts[a]} {a}" for a in sorted(counts)) or "nothing to do"
        verb = "would publish" if self._args.dry_run else "published"
        if self._args.dry_run:
            sent = counts.get("catch-up", 0) + counts.get("from-start", 0)
        print(
            f"backfill {instance_id}: {files} files written since {since:%Y-%m-%dT%H:%M:%SZ}: "
            f"{parts}; {verb} {sent} events to {self._settings.kafka.topic}",
            file=self._out,
        )


class _DryRun:
    """The publisher of a dry run: nothing may reach Kafka."""

    async def publish(self, outgoing: Sequence[Outgoing]) -> list[bool]:
        raise RuntimeError(f"dry run: {len(outgoing)} events would have been published")


async def _backfill(settings: DiscoverySettings, args: argparse.Namespace) -> int:
    config = settings.discovery
    aws = AwsClients(settings.aws)
    valkey = make_valkey(settings.valkey)
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(valkey.aclose)
        rds = await stack.enter_async_context(aws.rds())
        dynamodb = await stack.enter_async_context(aws.dynamodb())
        publisher: EventPublisher = _DryRun()
        if not args.dry_run:
            if settings.kafka.create_topics:
                await ensure_topics(settings.kafka, [settings.kafka.topic])
            producer = make_producer(settings.kafka)
            await producer.start()
            stack.push_async_callback(producer.stop)
            publisher = KafkaEventPublisher(
                producer, settings.kafka.topic, timeout_s=settings.kafka.request_timeout_s
            )
        caller = RdsCaller(
            RdsBudget(valkey, settings.rds, key=f"{settings.valkey.key_prefix}rds-budget")
        )
        tracking = TrackingTable(
            dynamodb, settings.dynamodb.table, item_ttl_s=settings.dynamodb.item_ttl_s
        )
        rules = NameRules(frozenset(config.log_kinds), frozenset(config.ignored_files))
        lister = LogFileLister(rds, caller, page_size=config.listing_page_size)
        poller = InstancePoller(
            lister,
            Tracker(tracking, publisher, rules=rules, item_ttl_s=settings.dynamodb.item_ttl_s),
            rules,
            last_written_margin_ms=int(config.last_written_margin_s * 1000),
        )
        leases = LeaseStore(
            valkey,
            key_prefix=settings.valkey.key_prefix,
            holder=f"backfill-{os.getpid()}",
            ttl_s=config.lease_ttl_s,
        )
        backfill = _Backfill(
            settings,
            args,
            lister=lister,
            tracking=tracking,
            publisher=publisher,
            poller=poller,
            leases=leases,
            caller=caller,
            rds=rds,
            out=sys.stdout,
        )
        status = 0
        for instance_id in dict.fromkeys(args.instance):
            try:
                if not await backfill.instance(instance_id):
                    status = 1
            except AuroraLogsError as exc:
                print(f"aurora-logs backfill: {instance_id}: {exc}", file=sys.stderr)
                status = 1
        return status


def run(args: argparse.Namespace) -> int:
    if args.since > time.time() * 1000:
        print("aurora-logs backfill: --since is in the future", file=sys.stderr)
        return 2
    return run_command("backfill", DiscoverySettings, lambda settings: _backfill(settings, args))
