"""`network`: a new VPC carved into subnets per availability zone, or an existing VPC."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field
from pydantic.alias_generators import to_camel

from core import aws_limits
from core.config.base import ConfigSection, Problem, pattern, quote
from core.network_plan import plan_subnets


def _cidr(value: str) -> str:
    try:
        network = ipaddress.IPv4Network(value, strict=True)
    except ValueError as error:
        raise ValueError(f"{value!r} is not an IPv4 CIDR block ({error})") from None
    return str(network)


Cidr = Annotated[str, AfterValidator(_cidr)]
VpcId = Annotated[str, pattern(r"vpc-[0-9a-f]{8,17}", "a VPC id")]
SubnetId = Annotated[str, pattern(r"subnet-[0-9a-f]{8,17}", "a subnet id")]


class ExistingVpcConfig(ConfigSection):
    vpc_id: VpcId
    private_subnet_ids: list[SubnetId] = Field(min_length=2)
    public_subnet_ids: list[SubnetId] = []


class NetworkConfig(ConfigSection):
    cidr: Cidr = "10.0.0.0/16"
    availability_zones: list[str] = []
    nat_gateways: Literal["single", "onePerAz"] = "onePerAz"
    existing_vpc: ExistingVpcConfig | None = None


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
