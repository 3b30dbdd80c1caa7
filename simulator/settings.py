"""Settings of the moto side of the simulator: ``AURORA_SIMULATOR__*`` variables.

The moto process reads them once at start-up (:func:`load_server_settings`); the API-behaviour
part (:class:`ApiConfig`) can then be changed at run time through the admin API, and a reset
restores what the environment said.

===========================================  ====================================================
``AURORA_SIMULATOR__DATA_DIR``               where the log files are (default: a new temporary
                                             directory, removed at exit)
``AURORA_SIMULATOR__PAGE_CAP_BYTES``         DownloadDBLogFilePortion page cap (1 MB)
``AURORA_SIMULATOR__TAIL_LINES``             lines returned without Marker and NumberOfLines
``AURORA_SIMULATOR__LAST_WRITTEN_GRANULARITY_MS``  LastWritten is rounded down to this (300 s,
                                             as AWS's own examples are)
``AURORA_SIMULATOR__DESCRIBE_PAGE_SIZE``     DescribeDBLogFiles page size without MaxRecords
``AURORA_SIMULATOR__ZERO_MARKER_AT_SEGMENT_END``  a page that ends a rotated file returns
                                             Marker "0", as observed on RDS
``AURORA_SIMULATOR__DOWNLOAD_PATH_PREFIXES`` REST download prefixes (``["/v13/","/v19/"]``)
``AURORA_SIMULATOR__REQUEST_LOG_SIZE``       calls kept in the request log
===========================================  ====================================================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import Field, field_validator

from common.section import Section
from common.settings import CommonSettings, load_settings

__all__ = ["ApiConfig", "SimulatorSettings", "load_server_settings"]


class ApiConfig(Section):
    """How the simulated RDS log API behaves (changeable at run time)."""

    page_cap_bytes: int = Field(default=1_048_576, ge=64)
    tail_lines: int = Field(default=10_000, ge=1)
    last_written_granularity_ms: int = Field(default=300_000, ge=1)
    describe_page_size: int = Field(default=100, ge=1, le=1000)
    zero_marker_at_segment_end: bool = True
    download_path_prefixes: tuple[str, ...] = ("/v13/", "/v19/")

    @field_validator("download_path_prefixes")
    @classmethod
    def _slashed(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for prefix in value:
            if not (prefix.startswith("/") and prefix.endswith("/")):
                raise ValueError("each prefix starts and ends with '/', e.g. /v13/")
        return value


class SimulatorSettings(ApiConfig):
    """Everything the moto side reads from the environment."""

    data_dir: Path | None = None
    request_log_size: int = Field(default=1_000_000, ge=100)

    def api_config(self) -> ApiConfig:
        return ApiConfig.model_validate(self.model_dump(include=set(ApiConfig.model_fields)))


class _ServerSettings(CommonSettings):
    simulator: SimulatorSettings = SimulatorSettings()


def load_server_settings(environ: Mapping[str, str] | None = None) -> SimulatorSettings:
    """``AURORA_SIMULATOR__*`` from ``environ`` (default: the process environment).

    Other ``AURORA_*`` variables belong to other processes and are not looked at. Raises
    :class:`common.errors.ConfigurationError` naming each bad variable.
    """
    source = os.environ if environ is None else environ
    own = {k: v for k, v in source.items() if k.upper().startswith("AURORA_SIMULATOR__")}
    return load_settings(_ServerSettings, own).simulator
