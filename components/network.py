"""Network: the VPC and subnets the cluster and its nodes live in, new or existing."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.context import DeploymentContext
from core.network_plan import plan_subnets
from core.config.network import NetworkConfig
from core.tags import COMPONENT_TYPE_PREFIX, DISCOVERY_TAG

INTERNAL_ELB_TAG = "kubernetes.io/role/internal-elb"
PUBLIC_ELB_TAG = "kubernetes.io/role/elb"


class Network(pulumi.ComponentResource):
    """Private subnets for nodes across the configured AZs, tagged for internal load balancers and for
    Karpenter's subnet discovery (`karpenter.sh/discovery=<cluster name>`)."""

    vpc_id: pulumi.Output[str]
    private_subnet_ids: pulumi.Output[list[str]]
    public_subnet_ids: pulumi.Output[list[str]]

    def __init__(self, name: str, config: NetworkConfig, context: DeploymentContext, *, opts: pulumi.ResourceOptions | None = None):
        super().__init__(COMPONENT_TYPE_PREFIX + "Network", name, None, opts)
        self._name, self._cluster_name, self._protect_vpc = name, context.cluster_name, context.protect
        if config.existing_vpc is not None:
            self._adopt_existing(config)
        else:
            self._create(config)
        self.register_outputs({
            "vpcId": self.vpc_id,
            "privateSubnetIds": self.private_subnet_ids,
            "publicSubnetIds": self.public_subnet_ids,
        })

    def _child(self) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self)

    def _adopt_existing(self, config: NetworkConfig) -> None:
        existing = config.existing_vpc
        assert existing is not None
        self.vpc_id = pulumi.Output.from_input(existing.vpc_id)
        self.private_subnet_ids = pulumi.Output.from_input(list(existing.private_subnet_ids))
        self.public_subnet_ids = pulumi.Output.from_input(list(existing.public_subnet_ids))
        # Only the tags this program needs are added; the subnets themselves stay someone else's.
        for subnet_id in existing.private_subnet_ids:
            for key, value in ((DISCOVERY_TAG, self._cluster_name), (INTERNAL_ELB_TAG, "1")):
                aws.ec2.Tag(f"{self._name}-{subnet_id}-{key.split('/')[-1]}", resource_id=subnet_id, key=key, value=value, opts=self._child())

    def _create(self, config: NetworkConfig) -> None:
        name = self._name
        vpc = aws.ec2.Vpc(name, cidr_block=config.cidr, enable_dns_hostnames=True, enable_dns_support=True,
                          tags={"Name": f"{self._cluster_name}"},
                          opts=pulumi.ResourceOptions(parent=self, protect=self._protect_vpc))  # stack.protect
        gateway = aws.ec2.InternetGateway(name, vpc_id=vpc.id, tags={"Name": self._cluster_name}, opts=self._child())
        public_routes = aws.ec2.RouteTable(f"{name}-public", vpc_id=vpc.id,
                                           routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": gateway.id}],
                                           tags={"Name": f"{self._cluster_name}-public"}, opts=self._child())
        plans = plan_subnets(config.cidr, list(config.availability_zones))
        public: list[aws.ec2.Subnet] = []
        private: list[aws.ec2.Subnet] = []
        nat_by_zone: dict[str, aws.ec2.NatGateway] = {}
        for plan in (p for p in plans if p.tier == "public"):
            subnet = aws.ec2.Subnet(f"{name}-public-{plan.availability_zone}", vpc_id=vpc.id, cidr_block=plan.cidr,
                                    availability_zone=plan.availability_zone, map_public_ip_on_launch=False,
                                    tags={"Name": f"{self._cluster_name}-public-{plan.availability_zone}", PUBLIC_ELB_TAG: "1"},
                                    opts=self._child())
            aws.ec2.RouteTableAssociation(f"{name}-public-{plan.availability_zone}", subnet_id=subnet.id,
                                          route_table_id=public_routes.id, opts=self._child())
            public.append(subnet)
            if config.nat_gateways == "onePerAz" or not nat_by_zone:
                nat_by_zone[plan.availability_zone] = self._nat_gateway(plan.availability_zone, subnet)
        for plan in (p for p in plans if p.tier == "private"):
            subnet = aws.ec2.Subnet(f"{name}-private-{plan.availability_zone}", vpc_id=vpc.id, cidr_block=plan.cidr,
                                    availability_zone=plan.availability_zone,
                                    tags={"Name": f"{self._cluster_name}-private-{plan.availability_zone}",
                                          INTERNAL_ELB_TAG: "1", DISCOVERY_TAG: self._cluster_name},
                                    opts=self._child())
            nat = nat_by_zone.get(plan.availability_zone) or next(iter(nat_by_zone.values()))
            routes = aws.ec2.RouteTable(f"{name}-private-{plan.availability_zone}", vpc_id=vpc.id,
                                        routes=[{"cidr_block": "0.0.0.0/0", "nat_gateway_id": nat.id}],
                                        tags={"Name": f"{self._cluster_name}-private-{plan.availability_zone}"},
                                        opts=self._child())
            aws.ec2.RouteTableAssociation(f"{name}-private-{plan.availability_zone}", subnet_id=subnet.id,
                                          route_table_id=routes.id, opts=self._child())
            private.append(subnet)
        self.vpc_id = vpc.id
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in private])
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in public])

    def _nat_gateway(self, zone: str, subnet: aws.ec2.Subnet) -> aws.ec2.NatGateway:
        address = aws.ec2.Eip(f"{self._name}-nat-{zone}", domain="vpc",
                              tags={"Name": f"{self._cluster_name}-nat-{zone}"}, opts=self._child())
        return aws.ec2.NatGateway(f"{self._name}-{zone}", allocation_id=address.id, subnet_id=subnet.id,
                                  tags={"Name": f"{self._cluster_name}-{zone}"}, opts=self._child())
