"""The Bottlerocket version policy: SSM parameter names, pins, freezing."""

from __future__ import annotations

import pytest

from core.release_version import BOTTLEROCKET_AMI_TYPES, is_valid_pin, release_policy, ssm_parameter_name, variant


@pytest.mark.parametrize("ami_type, parameter", [
    ("BOTTLEROCKET_x86_64", "/aws/service/bottlerocket/aws-k8s-1.33/x86_64/latest/image_version"),
    ("BOTTLEROCKET_ARM_64", "/aws/service/bottlerocket/aws-k8s-1.33/arm64/latest/image_version"),
    ("BOTTLEROCKET_x86_64_NVIDIA", "/aws/service/bottlerocket/aws-k8s-1.33-nvidia/x86_64/latest/image_version"),
    ("BOTTLEROCKET_ARM_64_NVIDIA", "/aws/service/bottlerocket/aws-k8s-1.33-nvidia/arm64/latest/image_version"),
    ("BOTTLEROCKET_x86_64_FIPS", "/aws/service/bottlerocket/aws-k8s-1.33-fips/x86_64/latest/image_version"),
    ("BOTTLEROCKET_ARM_64_FIPS", "/aws/service/bottlerocket/aws-k8s-1.33-fips/arm64/latest/image_version"),
])
def test_ssm_parameter_per_ami_type(ami_type, parameter):
    assert ssm_parameter_name("1.33", ami_type) == parameter


def test_every_supported_ami_type_has_a_parameter():
    # NVIDIA_FIPS has no public Bottlerocket variant, so it is not offered.
    assert len(BOTTLEROCKET_AMI_TYPES) == 6 and not any(t.endswith("NVIDIA_FIPS") for t in BOTTLEROCKET_AMI_TYPES)
    assert {variant("1.34", t) for t in BOTTLEROCKET_AMI_TYPES} == {"aws-k8s-1.34", "aws-k8s-1.34-nvidia", "aws-k8s-1.34-fips"}


@pytest.mark.parametrize("pin", ["1.54.0-5043decc", "1.49.0-713f44ce", "1.50.0-" + "a" * 40])
def test_valid_pins(pin):
    assert is_valid_pin(pin)


@pytest.mark.parametrize("pin", ["1.54.0", "v1.54.0-5043decc", "1.54-5043decc", "1.54.0-XYZ12345", "1.54.0-abc", "latest"])
def test_invalid_pins(pin):
    assert not is_valid_pin(pin)


def test_policy_modes():
    latest = release_policy("1.33", "BOTTLEROCKET_x86_64", "latest", frozen=False)
    assert latest.tracks_latest and latest.ignore_changes == []
    assert latest.describe() == "latest from /aws/service/bottlerocket/aws-k8s-1.33/x86_64/latest/image_version"
    frozen_latest = release_policy("1.33", "BOTTLEROCKET_x86_64", "latest", frozen=True)
    assert frozen_latest.ignore_changes == ["releaseVersion"]
    pinned = release_policy("1.33", "BOTTLEROCKET_ARM_64", "1.54.0-5043decc", frozen=True)
    assert not pinned.tracks_latest and pinned.ignore_changes == ["releaseVersion"]
    assert pinned.describe() == "pinned 1.54.0-5043decc, frozen"
    with pytest.raises(ValueError, match="neither 'latest' nor"):
        release_policy("1.33", "BOTTLEROCKET_x86_64", "1.54", frozen=False)
