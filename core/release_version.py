"""Which Bottlerocket release a node group runs: the version policy, as plain data.

`latest` follows the public SSM parameter Bottlerocket publishes per Kubernetes version, variant and
architecture; a pin names one release (`<semver>-<build commit>`, the shape of `image_version`).
`freeze` keeps whatever version a group was created with until the group is replaced or unfrozen:
Pulumi's `ignoreChanges`, the Terraform `lifecycle { ignore_changes }` of the field notes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import semver

LATEST = "latest"
# How the offline plan marks a value only a deployment knows (automation/mock_engine.py).
KNOWN_AFTER_DEPLOY = "<after-deploy:"
PIN_PATTERN = re.compile(r"^(?P<semver>[0-9]+\.[0-9]+\.[0-9]+)-(?P<build>[0-9a-f]{7,40})$")

BOTTLEROCKET_AMI_TYPES = (
    "BOTTLEROCKET_x86_64",
    "BOTTLEROCKET_ARM_64",
    "BOTTLEROCKET_x86_64_NVIDIA",
    "BOTTLEROCKET_ARM_64_NVIDIA",
    "BOTTLEROCKET_x86_64_FIPS",
    "BOTTLEROCKET_ARM_64_FIPS",
)


def ami_architecture(ami_type: str) -> Literal["x86_64", "arm64"]:
    return "arm64" if "_ARM_64" in ami_type else "x86_64"


def is_nvidia(ami_type: str) -> bool:
    return ami_type.endswith("_NVIDIA")


def variant(kubernetes_version: str, ami_type: str) -> str:
    """Bottlerocket variant name, e.g. `aws-k8s-1.33-nvidia`."""
    suffix = "-nvidia" if is_nvidia(ami_type) else "-fips" if ami_type.endswith("_FIPS") else ""
    return f"aws-k8s-{kubernetes_version}{suffix}"


def ssm_parameter_name(kubernetes_version: str, ami_type: str) -> str:
    return (
        f"/aws/service/bottlerocket/{variant(kubernetes_version, ami_type)}/"
        f"{ami_architecture(ami_type)}/latest/image_version"
    )


def is_valid_pin(version: str) -> bool:
    return bool(PIN_PATTERN.match(version))


@dataclass(frozen=True)
class ReleasePolicy:
    """How one node group's `releaseVersion` is chosen."""

    requested: str  # "latest" or a pin
    frozen: bool
    ssm_parameter: str

    @property
    def tracks_latest(self) -> bool:
        return self.requested == LATEST

    @property
    def ignore_changes(self) -> list[str]:
        return ["releaseVersion"] if self.frozen else []

    def describe(self) -> str:
        source = f"latest from {self.ssm_parameter}" if self.tracks_latest else f"pinned {self.requested}"
        return f"{source}{', frozen' if self.frozen else ''}"


def release_policy(kubernetes_version: str, ami_type: str, requested: str, frozen: bool) -> ReleasePolicy:
    if requested != LATEST and not is_valid_pin(requested):
        raise ValueError(f"{requested!r} is neither 'latest' nor a Bottlerocket version like 1.54.0-5043decc")
    return ReleasePolicy(requested, frozen, ssm_parameter_name(kubernetes_version, ami_type))


# How a node group's release compares with the newest one Bottlerocket publishes.
UP_TO_DATE, BEHIND, NEWER, OTHER_BUILD = "up to date", "behind", "newer than latest", "other build"


def compare_releases(live: str, latest: str) -> str | None:
    """UP_TO_DATE, BEHIND, NEWER or OTHER_BUILD (same version, other build commit); None if either is not a
    Bottlerocket version. Versions are semver (compared by the `semver` library); the build commit that follows
    the dash has no order (so `1.54.0-5043decc` is not a semver pre-release here)."""
    live_match, latest_match = PIN_PATTERN.match(live or ""), PIN_PATTERN.match(latest or "")
    if not live_match or not latest_match:
        return None
    order = semver.Version.parse(live_match["semver"]).compare(latest_match["semver"])
    if order < 0:
        return BEHIND
    if order > 0:
        return NEWER
    return UP_TO_DATE if live_match["build"] == latest_match["build"] else OTHER_BUILD
