"""SqsWorker: one SQS-driven workload: queue and dead-letter queue, its identity, Deployment and scaling."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.context import ClusterContext
from components.keda import Keda
from core import aws_limits, sqs_worker
from core.deployment import WorkerPlan
from core.iam_documents import pod_identity_trust_policy
from core.resource_types import SQS_WORKER
from core.tags import DEAD_LETTER_QUEUE_TAG


class SqsWorker(pulumi.ComponentResource):
    """The worker's AWS identity is an EKS Pod Identity association limited to its own queue; KEDA reads
    the queue length with its own identity and scales the Deployment from 0."""

    queue: aws.sqs.Queue

    def __init__(self, name: str, plan: WorkerPlan, context: ClusterContext, *, keda: Keda, namespace: k8s.core.v1.Namespace,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__(SQS_WORKER, name, None, opts)
        workload, secret_env = plan.workload, plan.secret_env
        cluster, cluster_name, region = context.cluster, context.cluster_name, context.region
        child = pulumi.ResourceOptions(parent=self)
        holds_messages = pulumi.ResourceOptions(parent=self, protect=context.protect)  # stack.protect: queued work survives a destroy

        queue_name = aws_limits.worker_queue_name(cluster_name, workload.name)
        # Marked as a dead-letter queue here, where that is known: the guardrails cannot tell it from the
        # redrive policy of its source queue while that queue's ARN is unknown (a first preview).
        dead_letters = aws.sqs.Queue(f"{name}-dlq", name=aws_limits.dead_letter_queue_name(cluster_name, workload.name), sqs_managed_sse_enabled=True,
                                     message_retention_seconds=sqs_worker.DEAD_LETTER_RETENTION_SECONDS,
                                     tags={DEAD_LETTER_QUEUE_TAG: queue_name}, opts=holds_messages)
        self.queue = aws.sqs.Queue(
            name, name=queue_name, sqs_managed_sse_enabled=True,
            visibility_timeout_seconds=sqs_worker.visibility_timeout(workload),
            receive_wait_time_seconds=workload.queue.long_polling_seconds,
            message_retention_seconds=workload.queue.retention_seconds,
            redrive_policy=dead_letters.arn.apply(lambda arn: json.dumps(sqs_worker.redrive_policy(arn, workload))),
            opts=holds_messages,
        )

        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        trust = account.apply(lambda account_id: json.dumps(pod_identity_trust_policy(
            account=account_id, cluster_name=cluster_name, namespace=workload.namespace, service_account=workload.name)))
        role = aws.iam.Role(name, description=f"SQS worker {workload.namespace}/{workload.name}", assume_role_policy=trust, opts=child)
        aws.iam.RolePolicy(f"{name}-queue", role=role.id,
                           policy=self.queue.arn.apply(lambda arn: json.dumps(sqs_worker.worker_policy(arn))), opts=child)
        identity = aws.eks.PodIdentityAssociation(name, cluster_name=cluster.name, namespace=workload.namespace,
                                                  service_account=workload.name, role_arn=role.arn, opts=child)
        keda_read = keda.allow_reading_queue(name, self.queue.arn, parent=self)

        in_namespace = pulumi.ResourceOptions(parent=self, provider=cluster.provider, depends_on=[namespace])
        k8s.core.v1.ServiceAccount(name, metadata=sqs_worker.metadata(workload), opts=in_namespace)
        grace_period = sqs_worker.termination_grace_period(workload, plan.eviction_max_pod_grace_period)
        secret_variables = sorted(secret_env)
        needs = [identity]
        if secret_variables:
            needs.append(k8s.core.v1.Secret(f"{name}-env", type="Opaque",
                                            metadata=sqs_worker.metadata(workload, sqs_worker.secret_name(workload)),
                                            string_data=pulumi.Output.secret(dict(secret_env)), opts=in_namespace))
        deployment = self.queue.url.apply(lambda url: sqs_worker.deployment(workload, url, region, grace_period, secret_variables))
        static = sqs_worker.deployment_metadata(workload)
        k8s.apps.v1.Deployment(
            name,
            # KEDA owns the replica count, 0 while the queue is empty: Pulumi must not wait for Ready pods.
            metadata={**static, "annotations": {**static["annotations"], "pulumi.com/skipAwait": "true"}},
            spec=deployment.apply(lambda manifest: manifest["spec"]),
            opts=pulumi.ResourceOptions.merge(in_namespace, pulumi.ResourceOptions(depends_on=needs)))
        policy = sqs_worker.network_policy(workload)
        k8s.networking.v1.NetworkPolicy(name, metadata=policy["metadata"], spec=policy["spec"], opts=in_namespace)
        budget = sqs_worker.pod_disruption_budget(workload)
        k8s.policy.v1.PodDisruptionBudget(name, metadata=budget["metadata"], spec=budget["spec"], opts=in_namespace)

        after_keda = pulumi.ResourceOptions.merge(in_namespace, pulumi.ResourceOptions(depends_on=[keda.release, keda_read]))
        authentication = sqs_worker.trigger_authentication(workload)
        k8s.apiextensions.CustomResource(f"{name}-auth", api_version=authentication["apiVersion"], kind=authentication["kind"],
                                         metadata=authentication["metadata"], spec=authentication["spec"], opts=after_keda)
        scaled_object = self.queue.url.apply(lambda url: sqs_worker.scaled_object(workload, url, region))
        k8s.apiextensions.CustomResource(f"{name}-scaler", api_version="keda.sh/v1alpha1", kind="ScaledObject",
                                         metadata=sqs_worker.metadata(workload),
                                         spec=scaled_object.apply(lambda manifest: manifest["spec"]), opts=after_keda)
        self.register_outputs({"queueUrl": self.queue.url, "deadLetterQueueUrl": dead_letters.url})

