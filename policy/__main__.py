"""`pulumi preview --policy-pack policy`: the guardrails as a CrossGuard policy pack.

The rules import core/ through the project's editable install in policy/venv (policy/requirements.txt)."""

from pulumi_policy import PolicyPack

from policy.pack import POLICIES

PolicyPack(name="eks-bottlerocket-guardrails", policies=POLICIES)
