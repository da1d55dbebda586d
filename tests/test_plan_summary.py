"""What the plan shows a reviewer: the summary tables and JSON, readable artifacts."""

from __future__ import annotations

import json
import subprocess
import sys

import yaml

from automation.plan import kubernetes_manifests
from tests.conftest import ROOT, make_plan


def test_prod_summary_shows_each_group_with_types_versions_freeze_and_volumes(prod_plan):
    summary = prod_plan.stdout.split("Summary of stack prod", 1)[1]
    rows = {line.split()[0]: line.split() for line in summary.split("Node groups:\n", 1)[1].split("\n\n", 1)[0].splitlines()[1:]}
    assert rows["blue"] == ["blue", "yes", "BOTTLEROCKET_x86_64", "m6i.xlarge,m6a.xlarge,m7i.xlarge", "ON_DEMAND", "3/3/12",
                            "1.54.0-5043decc", "1.54.0-5043decc", "yes", "10/200", "userdata/blue.toml"]
    assert rows["green"][:2] == ["green", "no"]
    assert "EC2NodeClass bottlerocket: AMI alias bottlerocket@v1.54.0; user data userdata/karpenter-bottlerocket.toml" in summary
    assert "  keda           keda                                          2.20.2   keda" in summary
    assert "orders-worker  workers    platform-prod-orders-worker  platform-prod-orders-worker-dlq  0..60" in summary
    assert summary.index("Workloads:") < summary.index("Policy: 0 mandatory")


def test_plan_json_prints_the_summary(tmp_path):
    out = tmp_path / "dev"
    result = subprocess.run([sys.executable, "-m", "automation", "plan", "--stack", "dev", "--out", str(out), "--json"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["planFolder"] == str(out) and summary["stack"] == "dev"
    (blue, green) = summary["nodeGroups"]
    assert blue["requestedVersion"] == "latest" and not blue["effectiveVersionKnown"] and blue["frozen"] is False
    assert blue["effectiveVersion"] == "<after-deploy:ssm:/aws/service/bottlerocket/aws-k8s-1.33/x86_64/latest/image_version>"
    assert (blue["rootVolumeGiB"], blue["dataVolumeGiB"], blue["instanceTypes"]) == (10, 50, ["m6i.large", "m6a.large"])
    assert green == {"name": "green", "enabled": False}
    assert summary["karpenter"]["nodeClasses"][0]["amiAliases"] == ["bottlerocket@latest"]
    assert [p["name"] for p in summary["karpenter"]["nodePools"]] == ["default"]
    assert {r["name"]: r["version"] for r in summary["helmReleases"]} == {"karpenter": "1.14.1", "karpenter-crd": "1.14.1", "keda": "2.20.2"}
    assert summary["workloads"][0]["queue"] == "platform-dev-orders-worker"
    assert summary["policy"] == {"mandatory": 0, "advisory": 0, "suppressed": 1}


def test_a_frozen_latest_group_shows_its_alias_as_a_pin_to_come(write_stack, tmp_path):
    plan = make_plan("dev", tmp_path / "out", config_file=write_stack(lambda v: v["nodeGroups"]["blue"].update(freeze=True)))
    alias = "bottlerocket@v<after-deploy:ssm:/aws/service/bottlerocket/aws-k8s-1.33/x86_64/latest/image_version>"
    assert f"AMI alias {alias};" in plan.stdout
    node_class = yaml.safe_load((plan.out_dir / "manifests" / "EC2NodeClass-cluster-bottlerocket.yaml").read_text())
    assert node_class["spec"]["amiSelectorTerms"] == [{"alias": alias}]
    row = next(line for line in plan.stdout.splitlines() if line.startswith("  blue "))
    assert "  latest     from SSM at deploy  yes  " in row


def test_manifests_are_readable_and_load_as_registered(prod_plan):
    for name, manifest in kubernetes_manifests(prod_plan.document).items():
        assert yaml.safe_load((prod_plan.out_dir / "manifests" / name).read_text()) == manifest, name
    text = (prod_plan.out_dir / "manifests" / "ConfigMap-kube-system-kube-proxy-config.yaml").read_text()
    assert "  config: |\n    apiVersion: kubeproxy.config.k8s.io/v1alpha1\n" in text and "\\n" not in text
    node_class = prod_plan.one("kubernetes:karpenter.k8s.aws/v1:EC2NodeClass", "karpenter-bottlerocket")
    assert prod_plan.user_data("karpenter-bottlerocket") == node_class["inputs"]["spec"]["userData"]
    assert prod_plan.user_data("karpenter-bottlerocket").startswith("# Bottlerocket settings of Karpenter's nodes")
