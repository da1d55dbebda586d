"""Carving a new VPC's CIDR into per-AZ private (nodes and pods) and public (NAT, load balancers) subnets.

With the VPC CNI every pod takes a VPC address, so the private subnets get almost all the space:
the CIDR is split into the smallest power of two of blocks that holds one block per AZ plus one; each
AZ gets a whole block for its private subnet, and the last block is split again for the public ones.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from typing import Literal

SMALLEST_SUBNET_PREFIX = 28  # AWS's smallest subnet


@dataclass(frozen=True)
class SubnetPlan:
    availability_zone: str
    tier: Literal["private", "public"]
    cidr: str


def plan_subnets(vpc_cidr: str, availability_zones: list[str]) -> list[SubnetPlan]:
    network: ipaddress.IPv4Network | ipaddress.IPv6Network = ipaddress.ip_network(vpc_cidr)
    count = len(availability_zones)
    private_bits = math.ceil(math.log2(count + 1))
    public_bits = private_bits + max(1, math.ceil(math.log2(count)))
    if network.prefixlen + public_bits > SMALLEST_SUBNET_PREFIX:
        raise ValueError(
            f"{vpc_cidr} is too small for {count} availability zones; use a /{SMALLEST_SUBNET_PREFIX - public_bits} or larger"
        )
    blocks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = list(network.subnets(prefixlen_diff=private_bits))
    public_blocks = list(blocks[-1].subnets(prefixlen_diff=public_bits - private_bits))
    private = [SubnetPlan(az, "private", str(block)) for az, block in zip(availability_zones, blocks)]
    public = [SubnetPlan(az, "public", str(block)) for az, block in zip(availability_zones, public_blocks)]
    return private + public
