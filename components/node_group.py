"""BottlerocketNodeGroup: one colour (blue, green, ...) of EKS managed nodes running Bottlerocket."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_aws as aws

from components.context import ClusterContext
from core.deployment import NodeGroupPlan
from core.node_group import launch_template_block_devices, node_group_taints
from core.release_version import GroupVersions, held_until_rollout
from core.tags import COLOUR_LABEL, COMPONENT_TYPE_PREFIX, NODE_GROUP_TAG
from core.user_data import render_user_data


def _template_version(template: Any) -> str | None:
    """The launch template version a node group runs (the SDK gives a typed object or, from mocks, a dict)."""
    if template is None:
        return None
    return str(template["version"] if isinstance(template, Mapping) else template.version)


class BottlerocketNodeGroup(pulumi.ComponentResource):
    """A launch template without an image id (so EKS keeps `amiType`/`releaseVersion` and merges the
    TOML user data) and the managed node group that uses it."""

    plan: NodeGroupPlan
    user_data: str
    node_group: aws.eks.NodeGroup
    release_version: pulumi.Output[str]
    held_until_rollout: pulumi.Output[list[str]]

    def __init__(self, name: str, plan: NodeGroupPlan, context: ClusterContext, *, node_role_arn: pulumi.Input[str],
                 subnet_ids: pulumi.Input[list[str]], opts: pulumi.ResourceOptions | None = None):
        super().__init__(COMPONENT_TYPE_PREFIX + "BottlerocketNodeGroup", name, None, opts)
        self.plan = plan
        config, release, kubernetes_version = plan.config, plan.release, plan.kubernetes_version
        child = pulumi.ResourceOptions(parent=self)
        group_tags = {**context.tags, NODE_GROUP_TAG: name}

        self.user_data = render_user_data(plan.settings, [
            f"Bottlerocket settings of node group {name!r}, rendered by eks-bottlerocket.",
            "EKS merges in the cluster bootstrap settings; change this through the stack file.",
        ])
        launch_template = aws.ec2.LaunchTemplate(
            name,
            name_prefix=plan.physical_name_prefix,
            description=f"Bottlerocket node group {name}",
            user_data=base64.b64encode(self.user_data.encode()).decode(),
            block_device_mappings=launch_template_block_devices(plan.block_devices),
            metadata_options={
                "http_endpoint": "enabled",
                "http_tokens": "required",
                "http_put_response_hop_limit": config.metadata_hop_limit,
            },
            tag_specifications=[{"resource_type": kind, "tags": group_tags} for kind in ("instance", "volume")],
            update_default_version=True,
            tags=group_tags,
            opts=child,
        )

        if release.tracks_latest:
            # `value` is Sensitive in terraform-provider-aws' aws_ssm_parameter data source
            # (internal/service/ssm/parameter_data_source.go), so pulumi-aws returns the invoke's result as a
            # secret, which would turn the version, the AMI alias and the outputs into [secret]. The parameter
            # is a public String (`insecure_value` is set only for non-SecureString types): unsecret it.
            release_version = pulumi.Output.unsecret(aws.ssm.get_parameter_output(
                name=release.ssm_parameter, opts=pulumi.InvokeOutputOptions(parent=self)).insecure_value)
        else:
            release_version = pulumi.Output.from_input(release.requested)

        self.node_group = aws.eks.NodeGroup(
            name,
            cluster_name=context.cluster.name,
            node_group_name_prefix=plan.physical_name_prefix,
            node_role_arn=node_role_arn,
            subnet_ids=subnet_ids,
            ami_type=config.ami_type,
            release_version=release_version,
            version=kubernetes_version,
            capacity_type=config.capacity_type,
            instance_types=list(config.instance_types),
            scaling_config={
                "min_size": config.scaling.min_size,
                "desired_size": config.scaling.desired_size,
                "max_size": config.scaling.max_size,
            },
            update_config={"max_unavailable": config.max_unavailable},
            labels={**config.labels, COLOUR_LABEL: name},
            taints=node_group_taints(config.taints),
            launch_template={"id": launch_template.id, "version": launch_template.latest_version.apply(str)},
            # The release policy's tags only here, not on the launch template: a tag change of the node group
            # is a tagging call, while a launch template change is a new version that replaces every node
            # (terraform-provider-aws internal/service/eks/node_group.go, resourceNodeGroupUpdate: only
            # `launch_template`, `release_version` and `version` lead to UpdateNodegroupVersion).
            tags={**group_tags, **release.tags},
            # desiredSize belongs to the autoscaler after creation. A frozen or pinned group also holds the
            # inputs that would make EKS replace its nodes in place (core/release_version.py says why,
            # with the upstream references). The component's dependencies are repeated here: Pulumi
            # does not pass them on to children.
            opts=pulumi.ResourceOptions(parent=self, depends_on=opts.depends_on if opts else None,
                                        ignore_changes=["scalingConfig.desiredSize", *release.ignore_changes]),
        )
        self.release_version = self.node_group.release_version
        deployed_template = self.node_group.launch_template.apply(_template_version)
        self.held_until_rollout = pulumi.Output.all(
            self.node_group.release_version, self.node_group.version, deployed_template,
            release_version, launch_template.latest_version,
        ).apply(lambda values: held_until_rollout(
            release, GroupVersions(values[0], values[1], values[2]), GroupVersions(values[3], kubernetes_version, str(values[4]))))
        self.register_outputs({"releaseVersion": self.release_version, "nodeGroupName": self.node_group.node_group_name,
                               "heldUntilRollout": self.held_until_rollout})
