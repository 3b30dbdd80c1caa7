"""``python -m discovery`` / ``aurora-discovery``: run the discovery service."""

from __future__ import annotations

import sys

from common.runner import run_service
from discovery.config import DiscoverySettings
from discovery.service import make_main


def main() -> int:
    return run_service("discovery", DiscoverySettings, make_main)


if __name__ == "__main__":
    sys.exit(main())
