"""Spot needs the EC2 Spot service-linked role: a stack with spot pools decides whether to create it."""

from __future__ import annotations

import pytest

from automation.lifecycle_order import Lifecycle
from core.config.base import ConfigError
from core.config.stack_config import validate_stack_config
from tests.conftest import project_values


def test_a_spot_pool_without_a_decision_is_refused():
    values = project_values("prod")
    del values["karpenter"]["createSpotServiceLinkedRole"]
    with pytest.raises(ConfigError) as error:
        validate_stack_config(values, "Pulumi.prod.yaml")
    assert error.value.lines() == [
        "Pulumi.prod.yaml: karpenter.createSpotServiceLinkedRole: node pool 'burst' launches spot: set true to create the EC2 "
        "Spot service-linked role, or false when the account has it (aws iam get-role --role-name AWSServiceRoleForEC2Spot)"]


def test_on_demand_only_needs_no_decision():
    values = project_values("prod")
    del values["karpenter"]["createSpotServiceLinkedRole"]
    del values["karpenter"]["nodePools"]["burst"]
    assert validate_stack_config(values, "Pulumi.prod.yaml").karpenter.create_spot_service_linked_role is None


def test_created_role_is_kept_on_destroy_and_precedes_spot_launches(dev_plan, prod_plan):
    role = dev_plan.one("aws:iam/serviceLinkedRole:ServiceLinkedRole", "karpenter-spot")
    assert role["inputs"]["awsServiceName"] == "spot.amazonaws.com"
    assert role["options"]["retainOnDelete"] is True  # account-wide: never deleted by this stack
    lifecycle = Lifecycle(dev_plan.document)
    for pool in dev_plan.of_type("kubernetes:karpenter.sh/v1:NodePool"):
        assert lifecycle.depends_on(pool["urn"], role["urn"])
    assert prod_plan.of_type("aws:iam/serviceLinkedRole:ServiceLinkedRole") == []
