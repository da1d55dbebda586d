"""The Bottlerocket version policy: SSM parameter names, pins, freezing."""

from __future__ import annotations

import re

import pytest

from core.config.base import ConfigError
from core.config.stack_config import validate_stack_config
from core.release_version import (BOTTLEROCKET_AMI_TYPES, RELEASE_VERSION_PATTERN, GroupVersions, held_until_rollout, is_valid_pin,
                                  pin_problem, release_policy, ssm_parameter_name, variant)
from core.rollout import RolloutUsageError, plan_rollout
from tests.conftest import PROJECT, project_values


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


@pytest.mark.parametrize("requested", ["v1.54", "1.54.0-5043decc\n", "Latest"])
def test_one_wording_for_a_bad_release_version_wherever_it_is_checked(requested):
    """The stack file's check, the version policy and `rollout --version` say the same thing (each quoting
    the value its own way); the JSON Schema's pattern refuses what the check refuses."""
    problem = pin_problem(requested)
    assert problem is not None and problem.startswith("is neither 'latest' nor a Bottlerocket version")
    values = project_values("dev")
    values["nodeGroups"]["blue"]["releaseVersion"] = requested
    with pytest.raises(ConfigError) as caught:
        validate_stack_config(values, "Pulumi.dev.yaml")
    assert f"Pulumi.dev.yaml: nodeGroups.blue.releaseVersion: {requested!r} {problem}" in caught.value.lines()
    with pytest.raises(ValueError) as raised:
        release_policy("1.33", "BOTTLEROCKET_x86_64", requested, frozen=False)
    assert str(raised.value) == f"{requested!r} {problem}"
    document = {"config": {f"{PROJECT}:nodeGroups": {"blue": {}, "green": {}}}}
    with pytest.raises(RolloutUsageError) as refused:
        plan_rollout(document, PROJECT, "green", "blue", requested)
    assert str(refused.value) == f"--version {requested!r} {problem}"
    assert not re.fullmatch(RELEASE_VERSION_PATTERN, requested)


@pytest.mark.parametrize("requested", ["latest", "1.54.0-5043decc"])
def test_latest_and_pins_have_no_problem(requested):
    assert pin_problem(requested) is None and re.fullmatch(RELEASE_VERSION_PATTERN, requested)


def test_policy_modes():
    latest = release_policy("1.33", "BOTTLEROCKET_x86_64", "latest", frozen=False)
    assert latest.tracks_latest and latest.ignore_changes == []
    assert latest.describe() == "latest from /aws/service/bottlerocket/aws-k8s-1.33/x86_64/latest/image_version"
    frozen_latest = release_policy("1.33", "BOTTLEROCKET_x86_64", "latest", frozen=True)
    assert frozen_latest.ignore_changes == ["releaseVersion", "version", "launchTemplate.version"]
    pinned_frozen = release_policy("1.33", "BOTTLEROCKET_ARM_64", "1.54.0-5043decc", frozen=True)
    assert not pinned_frozen.tracks_latest and pinned_frozen.ignore_changes == ["releaseVersion", "version", "launchTemplate.version"]
    assert pinned_frozen.describe() == "pinned 1.54.0-5043decc, frozen"
    # a pinned group moves only when its pin is edited: the provider then sends the pin with the update
    pinned = release_policy("1.33", "BOTTLEROCKET_ARM_64", "1.54.0-5043decc", frozen=False)
    assert pinned.ignore_changes == ["version", "launchTemplate.version"]
    with pytest.raises(ValueError, match="neither 'latest' nor"):
        release_policy("1.33", "BOTTLEROCKET_x86_64", "1.54", frozen=False)


def test_held_until_rollout_names_each_pending_change():
    deployed = GroupVersions("1.54.0-5043decc", "1.33", "3")
    frozen = release_policy("1.34", "BOTTLEROCKET_x86_64", "1.55.0-0a1b2c3d", frozen=True)
    assert held_until_rollout(frozen, deployed, GroupVersions("1.55.0-0a1b2c3d", "1.34", "4")) == [
        "Bottlerocket release 1.54.0-5043decc -> 1.55.0-0a1b2c3d held until rollout",
        "Kubernetes version 1.33 -> 1.34 held until rollout",
        "launch template version (Bottlerocket settings, volumes or tags) 3 -> 4 held until rollout",
    ]
    assert held_until_rollout(frozen, deployed, deployed) == []
    pinned = release_policy("1.33", "BOTTLEROCKET_x86_64", "1.55.0-0a1b2c3d", frozen=False)
    assert held_until_rollout(pinned, deployed, GroupVersions("1.55.0-0a1b2c3d", "1.33", "4")) == [
        "launch template version (Bottlerocket settings, volumes or tags) 3 -> 4 held until rollout"]
    tracking = release_policy("1.33", "BOTTLEROCKET_x86_64", "latest", frozen=False)
    assert held_until_rollout(tracking, deployed, GroupVersions("1.55.0-0a1b2c3d", "1.34", "4")) == []
    assert held_until_rollout(frozen, deployed, GroupVersions(None, None, None)) == []  # unknown is not pending
