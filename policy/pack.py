"""The CrossGuard side of the guardrails: the rules of rules.py as two stack policies (mandatory and
advisory), so they see every resource (production is decided stack-wide, and the stack's default tags
never suppress a rule). Kept apart from __main__.py because PolicyPack() starts a server and blocks."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, StackValidationArgs, StackValidationPolicy

from policy.rules import RULES, Resource, evaluate


def _validator(mandatory: bool):
    rules = [rule for rule in RULES if rule.mandatory == mandatory]

    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [Resource(r.resource_type, r.name, r.urn, r.props) for r in args.resources]
        violations, _ = evaluate(resources, rules)
        for violation in violations:
            report_violation(f"[{violation.rule}] {violation.message}", violation.urn)

    return validate


POLICIES = [
    StackValidationPolicy(
        name="eks-bottlerocket-mandatory",
        description="; ".join(rule.description for rule in RULES if rule.mandatory),
        validate=_validator(mandatory=True),
        enforcement_level=EnforcementLevel.MANDATORY,
    ),
    StackValidationPolicy(
        name="eks-bottlerocket-advisory",
        description="; ".join(rule.description for rule in RULES if not rule.mandatory),
        validate=_validator(mandatory=False),
        enforcement_level=EnforcementLevel.ADVISORY,
    ),
]
