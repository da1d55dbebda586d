"""Instance-type facts and the subnet plan of a new VPC."""

from __future__ import annotations

import ipaddress
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.instance_types import architecture, facts, has_nvidia_gpu, is_valid_instance_type, memory_mib
from core.network_plan import plan_subnets


@pytest.mark.parametrize("instance_type, arch", [
    ("m6i.large", "x86_64"), ("m6a.xlarge", "x86_64"), ("c5n.2xlarge", "x86_64"), ("g4dn.xlarge", "x86_64"),
    ("m7g.large", "arm64"), ("c6gn.xlarge", "arm64"), ("x2gd.large", "arm64"), ("im4gn.large", "arm64"),
    ("g5g.xlarge", "arm64"), ("t4g.medium", "arm64"), ("m7i-flex.large", "x86_64"),
    ("a1.large", "arm64"),  # Graviton without the `g` a name pattern would look for
])
def test_architecture(instance_type, arch):
    assert architecture(instance_type) == arch


def test_memory_and_gpus():
    assert memory_mib("m6i.large") == 8192 and memory_mib("c7g.xlarge") == 8192 and memory_mib("r6i.2xlarge") == 65536
    assert memory_mib("t3.medium") == 4096 and memory_mib("g5.xlarge") == 16384 and memory_mib("m6i.metal") == 524288
    assert has_nvidia_gpu("g5.xlarge") and has_nvidia_gpu("p5.48xlarge") and not has_nvidia_gpu("m6i.large")
    assert not has_nvidia_gpu("inf2.xlarge")  # an accelerator, but AWS's own
    assert not is_valid_instance_type("large") and not is_valid_instance_type("M6I.large")
    # Known to EC2 but without a record in the data file (retired): nothing is guessed.
    assert is_valid_instance_type("g4ad.xlarge") and facts("g4ad.xlarge") is None and memory_mib("g4ad.xlarge") is None


def test_data_file_is_what_the_script_writes(tmp_path):
    """Every type botocore's EC2 model knows is listed; the facts are the pinned moto's records."""
    from data.regenerate_instance_types import document, instance_type_names, moto_records
    from core.instance_types import DATA_FILE

    committed = json.loads(DATA_FILE.read_text())
    regenerated = document(instance_type_names(), *moto_records())
    assert committed["types"] == regenerated["types"] and committed["withoutFacts"] == regenerated["withoutFacts"]
    assert committed["names"] == regenerated["names"] and committed["facts"] == regenerated["facts"]


@given(prefix=st.integers(16, 22), zones=st.integers(2, 6))
def test_subnets_are_disjoint_inside_the_vpc_and_private_ones_are_largest(prefix, zones):
    vpc = ipaddress.ip_network(f"10.0.0.0/{prefix}")
    names = [f"eu-west-1{chr(97 + i)}" for i in range(zones)]
    plans = plan_subnets(str(vpc), names)
    networks = [ipaddress.ip_network(p.cidr) for p in plans]
    assert all(n.subnet_of(vpc) for n in networks)
    assert all(not a.overlaps(b) for i, a in enumerate(networks) for b in networks[i + 1:])
    private = [p for p in plans if p.tier == "private"]
    public = [p for p in plans if p.tier == "public"]
    assert [p.availability_zone for p in private] == names == [p.availability_zone for p in public]
    assert min(ipaddress.ip_network(p.cidr).num_addresses for p in private) > max(ipaddress.ip_network(p.cidr).num_addresses for p in public)


def test_too_small_vpc_is_refused():
    with pytest.raises(ValueError, match="too small for 3 availability zones; use a /24 or larger"):
        plan_subnets("10.0.0.0/26", ["a", "b", "c"])
