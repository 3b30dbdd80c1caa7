"""The poll scheduler with an injected clock: intervals, jitter, pacing, fairness, full listings."""

from __future__ import annotations

import random

import pytest

from discovery.scheduler import CallPacer, PollScheduler, SchedulerPolicy, Ticket

POLICY = SchedulerPolicy(
    min_interval_s=10,
    max_interval_s=300,
    idle_backoff_factor=2,
    jitter_ratio=0.1,
    full_listing_interval_s=3600,
)


def _scheduler(
    rate: float = 1000, burst: int = 1000, policy: SchedulerPolicy = POLICY
) -> PollScheduler:
    return PollScheduler(policy, CallPacer(rate, burst), rng=random.Random(7))


def _take(scheduler: PollScheduler, now: float) -> Ticket:
    ticket = scheduler.take(now)
    assert ticket is not None
    return ticket


def test_pacer_allows_a_burst_then_one_call_per_interval() -> None:
    pacer = CallPacer(rate_per_s=2, burst=3)
    for _ in range(3):
        assert pacer.wait_s(0) == 0
        pacer.spend(1, 0)
    assert pacer.wait_s(0) == pytest.approx(0.5)
    assert pacer.wait_s(0.5) == 0
    pacer.spend(5, 0.5)  # a poll of five pages: the debt delays what follows
    assert pacer.wait_s(0.5) == pytest.approx(2.5)


def test_new_instances_are_spread_over_the_minimum_interval() -> None:
    scheduler = _scheduler()
    for index in range(200):
        scheduler.add(f"i{index}", now=0)
    dues = sorted(t.due for t in iter(lambda: scheduler.take(100), None))
    assert len(dues) == 200
    assert dues[0] >= 0
    assert dues[-1] <= 10
    assert len(set(dues)) == 200, "never all at the same instant"
    # Spread roughly evenly: each quarter of the window gets a fair share.
    quarters = [sum(1 for due in dues if q * 2.5 <= due < (q + 1) * 2.5) for q in range(4)]
    assert min(quarters) > 30


def test_first_poll_is_a_full_listing_then_once_per_full_listing_interval() -> None:
    scheduler = _scheduler()
    scheduler.add("a", now=0)
    first = _take(scheduler, 20)
    assert first.full_listing
    scheduler.done(first, 21, changed=True, calls=1, full=True)
    second = _take(scheduler, 40)
    assert not second.full_listing
    scheduler.done(second, 40, changed=True, calls=1, full=False)
    later = _take(scheduler, 3700)
    assert later.full_listing


def test_busy_instances_are_polled_at_the_minimum_idle_ones_back_off_to_the_maximum() -> None:
    scheduler = _scheduler()
    scheduler.add("busy", now=0)
    scheduler.add("idle", now=0)
    now, polls = 0.0, {"busy": [], "idle": []}
    while now < 3600:
        ticket = scheduler.take(now)
        if ticket is None:
            wake = scheduler.next_wakeup(now)
            assert wake is not None
            now = max(now, wake)
            continue
        polls[ticket.key].append(now)
        scheduler.done(ticket, now, changed=ticket.key == "busy", calls=1, full=False)
    busy_gaps = [b - a for a, b in zip(polls["busy"], polls["busy"][1:], strict=False)]
    idle_gaps = [b - a for a, b in zip(polls["idle"], polls["idle"][1:], strict=False)]
    assert max(busy_gaps) <= 10
    assert min(busy_gaps) >= 9  # jitter only shortens, by at most 10%
    assert idle_gaps[:4] == pytest.approx([20, 40, 80, 160], rel=0.11)
    assert max(idle_gaps) <= 300
    assert idle_gaps[-1] >= 270


def test_news_resets_an_idle_instance_to_the_minimum_interval() -> None:
    scheduler = _scheduler()
    scheduler.add("a", now=0)
    now = 0.0
    for _ in range(6):
        ticket = _take(scheduler, scheduler.next_wakeup(now) or now)
        now = ticket.started
        scheduler.done(ticket, now, changed=False, calls=1, full=False)
    assert scheduler.next_wakeup(now) - now > 100  # type: ignore[operator]
    ticket = _take(scheduler, scheduler.next_wakeup(now) or now)
    scheduler.done(ticket, ticket.started, changed=True, calls=1, full=False)
    assert scheduler.next_wakeup(ticket.started) - ticket.started <= 10  # type: ignore[operator]


def test_failures_back_off_exponentially_up_to_the_maximum() -> None:
    scheduler = _scheduler(policy=SchedulerPolicy(10, 300, jitter_ratio=0))
    scheduler.add("a", now=0)
    now, gaps = 0.0, []
    for _ in range(7):
        ticket = _take(scheduler, scheduler.next_wakeup(now) or now)
        gaps.append(ticket.started - now)
        now = ticket.started
        scheduler.failed(ticket, now, calls=1)
    assert gaps[1:] == pytest.approx([10, 20, 40, 80, 160, 300])


def test_pacing_keeps_the_call_rate_and_late_polls_stay_in_due_order() -> None:
    # 100 idle instances at most every 10 s need 10 calls/s; the pacer allows 2.
    scheduler = _scheduler(rate=2, burst=1, policy=SchedulerPolicy(10, 10, jitter_ratio=0))
    for index in range(100):
        scheduler.add(f"i{index}", now=0)
    now, starts, last_poll = 0.0, [], {}
    worst_gap = 0.0
    while now < 600:
        ticket = scheduler.take(now)
        if ticket is None:
            now = scheduler.next_wakeup(now) or now + 1
            continue
        starts.append(now)
        if ticket.key in last_poll:
            worst_gap = max(worst_gap, now - last_poll[ticket.key])
        last_poll[ticket.key] = now
        assert ticket.lag_s >= 0
        scheduler.done(ticket, now, changed=False, calls=1, full=False)
    assert len(starts) <= 2 * 600 + 1
    assert len(starts) >= 2 * 600 - 2
    # Round robin under overload: every instance gets its turn every N / rate seconds.
    assert worst_gap == pytest.approx(100 / 2, abs=1)
    assert scheduler.lag_s(now) > 0


def test_multi_page_polls_are_charged_to_the_pacer() -> None:
    scheduler = _scheduler(rate=1, burst=1, policy=SchedulerPolicy(1, 1, jitter_ratio=0))
    scheduler.add("a", now=0)
    scheduler.add("b", now=0)
    ticket = _take(scheduler, 1)
    scheduler.done(ticket, 1, changed=False, calls=4, full=True)
    assert scheduler.take(1.5) is None
    assert scheduler.next_wakeup(1.5) == pytest.approx(5)


def test_removed_instances_are_forgotten_even_mid_poll() -> None:
    scheduler = _scheduler()
    scheduler.add("a", now=0)
    ticket = _take(scheduler, 20)
    assert scheduler.in_flight("a")
    scheduler.remove("a")
    scheduler.done(ticket, 21, changed=True, calls=1, full=False)
    assert "a" not in scheduler
    assert scheduler.next_wakeup(21) is None
    scheduler.add("a", now=30)
    assert _take(scheduler, 45).full_listing


def test_deferred_ticket_keeps_its_interval_and_seconds_since_poll_is_tracked() -> None:
    scheduler = _scheduler()
    scheduler.add("a", now=0)
    ticket = _take(scheduler, 20)
    scheduler.defer(ticket, until=25)
    assert scheduler.take(24) is None
    again = _take(scheduler, 25)
    assert again.due == 25
    assert scheduler.seconds_since_poll(30) == pytest.approx(5)


def test_policy_rejects_inverted_bounds() -> None:
    with pytest.raises(ValueError, match="min_interval_s"):
        SchedulerPolicy(min_interval_s=20, max_interval_s=10)
    with pytest.raises(ValueError, match="rate_per_s"):
        CallPacer(rate_per_s=0)


def test_instances_taken_over_go_ahead_of_merely_late_ones() -> None:
    scheduler = _scheduler(rate=1, burst=1, policy=SchedulerPolicy(10, 10, jitter_ratio=0))
    for index in range(20):
        scheduler.add(f"old{index}", now=0)
    now = 0.0
    while now < 40:  # overloaded: everyone is late by now
        ticket = scheduler.take(now)
        if ticket is None:
            now = scheduler.next_wakeup(now) or now + 1
            continue
        scheduler.done(ticket, now, changed=False, calls=1, full=False)
    assert scheduler.lag_s(now) > 5
    scheduler.add("taken-over", now=now, overdue_s=30)
    first = scheduler.take(scheduler.next_wakeup(now) or now)
    assert first is not None
    assert first.key == "taken-over"
