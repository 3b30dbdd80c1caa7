"""Runs a service: uvloop, the health server, and a graceful stop on SIGTERM/SIGINT.

The life of a service process::

    load settings ──(invalid)──> exit 2, the log names each bad variable
         │
    configure logging, start /healthz /readyz /metrics
         │
    main(lifecycle) runs ──(returns)─────────────────────────────> exit 0
         │                 ──(raises)──────────────────────────────> exit 1
    SIGTERM/SIGINT: lifecycle.stopping is set, /readyz turns 503,
         │          main stops intake and drains
         ├──(main returns within shutdown_deadline_s)─────────────> exit 0
         └──(deadline passes, or a second signal)── main cancelled > exit 0 / 1

``main`` owns the work loop: it watches ``lifecycle.stopping``, calls ``lifecycle.liveness.beat()``
as it makes progress, and registers readiness checks on ``lifecycle.readiness``.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from common.errors import ConfigurationError
from common.health import HealthServer, Liveness, Readiness
from common.logs import configure_logging, get_logger
from common.settings import CommonSettings, load_settings

__all__ = ["EXIT_CONFIG", "EXIT_FAILED", "EXIT_OK", "Lifecycle", "run_service", "serve"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2

log = get_logger(__name__)


@dataclass
class Lifecycle:
    """What a service's main coroutine gets from the runner."""

    liveness: Liveness
    readiness: Readiness
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    health_port: int = 0


ServiceMain = Callable[[Lifecycle], Coroutine[Any, Any, None]]
S = TypeVar("S", bound=CommonSettings)


def run_service(name: str, settings_cls: type[S], make_main: Callable[[S], ServiceMain]) -> int:
    """Load settings, configure logging and run the service until it stops; returns exit status.

    Blocks the calling thread for the life of the service. Never raises: a configuration error
    is printed and gives exit status 2, a crash is logged and gives 1.
    """
    try:
        settings = load_settings(settings_cls)
    except ConfigurationError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(settings.logging, service=name)
    main = make_main(settings)
    return _run_loop(serve(name, settings, main))


def _run_loop(coro: Awaitable[int]) -> int:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency except on Windows
        return asyncio.run(_as_coroutine(coro))
    return uvloop.run(_as_coroutine(coro))


async def _as_coroutine(awaitable: Awaitable[int]) -> int:
    return await awaitable


async def serve(name: str, settings: CommonSettings, main: ServiceMain) -> int:
    """Run ``main`` with the health server and signal handling; return the exit status.

    Must be awaited on the loop that should receive the signals (the main thread's loop).
    """
    lifecycle = Lifecycle(
        liveness=Liveness(settings.http.liveness_timeout_s),
        readiness=Readiness(settings.http.readiness_check_timeout_s),
    )
    health = HealthServer(settings.http, liveness=lifecycle.liveness, readiness=lifecycle.readiness)
    await health.start()
    lifecycle.health_port = health.port
    log.info("service_started", port=health.port)

    loop = asyncio.get_running_loop()
    task = asyncio.create_task(main(lifecycle), name=f"{name}-main")
    deadline: asyncio.TimerHandle | None = None
    cut_short = False

    def cancel_main(why: str) -> None:
        nonlocal cut_short
        if not task.done():
            log.warning("main_task_cancelled", why=why)
            cut_short = True
            task.cancel()

    def request_stop(signame: str) -> None:
        nonlocal deadline
        if lifecycle.stopping.is_set():
            cancel_main("second signal")
            return
        log.info(
            "shutdown_requested", signal=signame, deadline_s=settings.service.shutdown_deadline_s
        )
        lifecycle.stopping.set()
        lifecycle.readiness.shutting_down = True
        deadline = loop.call_later(
            settings.service.shutdown_deadline_s, cancel_main, "shutdown deadline exceeded"
        )

    installed = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, request_stop, sig.name)
            installed.append(sig)

    status = EXIT_OK
    try:
        await task
    except asyncio.CancelledError:
        if not cut_short:
            raise
        # The drain did not finish: unacknowledged work is redone by whoever takes it over.
        status = EXIT_FAILED
    except Exception:
        log.exception("service_failed")
        status = EXIT_FAILED
    finally:
        if deadline is not None:
            deadline.cancel()
        for sig in installed:
            loop.remove_signal_handler(sig)
        await health.stop()
    log.info("service_stopped", exit_status=status)
    return status
