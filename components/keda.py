"""Keda: the KEDA operator (Helm) with an IRSA identity that may read the length of the workloads' queues."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.context import ClusterContext
from core.config.keda import KedaConfig
from core.tags import COLOUR_LABEL, COMPONENT_TYPE_PREFIX
from core.keda import (
    KEDA_CHART,
    KEDA_CHART_REPOSITORY,
    KEDA_CHART_VERSION,
    KEDA_NAMESPACE,
    KEDA_SERVICE_ACCOUNT,
    irsa_trust_policy,
    keda_read_policy,
    keda_values,
)


class Keda(pulumi.ComponentResource):
    """The chart installs and upgrades KEDA's CRDs itself (they are templates, `crds.install`)."""

    release: k8s.helm.v3.Release
    operator_role: aws.iam.Role

    def __init__(self, name: str, config: KedaConfig, context: ClusterContext, *, opts: pulumi.ResourceOptions | None = None):
        super().__init__(COMPONENT_TYPE_PREFIX + "Keda", name, None, opts)
        cluster = context.cluster
        self._name = name
        trust = pulumi.Output.all(cluster.oidc_provider_arn, cluster.oidc_issuer).apply(
            lambda args: json.dumps(irsa_trust_policy(args[0], args[1], KEDA_NAMESPACE, KEDA_SERVICE_ACCOUNT)))
        self.operator_role = aws.iam.Role(f"{name}-operator", assume_role_policy=trust,
                                          description="KEDA operator: reads SQS queue lengths", opts=pulumi.ResourceOptions(parent=self))
        self.release = k8s.helm.v3.Release(
            name,
            name="keda",
            chart=KEDA_CHART,
            version=KEDA_CHART_VERSION,
            repository_opts={"repo": KEDA_CHART_REPOSITORY},
            namespace=KEDA_NAMESPACE,
            create_namespace=True,
            # atomic: a failed install rolls back after the wait (pulumi-kubernetes' default 300 s,
            # pulumi/pulumi-kubernetes provider/pkg/provider/helm_release.go:64 `defaultTimeoutSeconds`), so the
            # component is ordered after the node groups in __main__.py: its pods need a node to become ready.
            atomic=True,
            values=keda_values(config.operator.replicas, config.operator.resources.model_dump(), self.operator_role.arn, COLOUR_LABEL),
            opts=pulumi.ResourceOptions(parent=self, provider=cluster.provider),
        )
        self.register_outputs({"operatorRoleArn": self.operator_role.arn})

    def allow_reading_queue(self, name: str, queue_arn: pulumi.Input[str], parent: pulumi.Resource) -> aws.iam.RolePolicy:
        """Grant GetQueueAttributes on one queue; each workload adds its own so grants stay per queue."""
        return aws.iam.RolePolicy(f"{name}-keda-read", role=self.operator_role.id,
                                  policy=pulumi.Output.from_input(queue_arn).apply(lambda arn: json.dumps(keda_read_policy(arn))),
                                  opts=pulumi.ResourceOptions(parent=parent))
