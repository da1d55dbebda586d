"""A FIPS node group's Karpenter nodes must be FIPS too (issue 13, point 9)."""

from __future__ import annotations

import pytest

from core import karpenter
from core.release_version import release_policy
from tests.conftest import make_plan
from tests.kubernetes_schemas import validate


@pytest.mark.parametrize("requested, frozen, effective, term", [
    ("latest", False, "1.54.0-5043decc", {"ssmParameter": "/aws/service/bottlerocket/aws-k8s-1.33-fips/x86_64/latest/image_id"}),
    ("1.54.0-5043decc", True, "1.54.0-5043decc", {"ssmParameter": "/aws/service/bottlerocket/aws-k8s-1.33-fips/x86_64/1.54.0/image_id"}),
])
def test_fips_selects_its_own_ssm_parameter(requested, frozen, effective, term):
    policy = release_policy("1.33", "BOTTLEROCKET_x86_64_FIPS", requested, frozen)
    assert karpenter.ami_selector_term(policy, effective, "BOTTLEROCKET_x86_64_FIPS", "1.33") == term
    standard = release_policy("1.33", "BOTTLEROCKET_x86_64", requested, frozen)
    assert karpenter.ami_selector_term(standard, effective, "BOTTLEROCKET_x86_64", "1.33") == {"alias": karpenter.ami_alias(standard, effective)}


def test_fips_node_group_gives_karpenter_a_fips_node_class(write_stack, tmp_path):
    def fips(values):
        values["nodeGroups"]["blue"]["amiType"] = "BOTTLEROCKET_x86_64_FIPS"

    plan = make_plan("dev", tmp_path / "fips", config_file=write_stack(fips))
    assert plan.exit_code == 0, plan.stderr
    (node_class,) = plan.of_type("kubernetes:karpenter.k8s.aws/v1:EC2NodeClass")
    spec = node_class["inputs"]["spec"]
    assert spec["amiSelectorTerms"] == [{"ssmParameter": "/aws/service/bottlerocket/aws-k8s-1.33-fips/x86_64/latest/image_id"}]
    assert spec["amiFamily"] == "Bottlerocket"  # required without an alias (CEL rule of the CRD)
    validate(node_class["inputs"], "1.33")
    assert plan.outputs["karpenterAmiAlias"] == spec["amiSelectorTerms"][0]["ssmParameter"]
