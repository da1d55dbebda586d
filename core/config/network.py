"""`network`: a new VPC carved into subnets per availability zone, or an existing VPC."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field
from pydantic.alias_generators import to_camel

from core import aws_limits
from core.config.base import ConfigSection, Problem, Shape, pattern, quote
from core.network_plan import plan_subnets


def _cidr(value: str) -> str:
    try:
        network = ipaddress.IPv4Network(value, strict=True)
    except ValueError as error:
        raise ValueError(f"{value!r} is not an IPv4 CIDR block ({error})") from None
    return str(network)


Cidr = Annotated[str, AfterValidator(_cidr), Shape("IPv4 CIDR")]
VpcId = Annotated[str, pattern(r"vpc-[0-9a-f]{8,17}", "a VPC id"), Shape("`vpc-…`")]
SubnetId = Annotated[str, pattern(r"subnet-[0-9a-f]{8,17}", "a subnet id"), Shape("`subnet-…`")]


class ExistingVpcConfig(ConfigSection):
    vpc_id: VpcId = Field(description="Use this VPC instead of creating one (then `cidr`, `availabilityZones`, `natGateways` must be unset).")
    private_subnet_ids: list[SubnetId] = Field(min_length=2, description=(
        "Cluster and node subnets, each listed once; the program adds the tags `karpenter.sh/discovery` and "
        "`kubernetes.io/role/internal-elb` to them."))
    public_subnet_ids: list[SubnetId] = Field(default=[], description="The cluster's public subnets (load balancers).")


class NetworkConfig(ConfigSection):
    cidr: Cidr = Field(default="10.0.0.0/16", description=(
        "The new VPC, from /16 to /28; carved into one private subnet per AZ (nearly all the space: pods take VPC addresses) "
        "and one public subnet per AZ."))
    availability_zones: list[Annotated[str, Shape("AZ name of `region` (`eu-west-1a`)")]] = Field(default=[], description=(
        "AZ names of `region`, at least 2, each once (required for a new VPC): one private and one public subnet each."))
    nat_gateways: Literal["single", "onePerAz"] = Field(default="onePerAz", description="NAT gateways (with Elastic IPs) for the private subnets.")
    existing_vpc: ExistingVpcConfig | None = Field(default=None, description="An existing VPC to deploy into instead of a new one.")


def network_problems(network: NetworkConfig, region: str | None) -> list[Problem]:
    problems = []
    if network.existing_vpc is not None:
        for key in ("cidr", "availability_zones", "nat_gateways"):
            if key in network.model_fields_set:
                problems.append(Problem(("network", to_camel(key)), "does not apply with existingVpc; remove it"))
        subnet_ids = network.existing_vpc.private_subnet_ids
        if len(set(subnet_ids)) != len(subnet_ids):
            problems.append(Problem(("network", "existingVpc", "privateSubnetIds"), "lists a subnet twice"))
        return problems
    zones = network.availability_zones
    if len(zones) < 2:
        problems.append(Problem(("network", "availabilityZones"), "list at least 2 availability zones (EKS needs subnets in 2)"))
    if len(set(zones)) != len(zones):
        problems.append(Problem(("network", "availabilityZones"), "lists an availability zone twice"))
    for index, zone in enumerate(zones):
        if region and not re.fullmatch(rf"{re.escape(region)}[a-z]", zone):
            problems.append(Problem(("network", "availabilityZones", index), f"{quote(zone)} is not an availability zone of {region}"))
    if cidr_problem := aws_limits.vpc_cidr_problem(network.cidr):
        problems.append(Problem(("network", "cidr"), cidr_problem))
    elif len(zones) >= 2:
        try:
            plan_subnets(network.cidr, zones)
        except ValueError as error:
            problems.append(Problem(("network", "cidr"), str(error)))
    return problems
