"""The IAM policy documents in k8s/iam/: least privilege, per service."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from common.settings import DynamoDbSettings, S3Settings
from tests.deploy.manifests import K8S

IAM = K8S / "iam"
TABLE = DynamoDbSettings().table
BUCKET = S3Settings().bucket


def _statements(name: str) -> list[dict[str, Any]]:
    document = json.loads((IAM / f"{name}-policy.json").read_text())
    assert document["Version"] == "2012-10-17"
    statements: list[dict[str, Any]] = document["Statement"]
    return statements


def _actions(name: str) -> set[str]:
    found: set[str] = set()
    for statement in _statements(name):
        assert statement["Effect"] == "Allow"
        actions = statement["Action"]
        found |= {actions} if isinstance(actions, str) else set(actions)
    return found


def _resources(name: str, prefix: str) -> set[str]:
    found: set[str] = set()
    for statement in _statements(name):
        resources = statement["Resource"]
        found |= {
            r
            for r in ([resources] if isinstance(resources, str) else resources)
            if r.startswith(prefix)
        }
    return found


@pytest.mark.parametrize(
    ("name", "actions"),
    [
        (
            "discovery",
            {
                "rds:DescribeDBClusters",
                "rds:DescribeDBInstances",
                "rds:DescribeDBLogFiles",
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:Query",
            },
        ),
        (
            "processor",
            {
                "rds:DescribeDBLogFiles",
                "rds:DownloadDBLogFilePortion",
                "rds:DownloadCompleteDBLogFile",
                "dynamodb:GetItem",
                "dynamodb:UpdateItem",
                "dynamodb:Query",
                "s3:GetObject",
                "s3:PutObject",
                "s3:ListBucket",
            },
        ),
        ("openobserve", {"s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"}),
    ],
)
def test_each_service_gets_exactly_the_actions_it_calls(name: str, actions: set[str]) -> None:
    assert _actions(name) == actions
    assert not any("*" in action for action in _actions(name))


@pytest.mark.parametrize("name", ["discovery", "processor", "openobserve"])
def test_resources_are_scoped(name: str) -> None:
    for statement in _statements(name):
        resources = statement["Resource"]
        for resource in [resources] if isinstance(resources, str) else resources:
            assert resource != "*", f"{name}: unscoped statement {statement['Sid']}"
    dynamodb = _resources(name, "arn:aws:dynamodb:")
    assert dynamodb in (set(), {f"arn:aws:dynamodb:*:*:table/{TABLE}"})


def test_the_processor_reaches_only_the_raw_and_staged_prefixes() -> None:
    settings = S3Settings()
    objects = _resources("processor", "arn:aws:s3:::")
    assert objects == {
        f"arn:aws:s3:::{BUCKET}/{settings.raw_prefix}*",
        f"arn:aws:s3:::{BUCKET}/{settings.staged_prefix}*",
        f"arn:aws:s3:::{BUCKET}",
    }
    [listing] = [s for s in _statements("processor") if s["Action"] == "s3:ListBucket"]
    assert listing["Condition"]["StringLike"]["s3:prefix"] == [
        f"{settings.raw_prefix}*",
        f"{settings.staged_prefix}*",
    ]


def test_openobserve_reaches_only_its_prefix() -> None:
    env = next(p for p in K8S.glob("configmaps/openobserve.yaml")).read_text()
    prefix = re.search(r"ZO_S3_BUCKET_PREFIX: (\S+)", env)
    assert prefix is not None
    assert _resources("openobserve", "arn:aws:s3:::") == {
        f"arn:aws:s3:::{BUCKET}/{prefix.group(1)}*",
        f"arn:aws:s3:::{BUCKET}",
    }


def test_the_trust_policy_template_binds_one_service_account() -> None:
    text = (IAM / "irsa-trust-policy.template.json").read_text()
    assert set(re.findall(r"\$\{([A-Z_]+)\}", text)) == {
        "AWS_ACCOUNT_ID",
        "OIDC_PROVIDER",
        "SERVICE_ACCOUNT",
    }
    filled = (
        text.replace("${AWS_ACCOUNT_ID}", "123456789012")
        .replace("${OIDC_PROVIDER}", "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE")
        .replace("${SERVICE_ACCOUNT}", "processor")
    )
    [statement] = json.loads(filled)["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    condition = statement["Condition"]["StringEquals"]
    provider = "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE"
    assert condition[f"{provider}:sub"] == "system:serviceaccount:aurora-logs:processor"
    assert condition[f"{provider}:aud"] == "sts.amazonaws.com"
