"""Aurora fleet simulator: real-format logs served through an extended moto RDS API.

Development only (tests, ``make run``, benchmarks); the service images do not contain it.

Two halves share one data directory:

- the **writer** (:class:`Fleet`, in a test process or ``aurora-logs simulate``) creates
  clusters and instances in moto and writes their log files, rotating and deleting them as
  Aurora does, and records every entry in the ground :class:`Truth`;
- the **server** (:func:`simulator.rds_api.install`, loaded into moto by the local stack)
  serves those files through ``DescribeDBLogFiles``, ``DownloadDBLogFilePortion`` and the REST
  ``downloadCompleteLogFile``, with injectable faults, a request log and an admin API under
  ``/_simulator/``.

The public surface is re-exported here; modules:

=====================  ==========================================================
``clock``              SimClock (moved by hand) and WallClock
``profiles``           engines, rates, per-kind options, skew
``generators``         the exact entry formats of every log kind
``files``, ``streams``  naming, rotation, retention; one instance's writers
``truth``              ground truth of every entry and file name
``faults``             the failures a test can inject (both sides)
``portions``           DownloadDBLogFilePortion's paging rules
``rds_api``, ``admin``  the moto extension and its admin routes
``client``             Python access to the admin API
``fleet``              the Fleet
``cli``, ``samples``   ``aurora-logs simulate``; sample files of every kind
=====================  ==========================================================
"""

from simulator.client import SimulatorControl, SimulatorUnavailableError
from simulator.clock import SimClock, WallClock
from simulator.faults import (
    BinaryData,
    Budget,
    DeleteBeforeRead,
    Gap,
    GarbageBytes,
    HugeLine,
    Latency,
    Overlap,
    RotateMidRead,
    Stale,
    Throttle,
    Truncate,
)
from simulator.fleet import Fleet, SimCluster, SimInstance
from simulator.profiles import (
    AURORA_MYSQL_2,
    AURORA_MYSQL_3,
    AURORA_POSTGRESQL,
    Engine,
    LogOptions,
    LogProfile,
    Rate,
    Skew,
)
from simulator.requestlog import SIMULATOR_ACCESS_KEY_ID, RequestRecord, conforms_to_budget
from simulator.truth import Truth, TruthEntry, TruthFile, entry_digest

__all__ = [
    "AURORA_MYSQL_2",
    "AURORA_MYSQL_3",
    "AURORA_POSTGRESQL",
    "SIMULATOR_ACCESS_KEY_ID",
    "BinaryData",
    "Budget",
    "DeleteBeforeRead",
    "Engine",
    "Fleet",
    "Gap",
    "GarbageBytes",
    "HugeLine",
    "Latency",
    "LogOptions",
    "LogProfile",
    "Overlap",
    "Rate",
    "RequestRecord",
    "RotateMidRead",
    "SimClock",
    "SimCluster",
    "SimInstance",
    "SimulatorControl",
    "SimulatorUnavailableError",
    "Skew",
    "Stale",
    "Throttle",
    "Truncate",
    "Truth",
    "TruthEntry",
    "TruthFile",
    "WallClock",
    "conforms_to_budget",
    "entry_digest",
]
