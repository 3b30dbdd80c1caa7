"""The processor service's main coroutine, assembled from its stages."""

from __future__ import annotations

import asyncio
import contextlib

from common.clients.valkey import make_valkey
from common.logs import get_logger
from common.readiness import kafka_check, valkey_check
from common.runner import Lifecycle, ServiceMain
from processor.config import ProcessorSettings

log = get_logger(__name__)


def make_main(settings: ProcessorSettings) -> ServiceMain:
    async def main(lifecycle: Lifecycle) -> None:
        valkey = make_valkey(settings.valkey)
        lifecycle.readiness.add("kafka", kafka_check(settings.kafka))
        lifecycle.readiness.add("valkey", valkey_check(valkey))
        try:
            while not lifecycle.stopping.is_set():
                lifecycle.liveness.beat()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lifecycle.stopping.wait(), timeout=1.0)
        finally:
            await valkey.aclose()

    return main
