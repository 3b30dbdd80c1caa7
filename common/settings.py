"""Settings: one frozen pydantic model per concern, read from ``AURORA_*`` environment variables.

A nested field is set with a double underscore: ``AURORA_KAFKA__BOOTSTRAP_SERVERS`` sets
``settings.kafka.bootstrap_servers``. Every field carries its unit in its name (``_s``, ``_ms``,
``_bytes``). :func:`load_settings` validates everything at start-up and raises
:class:`~common.errors.ConfigurationError` whose message names each bad variable, so an operator
reading a crash-looping pod's log knows which line of the ConfigMap to fix.

Services extend :class:`CommonSettings` with a section of their own (``discovery``,
``processor``); the concerns shared by both live here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any, ClassVar, Literal, Self, TypeVar

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from common.errors import ConfigurationError
from common.section import Section

ENV_PREFIX = "AURORA_"
NESTED_DELIMITER = "__"

# Sections a service of this system may own. A variable whose first segment names none of them
# is a typo, reported at start-up instead of being silently ignored.
KNOWN_SECTIONS = frozenset(
    {
        "kafka",
        "valkey",
        "aws",
        "rds",
        "dynamodb",
        "s3",
        "openobserve",
        "logging",
        "http",
        "service",
        "discovery",
        "processor",
        "parsing",
        "simulator",
    }
)
# Variables read by the test suite and tools, not by the services.
_IGNORED_PREFIXES = ("AURORA_TEST_", "AURORA_STACK_", "AURORA_BENCH_")


class KafkaSettings(Section):
    bootstrap_servers: str = "kafka-service.aurora-logs.svc.cluster.local:9092"
    topic: str = "aurora-logs"
    dead_letter_topic: str = "aurora-logs-dlq"
    client_id: str = "aurora-logs"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    request_timeout_s: float = Field(default=30.0, gt=0)
    # Topic layout, applied when a service creates a missing topic (dev, first deployment).
    create_topics: bool = True
    topic_partitions: int = Field(default=12, ge=1)
    topic_replication_factor: int = Field(default=1, ge=1)
    # Consumer group behaviour (processor).
    consumer_group: str = "aurora-processor"
    # Shorter than the pod's grace period and longer than a drain (validated by the processor).
    session_timeout_s: float = Field(default=25.0, gt=0)
    heartbeat_interval_s: float = Field(default=3.0, gt=0)
    max_poll_interval_s: float = Field(default=300.0, gt=0)

    @field_validator("bootstrap_servers")
    @classmethod
    def _hosts_have_ports(cls, value: str) -> str:
        for server in value.split(","):
            host, _, port = server.strip().rpartition(":")
            if not host or not port.isdigit():
                raise ValueError("expected host:port[,host:port...]")
        return value

    @model_validator(mode="after")
    def _sasl_complete(self) -> Self:
        if self.security_protocol.startswith("SASL") and not (
            self.sasl_mechanism and self.sasl_username and self.sasl_password
        ):
            raise ValueError(
                "SASL security protocols need sasl_mechanism, sasl_username and sasl_password"
            )
        if self.heartbeat_interval_s * 3 > self.session_timeout_s:
            raise ValueError("heartbeat_interval_s must be at most a third of session_timeout_s")
        return self


class ValkeySettings(Section):
    url: str = "redis://valkey-service.aurora-logs.svc.cluster.local:6379/0"
    key_prefix: str = "aurora-logs:"
    socket_timeout_s: float = Field(default=5.0, gt=0)

    @field_validator("url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("expected a redis://, rediss:// or unix:// URL")
        return value


class AwsSettings(Section):
    region: str = "us-east-1"
    # One endpoint for every AWS service (moto in development); a per-service one wins.
    endpoint_url: str | None = None
    rds_endpoint_url: str | None = None
    dynamodb_endpoint_url: str | None = None
    s3_endpoint_url: str | None = None
    connect_timeout_s: float = Field(default=5.0, gt=0)
    read_timeout_s: float = Field(default=30.0, gt=0)
    # Attempts per DynamoDB or S3 call, the first included (RDS calls get exactly one inside
    # botocore: the shared budget owns their retries).
    max_attempts: int = Field(default=3, ge=1, le=10)
    max_pool_connections: int = Field(default=32, ge=1)

    def endpoint_for(self, service: Literal["rds", "dynamodb", "s3"]) -> str | None:
        """The endpoint URL for ``service``, or None for AWS's own."""
        specific: str | None = getattr(self, f"{service}_endpoint_url")
        return specific or self.endpoint_url


class RdsSettings(Section):
    """The account-wide RDS API budget, shared by every replica of both services."""

    # AWS allows about 12 requests/s sustained with a burst of 300 per account and region,
    # shared with the console and every other tool: leave them room.
    budget_rate_per_s: float = Field(default=8.0, gt=0, le=100)
    budget_burst: int = Field(default=40, ge=1)
    download_path_template: str = "/v13/downloadCompleteLogFile/{instance}/{file}"


class DynamoDbSettings(Section):
    table: str = "aurora-log-tracking"
    # Development convenience; production tables are created by infrastructure code.
    create_table_if_missing: bool = False
    # Tracking items of files gone from RDS expire after this (DynamoDB TTL).
    item_ttl_s: int = Field(default=35 * 86400, ge=3600)


class S3Settings(Section):
    bucket: str = "company-aurora-logs-poc"
    raw_prefix: str = "raw/"
    staged_prefix: str = "staged/"


class OpenObserveSettings(Section):
    url: AnyHttpUrl = AnyHttpUrl("http://openobserve-service.aurora-logs.svc.cluster.local")
    organization: str = "default"
    user: str = "root@example.com"
    password: SecretStr = SecretStr("")
    request_timeout_s: float = Field(default=30.0, gt=0)


class LoggingSettings(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # "auto": console rendering on a terminal, JSON otherwise (containers, files, pipes).
    format: Literal["auto", "json", "console"] = "auto"


class HttpSettings(Section):
    """The small server for /healthz, /readyz and /metrics."""

    host: str = "0.0.0.0"  # probes and Prometheus reach the pod from outside
    port: int = Field(default=8080, ge=0, le=65535)
    # /healthz fails when the service loop has not reported progress for this long.
    liveness_timeout_s: float = Field(default=120.0, gt=0)
    readiness_check_timeout_s: float = Field(default=3.0, gt=0)


class ServiceSettings(Section):
    # After SIGTERM the service finishes the work in hand for at most this long, then cancels.
    shutdown_deadline_s: float = Field(default=20.0, gt=0)
    # Kubernetes' terminationGracePeriodSeconds for the pod: the deadline must fit inside it.
    termination_grace_period_s: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _deadline_fits_grace(self) -> Self:
        if self.shutdown_deadline_s >= self.termination_grace_period_s:
            raise ValueError(
                "shutdown_deadline_s must be shorter than termination_grace_period_s, "
                "or Kubernetes kills the pod before it has drained"
            )
        return self


# The environment load_settings() was given; None means the process environment.
_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("aurora_settings_environ", default=None)


class _EnvironSource(EnvSettingsSource):
    """The environment-variable source, reading the mapping given to load_settings()."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        environ = _ENVIRON.get()
        if environ is None:
            return super()._load_env_vars()
        if self.case_sensitive:
            return dict(environ)
        return {name.lower(): value for name, value in environ.items()}


class CommonSettings(BaseSettings):
    """The sections every service reads. Frozen: settings never change after start-up."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=NESTED_DELIMITER,
        frozen=True,
        extra="forbid",
        case_sensitive=False,
    )

    kafka: KafkaSettings = KafkaSettings()
    valkey: ValkeySettings = ValkeySettings()
    aws: AwsSettings = AwsSettings()
    rds: RdsSettings = RdsSettings()
    dynamodb: DynamoDbSettings = DynamoDbSettings()
    s3: S3Settings = S3Settings()
    openobserve: OpenObserveSettings = OpenObserveSettings()
    logging: LoggingSettings = LoggingSettings()
    http: HttpSettings = HttpSettings()
    service: ServiceSettings = ServiceSettings()

    secret_fields: ClassVar[tuple[str, ...]] = ("password", "sasl_password")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment only: Kubernetes passes configuration as variables, and a stray .env file
        # in a working directory must not change a service's behaviour.
        return (init_settings, _EnvironSource(settings_cls))


S = TypeVar("S", bound=CommonSettings)


def env_name(loc: tuple[str | int, ...]) -> str:
    """The environment variable that sets the field at ``loc`` (``("kafka", "topic")``)."""
    return ENV_PREFIX + NESTED_DELIMITER.join(str(part).upper() for part in loc)


def load_settings(cls: type[S], environ: Mapping[str, str] | None = None) -> S:
    """Read and validate ``cls`` from ``environ`` (default: the process environment).

    Raises :class:`ConfigurationError` listing every invalid or unknown ``AURORA_*`` variable,
    one per line, each with the reason.
    """
    env = dict(os.environ if environ is None else environ)
    problems = _unknown_variables(cls, env)
    try:
        settings = _instantiate(cls, env)
    except ValidationError as exc:
        problems.extend(_describe(exc))
        settings = None
    except SettingsError as exc:
        # A whole section given as one variable that is not JSON; already reported above.
        if not problems:
            problems.append(f"{ENV_PREFIX}*: {exc}")
        settings = None
    if problems:
        raise ConfigurationError("invalid settings:\n  " + "\n  ".join(problems))
    assert settings is not None
    return settings


def _instantiate(cls: type[S], env: dict[str, str]) -> S:
    token = _ENVIRON.set(env)
    try:
        return cls()
    finally:
        _ENVIRON.reset(token)


def _unknown_variables(cls: type[CommonSettings], env: Mapping[str, str]) -> list[str]:
    problems = []
    for name in sorted(env):
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper.startswith(_IGNORED_PREFIXES):
            continue
        section = upper[len(ENV_PREFIX) :].split(NESTED_DELIMITER, 1)[0].lower()
        if section not in KNOWN_SECTIONS:
            problems.append(f"{name}: unknown variable (no settings section {section!r})")
        elif NESTED_DELIMITER not in upper[len(ENV_PREFIX) :] and section in cls.model_fields:
            problems.append(
                f"{name}: a section cannot be set as a whole; "
                f"set its fields, e.g. {ENV_PREFIX}{section.upper()}{NESTED_DELIMITER}<FIELD>"
            )
    return problems


def _describe(exc: ValidationError) -> list[str]:
    lines = []
    for error in exc.errors(include_url=False):
        loc = tuple(part for part in error["loc"] if part != "__root__")
        variable = env_name(loc) if loc else ENV_PREFIX + "*"
        value = error.get("input")
        shown = "" if _is_secret(loc) or isinstance(value, dict) else f" (got {value!r})"
        lines.append(f"{variable}: {error['msg']}{shown}")
    return lines


def _is_secret(loc: tuple[str | int, ...]) -> bool:
    return bool(loc) and str(loc[-1]) in CommonSettings.secret_fields


def redacted(settings: BaseModel) -> dict[str, Any]:
    """The settings as plain JSON-ready data with every secret replaced by ``"**********"``."""
    return settings.model_dump(mode="json")
