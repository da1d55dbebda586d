"""EKS access entries for the cluster's administrators, as plain data.

pulumi-eks names each access entry `<cluster component>-<key>` (pulumi/pulumi-eks
nodejs/eks/cluster/authenticationMode.ts:178-186 `createAccessEntries`, read at tag v4.3.0 and at the
newest stored commit 7bf0c1b, which carry the same code; no v4.4.0 tag is stored). A key taken from the list position re-points every later entry when an ARN is removed: Pulumi
then creates the renamed entry before deleting the old one, and EKS refuses a second entry for the same
principal. The key is therefore derived from the principal itself.

The principal that creates the cluster already has an entry: pulumi-eks always sets
`accessConfig.bootstrapClusterCreatorAdminPermissions: true` (nodejs/eks/cluster/cluster.ts:733-739, same refs,
"required for this component because it deploys charts"), and EKS creates an admin access entry for
that principal (EKS API reference, CreateCluster `accessConfig.bootstrapClusterCreatorAdminPermissions`).
Listing it again fails the first `pulumi up` with ResourceInUseException.
"""

from __future__ import annotations

import re

ADMIN_KEY_PREFIX = "admin-"
_ARN = re.compile(r"^arn:(?P<partition>aws[a-z-]*):(?P<service>iam|sts)::(?P<account>[0-9]{12}):(?P<kind>role|user|assumed-role)/(?P<path>.+)$")


def admin_entry_key(principal_arn: str) -> str:
    """A stable, readable key: `admin-<account>-<kind>-<path and name>` with anything else as `-`."""
    match = _ARN.match(principal_arn)
    if not match:
        raise ValueError(f"{principal_arn!r} is not an IAM principal ARN")
    name = re.sub(r"[^A-Za-z0-9]+", "-", f"{match['kind']}-{match['path']}").strip("-")
    return f"{ADMIN_KEY_PREFIX}{match['account']}-{name}"


def _identity(arn: str) -> tuple[str, str, str] | None:
    """(account, role|user, name) of a principal or of a caller identity; IAM paths are not part of an
    assumed-role ARN, so only the name is compared."""
    match = _ARN.match(arn)
    if not match:
        return None
    if match["kind"] == "assumed-role":
        return match["account"], "role", match["path"].split("/", 1)[0]
    return match["account"], match["kind"], match["path"].rsplit("/", 1)[-1]


def creator_listed(admin_principal_arns: list[str], creator_arn: str) -> list[int]:
    """Positions in `adminPrincipalArns` that name the cluster's creator (a role ARN, or the caller ARN
    of an assumed role)."""
    creator = _identity(creator_arn)
    return [index for index, arn in enumerate(admin_principal_arns) if creator is not None and _identity(arn) == creator]


CREATOR_LISTED = ("is cluster.creatorPrincipalArn, which EKS already gives an admin access entry when it creates the "
                  "cluster; a second entry fails with ResourceInUseException. Remove it from this list")
