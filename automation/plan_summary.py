"""What a reviewer reads first: the plan's node groups, Karpenter, Helm releases, workloads and policy
result, as plain data taken from the plan document (`resources.json`) and printed as a few tables.

`plan` prints it after the resource tree, followed by the policy result; `plan --json` prints it as JSON
instead (with the policy counts).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TextIO

from core.block_devices import DATA_DEVICE, ROOT_DEVICE
from automation.mock_engine import KNOWN_AFTER_DEPLOY
from core.resource_types import HELM_RELEASE, LAUNCH_TEMPLATE, NODE_CLASS, NODE_GROUP, NODE_POOL, QUEUE, SCALED_OBJECT, SQS_WORKER


def _of_type(document: dict[str, Any], typ: str) -> list[dict[str, Any]]:
    return [record for record in document["resources"] if record["type"] == typ]


def _volume_sizes(template: dict[str, Any]) -> dict[str, int]:
    return {mapping["deviceName"]: mapping["ebs"]["volumeSize"] for mapping in template["inputs"]["blockDeviceMappings"]}


def _node_group(record: dict[str, Any], templates: dict[str, dict[str, Any]], requested: dict[str, Any]) -> dict[str, Any]:
    inputs = record["inputs"]
    volumes = _volume_sizes(templates[inputs["launchTemplate"]["id"]])
    effective = inputs.get("releaseVersion", "")
    return {
        "name": record["name"],
        "enabled": True,
        "amiType": inputs["amiType"],
        "capacityType": inputs.get("capacityType", "ON_DEMAND"),
        "instanceTypes": inputs["instanceTypes"],
        "minSize": inputs["scalingConfig"]["minSize"],
        "desiredSize": inputs["scalingConfig"]["desiredSize"],
        "maxSize": inputs["scalingConfig"]["maxSize"],
        "requestedVersion": requested.get(record["name"], {}).get("requested"),
        # a `latest` the plan cannot know stays a placeholder: the version comes from SSM at deploy time
        "effectiveVersion": effective,
        "effectiveVersionKnown": not effective.startswith(KNOWN_AFTER_DEPLOY),
        "frozen": "releaseVersion" in record["options"].get("ignoreChanges", []),
        "rootVolumeGiB": volumes[ROOT_DEVICE],
        "dataVolumeGiB": volumes[DATA_DEVICE],
        "userData": f"userdata/{record['name']}.toml",
    }


def _requirement(pool_spec: dict[str, Any], key: str) -> list[str]:
    return next((r["values"] for r in pool_spec["template"]["spec"]["requirements"] if r["key"] == key), [])


def _karpenter(document: dict[str, Any]) -> dict[str, Any] | None:
    classes = _of_type(document, NODE_CLASS)
    if not classes:
        return None
    return {
        "nodeClasses": [{
            "name": c["inputs"]["metadata"]["name"],
            "amiAliases": [term["alias"] for term in c["inputs"]["spec"]["amiSelectorTerms"] if "alias" in term],
            "userData": f"userdata/karpenter-{c['inputs']['metadata']['name']}.toml",
        } for c in classes],
        "nodePools": [{
            "name": pool["inputs"]["metadata"]["name"],
            "nodeClass": pool["inputs"]["spec"]["template"]["spec"]["nodeClassRef"]["name"],
            "capacityTypes": _requirement(pool["inputs"]["spec"], "karpenter.sh/capacity-type"),
            "instanceCategories": _requirement(pool["inputs"]["spec"], "karpenter.k8s.aws/instance-category"),
            "limits": pool["inputs"]["spec"].get("limits", {}),
            "weight": pool["inputs"]["spec"].get("weight"),
        } for pool in _of_type(document, NODE_POOL)],
    }


def _workloads(document: dict[str, Any]) -> list[dict[str, Any]]:
    workloads = []
    for component in _of_type(document, SQS_WORKER):
        children = [r for r in document["resources"] if r["parent"] == component["urn"]]
        queues = {r["name"]: r["inputs"]["name"] for r in children if r["type"] == QUEUE}
        (scaler,) = [r["inputs"] for r in children if r["type"] == SCALED_OBJECT]
        workloads.append({
            "name": scaler["spec"]["scaleTargetRef"]["name"],
            "namespace": scaler["metadata"]["namespace"],
            "queue": queues[component["name"]],
            "deadLetterQueue": queues[f"{component['name']}-dlq"],
            "minReplicas": scaler["spec"].get("minReplicaCount"),
            "maxReplicas": scaler["spec"].get("maxReplicaCount"),
        })
    return workloads


def plan_summary(document: dict[str, Any], policy: dict[str, Any], disabled_node_groups: Iterable[str] = ()) -> dict[str, Any]:
    """The reviewer's summary of a plan document; `disabled_node_groups` are listed as not enabled."""
    templates = {record["id"]: record for record in _of_type(document, LAUNCH_TEMPLATE)}
    requested = document["outputs"].get("nodeGroups", {})
    groups = [_node_group(record, templates, requested) for record in _of_type(document, NODE_GROUP)]
    groups += [{"name": name, "enabled": False} for name in disabled_node_groups]
    return {
        "stack": document["stack"],
        "nodeGroups": sorted(groups, key=lambda group: group["name"]),
        "karpenter": _karpenter(document),
        "helmReleases": [{key: r["inputs"].get(key) for key in ("name", "chart", "version", "namespace")}
                         for r in _of_type(document, HELM_RELEASE)],
        "workloads": _workloads(document),
        "policy": {level: len(policy[level]) for level in ("mandatory", "advisory", "suppressed")},
    }


def _table(out: TextIO, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    for row in (header, *rows):
        out.write("  " + "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip() + "\n")


def _version(group: dict[str, Any]) -> str:
    return group["effectiveVersion"] if group["effectiveVersionKnown"] else "from SSM at deploy"


def print_summary(summary: dict[str, Any], out: TextIO) -> None:
    out.write(f"\nSummary of stack {summary['stack']}\n\nNode groups:\n")
    rows = []
    for g in summary["nodeGroups"]:
        if not g["enabled"]:
            rows.append([g["name"], "no"] + ["-"] * 9)
            continue
        rows.append([g["name"], "yes", g["amiType"], ",".join(g["instanceTypes"]), g["capacityType"],
                     f"{g['minSize']}/{g['desiredSize']}/{g['maxSize']}", g["requestedVersion"], _version(g),
                     "yes" if g["frozen"] else "no", f"{g['rootVolumeGiB']}/{g['dataVolumeGiB']}", g["userData"]])
    _table(out, ["group", "enabled", "amiType", "instance types", "capacity", "min/desired/max", "requested",
                 "effective version", "frozen", "root/data GiB", "user data"], rows)
    karpenter = summary["karpenter"]
    if karpenter:
        out.write("\nKarpenter:\n")
        for node_class in karpenter["nodeClasses"]:
            out.write(f"  EC2NodeClass {node_class['name']}: AMI alias {', '.join(node_class['amiAliases'])}; "
                      f"user data {node_class['userData']}\n")
        _table(out, ["node pool", "node class", "capacity", "categories", "limits", "weight"],
               [[p["name"], p["nodeClass"], ",".join(p["capacityTypes"]), ",".join(p["instanceCategories"]),
                 ", ".join(f"{k} {v}" for k, v in p["limits"].items()) or "-", "-" if p["weight"] is None else str(p["weight"])]
                for p in karpenter["nodePools"]])
    else:
        out.write("\nKarpenter: off\n")
    out.write("\nHelm releases:\n")
    _table(out, ["release", "chart", "version", "namespace"],
           [[r["name"], r["chart"], r["version"], r["namespace"]] for r in summary["helmReleases"]])
    if summary["workloads"]:
        out.write("\nWorkloads:\n")
        _table(out, ["workload", "namespace", "queue", "dead-letter queue", "replicas"],
               [[w["name"], w["namespace"], w["queue"], w["deadLetterQueue"], f"{w['minReplicas']}..{w['maxReplicas']}"]
                for w in summary["workloads"]])
