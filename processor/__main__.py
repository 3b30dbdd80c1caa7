"""``python -m processor`` / ``aurora-processor``: run the processor service."""

from __future__ import annotations

import sys

from common.runner import run_service
from processor.config import ProcessorSettings
from processor.service import make_main


def main() -> int:
    return run_service("processor", ProcessorSettings, make_main)


if __name__ == "__main__":
    sys.exit(main())
