"""Admin access entries: keyed by the principal, and never a second entry for the cluster's creator."""

from __future__ import annotations

import pytest

from core.access_entries import admin_entry_key, creator_listed
from core.config.base import ConfigError
from core.config.stack_config import validate_stack_config
from tests.conftest import make_plan, project_values

ADMIN = "arn:aws:iam::444455556666:role/platform-admin"
BREAK_GLASS = "arn:aws:iam::444455556666:role/platform-break-glass"


def test_keys_come_from_the_principal_not_the_position():
    assert admin_entry_key(ADMIN) == "admin-444455556666-role-platform-admin"
    assert admin_entry_key("arn:aws:iam::111122223333:role/team/ops.admin") == "admin-111122223333-role-team-ops-admin"
    assert admin_entry_key("arn:aws:iam::111122223333:user/alice") == "admin-111122223333-user-alice"
    assert admin_entry_key("arn:aws:iam::111122223333:role/platform-admin") != admin_entry_key(ADMIN)  # other account


def test_removing_an_admin_keeps_the_other_entries(write_stack, tmp_path):
    def only_break_glass(values):
        values["cluster"]["adminPrincipalArns"] = [BREAK_GLASS]

    before = make_plan("prod", tmp_path / "before")
    after = make_plan("prod", tmp_path / "after", config_file=write_stack(only_break_glass, base="prod"))
    (cluster_before,) = before.of_type("eks:index:Cluster")
    (cluster_after,) = after.of_type("eks:index:Cluster")
    key = admin_entry_key(BREAK_GLASS)
    assert cluster_after["inputs"]["accessEntries"][key] == cluster_before["inputs"]["accessEntries"][key]
    assert admin_entry_key(ADMIN) not in cluster_after["inputs"]["accessEntries"]


@pytest.mark.parametrize("creator", [
    "arn:aws:iam::444455556666:role/platform-admin",
    "arn:aws:iam::444455556666:role/ci/platform-admin",  # IAM path: the assumed-role ARN drops it
])
def test_the_creator_is_refused_in_the_admin_list(creator):
    values = project_values("prod")
    values["cluster"]["creatorPrincipalArn"] = creator
    with pytest.raises(ConfigError) as error:
        validate_stack_config(values, "Pulumi.prod.yaml")
    assert error.value.lines() == [
        "Pulumi.prod.yaml: cluster.adminPrincipalArns[0]: 'arn:aws:iam::444455556666:role/platform-admin' is "
        "cluster.creatorPrincipalArn, which EKS already gives an admin access entry when it creates the cluster; "
        "a second entry fails with ResourceInUseException. Remove it from this list"]


def test_a_creator_not_in_the_list_is_accepted():
    values = project_values("prod")
    values["cluster"]["creatorPrincipalArn"] = "arn:aws:iam::444455556666:role/github-deploy-prod"
    assert validate_stack_config(values, "Pulumi.prod.yaml").cluster.creator_principal_arn.endswith("github-deploy-prod")
    assert creator_listed([ADMIN, BREAK_GLASS], "arn:aws:iam::111122223333:role/platform-admin") == []  # other account


def test_the_creator_is_a_role_not_its_session():
    """An STS session ARN (what `aws sts get-caller-identity` prints in CI) is refused like an admin's: EKS keys
    the creator's access entry by the role."""
    values = project_values("prod")
    values["cluster"]["creatorPrincipalArn"] = "arn:aws:sts::444455556666:assumed-role/platform-admin/github-actions"
    with pytest.raises(ConfigError) as error:
        validate_stack_config(values, "Pulumi.prod.yaml")
    assert any(line.startswith("Pulumi.prod.yaml: cluster.creatorPrincipalArn: ") and "is an STS session" in line
               and "arn:aws:iam::444455556666:role/platform-admin" in line for line in error.value.lines())
