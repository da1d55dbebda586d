"""Add-on hardening the charts leave at their defaults (issue 13, point 12)."""

from __future__ import annotations

import pytest

from core.tags import COLOUR_LABEL

MANAGED_ONLY = {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [
    {"key": "karpenter.sh/nodepool", "operator": "DoesNotExist"}, {"key": COLOUR_LABEL, "operator": "Exists"}]}]}}


@pytest.fixture(params=["dev", "prod"])
def plan(request, dev_plan, prod_plan):
    return {"dev": dev_plan, "prod": prod_plan}[request.param]


def _values(plan, release: str) -> dict:
    (hit,) = [r for r in plan.of_type("kubernetes:helm.sh/v3:Release") if r["inputs"]["name"] == release]
    return hit["inputs"]["values"]


def test_keda_stays_off_karpenter_nodes_with_budgets_and_replicas(plan):
    values = _values(plan, "keda")
    replicas = {"dev": 1, "prod": 2}[plan.document["stack"]]
    assert values["affinity"]["nodeAffinity"] == MANAGED_ONLY  # never a spot burst node Karpenter launched
    (spread,) = values["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert spread["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert spread["podAffinityTerm"]["labelSelector"] == {"matchLabels": {"app.kubernetes.io/part-of": "keda-operator"}}
    assert [values[c]["replicaCount"] for c in ("operator", "metricsServer", "webhooks")] == [replicas] * 3
    assert values["podDisruptionBudget"] == {c: {"maxUnavailable": 1} for c in ("operator", "metricServer", "webhooks")}


def test_karpenter_resolves_through_the_vpc_not_coredns(plan):
    values = _values(plan, "karpenter")
    assert values["dnsPolicy"] == "Default"
    assert values["affinity"] == {"nodeAffinity": MANAGED_ONLY}
