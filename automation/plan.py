"""`python -m automation plan`: what `pulumi up` would register, computed offline.

Writes `resources.json` (every resource with its inputs and options), `userdata/<node group>.toml` and
`userdata/karpenter-<node class>.toml`, `manifests/<kind>-<namespace>-<name>.yaml`,
`helm/<release>.values.yaml`, `policy.json` (the guardrail rules' results), and prints a tree with counts
by type, the reviewer's summary (automation/plan_summary.py) and the policy results; `--json` prints the
summary as JSON instead, `--compare DIR` adds what changed since the plan in DIR (automation/plan_compare.py).
Invalid configuration: exit code 2, the problems on stderr, nothing written. A mandatory policy
violation: exit code 1.

The plan writes only into a folder it owns: `build/plan/<stack>`, or an `--out` folder that is absent,
empty, or holds the marker file a plan leaves (PLAN_MARKER). Anything else is refused with exit code 2
and nothing is touched. The new plan is written beside the target and renamed into place at the end, so
a plan that fails never leaves a half-written folder. When the stack file the folder plans (the stack's own
for build/plan/<stack>, the --config-file for an --out folder) was read and no longer plans, the previous
plan of the folder is removed, as it would otherwise look current; a file that cannot be read removes nothing.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import yaml

from automation.base import STACK_ERRORS, stack_error_report
from automation.exit_codes import EXIT_FAILED, EXIT_OK, EXIT_USAGE  # meanings: automation/__main__.py EXIT_CODES
from automation.lifecycle_order import lifecycle_order
from automation.mock_engine import ProgramRun, RegisteredResource, is_secret_marker, run_program
from automation.plan_compare import compare_plans, comparison_json, print_comparison
from automation.plan_summary import plan_summary, print_summary
from automation.stack_files import (PROJECT_ROOT, SECRET_MASK, StackConfigSource, StackFileError, StackFileUnreadable, check_stack_name,
                                    load_stack_source)
from core.release_version import HELD_UNTIL_ROLLOUT, VERSION_INPUTS
from core.resource_types import HELM_RELEASE, LAUNCH_TEMPLATE, NODE_CLASS, NODE_GROUP, PROVIDER_TYPE_PREFIX
from policy.rules import Resource, evaluate

PLAN_MARKER = ".eks-bottlerocket-plan"
_MARKER_TEXT = ("Written by `python -m automation plan`. The plan replaces this whole folder on every run;\n"
                "keep nothing else here.\n")


def default_plan_folder(stack: str) -> Path:
    return PROJECT_ROOT / "build" / "plan" / stack


class PlanFolderError(Exception):
    """The plan was asked to write into a folder it does not own."""


def check_plan_folder(folder: Path) -> None:
    """Raise PlanFolderError unless the plan may replace `folder`: absent, empty, or carrying PLAN_MARKER."""
    if not folder.exists() and not folder.is_symlink():
        return
    if folder.is_symlink() or not folder.is_dir():
        raise PlanFolderError(f"--out {folder}: not a folder; give a new or empty folder")
    if (folder / PLAN_MARKER).is_file() or not any(folder.iterdir()):
        return
    raise PlanFolderError(f"--out {folder}: the folder holds files no plan wrote (no {PLAN_MARKER} in it); "
                          "give a new or empty folder, nothing was changed")


def load_plan_document(folder: Path) -> dict[str, Any]:
    """The `resources.json` of an earlier plan folder, for `--compare`."""
    try:
        document = json.loads((folder / "resources.json").read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        document = None
    if not isinstance(document, dict) or not isinstance(document.get("resources"), list):
        raise PlanFolderError(f"--compare {folder}: no plan there (a plan folder has a readable resources.json)")
    return document


def _owns(folder: Path, default: bool) -> bool:
    return folder.is_dir() and not folder.is_symlink() and (default or (folder / PLAN_MARKER).is_file())


def replace_folder(target: Path, write: Callable[[Path], None]) -> None:
    """Run `write` on a new folder beside `target`, then put it in `target`'s place. `target` must be a
    folder the plan owns (check_plan_folder) or absent."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    except OSError as error:  # a read-only or system folder (/sys), a file on the path: the user's choice of folder
        raise PlanFolderError(f"cannot write the plan folder {target}: {error.strerror or error}; give a folder you can write to, "
                              "nothing was written") from None
    try:
        os.chmod(staging, 0o755)  # mkdtemp makes it private; a plan folder is for reading
        write(staging)
        (staging / PLAN_MARKER).write_text(_MARKER_TEXT)
        if target.exists():
            previous = staging.with_suffix(".previous")
            target.rename(previous)
            staging.rename(target)
            shutil.rmtree(previous)
        else:
            staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


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
    if resource.type.startswith(PROVIDER_TYPE_PREFIX):
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
        "dependencies": resource.dependencies,
    }


def plan_document(run: ProgramRun, source: StackConfigSource) -> dict[str, Any]:
    records = sorted((_record(r) for r in run.resources if r.urn), key=lambda r: r["urn"])
    outputs = {name: SECRET_MASK if name in run.secret_outputs else _clean(value) for name, value in sorted(run.outputs.items())}
    return {"stack": source.stack, "project": source.project, "resources": records, "outputs": outputs}


class ProgramFailed(Exception):
    """__main__.py raised under the mock engine; the message is the plan's one line about it."""


def planned_document(source: StackConfigSource, region: str) -> dict[str, Any]:
    """What the plan writes as resources.json, in memory: the program run under the mock engine with the
    stack's config (`upgrade-check` reads the planned objects from it without writing a plan folder)."""
    try:
        run = run_program(str(PROJECT_ROOT / "__main__.py"), source.engine_config, project=source.project,
                          stack=source.stack, region=region, secret_keys=source.secret_keys)
    except Exception as error:  # the program itself failed: one line, no traceback
        raise ProgramFailed(f"plan: __main__.py failed for stack {source.stack}: {type(error).__name__}: {error}") from None
    return plan_document(run, source)


def user_data_files(document: dict[str, Any]) -> dict[str, str]:
    """Decoded user data of each node group's launch template by node group name, and the user data of
    each Karpenter EC2NodeClass as `karpenter-<node class>`."""
    files = {}
    for record in document["resources"]:
        if record["type"] == LAUNCH_TEMPLATE:
            files[record["name"]] = base64.b64decode(record["inputs"]["userData"]).decode()
        elif record["type"] == NODE_CLASS and "userData" in record["inputs"]["spec"]:
            files[f"karpenter-{record['inputs']['metadata']['name']}"] = record["inputs"]["spec"]["userData"]
    return files


_NOT_OBJECTS = ("kubernetes:helm.sh/", PROVIDER_TYPE_PREFIX)


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
            for record in document["resources"] if record["type"] == HELM_RELEASE}


def _option_text(value: Any) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else json.dumps(value)


def print_tree(document: dict[str, Any], out: TextIO) -> None:
    records = document["resources"]
    children: dict[str | None, list[dict]] = defaultdict(list)
    known = {record["urn"] for record in records}
    for record in records:
        children[record["parent"] if record["parent"] in known else None].append(record)

    def show(record: dict, depth: int) -> None:
        shown = {k: v for k, v in record["options"].items() if k in ("ignoreChanges", "protect", "deleteBeforeReplace")}
        extra = f"  [{'; '.join(f'{k}: {_option_text(v)}' for k, v in shown.items())}]" if shown else ""
        out.write(f"{'  ' * depth}{record['type']}  {record['name']}{extra}\n")
        for child in children.get(record["urn"], []):
            show(child, depth + 1)

    out.write(f"Offline plan of stack {document['stack']} (project {document['project']}): {len(records)} resources\n")
    for record in children[None]:
        show(record, 1)
    out.write("\nResources by type:\n")
    for typ, count in sorted(Counter(r["type"] for r in records).items()):
        out.write(f"  {count:3d}  {typ}\n")


# PyYAML's libyaml emitter (in its wheels; yaml.__with_libyaml__) writes the same text as its pure-Python one
# for every manifest and values file of the shipped stacks (tests/golden) at a fraction of the time.
class _ReadableDumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """YAML with multi-line strings (kube-proxy's configuration, node class user data) as literal blocks,
    readable as written instead of one escaped line; the loaded value is the same string."""


def _represent_string(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_ReadableDumper.add_representer(str, _represent_string)


def readable_yaml(value: Any) -> str:
    return yaml.dump(value, Dumper=_ReadableDumper, sort_keys=False, allow_unicode=True)


def print_held_inputs(document: dict[str, Any], out: TextIO) -> None:
    """Which node groups hold which version inputs (core/release_version.py): a change of those waits for a rollout."""
    lines = []
    for record in document["resources"]:
        if record["type"] == NODE_GROUP:
            held = [VERSION_INPUTS[field] for field in record["options"].get("ignoreChanges", []) if field in VERSION_INPUTS]
            if held:
                lines.append(f"  {record['name']}: {'; '.join(held)}\n")
    if lines:
        out.write(f"\nNode group changes {HELD_UNTIL_ROLLOUT} (never applied to running nodes in place):\n{''.join(lines)}")


def write_plan(document: dict[str, Any], out_dir: Path) -> dict[str, int]:
    """The plan's files, into the new (empty) folder `out_dir`; how many of each kind were written."""
    for folder in ("userdata", "manifests", "helm"):
        (out_dir / folder).mkdir(parents=True)
    (out_dir / "resources.json").write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")
    user_data, manifests, values_files = user_data_files(document), kubernetes_manifests(document), helm_values(document)
    for name, text in user_data.items():
        (out_dir / "userdata" / f"{name}.toml").write_text(text)
    for name, manifest in manifests.items():
        (out_dir / "manifests" / name).write_text(readable_yaml(manifest))
    for release, values in values_files.items():
        (out_dir / "helm" / f"{release}.values.yaml").write_text(readable_yaml(values))
    return {"user data": len(user_data), "manifest": len(manifests), "Helm values": len(values_files)}


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


def run_plan(stack: str, config_file: Path | None, out_dir: Path | None, stdout: TextIO = sys.stdout, stderr: TextIO = sys.stderr,
             as_json: bool = False, compare_dir: Path | None = None) -> int:
    try:
        check_stack_name(stack)
        target = out_dir or default_plan_folder(stack)
        if out_dir is not None:  # build/plan/<stack> is the plan's own, also when an older version wrote it
            check_plan_folder(target)
        earlier = load_plan_document(compare_dir) if compare_dir is not None else None  # read before it is replaced
    except (StackFileError, PlanFolderError) as error:
        stderr.write(f"plan: {error}\n")
        return EXIT_USAGE

    # The folder's plan describes the stack file that was asked for: build/plan/<stack> the stack's own file,
    # an --out folder the file given with it. Only when that file was read and no longer plans is the old
    # plan stale; a file that cannot be read (a typo in --config-file) says nothing about it.
    plans_this_file = config_file is None or out_dir is not None

    def fail(message: str, code: int, stale: bool) -> int:
        if stale and plans_this_file and _owns(target, default=out_dir is None):
            shutil.rmtree(target)  # the previous plan no longer describes the stack file
            message += f"\nRemoved the previous plan in {target}: it no longer matches the stack file."
        stderr.write(f"{message}\n")
        return code

    try:
        source, config = load_stack_source(stack, config_file)
    except STACK_ERRORS as error:
        read = not isinstance(error, StackFileUnreadable)  # then its content is wrong
        return fail(stack_error_report(error, "no plan was written"), EXIT_USAGE, stale=read)

    try:
        document = planned_document(source, config.region)
    except ProgramFailed as error:
        return fail(str(error), EXIT_FAILED, stale=True)
    report = policy_report(document)

    written: dict[str, int] = {}

    def write(folder: Path) -> None:
        written.update(write_plan(document, folder))
        (folder / "policy.json").write_text(json.dumps(report, indent=2) + "\n")
        (folder / "order.json").write_text(json.dumps(lifecycle_order(document), indent=2) + "\n")

    try:
        replace_folder(target, write)
    except PlanFolderError as error:
        stderr.write(f"plan: {error}\n")
        return EXIT_USAGE
    summary = plan_summary(document, report, [name for name, group in config.node_groups.items() if not group.enabled])
    changes = compare_plans(earlier, document) if earlier is not None else None
    if as_json:
        comparison = {"compare": {"folder": str(compare_dir), **comparison_json(changes)}} if changes is not None else {}
        stdout.write(json.dumps({**summary, "planFolder": str(target), **comparison}, indent=2) + "\n")
    else:
        print_tree(document, stdout)
        print_summary(summary, stdout)
        print_held_inputs(document, stdout)
        print_policy(report, stdout)
        stdout.write(f"\nWrote {target}: resources.json, {written['user data']} user data, "
                     f"{written['manifest']} manifest and {written['Helm values']} Helm values file(s), policy.json, order.json.\n")
        if changes is not None:
            print_comparison(changes, str(compare_dir), stdout)
    if report["mandatory"]:
        stderr.write(f"{len(report['mandatory'])} mandatory policy violation(s); see above. Fix them or suppress one with a reason.\n")
        return EXIT_FAILED
    return EXIT_OK
