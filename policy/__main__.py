"""`pulumi preview --policy-pack policy`: the guardrails as a CrossGuard policy pack."""

import sys
from pathlib import Path

# The pack runs from this folder; the rules reuse the program's Bottlerocket settings model.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pulumi_policy import PolicyPack  # noqa: E402

from policy.pack import POLICIES  # noqa: E402

PolicyPack(name="eks-bottlerocket-guardrails", policies=POLICIES)
