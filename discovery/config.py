"""Settings of the discovery service: the shared sections plus ``discovery``."""

from __future__ import annotations

from common.settings import CommonSettings

__all__ = ["DiscoverySettings"]


class DiscoverySettings(CommonSettings):
    """Everything discovery reads from ``AURORA_*`` variables."""
