"""The shipped CI reaches prod's API endpoint the way Pulumi.prod.yaml allows (issue 13, point 14)."""

from __future__ import annotations

import yaml

from tests.conftest import ROOT, project_values

PROD_RUNNER = ["self-hosted", "eks-prod"]


def _runner_for(job: dict, stack: str) -> list[str] | str:
    """The runs-on a job gets for `stack`, with the workflow's one matrix expression evaluated."""
    runs_on = job["runs-on"]
    expression = "${{ matrix.stack == 'prod' && fromJSON('[\"self-hosted\", \"eks-prod\"]') || 'ubuntu-latest' }}"
    if runs_on == expression:
        return PROD_RUNNER if stack == "prod" else "ubuntu-latest"
    assert "${{" not in str(runs_on), f"unexpected runs-on expression {runs_on!r}"
    return runs_on


def test_every_job_that_touches_prod_runs_where_prod_admits_it():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "infrastructure.yml").read_text())
    endpoint = project_values("prod")["cluster"]["endpoint"]
    assert endpoint["publicAccess"] and endpoint["publicAccessCidrs"]  # reached from listed CIDRs only
    touching_prod = 0
    for name, job in workflow["jobs"].items():
        text = yaml.safe_dump(job)
        stacks = job.get("strategy", {}).get("matrix", {}).get("stack", [])
        if "_PROD" not in text:  # AWS_ROLE_PREVIEW_PROD, AWS_ROLE_DEPLOY_PROD
            continue
        for stack in stacks or ["prod"]:
            if stack == "prod":
                touching_prod += 1
                assert _runner_for(job, stack) == PROD_RUNNER, f"job {name} reaches prod from GitHub-hosted runners"
    assert touching_prod == 4  # pull-request preview, preview for the approver, deploy, drift
