"""`eksAddons`: the EKS managed add-ons the program keeps in step with the cluster (core/eks_addons.py)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

from core.config.base import ConfigSection, Shape


def _addon_version(value: str) -> str:
    if not re.fullmatch(r"v[0-9]+\.[0-9]+\.[0-9]+-eksbuild\.[0-9]+", value):
        raise ValueError(f"{value!r} is not an EKS add-on version such as v1.12.1-eksbuild.2 "
                         "(aws eks describe-addon-versions --addon-name <name> lists them)")
    return value


AddonVersion = Annotated[str, AfterValidator(_addon_version), Shape("EKS add-on version like `v1.12.1-eksbuild.2`")]


class AddonConfig(ConfigSection):
    version: AddonVersion | None = Field(default=None, description=(
        "The add-on's `addonVersion`. Unset: EKS' default for `cluster.kubernetesVersion`, read at deploy time."))


class EksAddonsConfig(ConfigSection):
    coredns: AddonConfig = Field(default=AddonConfig(), description="The `coredns` EKS add-on.")
    vpc_cni: AddonConfig = Field(default=AddonConfig(), description="The `vpc-cni` EKS add-on.")

