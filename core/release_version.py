"""Which Bottlerocket release a node group runs: the version policy, as plain data.

`latest` follows the public SSM parameter Bottlerocket publishes per Kubernetes version, variant and
architecture; a pin names one release (`<semver>-<build commit>`, the shape of `image_version`).
`freeze` keeps whatever version a group was created with until the group is replaced or unfrozen:
Pulumi's `ignoreChanges`, the Terraform `lifecycle { ignore_changes }` of the field notes.

Why more than `releaseVersion` is held. The provider (terraform-provider-aws, internal/service/eks/
node_group.go, resourceNodeGroupUpdate) calls EKS UpdateNodegroupVersion whenever `launch_template`,
`release_version` or `version` changes, and puts `releaseVersion` (and `version`) in the request only
when that input itself changed. EKS's UpdateNodegroupVersion reference: an omitted release version
means the latest AMI for the node group's Kubernetes version, and every node is replaced. So a launch
template edit (any Bottlerocket setting, a volume, a tag) or a Kubernetes version change would move a
frozen or pinned group to the newest Bottlerocket in place. Holding `launchTemplate.version` and `version`
as well means such a group's nodes only change through a blue/green rollout (a new group is created
with everything current), or, for a pinned group that is not frozen, through an edit of the pin, which
the provider then sends. README "Version freeze and bump" has the table per change kind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import semver

from core.tags import FROZEN, FROZEN_TAG, NOT_FROZEN, PINNED, RELEASE_TAG

LATEST = "latest"
_SEMVER, _BUILD = r"[0-9]+\.[0-9]+\.[0-9]+", r"[0-9a-f]{7,40}"
PIN_PATTERN = re.compile(rf"(?P<semver>{_SEMVER})-(?P<build>{_BUILD})")
# `releaseVersion` whole, in syntax both Python and ECMAScript read (the stack file's JSON Schema).
RELEASE_VERSION_PATTERN = rf"^(?:{LATEST}|{_SEMVER}-{_BUILD})$"
PIN_EXAMPLE = "1.54.0-5043decc"

# The node group inputs whose change makes the provider call EKS UpdateNodegroupVersion (every node
# replaced), with what a change of each means to a user.
VERSION_INPUTS = {
    "releaseVersion": "Bottlerocket release",
    "version": "Kubernetes version",
    "launchTemplate.version": "launch template version (Bottlerocket settings, volumes or tags)",
}
# What a pinned group that is not frozen holds: its pin is sent as written, the rest waits for a rollout.
HELD_BY_A_PIN = tuple(field for field in VERSION_INPUTS if field != "releaseVersion")
HELD_UNTIL_ROLLOUT = "held until rollout"

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


def bottlerocket_parameter(kubernetes_version: str, ami_type: str, version: str, leaf: str) -> str:
    """A public SSM parameter Bottlerocket publishes per variant, architecture and release: `version` is a
    release without the `v` (`1.54.0`) or `latest`, `leaf` e.g. `image_id` or `image_version`."""
    return f"/aws/service/bottlerocket/{variant(kubernetes_version, ami_type)}/{ami_architecture(ami_type)}/{version}/{leaf}"


def ssm_parameter_name(kubernetes_version: str, ami_type: str) -> str:
    """The newest release of a variant and architecture: what a `latest` group follows."""
    return bottlerocket_parameter(kubernetes_version, ami_type, LATEST, "image_version")


def is_valid_pin(version: str) -> bool:
    return bool(PIN_PATTERN.fullmatch(version))


def pin_problem(release_version: str) -> str | None:
    """What is wrong with a requested release (`latest` or a pin), to follow the value as the caller quotes
    it; None when it is one."""
    if release_version == LATEST or is_valid_pin(release_version):
        return None
    return f"is neither '{LATEST}' nor a Bottlerocket version such as {PIN_EXAMPLE}"


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
        """The node group inputs held at their deployed value (see the module docstring for why)."""
        if self.frozen:
            return list(VERSION_INPUTS)
        if not self.tracks_latest:
            return list(HELD_BY_A_PIN)
        return []

    @property
    def tags(self) -> dict[str, str]:
        """The policy as facts on the node group, for the guardrails (policy/rules.py): its inputs do not
        tell a pin from `latest` once the SSM parameter is read, and `freeze` is a resource option."""
        return {RELEASE_TAG: LATEST if self.tracks_latest else PINNED, FROZEN_TAG: FROZEN if self.frozen else NOT_FROZEN}

    def describe(self) -> str:
        source = f"latest from {self.ssm_parameter}" if self.tracks_latest else f"pinned {self.requested}"
        return f"{source}{', frozen' if self.frozen else ''}"


def release_policy(kubernetes_version: str, ami_type: str, requested: str, frozen: bool) -> ReleasePolicy:
    if problem := pin_problem(requested):
        raise ValueError(f"{requested!r} {problem}")
    return ReleasePolicy(requested, frozen, ssm_parameter_name(kubernetes_version, ami_type))


@dataclass(frozen=True)
class GroupVersions:
    """The values of VERSION_INPUTS for one node group: as deployed, or as the stack wants them. None
    when not known (e.g. the newest release could not be read)."""

    release_version: str | None
    kubernetes_version: str | None
    launch_template_version: str | None

    def by_input(self) -> dict[str, str | None]:
        return {"releaseVersion": self.release_version, "version": self.kubernetes_version,
                "launchTemplate.version": self.launch_template_version}


def held_until_rollout(policy: ReleasePolicy, deployed: GroupVersions, wanted: GroupVersions) -> list[str]:
    """The pending changes of a group that its policy keeps off its nodes, e.g.
    `Kubernetes version 1.33 -> 1.34 held until rollout`. Empty for a group that tracks everything."""
    held = []
    have, want = deployed.by_input(), wanted.by_input()
    for field in policy.ignore_changes:
        if have[field] is not None and want[field] is not None and str(have[field]) != str(want[field]):
            held.append(f"{VERSION_INPUTS[field]} {have[field]} -> {want[field]} {HELD_UNTIL_ROLLOUT}")
    return held


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
