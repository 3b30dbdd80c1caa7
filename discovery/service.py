"""The discovery service's main coroutine, assembled from its stages.

::

    SharedInventory ──fleet──▶ Ownership (heartbeat, rendezvous, leases) ──acquired/dropped──┐
      (Valkey snapshot;          every lease_renew_interval_s                               │
       one replica describes)                                                               ▼
                               PollScheduler ◀──due, paced── PollDispatcher ──▶ InstancePoller
                                                                                    │
                      LogFileLister (DescribeDBLogFiles) ──▶ identity.reconcile ──▶ Tracker
                                                                   (DynamoDB, then Kafka events)

Three loops run side by side: the inventory loop (cheap reads, an occasional describe), the
ownership loop (heartbeat and leases; never blocked by RDS) and the dispatcher. On SIGTERM the
dispatcher stops handing out polls, the polls in hand finish (up to most of the shutdown
deadline), the leases and the heartbeat are given back so the other replicas take over at once,
and the producer is flushed.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

from aiokafka import AIOKafkaProducer

from common.clients.aws import AwsClients
from common.clients.kafka import ensure_topics, make_producer
from common.clients.valkey import make_valkey
from common.errors import UnavailableError
from common.health import ReadinessCheck
from common.logs import get_logger
from common.ratelimit import RdsBudget, RdsCaller
from common.readiness import dynamodb_table_check, kafka_check, valkey_check
from common.runner import Lifecycle, ServiceMain
from common.tracking import TrackingTable
from discovery import metrics
from discovery.config import DiscoverySettings
from discovery.dispatcher import PollDispatcher
from discovery.identity import NameRules
from discovery.inventory import ClusterFilter, FleetDescriber
from discovery.inventory_cache import SharedInventory
from discovery.leases import LeaseStore
from discovery.listing import LogFileLister
from discovery.membership import Membership
from discovery.ownership import Ownership
from discovery.poller import InstancePoller
from discovery.publisher import KafkaEventPublisher
from discovery.scheduler import CallPacer, PollScheduler, SchedulerPolicy
from discovery.tracker import Tracker

__all__ = ["make_main"]

log = get_logger(__name__)

_RETRY_MAX_S = 10.0
# Of the shutdown deadline, what is left after draining polls for releasing and flushing.
_STOP_RESERVE_S = 3.0


def make_main(settings: DiscoverySettings) -> ServiceMain:
    async def main(lifecycle: Lifecycle) -> None:
        async with AsyncExitStack() as stack:
            await _run(settings, lifecycle, stack)

    return main


async def _run(settings: DiscoverySettings, lifecycle: Lifecycle, stack: AsyncExitStack) -> None:
    config = settings.discovery
    loop = asyncio.get_running_loop()
    valkey = make_valkey(settings.valkey)
    stack.push_async_callback(valkey.aclose)
    # Registered before the (slow to create) AWS clients exist: never ready without them.
    tables: list[ReadinessCheck] = []
    lifecycle.readiness.add("kafka", kafka_check(settings.kafka))
    lifecycle.readiness.add("valkey", valkey_check(valkey))
    lifecycle.readiness.add("dynamodb", _first_of(tables, "DynamoDB client not created yet"))
    aws = AwsClients(settings.aws)
    rds = await stack.enter_async_context(aws.rds())
    dynamodb = await stack.enter_async_context(aws.dynamodb())
    tables.append(dynamodb_table_check(dynamodb, settings.dynamodb.table))

    table = TrackingTable(
        dynamodb, settings.dynamodb.table, item_ttl_s=settings.dynamodb.item_ttl_s
    )
    if settings.dynamodb.create_table_if_missing and not await _until_done(
        "dynamodb_table", table.ensure_table, lifecycle
    ):
        return
    if settings.kafka.create_topics and not await _until_done(
        "kafka_topic", lambda: ensure_topics(settings.kafka, [settings.kafka.topic]), lifecycle
    ):
        return
    producer = await _start_producer(settings, lifecycle)
    if producer is None:
        return
    stack.push_async_callback(_stop_producer, producer)

    # The stages, built from the inside out.
    budget = RdsBudget(valkey, settings.rds, key=f"{settings.valkey.key_prefix}rds-budget")
    caller = RdsCaller(budget)
    rules = NameRules(frozenset(config.log_kinds), frozenset(config.ignored_files))
    tracker = Tracker(
        table,
        KafkaEventPublisher(
            producer, settings.kafka.topic, timeout_s=settings.kafka.request_timeout_s
        ),
        rules=rules,
        item_ttl_s=settings.dynamodb.item_ttl_s,
    )
    poller = InstancePoller(
        LogFileLister(rds, caller, page_size=config.listing_page_size),
        tracker,
        rules,
        last_written_margin_ms=int(config.last_written_margin_s * 1000),
    )
    scheduler = PollScheduler(
        SchedulerPolicy(
            min_interval_s=config.min_poll_interval_s,
            max_interval_s=config.max_poll_interval_s,
            idle_backoff_factor=config.idle_backoff_factor,
            jitter_ratio=config.poll_jitter_ratio,
            full_listing_interval_s=config.full_listing_interval_s,
        ),
        CallPacer(_share_per_s(settings, members=1), burst=config.poll_concurrency),
    )
    dispatcher = PollDispatcher(
        scheduler,
        poller,
        concurrency=config.poll_concurrency,
        poll_timeout_s=config.poll_timeout_s,
        clock=loop.time,
        on_progress=lifecycle.liveness.beat,
        # A taken-over instance has gone unpolled for at least the lease TTL.
        acquired_overdue_s=config.lease_ttl_s,
    )
    incarnation = uuid.uuid4().hex[:12]
    prefix = settings.valkey.key_prefix
    ownership = Ownership(
        Membership(
            valkey,
            key_prefix=prefix,
            replica_id=config.replica_id,
            incarnation=incarnation,
            ttl_s=config.member_ttl_s,
        ),
        LeaseStore(
            valkey,
            key_prefix=prefix,
            holder=f"{config.replica_id.replace(':', '_')}/{incarnation}",
            ttl_s=config.lease_ttl_s,
            clock=loop.time,
        ),
        dispatcher,
        clock=loop.time,
    )
    inventory = SharedInventory(
        valkey,
        FleetDescriber(
            rds,
            caller,
            engines=config.engines,
            cluster_filter=ClusterFilter.from_config(config),
            on_call=lambda: scheduler.pacer.spend(1, loop.time()),
        ),
        key_prefix=prefix,
        interval_s=config.inventory_interval_s,
    )
    log.info(
        "discovery_assembled",
        replica=config.replica_id,
        handover_bound_s=config.handover_bound_s(),
        log_kinds=list(config.log_kinds),
    )

    loops = [
        asyncio.create_task(_inventory_loop(inventory, config.lease_renew_interval_s, lifecycle)),
        asyncio.create_task(
            _ownership_loop(ownership, inventory, scheduler, dispatcher, settings, lifecycle)
        ),
        asyncio.create_task(dispatcher.run(lifecycle.stopping)),
    ]
    try:
        await _supervise(loops, lifecycle.stopping)
    finally:
        # Cancelled by the runner (deadline passed, second signal): no more time to drain.
        task = asyncio.current_task()
        cut_short = task is not None and task.cancelling() > 0
        drain_s = 0.0 if cut_short else settings.service.shutdown_deadline_s - _STOP_RESERVE_S
        cancelled = await dispatcher.drain(max(0.0, drain_s))
        for task in loops:
            task.cancel()
        await asyncio.wait(loops)
        try:
            async with asyncio.timeout(_STOP_RESERVE_S / 2):
                released = await ownership.release_all()
        except Exception as exc:
            log.warning("leases_not_released", error=str(exc)[:300])
            released = 0
        log.info("discovery_stopped", leases_released=released, polls_cancelled=cancelled)


async def _supervise(loops: list[asyncio.Task[None]], stopping: asyncio.Event) -> None:
    """Return when ``stopping`` is set; raise if a loop ends or fails before that."""
    stop = asyncio.create_task(stopping.wait())
    try:
        done, _ = await asyncio.wait([*loops, stop], return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not stop.done():
            stop.cancel()
    for task in done:
        if task is not stop and not stopping.is_set():
            task.result()  # re-raises the loop's exception
            raise RuntimeError(f"{task.get_name()} ended before the service was stopped")


async def _inventory_loop(inventory: SharedInventory, every_s: float, lifecycle: Lifecycle) -> None:
    while not lifecycle.stopping.is_set():
        try:
            fleet = await inventory.current()
        except Exception as exc:
            metrics.INVENTORY_REFRESHES.labels("failed").inc()
            log.warning("inventory_refresh_failed", error=str(exc)[:300], kind=type(exc).__name__)
        else:
            metrics.INVENTORY_REFRESHES.labels("ok").inc()
            if fleet is not None:
                metrics.INSTANCES_KNOWN.set(len(fleet.instances))
        await _wait(lifecycle.stopping, every_s)


async def _ownership_loop(
    ownership: Ownership,
    inventory: SharedInventory,
    scheduler: PollScheduler,
    dispatcher: PollDispatcher,
    settings: DiscoverySettings,
    lifecycle: Lifecycle,
) -> None:
    every_s = settings.discovery.lease_renew_interval_s
    loop = asyncio.get_running_loop()
    while not lifecycle.stopping.is_set():
        started = loop.time()
        try:
            await ownership.cycle(inventory.fleet)
        except Exception as exc:
            log.warning("ownership_cycle_failed", error=str(exc)[:300], kind=type(exc).__name__)
            ownership.expire(loop.time())
        members = len(ownership.members)
        metrics.MEMBERS.set(members)
        scheduler.pacer.rate_per_s = _share_per_s(settings, members)
        dispatcher.refresh_gauges()
        await _wait(lifecycle.stopping, max(0.0, started + every_s - loop.time()))


def _first_of(checks: list[ReadinessCheck], missing: str) -> ReadinessCheck:
    async def check() -> None:
        if not checks:
            raise UnavailableError(missing)
        await checks[0]()

    return check


def _share_per_s(settings: DiscoverySettings, members: int) -> float:
    """This replica's pace: its share of discovery's share of the account budget."""
    return settings.rds.budget_rate_per_s * settings.discovery.budget_share / max(1, members)


async def _wait(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout=seconds)


async def _until_done(what: str, step: Callable[[], Awaitable[Any]], lifecycle: Lifecycle) -> bool:
    """Run ``step`` until it succeeds (True) or the service is told to stop (False); a stop
    interrupts an attempt in progress (a connection attempt may take a client's full timeout)."""
    delay = 0.5
    while not lifecycle.stopping.is_set():
        lifecycle.liveness.beat()
        attempt = asyncio.ensure_future(step())
        stop = asyncio.ensure_future(lifecycle.stopping.wait())
        try:
            await asyncio.wait([attempt, stop], return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            attempt.cancel()
            raise
        finally:
            stop.cancel()
        if not attempt.done():
            attempt.cancel()
            await asyncio.wait([attempt])
            return False
        if attempt.cancelled():
            return False
        error = attempt.exception()
        if error is None:
            return True
        log.warning("startup_step_failed", step=what, error=str(error)[:300])
        await _wait(lifecycle.stopping, delay)
        delay = min(_RETRY_MAX_S, delay * 2)
    return False


async def _start_producer(
    settings: DiscoverySettings, lifecycle: Lifecycle
) -> AIOKafkaProducer | None:
    started: list[AIOKafkaProducer] = []

    async def start() -> None:
        producer = make_producer(settings.kafka, client_id=f"{settings.kafka.client_id}-discovery")
        try:
            await producer.start()
        except BaseException:
            await producer.stop()
            raise
        started.append(producer)

    if not await _until_done("kafka_producer", start, lifecycle):
        return None
    return started[0]


async def _stop_producer(producer: AIOKafkaProducer) -> None:
    """Flush what is in flight and close (bounded: a dead broker must not hold the stop)."""
    try:
        async with asyncio.timeout(_STOP_RESERVE_S):
            await producer.stop()
    except TimeoutError:
        log.warning("producer_flush_timed_out")
