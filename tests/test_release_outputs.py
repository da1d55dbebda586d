"""A tracked Bottlerocket version is public data: it must not become [secret] (issue 13, point 10)."""

from __future__ import annotations

from automation.mock_engine import PlanMocks, _INVOKE_ANSWERS, is_secret_marker
from automation.stack_files import SECRET_MASK

SSM_VERSION = "<after-deploy:ssm:/aws/service/bottlerocket/aws-k8s-1.33/x86_64/latest/image_version>"


def test_the_offline_engine_returns_the_parameter_value_as_a_secret_like_pulumi_aws():
    answer = _INVOKE_ANSWERS["aws:ssm/getParameter:getParameter"](PlanMocks("p", "s", "eu-west-1"), {"name": "/x"})
    assert is_secret_marker(answer["value"]) and not is_secret_marker(answer["insecureValue"])


def test_tracked_version_alias_and_outputs_stay_readable(dev_plan):
    assert dev_plan.outputs["karpenterAmiAlias"] == "bottlerocket@latest"
    assert dev_plan.outputs["nodeGroups"]["blue"]["releaseVersion"] == SSM_VERSION
    (group,) = dev_plan.of_type("aws:eks/nodeGroup:NodeGroup")
    assert group["inputs"]["releaseVersion"] == SSM_VERSION != SECRET_MASK
