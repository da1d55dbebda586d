"""KEDA, as plain data: the pinned chart, its values, and the operator's AWS identity (IRSA).

IRSA, not EKS Pod Identity, for the operator: it is the path KEDA documents and its chart models
(`podIdentity.aws.irsa.*`); Pod Identity for the operator is undocumented (kedacore/keda#6706).
"""

from __future__ import annotations

from typing import Any

KEDA_NAMESPACE = "keda"
KEDA_SERVICE_ACCOUNT = "keda-operator"
KEDA_CHART_REPOSITORY = "https://kedacore.github.io/charts"
KEDA_CHART = "keda"
KEDA_CHART_VERSION = "2.20.2"


def keda_read_policy(queue_arn: str) -> dict[str, Any]:
    """KEDA's SQS scaler calls only GetQueueAttributes."""
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "ReadQueueLength", "Effect": "Allow", "Action": "sqs:GetQueueAttributes", "Resource": queue_arn}]}


def irsa_trust_policy(oidc_provider_arn: str, oidc_issuer: str, namespace: str, service_account: str) -> dict[str, Any]:
    issuer = oidc_issuer.removeprefix("https://")
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": oidc_provider_arn}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{issuer}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                                       f"{issuer}:aud": "sts.amazonaws.com"}}}]}


def keda_values(replicas: int, resources: dict[str, Any], role_arn: str) -> dict[str, Any]:
    return {
        "podIdentity": {"aws": {"irsa": {"enabled": True, "roleArn": role_arn}}},
        "operator": {"replicaCount": replicas},
        "resources": {"operator": resources},
        "crds": {"install": True},
    }

