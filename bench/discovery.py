"""``python -m bench.discovery``: detection delay and RDS calls of discovery, in simulated time.

A discrete-event simulation drives the service's own :class:`~discovery.scheduler.PollScheduler`
(and its :class:`~discovery.scheduler.CallPacer`) with the default settings of
:class:`~discovery.config.DiscoveryConfig`; only time and the fleet are simulated:

- Discovery paces itself to ``budget_share`` of the account budget (``rds.budget_rate_per_s``);
  replicas split that share, so one replica owning the whole fleet behaves like N replicas
  owning 1/N each. The inventory's own calls (about 1 DescribeDBClusters page per 100
  clusters, 2 DescribeDBInstances pages per 100 clusters, every ``inventory_interval_s``) are
  charged to the same pace, as the service does.
- A poll is one DescribeDBLogFiles call (one page), taking ``latency_s`` per call; a full
  listing (the first poll, then every ``full_listing_interval_s``) is ``full_listing_pages``
  calls; a quiet instance whose active file was written again after the top of an hour needs one
  extra full listing (rotation check). Up to ``poll_concurrency`` polls run at once.
- ``busy_ratio`` of the instances have files growing all the time (every poll finds news); the
  others are written ``idle_writes_per_hour`` times an hour at random, each write to one of
  three active files (error, slow query, general).

The *detection delay* of a write is the time from the write to the end of the first poll that
starts after it (when the event can be published). Worst case = the longest gap between two
polls of any instance plus one poll's duration, measured after a warm-up of two polling cycles.

Environment: ``AURORA_BENCH_SEED`` (default 7) fixes the randomness.
"""

from __future__ import annotations

import argparse
import heapq
import math
import os
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from discovery.config import DiscoveryConfig
from discovery.scheduler import CallPacer, PollScheduler, SchedulerPolicy, Ticket

__all__ = ["Result", "Scenario", "main", "simulate"]

_HOUR_S = 3600.0
# error, slow query and general logs: the active files a MySQL instance writes.
_ACTIVE_FILES = 3


@dataclass(frozen=True)
class Scenario:
    instances: int
    budget_rate_per_s: float
    budget_share: float
    busy_ratio: float = 0.1
    idle_writes_per_hour: float = 2.0
    latency_s: float = 0.15
    full_listing_pages: int = 1
    instances_per_cluster: float = 2.0

    @property
    def discovery_rate_per_s(self) -> float:
        return self.budget_rate_per_s * self.budget_share


@dataclass(frozen=True)
class Result:
    scenario: Scenario
    calls_per_instance_hour: float
    inventory_calls_per_hour: float
    worst_delay_s: float
    p99_delay_s: float
    median_delay_s: float
    polls: int
    simulated_s: float
    measured_s: float

    @property
    def mean_gap_s(self) -> float:
        """The average time between two polls of one instance (the best possible worst case)."""
        return self.scenario.instances * self.measured_s / self.polls if self.polls else 0.0


def _inventory_calls(scenario: Scenario) -> int:
    clusters = math.ceil(scenario.instances / scenario.instances_per_cluster)
    batches = math.ceil(clusters / 100)
    instance_pages = math.ceil(scenario.instances / 100) + batches - 1
    return batches + max(instance_pages, batches)


def simulate(scenario: Scenario, config: DiscoveryConfig, *, seed: int = 7) -> Result:
    """Run ``scenario`` long enough for three polling cycles (at least four hours)."""
    rng = random.Random(seed)
    policy = SchedulerPolicy(
        min_interval_s=config.min_poll_interval_s,
        max_interval_s=config.max_poll_interval_s,
        idle_backoff_factor=config.idle_backoff_factor,
        jitter_ratio=config.poll_jitter_ratio,
        full_listing_interval_s=config.full_listing_interval_s,
    )
    rate = scenario.discovery_rate_per_s
    scheduler = PollScheduler(policy, CallPacer(rate, burst=config.poll_concurrency), rng=rng)
    n = scenario.instances
    inventory_calls = _inventory_calls(scenario)
    # Expected calls per poll, for the length of a cycle when the budget is short.
    polling_rate = max(rate - inventory_calls / config.inventory_interval_s, 1e-9)
    cycle_s = max(config.max_poll_interval_s, n * 1.1 / polling_rate)
    warmup_s = 2 * cycle_s
    horizon_s = warmup_s + max(4 * _HOUR_S, 3 * cycle_s)

    busy = set(rng.sample(range(n), round(n * scenario.busy_ratio)))
    idle_rate_per_s = scenario.idle_writes_per_hour / _HOUR_S
    margin_s = config.last_written_margin_s
    # Idle instances: the next write (Poisson), which active file it hits, and per active file
    # the LastWritten discovery last saw; the instance's high-water mark.
    next_write = [rng.expovariate(idle_rate_per_s) if i not in busy else 0.0 for i in range(n)]
    seen_lw = [[-1.0] * _ACTIVE_FILES for _ in range(n)]
    high_water = [-1.0] * n
    last_start: list[float | None] = [None] * n
    keys = [str(i) for i in range(n)]
    for key in keys:
        scheduler.add(key, 0.0)

    finishing: list[tuple[float, int, Ticket, int, bool, bool]] = []
    sequence = 0
    now = 0.0
    next_inventory = 0.0
    calls_after_warmup = 0
    inventory_after_warmup = 0
    polls = 0
    delays: list[float] = []
    worst = 0.0
    while now < horizon_s:
        while next_inventory <= now:
            scheduler.pacer.spend(inventory_calls, next_inventory)
            if next_inventory >= warmup_s:
                calls_after_warmup += inventory_calls
                inventory_after_warmup += inventory_calls
            next_inventory += config.inventory_interval_s
        while finishing and finishing[0][0] <= now:
            end, _seq, finished, calls, changed, full = heapq.heappop(finishing)
            scheduler.done(finished, end, changed=changed, calls=calls, full=full)
        while len(finishing) < config.poll_concurrency:
            ticket = scheduler.take(now)
            if ticket is None:
                break
            index = int(ticket.key)
            previous = last_start[index]
            calls = scenario.full_listing_pages if ticket.full_listing else 1
            changed = index in busy
            if index not in busy:
                written: dict[int, float] = {}
                while next_write[index] <= now:
                    written[rng.randrange(_ACTIVE_FILES)] = next_write[index]
                    if now >= warmup_s:
                        delays.append(now - next_write[index])
                    next_write[index] += rng.expovariate(idle_rate_per_s)
                since = high_water[index] - margin_s
                for file, lw in written.items():
                    known = seen_lw[index][file]
                    crossed = known >= 0 and lw // _HOUR_S > known // _HOUR_S
                    hidden = known < since + 2
                    if crossed and hidden and not ticket.full_listing:
                        calls += scenario.full_listing_pages  # was it renamed? list everything
                        break
                for file, lw in written.items():
                    seen_lw[index][file] = lw
                    high_water[index] = max(high_water[index], lw)
                changed = bool(written)
            duration = calls * scenario.latency_s
            if previous is not None and now >= warmup_s:
                gap = now - previous + duration
                worst = max(worst, gap)
                if index in busy:
                    # A write at a uniformly random moment of the gap.
                    delays.append(rng.uniform(0, now - previous) + duration)
            if now >= warmup_s:
                calls_after_warmup += calls
                polls += 1
            last_start[index] = now
            sequence += 1
            heapq.heappush(
                finishing, (now + duration, sequence, ticket, calls, changed, ticket.full_listing)
            )
        candidates = [horizon_s, next_inventory]
        if finishing:
            candidates.append(finishing[0][0])
        if len(finishing) < config.poll_concurrency:
            wake = scheduler.next_wakeup(now)
            if wake is not None:
                candidates.append(wake)
        now = max(now + 1e-6, min(candidates))
    measured_h = (horizon_s - warmup_s) / _HOUR_S
    delays.sort()
    return Result(
        scenario=scenario,
        calls_per_instance_hour=calls_after_warmup / n / measured_h,
        inventory_calls_per_hour=inventory_after_warmup / measured_h,
        worst_delay_s=worst,
        p99_delay_s=delays[int(len(delays) * 0.99)] if delays else 0.0,
        median_delay_s=delays[len(delays) // 2] if delays else 0.0,
        polls=polls,
        simulated_s=horizon_s,
        measured_s=horizon_s - warmup_s,
    )


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:6.1f} min"


def _row(result: Result) -> str:
    s = result.scenario
    return (
        f"| {s.instances:>6,} | {s.budget_rate_per_s:>5g} | {s.discovery_rate_per_s:>5.2g} "
        f"| {result.calls_per_instance_hour:>6.2f} | {_minutes(result.mean_gap_s)} "
        f"| {_minutes(result.median_delay_s)} "
        f"| {_minutes(result.p99_delay_s)} | {_minutes(result.worst_delay_s)} |"
    )


_HEADER = (
    "| instances | budget req/s | discovery req/s | RDS calls/instance/h | mean poll interval "
    "| median delay | p99 delay | worst-case delay |\n"
    "|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.discovery", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="fewer fleet sizes (CI smoke run)")
    args = parser.parse_args(argv)
    seed = int(os.environ.get("AURORA_BENCH_SEED", "7"))
    config = DiscoveryConfig(replica_id="bench")
    share = config.budget_share

    headline = simulate(Scenario(10_000, 10.0, share), config, seed=seed)
    whole = simulate(Scenario(10_000, 10.0, 1.0), config, seed=seed)
    print("Discovery: detection delay and RDS calls, simulated with the real scheduler\n")
    print(
        f"settings: min/max poll interval {config.min_poll_interval_s:g}/"
        f"{config.max_poll_interval_s:g} s, "
        f"full listing every {config.full_listing_interval_s:g} s, "
        f"inventory every {config.inventory_interval_s:g} s, budget share {share:.0%}, "
        f"{config.poll_concurrency} polls at once; 10% of instances busy, the others written "
        f"{headline.scenario.idle_writes_per_hour:g}x/h\n"
    )
    print(
        f"10,000 instances, 10 req/s budget (discovery's {share:.0%} share = "
        f"{headline.scenario.discovery_rate_per_s:g} req/s): worst-case detection delay "
        f"{headline.worst_delay_s / 60:.1f} min, {headline.calls_per_instance_hour:.2f} RDS calls "
        f"per instance per hour (of which inventory "
        f"{headline.inventory_calls_per_hour / 10_000:.2f})."
    )
    print(
        f"With the whole 10 req/s for discovery: worst case {whole.worst_delay_s / 60:.1f} min, "
        f"{whole.calls_per_instance_hour:.2f} calls per instance per hour.\n"
    )
    fleets = (100, 1_000, 10_000) if args.quick else (100, 1_000, 5_000, 10_000)
    budgets = (10.0,) if args.quick else (5.0, 10.0, 20.0)
    print(_HEADER)
    for budget in budgets:
        for fleet in fleets:
            if (fleet, budget) == (10_000, 10.0):
                result = headline
            else:
                result = simulate(Scenario(fleet, budget, share), config, seed=seed)
            print(_row(result))
    covered = headline.scenario.discovery_rate_per_s * config.max_poll_interval_s / 1.2
    excess = headline.worst_delay_s / headline.mean_gap_s - 1
    print(
        f"\nAt {headline.scenario.discovery_rate_per_s:g} req/s for discovery, up to about "
        f"{covered:,.0f} instances are each polled at least every "
        f"{config.max_poll_interval_s:g} s (max_poll_interval_s; ~1.2 calls a poll with full "
        "listings and the inventory). Beyond that the mean poll interval grows in proportion "
        "to the fleet and inversely to the budget; polls come in deadline order, all about "
        "equally late, so the worst case stays close to the mean interval, the best any "
        f"schedule could do ({excess:.0%} above it for 10,000 instances at 10 req/s)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
