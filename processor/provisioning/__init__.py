"""OpenObserve as code: streams, dashboards and alerts provisioned from JSON assets.

The assets live in ``openobserve/provisioning/`` of a checkout and in
``/opt/aurora-logs/openobserve`` of the processor image; ``aurora-logs openobserve provision``
reads them and makes OpenObserve match, idempotently:

- streams are created when missing and their settings (partition keys, full-text keys, bloom
  filter fields, retention) updated when they differ;
- dashboards are matched by title: created when missing, replaced when their content differs,
  never duplicated (two dashboards with one title are reported and left alone);
- alert templates, destinations and alerts are matched by name and created when missing; one
  that exists but differs is reported as drift and left unchanged (the reference contract has
  no update endpoints for them: change it in the UI, or delete it and provision again).

It lives in the processor because the processor owns the streams (``StreamNames``) and its
image runs it as a Kubernetes Job; ``common`` must not depend on a service.

Modules: :mod:`~processor.provisioning.assets` (reading and checking the JSON),
:mod:`~processor.provisioning.api` (OpenObserve's admin HTTP API),
:mod:`~processor.provisioning.reconcile` (the comparison and the changes),
:mod:`~processor.provisioning.cli` (the command).
"""

from __future__ import annotations

from processor.provisioning.api import OpenObserveApi
from processor.provisioning.assets import Assets, load_assets
from processor.provisioning.reconcile import Action, Change, provision

__all__ = ["Action", "Assets", "Change", "OpenObserveApi", "load_assets", "provision"]
