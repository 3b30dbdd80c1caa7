"""Settings: defaults of the design, validation that names the variable, frozen sections."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from common.cli import main as cli_main
from common.errors import ConfigurationError
from common.settings import CommonSettings, KafkaSettings, env_name, load_settings


def test_defaults_match_the_design() -> None:
    settings = load_settings(CommonSettings, {})
    assert settings.kafka.topic == "aurora-logs"
    assert settings.kafka.dead_letter_topic == "aurora-logs-dlq"
    assert settings.kafka.bootstrap_servers == "kafka-service.aurora-logs.svc.cluster.local:9092"
    assert settings.dynamodb.table == "aurora-log-tracking"
    assert settings.s3.bucket == "company-aurora-logs-poc"
    assert str(settings.openobserve.url) == (
        "http://openobserve-service.aurora-logs.svc.cluster.local/"
    )
    assert settings.rds.budget_rate_per_s < 12, "must leave AWS's 12 req/s for other tools"


def test_nested_variables_set_nested_fields() -> None:
    settings = load_settings(
        CommonSettings,
        {
            "AURORA_KAFKA__BOOTSTRAP_SERVERS": "127.0.0.1:9092,127.0.0.1:9093",
            "aurora_aws__endpoint_url": "http://127.0.0.1:5000",
            "AURORA_AWS__S3_ENDPOINT_URL": "http://127.0.0.1:6000",
            "AURORA_HTTP__PORT": "0",
        },
    )
    assert settings.kafka.bootstrap_servers == "127.0.0.1:9092,127.0.0.1:9093"
    assert settings.aws.endpoint_for("rds") == "http://127.0.0.1:5000"
    assert settings.aws.endpoint_for("s3") == "http://127.0.0.1:6000"
    assert settings.http.port == 0


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"AURORA_KAFKA__BOOTSTRAP_SERVERS": "no-port"}, "AURORA_KAFKA__BOOTSTRAP_SERVERS: "),
        ({"AURORA_KAFKA__TOPIC_PARTITIONS": "zero"}, "AURORA_KAFKA__TOPIC_PARTITIONS: "),
        ({"AURORA_KAFKA__TOPIC_PARTITIONS": "0"}, "AURORA_KAFKA__TOPIC_PARTITIONS: "),
        ({"AURORA_KAFKA__TOPICS": "x"}, "AURORA_KAFKA__TOPICS: Extra inputs"),
        ({"AURORA_KAFAK__TOPIC": "x"}, "AURORA_KAFAK__TOPIC: unknown variable"),
        ({"AURORA_KAFKA": "x"}, "AURORA_KAFKA: a section cannot be set as a whole"),
        ({"AURORA_VALKEY__URL": "http://x"}, "AURORA_VALKEY__URL: "),
        ({"AURORA_LOGGING__LEVEL": "LOUD"}, "AURORA_LOGGING__LEVEL: "),
        ({"AURORA_SERVICE__SHUTDOWN_DEADLINE_S": "31"}, "termination_grace_period_s"),
        (
            {"AURORA_KAFKA__SECURITY_PROTOCOL": "SASL_SSL"},
            "SASL security protocols need sasl_mechanism",
        ),
    ],
)
def test_invalid_variables_are_named_in_the_error(environ: dict[str, str], expected: str) -> None:
    with pytest.raises(ConfigurationError) as error:
        load_settings(CommonSettings, environ)
    assert expected in str(error.value)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigurationError) as error:
        load_settings(
            CommonSettings,
            {
                "AURORA_KAFKA__TOPIC_PARTITIONS": "x",
                "AURORA_HTTP__PORT": "70000",
                "AURORA_NOPE": "1",
            },
        )
    message = str(error.value)
    for variable in ("AURORA_KAFKA__TOPIC_PARTITIONS", "AURORA_HTTP__PORT", "AURORA_NOPE"):
        assert variable in message


def test_secrets_never_appear_in_errors_or_dumps() -> None:
    with pytest.raises(ConfigurationError) as error:
        load_settings(CommonSettings, {"AURORA_OPENOBSERVE__PASSWORD": "hunter2", "AURORA_X": "1"})
    assert "hunter2" not in str(error.value)
    settings = load_settings(CommonSettings, {"AURORA_OPENOBSERVE__PASSWORD": "hunter2"})
    assert settings.openobserve.password.get_secret_value() == "hunter2"
    assert "hunter2" not in settings.model_dump_json()


def test_test_variables_are_not_settings() -> None:
    load_settings(CommonSettings, {"AURORA_TEST_KAFKA": "127.0.0.1:1", "AURORA_STACK_DIR": "/x"})


def test_sections_are_frozen() -> None:
    settings = load_settings(CommonSettings, {})
    with pytest.raises(ValidationError):
        settings.kafka.topic = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        KafkaSettings(heartbeat_interval_s=20, session_timeout_s=45)


def test_env_name_of_a_location() -> None:
    assert env_name(("kafka", "bootstrap_servers")) == "AURORA_KAFKA__BOOTSTRAP_SERVERS"


def test_settings_command_prints_masked_settings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AURORA_OPENOBSERVE__PASSWORD", "hunter2")
    monkeypatch.setenv("AURORA_KAFKA__TOPIC", "other-topic")
    assert cli_main(["settings", "--service", "processor"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["kafka"]["topic"] == "other-topic"
    assert printed["openobserve"]["password"] == "**********"


def test_settings_command_reports_bad_variables(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AURORA_HTTP__PORT", "-1")
    assert cli_main(["settings"]) == 2
    assert "AURORA_HTTP__PORT" in capsys.readouterr().err
