"""``aurora-logs settings``: validate the environment's settings and print them (secrets masked)."""

from __future__ import annotations

import argparse
import importlib
import json
import sys

from common.errors import ConfigurationError
from common.settings import CommonSettings, load_settings, redacted

_SERVICES = {
    "common": "common.settings:CommonSettings",
    "discovery": "discovery.config:DiscoverySettings",
    "processor": "processor.config:ProcessorSettings",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--service",
        choices=sorted(_SERVICES),
        default="common",
        help="whose settings to validate (default: the sections every service shares)",
    )


def run(args: argparse.Namespace) -> int:
    module_name, _, class_name = _SERVICES[args.service].partition(":")
    cls: type[CommonSettings] = getattr(importlib.import_module(module_name), class_name)
    try:
        settings = load_settings(cls)
    except ConfigurationError as exc:
        print(exc, file=sys.stderr)
        return 2
    json.dump(redacted(settings), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return 0
