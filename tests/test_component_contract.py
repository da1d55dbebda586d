"""Every component takes (name, its section or plan, the context, keyword-only wiring and opts) (components/context.py)."""

from __future__ import annotations

import inspect

import pytest

from components.cluster import Cluster
from components.context import ClusterContext, DeploymentContext
from components.eks_addons import EksAddons
from components.karpenter import Karpenter
from components.keda import Keda
from components.network import Network
from components.node_group import BottlerocketNodeGroup
from components.node_role import NodeRole
from components.sqs_worker import SqsWorker

BEFORE_THE_CLUSTER = (Network, NodeRole, Cluster)
ON_THE_CLUSTER = (BottlerocketNodeGroup, EksAddons, Keda, Karpenter, SqsWorker)


@pytest.mark.parametrize("component", BEFORE_THE_CLUSTER + ON_THE_CLUSTER, ids=lambda c: c.__name__)
def test_one_constructor_shape(component):
    parameters = list(inspect.signature(component.__init__).parameters.values())[1:]
    positional = [p for p in parameters if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
    assert [p.name for p in positional] == ["name", positional[1].name, "context"], "wiring and opts are keyword-only"
    # the section: a stack-file section (core/config/) or a plan of core/deployment.py, never a bare value
    assert positional[1].annotation.endswith(("Config", "Plan")), positional[1].annotation
    expected = "ClusterContext" if component in ON_THE_CLUSTER else "DeploymentContext"
    assert positional[2].annotation == expected
    assert parameters[-1].name == "opts"
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters[3:])


def test_the_cluster_context_keeps_every_shared_fact():
    shared = DeploymentContext(cluster_name="platform-dev", region="eu-west-1", tags={"team": "platform"}, protect=True,
                               aws_provider=object())
    cluster = object()
    on_cluster = shared.with_cluster(cluster)
    assert isinstance(on_cluster, ClusterContext) and on_cluster.cluster is cluster
    assert {name: getattr(on_cluster, name) for name in vars(shared)} == vars(shared)
