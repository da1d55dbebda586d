"""`python -m automation plan`: what `pulumi up` would register, computed offline.

Writes `resources.json` (every resource with its inputs and options), `userdata/<node group>.toml`,
`manifests/<kind>-<namespace>-<name>.yaml`, `helm/<release>.values.yaml`, `policy.json` (the guardrail
rules' results), and prints a tree with counts by type and the policy results. Invalid configuration:
exit code 2, the problems on stderr, nothing written. A mandatory policy violation: exit code 1.
"""

from __future__ import annotations

import base64
import json
import shutil
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, TextIO

import yaml

from automation.mock_engine import ProgramRun, RegisteredResource, is_secret_marker, run_program
from automation.stack_files import PROJECT_ROOT, SECRET_MASK, StackConfigSource, StackFileError, read_stack_config
from core.release_version import HELD_UNTIL_ROLLOUT, VERSION_INPUTS
from core.stack_config import ConfigError, validate_stack_config
from policy.rules import Resource, evaluate

EXIT_POLICY_VIOLATION = 1
EXIT_INVALID_CONFIG = 2


def _clean(value: Any) -> Any:
    """Inputs as JSON: secrets masked, the wire format's floats back to integers where whole, and keys
    sorted (the wire format keeps no order, and the plan must be the same on every run)."""
    if is_secret_marker(value):
        return SECRET_MASK
    if isinstance(value, dict):
        return {key: _clean(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_clean(child) for child in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _provider_inputs(inputs: dict) -> dict:
    # Provider inputs travel as JSON text; decoded they can be reviewed like any other input.
    decoded = {}
    for key, value in inputs.items():
        if isinstance(value, str) and value[:1] in ("{", "["):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                pass
        decoded[key] = value
    return decoded


def _record(resource: RegisteredResource) -> dict[str, Any]:
    inputs = _clean(resource.inputs)
    if resource.type.startswith("pulumi:providers:"):
        inputs = _provider_inputs(inputs)
    return {
        "type": resource.type,
        "name": resource.name,
        "urn": resource.urn,
        "id": resource.id,
        "parent": resource.parent,
        "provider": resource.provider,
        "inputs": inputs,
        "options": resource.options,
    }


def plan_document(run: ProgramRun, source: StackConfigSource) -> dict[str, Any]:
    records = sorted((_record(r) for r in run.resources if r.urn), key=lambda r: r["urn"])
    outputs = {name: SECRET_MASK if name in run.secret_outputs else _clean(value) for name, value in sorted(run.outputs.items())}
    return {"stack": source.stack, "project": source.project, "resources": records, "outputs": outputs}


def user_data_files(document: dict[str, Any]) -> dict[str, str]:
    """Decoded user data of each node group's launch template, by node group name."""
    files = {}
    for record in document["resources"]:
        if record["type"] == "aws:ec2/launchTemplate:LaunchTemplate":
            files[record["name"]] = base64.b64decode(record["inputs"]["userData"]).decode()
    return files


_NOT_OBJECTS = ("kubernetes:helm.sh/", "pulumi:providers:")


def kubernetes_manifests(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every Kubernetes object the program registers, by file name `<kind>-<namespace>-<name>.yaml`
    (`cluster` stands for the namespace of cluster-scoped objects)."""
    manifests = {}
    for record in document["resources"]:
        if record["type"].startswith("kubernetes:") and not record["type"].startswith(_NOT_OBJECTS):
            manifest = record["inputs"]
            metadata = manifest["metadata"]
            manifests[f"{manifest['kind']}-{metadata.get('namespace', 'cluster')}-{metadata['name']}.yaml"] = manifest
    return manifests


def helm_values(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The values of each Helm release exactly as passed to it, by release name."""
    return {record["inputs"]["name"]: record["inputs"].get("values", {})
            for record in document["resources"] if record["type"] == "kubernetes:helm.sh/v3:Release"}


def print_tree(document: dict[str, Any], out: TextIO) -> None:
    records = document["resources"]
    children: dict[str | None, list[dict]] = defaultdict(list)
    known = {record["urn"] for record in records}
    for record in records:
        children[record["parent"] if record["parent"] in known else None].append(record)

    def show(record: dict, depth: int) -> None:
        shown = {k: v for k, v in record["options"].items() if k in ("ignoreChanges", "protect", "deleteBeforeReplace")}
        extra = f"  [{', '.join(f'{k}: {v}' for k, v in shown.items())}]" if shown else ""
        out.write(f"{'  ' * depth}{record['type']}  {record['name']}{extra}\n")
        for child in children.get(record["urn"], []):
            show(child, depth + 1)

    out.write(f"Offline plan of stack {document['stack']} (project {document['project']}): {len(records)} resources\n")
    for record in children[None]:
        show(record, 1)
    out.write("\nResources by type:\n")
    for typ, count in sorted(Counter(r["type"] for r in records).items()):
        out.write(f"  {count:3d}  {typ}\n")


def print_held_inputs(document: dict[str, Any], out: TextIO) -> None:
    """Which node groups hold which version inputs (core/release_version.py): a change of those waits for a rollout."""
    lines = []
    for record in document["resources"]:
        if record["type"] == "aws:eks/nodeGroup:NodeGroup":
            held = [VERSION_INPUTS[field] for field in record["options"].get("ignoreChanges", []) if field in VERSION_INPUTS]
            if held:
                lines.append(f"  {record['name']}: {'; '.join(held)}\n")
    if lines:
        out.write(f"\nNode group changes {HELD_UNTIL_ROLLOUT} (never applied to running nodes in place):\n{''.join(lines)}")


def write_plan(document: dict[str, Any], out_dir: Path) -> None:
    if out_dir.exists():
        shutil.rmtree(out_dir)  # a removed node group must not leave a stale file behind
    for folder in ("userdata", "manifests", "helm"):
        (out_dir / folder).mkdir(parents=True)
    (out_dir / "resources.json").write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")
    for name, text in user_data_files(document).items():
        (out_dir / "userdata" / f"{name}.toml").write_text(text)
    for name, manifest in kubernetes_manifests(document).items():
        (out_dir / "manifests" / name).write_text(yaml.safe_dump(manifest, sort_keys=False))
    for release, values in helm_values(document).items():
        (out_dir / "helm" / f"{release}.values.yaml").write_text(yaml.safe_dump(values, sort_keys=False))


def policy_report(document: dict[str, Any]) -> dict[str, Any]:
    """The guardrail rules (policy/rules.py) applied to the planned resources."""
    resources = [Resource(r["type"], r["name"], r["urn"], r["inputs"]) for r in document["resources"]]
    violations, suppressed = evaluate(resources)
    return {
        "mandatory": [vars(v) for v in violations if v.mandatory],
        "advisory": [vars(v) for v in violations if not v.mandatory],
        "suppressed": [{"rule": rule, "urn": urn, "reason": reason} for rule, urn, reason in suppressed],
    }


def print_policy(report: dict[str, Any], out: TextIO) -> None:
    out.write(f"\nPolicy: {len(report['mandatory'])} mandatory and {len(report['advisory'])} advisory violation(s), "
              f"{len(report['suppressed'])} suppressed\n")
    for level in ("mandatory", "advisory"):
        for violation in report[level]:
            out.write(f"  [{level}] {violation['rule']}: {violation['urn'].rsplit('::', 1)[-1]}: {violation['message']}\n")
    for suppression in report["suppressed"]:
        out.write(f"  [suppressed] {suppression['rule']}: {suppression['urn'].rsplit('::', 1)[-1]}: {suppression['reason']}\n")


def run_plan(stack: str, config_file: Path | None, out_dir: Path | None, stdout: TextIO = sys.stdout, stderr: TextIO = sys.stderr) -> int:
    try:
        source = read_stack_config(stack, config_file)
        config = validate_stack_config(source.project_values, source.stack_file, source.project_secret_keys)
    except StackFileError as error:
        stderr.write(f"{error}\n")
        return EXIT_INVALID_CONFIG
    except ConfigError as error:
        stderr.write(f"{error.report()}\n")
        return EXIT_INVALID_CONFIG

    if str(PROJECT_ROOT) not in sys.path:
        sys.path.insert(0, str(PROJECT_ROOT))
    run = run_program(str(PROJECT_ROOT / "__main__.py"), source.engine_config, project=source.project,
                      stack=stack, region=config.region, secret_keys=source.secret_keys)
    document = plan_document(run, source)
    target = out_dir or PROJECT_ROOT / "build" / "plan" / stack
    write_plan(document, target)
    print_tree(document, stdout)
    print_held_inputs(document, stdout)
    report = policy_report(document)
    (target / "policy.json").write_text(json.dumps(report, indent=2) + "\n")
    print_policy(report, stdout)
    stdout.write(f"\nWrote {target}: resources.json, {len(user_data_files(document))} user data, "
                 f"{len(kubernetes_manifests(document))} manifest and {len(helm_values(document))} Helm values file(s), policy.json.\n")
    if report["mandatory"]:
        stderr.write(f"{len(report['mandatory'])} mandatory policy violation(s); see above. Fix them or suppress one with a reason.\n")
        return EXIT_POLICY_VIOLATION
    return 0
