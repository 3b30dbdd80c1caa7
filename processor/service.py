"""The processor service's main coroutine (see :mod:`processor.pipeline` for the assembly)."""

from __future__ import annotations

from common.runner import Lifecycle, ServiceMain
from processor.config import ProcessorSettings
from processor.pipeline import run_processor

__all__ = ["make_main"]


def make_main(settings: ProcessorSettings) -> ServiceMain:
    async def main(lifecycle: Lifecycle) -> None:
        await run_processor(settings, lifecycle)

    return main
