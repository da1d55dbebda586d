"""The bad-input catalogue, as a new user meets it: whole stack files, broken in one way each, through
the plan command. Every case exits 2 (1 for a mandatory guardrail) with one line naming the key path,
no traceback, and nothing written; each valid variant plans. `bench/bad_input_benchmark.py` times them.

Cases that edit the parsed values live in tests/test_stack_config.py (BAD_CONFIGS); this file holds
those that only exist as text: YAML features, file-system trouble, and what the loader must bound."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT, ROOT, make_plan

PROD = (ROOT / "Pulumi.prod.yaml").read_text()
DEV = (ROOT / "Pulumi.dev.yaml").read_text()

_GREEN = """    green:
      enabled: false
      amiType: BOTTLEROCKET_x86_64
      instanceTypes: [m6i.xlarge, m6a.xlarge, m7i.xlarge]
      capacityType: ON_DEMAND
      scaling: {minSize: 3, desiredSize: 3, maxSize: 12}   # 2 Karpenter controllers + a free node for drains
      maxUnavailable: 1
      releaseVersion: 1.54.0-5043decc
      freeze: true
      rootVolume: {sizeGiB: 10}
      dataVolume: {sizeGiB: 200, type: gp3, iops: 6000, throughput: 250}
"""
assert _GREEN in PROD
WITH_MERGE_KEYS = PROD.replace("    blue:\n", "    blue: &group\n").replace(_GREEN, "    green:\n      <<: *group\n      enabled: false\n")


def _replace(old: str, new: str, text: str = PROD) -> str:
    assert old in text, old
    return text.replace(old, new)


def _alias_bomb() -> str:
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 9):
        lines.append(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * 9)}]")
    return "\n".join(lines) + f"\nconfig:\n  {PROJECT}:tags: {{bomb: *l8}}\n"


# (id, stack file text, exit code, the start of the line that names the problem)
BAD_FILES = [
    ("alias-bomb", _alias_bomb(), 2, "Pulumi.prod.yaml: its aliases expand to more than 100,000 values"),
    ("deep-nesting", _replace(f"{PROJECT}:tags:", f"{PROJECT}:deep: " + "[" * 3000 + "]" * 3000 + f"\n  {PROJECT}:tags:"), 2,
     "Pulumi.prod.yaml: refused at line"),
    ("alias-loop", f"config: &loop\n  {PROJECT}:tags: *loop\n", 2, "Pulumi.prod.yaml: refused at line 1, column 9: an alias refers to the value that contains it"),
    ("duplicate-key-next-to-merge", _replace("      <<: *group\n", "      <<: *group\n      amiType: BOTTLEROCKET_x86_64\n      amiType: BOTTLEROCKET_x86_64\n",
                                            WITH_MERGE_KEYS), 2, "Pulumi.prod.yaml: refused at line"),
    ("version-unquoted", _replace('kubernetesVersion: "1.33"', "kubernetesVersion: 1.30"), 2,
     'Pulumi.prod.yaml: cluster.kubernetesVersion: 1.30 is unquoted, so YAML reads it as the number 1.3; quote it ("1.30")'),
    ("too-large", PROD + "# " + "x" * (1024 * 1024) + "\n", 2, "Pulumi.prod.yaml: 1.0 MiB is too large for a stack file"),
    ("another-projects-namespace", PROD.replace(f"{PROJECT}:", "billing-platform:"), 2,
     f"Pulumi.prod.yaml: no key is in this project's namespace '{PROJECT}:' (it sets keys of 'billing-platform:')"),
    # A type error inside the node group Karpenter follows (versionFrom: blue) is the only problem reported.
    ("type-error-in-followed-group", _replace("scaling: {minSize: 3, desiredSize: 3, maxSize: 12}   # 2 Karpenter controllers + a free node for drains\n      maxUnavailable: 1\n      releaseVersion: 1.54.0-5043decc   #",
                                              "scaling: {minSize: two, desiredSize: 3, maxSize: 12}   # 2 Karpenter controllers + a free node for drains\n      maxUnavailable: 1\n      releaseVersion: 1.54.0-5043decc   #"),
     2, "Pulumi.prod.yaml: nodeGroups.blue.scaling.minSize: Input should be a valid integer; it is 'two'"),
    ("secret-in-plain-env", _replace("      processingSeconds: 20\n", "      processingSeconds: 20\n      env:\n        API_TOKEN:\n          secure: v1:AAAAAAAAAAAA:bm90LWEtcmVhbC1jaXBoZXJ0ZXh0\n"),
     2, "Pulumi.prod.yaml: workloads[0].env.API_TOKEN: is a Pulumi secret, which only workloadSecrets keeps secret"),
    ("long-value-cut", _replace("name: platform-prod", "name: " + "x" * 200_000), 2,
     "Pulumi.prod.yaml: cluster.name: not a valid EKS cluster name: the EKS cluster name 'xxxxxxxx"),
]


def _single_problem_line(stderr: str) -> str:
    lines = stderr.splitlines()
    problems = [line for line in lines if line.startswith("Pulumi.prod.yaml: ")]
    assert len(problems) == 1, lines
    return problems[0]


@pytest.mark.parametrize("text, code, start", [c[1:] for c in BAD_FILES], ids=[c[0] for c in BAD_FILES])
def test_bad_stack_file(text, code, start, tmp_path):
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(text)
    out = tmp_path / "out"
    plan = make_plan("prod", out, config_file=path)
    assert plan.exit_code == code, plan.stderr
    line = _single_problem_line(plan.stderr)
    assert line.startswith(start) and len(line) < 400, line
    assert "Traceback" not in plan.stderr and not out.exists()


def test_merge_keys_plan(tmp_path):
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(WITH_MERGE_KEYS)
    plan = make_plan("prod", tmp_path / "out", config_file=path)
    assert plan.exit_code == 0, plan.stderr
    shipped = make_plan("prod", tmp_path / "shipped")
    assert plan.document == shipped.document


@pytest.mark.parametrize("where, message", [
    ("folder", "is a directory, not a stack file"),
    ("under-a-file", "file not found: a folder on its path is a file"),
    ("missing", "file not found"),
])
def test_config_file_that_is_not_a_readable_file(where, message, tmp_path):
    (tmp_path / "plain").write_text("config: {}\n")
    path = {"folder": tmp_path, "under-a-file": tmp_path / "plain" / "Pulumi.prod.yaml", "missing": tmp_path / "absent.yaml"}[where]
    result = subprocess.run([sys.executable, "-m", "automation", "plan", "--stack", "prod", "--config-file", str(path),
                             "--out", str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1 and not (tmp_path / "out").exists()


def test_unreadable_config_file(tmp_path, monkeypatch):
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(PROD)

    def refuse(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)  # as root a chmod would not stop the read
    plan = make_plan("prod", tmp_path / "out", config_file=path)
    assert plan.exit_code == 2 and plan.stderr.startswith("Pulumi.yaml: cannot be read: permission denied")


# --- the valid variants next to the broken ones: each plans ------------------------------------------

VALID_VARIANTS = [
    ("two-workers-two-namespaces", lambda v: v["workloads"].append({**v["workloads"][0], "name": "billing-worker", "namespace": "billing"})),
    ("tags-at-the-limit", lambda v: v["tags"].update({f"team-{i}": "x" for i in range(46 - len(v["tags"]))})),
    ("node-label-allowed-kubernetes-domain", lambda v: v["nodeGroups"]["blue"].update(labels={"node.kubernetes.io/role": "web"})),
    ("quantity-forms", lambda v: v["bottlerocket"]["kubernetes"].update({"eviction-hard": {"memory.available": "1Gi", "nodefs.available": "10.5%"},
                                                                          "container-log-max-size": ".5Gi"})),
    ("cluster-name-at-the-limit", lambda v: v["cluster"].update(name="p" * (37 - len("-green-")))),
    ("role-path-principal", lambda v: v["cluster"].update(adminPrincipalArns=["arn:aws:iam::444455556666:role/teams/platform/admin"])),
]


@pytest.mark.parametrize("edit", [c[1] for c in VALID_VARIANTS], ids=[c[0] for c in VALID_VARIANTS])
def test_valid_variant_plans(edit, write_stack, tmp_path):
    plan = make_plan("prod", tmp_path / "out", config_file=write_stack(edit, base="prod", name="Pulumi.prod.yaml"))
    assert plan.exit_code == 0, plan.stderr


def test_program_adds_at_most_its_declared_tags_per_resource(prod_plan):
    """PROGRAM_TAGS_PER_RESOURCE is what validation leaves room for under AWS's 50: it must match the plan."""
    from core.config.tags import PROGRAM_TAGS_PER_RESOURCE
    from core.tags import STACK_TAG
    from tests.conftest import project_values

    own = set(project_values("prod")["tags"])
    added = [len((set(r["inputs"]["tags"]) | {STACK_TAG}) - own) for r in prod_plan.resources
             if r["type"].startswith(("aws:", "eks:")) and isinstance(r["inputs"].get("tags"), dict)]
    assert max(added) == PROGRAM_TAGS_PER_RESOURCE


def test_worker_role_names_fit_iam_for_the_longest_workload_name():
    from core import aws_limits

    longest = "w" * 40  # the KubernetesName limit of workload names
    assert aws_limits.autonamed_role_problem(aws_limits.worker_resource_name(longest)) is None
    assert "AWS allows at most 64" in aws_limits.autonamed_role_problem(aws_limits.worker_resource_name("w" * 50))


def test_a_config_path_value_gets_the_same_bounds(capsys):
    from automation.__main__ import main

    bomb = "[" + ",".join(["&a0 [x,x,x,x,x,x,x,x,x]"] + [f"&a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]) + "]"
    assert main(["preview", "--stack", "dev", "--config-path", f"tags.bomb={bomb}"]) == 2
    assert capsys.readouterr().err == ("--config-path: tags.bomb: its aliases expand to more than 100,000 values; "
                                       "that much configuration is a mistake (or an alias bomb)\n")
