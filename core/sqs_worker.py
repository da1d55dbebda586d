"""An SQS-driven worker, as plain data: queue settings, IAM, and its Kubernetes objects.

KEDA polls the queue (`pollingInterval`, ~5 s in the field notes), activates the Deployment from 0,
and hands the HPA a scale-up policy that can add dozens of pods in one step; scale-down is gentle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.tags import KEY_NAMESPACE

if TYPE_CHECKING:  # core/config/workloads.py describes its keys with this module's constants
    from core.config.workloads import WorkloadConfig

SCALE_UP_PERIOD_SECONDS = 15
# Environment variables the worker's container gets from the program (QUEUE_URL, AWS_REGION,
# PROCESSING_SECONDS, set in `deployment`) and from EKS Pod Identity, which sets the last two for the
# SDKs' container credential provider (AWS SDKs and Tools reference guide, "Container credential
# provider"): a workload's own `env` or `workloadSecrets` must not override them.
PROGRAM_ENV = ("QUEUE_URL", "AWS_REGION", "PROCESSING_SECONDS")
INJECTED_ENV = (*PROGRAM_ENV, "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
DEAD_LETTER_RETENTION_SECONDS = 1209600  # 14 days, SQS's maximum: time to inspect what failed
MAX_VISIBILITY_TIMEOUT_SECONDS = 43200  # 12 hours, SQS's maximum
VISIBILITY_TIMEOUT_FACTOR = 6  # the default visibility timeout, in multiples of a message's processing time
GRACE_PERIOD_MARGIN_SECONDS = 10  # the default termination grace period beyond a message's processing time
# The HPA's scale-down policy: at most this share of the pods per period. Gentle, unlike the scale-up step.
SCALE_DOWN_PERCENT, SCALE_DOWN_PERIOD_SECONDS = 25, 60
FALLBACK_FAILURE_THRESHOLD = 3  # failed reads of the queue's length before KEDA holds `fallback.replicas`


def visibility_timeout(workload: WorkloadConfig) -> int:
    """A message must stay invisible longer than its processing takes, or a second pod gets it too."""
    if workload.queue.visibility_timeout_seconds is not None:
        return workload.queue.visibility_timeout_seconds
    return min(MAX_VISIBILITY_TIMEOUT_SECONDS, VISIBILITY_TIMEOUT_FACTOR * workload.processing_seconds)


def termination_grace_period(workload: WorkloadConfig, eviction_max_pod_grace_period: int | None) -> int:
    """Long enough to finish the message in hand, and at least what soft eviction grants."""
    if workload.termination_grace_period_seconds is not None:
        return workload.termination_grace_period_seconds
    return max(workload.processing_seconds + GRACE_PERIOD_MARGIN_SECONDS, eviction_max_pod_grace_period or 0)


def labels(workload: WorkloadConfig) -> dict[str, str]:
    return {"app.kubernetes.io/name": workload.name, "app.kubernetes.io/part-of": KEY_NAMESPACE}


def metadata(workload: WorkloadConfig, name: str | None = None) -> dict[str, Any]:
    return {"name": name or workload.name, "namespace": workload.namespace, "labels": labels(workload)}


def worker_policy(queue_arn: str) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "ConsumeOwnQueue", "Effect": "Allow", "Resource": queue_arn,
        "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"]}]}


def redrive_policy(dead_letter_arn: str, workload: WorkloadConfig) -> dict[str, Any]:
    return {"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": workload.queue.max_receive_count}


def service_account(workload: WorkloadConfig) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": metadata(workload)}


def secret_name(workload: WorkloadConfig) -> str:
    return f"{workload.name}-env"


def deployment_metadata(workload: WorkloadConfig) -> dict[str, Any]:
    return {**metadata(workload), "annotations": {
        # Suppressions of checkov's Kubernetes checks, each with its reason (checkov.io/skipN).
        "checkov.io/skip1": "CKV_K8S_43=images are pinned by tag or digest in the stack config; digests are optional",
        "checkov.io/skip2": "CKV_K8S_15=IfNotPresent keeps image pulls off the burst's critical path; tags are pinned",
    }}


def deployment(workload: WorkloadConfig, queue_url: str, region: str, grace_period: int,
               secret_variables: list[str] | None = None) -> dict[str, Any]:
    probes = workload.probes
    container: dict[str, Any] = {
        "name": "worker",
        "image": workload.image,
        "env": [*({"name": k, "value": v} for k, v in zip(PROGRAM_ENV, (queue_url, region, str(workload.processing_seconds)))),
                *({"name": k, "value": v} for k, v in sorted(workload.env.items())),
                *({"name": k, "valueFrom": {"secretKeyRef": {"name": secret_name(workload), "key": k}}}
                  for k in sorted(secret_variables or []))],
        "ports": [{"name": "health", "containerPort": probes.port}],
        "resources": workload.resources.model_dump(),
        "startupProbe": {"httpGet": {"path": probes.startup_path, "port": "health"}, "periodSeconds": 2, "failureThreshold": 30},
        "readinessProbe": {"httpGet": {"path": probes.readiness_path, "port": "health"}, "periodSeconds": 5, "failureThreshold": 3},
        "livenessProbe": {"httpGet": {"path": probes.startup_path, "port": "health"}, "periodSeconds": 10, "failureThreshold": 3},
        # Pulling on every start would put the registry on the burst's critical path; images are pinned.
        "imagePullPolicy": "IfNotPresent",
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001, "readOnlyRootFilesystem": True,
                            "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    if workload.command:
        container["command"] = list(workload.command)
    selector = labels(workload)
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": deployment_metadata(workload),
        # No `replicas`: KEDA and its HPA own the count (0 when the queue is empty).
        "spec": {
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": selector},
                "spec": {
                    "serviceAccountName": workload.name,
                    # EKS Pod Identity injects its own projected token; the worker never calls the Kubernetes API.
                    "automountServiceAccountToken": False,
                    "terminationGracePeriodSeconds": grace_period,
                    "securityContext": {"runAsNonRoot": True, "fsGroup": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [container],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}],
                    "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                                                   "whenUnsatisfiable": "ScheduleAnyway",
                                                   "labelSelector": {"matchLabels": selector}}],
                },
            },
        },
    }


def network_policy(workload: WorkloadConfig) -> dict[str, Any]:
    """Workers serve nothing: no ingress (kubelet probes come from the node); egress stays open for SQS and STS."""
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": metadata(workload),
            "spec": {"podSelector": {"matchLabels": labels(workload)}, "policyTypes": ["Ingress"], "ingress": []}}


def pod_disruption_budget(workload: WorkloadConfig) -> dict[str, Any]:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": metadata(workload),
            "spec": {"maxUnavailable": "20%", "selector": {"matchLabels": labels(workload)}}}


def trigger_authentication(workload: WorkloadConfig) -> dict[str, Any]:
    return {"apiVersion": "keda.sh/v1alpha1", "kind": "TriggerAuthentication",
            "metadata": metadata(workload, f"{workload.name}-aws"),
            # KEDA's own identity (IRSA on keda-operator) reads the queue length.
            "spec": {"podIdentity": {"provider": "aws"}}}


def scaled_object(workload: WorkloadConfig, queue_url: str, region: str) -> dict[str, Any]:
    scaling = workload.scaling
    return {
        "apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
        "metadata": metadata(workload),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": workload.name},
            "pollingInterval": scaling.polling_interval_seconds,
            "cooldownPeriod": scaling.cooldown_period_seconds,
            "minReplicaCount": scaling.min_replicas,
            "maxReplicaCount": scaling.max_replicas,
            "fallback": {"failureThreshold": FALLBACK_FAILURE_THRESHOLD, "replicas": scaling.fallback_replicas},
            "advanced": {"horizontalPodAutoscalerConfig": {"behavior": {
                # One step may go from 0 to maxReplicas: a burst must not wait for doubling rounds.
                "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                            "policies": [{"type": "Pods", "value": scaling.max_replicas, "periodSeconds": SCALE_UP_PERIOD_SECONDS}]},
                "scaleDown": {"stabilizationWindowSeconds": scaling.scale_down_stabilization_seconds, "selectPolicy": "Min",
                              "policies": [{"type": "Percent", "value": SCALE_DOWN_PERCENT, "periodSeconds": SCALE_DOWN_PERIOD_SECONDS}]},
            }}},
            "triggers": [{
                "type": "aws-sqs-queue",
                "authenticationRef": {"name": f"{workload.name}-aws", "kind": "TriggerAuthentication"},
                # Trigger metadata is map[string]string in the CRD: every value is a string.
                "metadata": {"queueURL": queue_url, "queueLength": str(scaling.messages_per_replica),
                             "activationQueueLength": str(scaling.activation_queue_length), "awsRegion": region,
                             "scaleOnInFlight": "true"},
            }],
        },
    }
