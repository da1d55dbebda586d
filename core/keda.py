"""KEDA, as plain data: the pinned chart, its values, and the operator's AWS identity (IRSA).

IRSA, not EKS Pod Identity, for the operator: it is the path KEDA documents and its chart models
(`podIdentity.aws.irsa.*`); Pod Identity for the operator is undocumented (kedacore/keda#6706).
"""

from __future__ import annotations

from typing import Any

from core.karpenter import managed_nodes_only

KEDA_NAMESPACE = "keda"
KEDA_SERVICE_ACCOUNT = "keda-operator"
KEDA_CHART_REPOSITORY = "https://kedacore.github.io/charts"
KEDA_CHART = "keda"
KEDA_CHART_VERSION = "2.20.2"
KEDA_OPERATOR_NAME = "keda-operator"  # the chart's operator.name default (keda/values.yaml:88)


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


def keda_values(replicas: int, resources: dict[str, Any], role_arn: str, managed_node_label: str) -> dict[str, Any]:
    """Chart defaults (kedacore/charts v2.20.2 keda/values.yaml) leave the metrics server and the webhooks
    at one replica (:166, :239), no PodDisruptionBudget (:282-296) and no affinity (:588), so KEDA can land
    on a spot node Karpenter launched for a burst and go with it. All three follow the operator's replica
    count, keep at most one pod down in a drain, run on the managed node groups and prefer separate nodes."""
    spread = {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": {
        "topologyKey": "kubernetes.io/hostname",
        # Every KEDA pod carries part-of: <operator.name> (keda/templates/_helpers.tpl:17, `keda.labels`).
        "labelSelector": {"matchLabels": {"app.kubernetes.io/part-of": KEDA_OPERATOR_NAME}}}}]}
    budget = {"maxUnavailable": 1}
    return {
        "podIdentity": {"aws": {"irsa": {"enabled": True, "roleArn": role_arn}}},
        "operator": {"replicaCount": replicas},
        "metricsServer": {"replicaCount": replicas},
        "webhooks": {"replicaCount": replicas},
        "podDisruptionBudget": {"operator": budget, "metricServer": budget, "webhooks": budget},
        # Used by all three Deployments (templates/*/deployment.yaml: `.Values.<component>.affinity | default .Values.affinity`).
        "affinity": {"nodeAffinity": managed_nodes_only(managed_node_label), "podAntiAffinity": spread},
        "resources": {"operator": resources},
        "crds": {"install": True},
    }

