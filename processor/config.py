"""Settings of the processor service: the shared sections plus ``processor``."""

from __future__ import annotations

from common.settings import CommonSettings
from processor.parsing.options import ParsingSettings

__all__ = ["ProcessorSettings"]


class ProcessorSettings(CommonSettings):
    """Everything the processor reads from ``AURORA_*`` variables."""

    parsing: ParsingSettings = ParsingSettings()
