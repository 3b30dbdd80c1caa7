"""``aurora-logs openobserve provision``: make OpenObserve match the provisioning assets.

Reads ``AURORA_OPENOBSERVE__*`` (URL, organisation, user, password) through the processor's
settings, so the Kubernetes Job and docker-compose run it with the processor's configuration,
and checks that the streams it provisions are the ones the processor writes to
(``AURORA_PROCESSOR__STREAMS__*``). Prints one line per object (``create``, ``update``,
``unchanged``, ``drift``, ``ambiguous``). Exit status: 0 done (drift included), 1 OpenObserve
refused or could not be reached, 2 bad settings or assets.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from common.errors import AuroraLogsError, ConfigurationError
from common.settings import load_settings
from processor.config import ProcessorSettings
from processor.provisioning.api import OpenObserveApi
from processor.provisioning.assets import Assets, load_assets
from processor.provisioning.reconcile import Action, provision

__all__ = ["IMAGE_ASSETS_DIR", "add_arguments", "default_assets_dir", "run"]

# Where the processor image keeps the assets (processor/Dockerfile copies them there).
IMAGE_ASSETS_DIR = Path("/opt/aurora-logs/openobserve")


def default_assets_dir() -> Path:
    """``openobserve/provisioning`` of the source checkout this code runs from, else the
    image's copy."""
    checkout = Path(__file__).resolve().parents[2] / "openobserve" / "provisioning"
    return checkout if checkout.is_dir() else IMAGE_ASSETS_DIR


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    provision_parser = actions.add_parser(
        "provision", help="create or update streams, dashboards and alerts (idempotent)"
    )
    provision_parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help=f"assets folder (default: the checkout's openobserve/provisioning, "
        f"else {IMAGE_ASSETS_DIR})",
    )
    provision_parser.add_argument(
        "--dry-run", action="store_true", help="read and report what would change; write nothing"
    )
    provision_parser.add_argument(
        "--wait-s",
        type=float,
        default=0.0,
        help="first wait up to this long for OpenObserve's /healthz (a Job starting with it)",
    )


def check_stream_names(assets: Assets, settings: ProcessorSettings) -> None:
    """Raise :class:`ConfigurationError` when a stream asset for a log type is not the stream
    the processor writes that log type to."""
    for spec in assets.streams:
        if spec.log_type is None:
            continue
        configured = settings.processor.streams.for_log_type(spec.log_type)
        if configured != spec.name:
            variable = f"AURORA_PROCESSOR__STREAMS__{spec.log_type.upper()}"
            raise ConfigurationError(
                f"the processor writes {spec.log_type} records to {configured!r} ({variable}) "
                f"but the assets provision {spec.name!r}: rename one of them"
            )


def run(args: argparse.Namespace) -> int:
    directory: Path = args.dir or default_assets_dir()
    try:
        settings = load_settings(ProcessorSettings)
        assets = load_assets(directory)
        check_stream_names(assets, settings)
    except ConfigurationError as exc:
        print(f"aurora-logs openobserve provision: {exc}", file=sys.stderr)
        return 2
    prefix = "(dry run) " if args.dry_run else ""
    try:
        with OpenObserveApi(settings.openobserve) as api:
            if args.wait_s > 0:
                api.wait_until_healthy(args.wait_s)
            changes = provision(api, assets, dry_run=args.dry_run)
    except AuroraLogsError as exc:
        print(f"aurora-logs openobserve provision: {exc}", file=sys.stderr)
        return 1
    for change in changes:
        print(prefix + str(change))
    counts = {action: sum(c.action is action for c in changes) for action in Action}
    summary = ", ".join(f"{n} {action.value}" for action, n in counts.items() if n)
    print(f"{prefix}{settings.openobserve.url} org {settings.openobserve.organization}: {summary}")
    return 0
