"""The README's configuration reference and schema/stack.schema.json are generated from the config models
(core/config/reference.py, `python -m automation.reference --write`): both up to date, every key
documented, and the schema an editor uses accepting the shipped stack files and refusing a typo."""

from __future__ import annotations

import copy
import json
import typing

import jsonschema
import pytest
import yaml
from pydantic import BaseModel

from automation import reference
from automation.exit_codes import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from core.config import reference as config_reference
from core import sqs_worker
from core.block_devices import MINIMUM_ROOT_VOLUME_GIB
from core.config.node_groups import GP3_IOPS, GP3_THROUGHPUT_MIB_S, NodeGroupConfig, VolumeConfig
from core.config.workloads import TAKEN_NAMESPACES, WorkloadConfig, WorkloadScaling
from core.karpenter import INTERRUPTION_QUEUE_RETENTION_SECONDS
from core.rollout import DEFAULT_MAX_UNAVAILABLE
from core.sqs_worker import INJECTED_ENV
from core.config.stack_config import StackConfig
from core.config.tags import MAX_STACK_TAGS, tag_problems
from core.release_version import PIN_EXAMPLE, release_policy
from tests.conftest import PROJECT, ROOT

SHIPPED_STACKS = sorted(ROOT.glob("Pulumi.*.yaml"))


def _models(model: type[BaseModel]) -> set[type[BaseModel]]:
    """`model` and every model its fields hold, at any depth."""
    found: set[type[BaseModel]] = set()

    def visit(annotation: typing.Any) -> None:
        for argument in typing.get_args(annotation):
            visit(argument)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel) and annotation not in found:
            found.add(annotation)
            for field in annotation.model_fields.values():
                visit(field.annotation)

    visit(model)
    return found


def test_readme_tables_and_schema_are_generated_from_the_current_models():
    assert reference.stale() == [], "run: python -m automation.reference --write"


def test_a_changed_description_makes_the_readme_stale(monkeypatch):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    monkeypatch.setattr(NodeGroupConfig.model_fields["freeze"], "description", "something else")
    assert config_reference.with_tables(readme) != readme
    assert "| `nodeGroups.<g>.freeze` | bool | `false` | something else |" in config_reference.with_tables(readme)


def test_a_changed_description_makes_the_schema_stale(monkeypatch):
    written = (ROOT / reference.SCHEMA).read_text(encoding="utf-8")
    monkeypatch.setattr(StackConfig.model_fields["region"], "description", "something else")
    StackConfig.model_rebuild(force=True)  # the JSON Schema comes from the model's compiled schema
    try:
        assert reference.generated()[reference.SCHEMA] != written
        assert reference.stale() == [reference.README, reference.SCHEMA]
    finally:
        monkeypatch.undo()
        StackConfig.model_rebuild(force=True)
    assert reference.stale() == []


def test_every_key_of_the_stack_config_says_what_it_is():
    undocumented = [f"{model.__name__}.{name}" for model in _models(StackConfig)
                    for name, field in model.model_fields.items() if not (field.description or "").strip()]
    assert undocumented == []


def test_every_key_has_its_row_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for row in config_reference.rows(StackConfig):
        assert f"| `{row.key}` |" in readme
    assert "| `nodeGroups.<g>.dataVolume` | volume (below) | `{sizeGiB: 100}` |" in readme
    assert "| `sizeGiB` | integer 1..16384 | required |" in readme
    assert "| `maxReplicas` | integer 1..1000 | `50` |" in readme


def test_the_readme_block_must_exist():
    with pytest.raises(ValueError, match="config table"):
        config_reference.with_tables("no generated blocks here")


# --- the schema, as an editor's YAML language server applies it -----------------------------------------

@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads((ROOT / "schema" / "stack.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def _errors(validator: jsonschema.Draft7Validator, document: typing.Any) -> list[str]:
    return sorted(f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(document))


@pytest.mark.parametrize("stack_file", SHIPPED_STACKS, ids=lambda path: path.name)
def test_the_schema_accepts_the_shipped_stack_files(validator, stack_file):
    text = stack_file.read_text(encoding="utf-8")
    assert text.startswith("# yaml-language-server: $schema=./schema/stack.schema.json\n")
    assert _errors(validator, yaml.safe_load(text)) == []


@pytest.fixture
def prod() -> dict[str, typing.Any]:
    return typing.cast(dict[str, typing.Any], yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text(encoding="utf-8")))


def test_the_schema_refuses_a_typo_in_a_top_level_key(validator, prod):
    prod["config"][f"{PROJECT}:regoin"] = prod["config"].pop(f"{PROJECT}:region")
    errors = _errors(validator, prod)
    assert len(errors) == 1 and f"'{PROJECT}:regoin' does not match" in errors[0]


def test_the_schema_refuses_a_typo_in_a_nested_key(validator, prod):
    groups = prod["config"][f"{PROJECT}:nodeGroups"]
    group = next(iter(groups.values()))
    group["dataVolume"]["sizeGib"] = group["dataVolume"].pop("sizeGiB")
    errors = _errors(validator, prod)
    assert any("'sizeGib' was unexpected" in error for error in errors), errors


def test_the_schema_checks_types_and_ranges(validator, prod):
    broken = copy.deepcopy(prod)
    broken["config"][f"{PROJECT}:cluster"]["kubernetesVersion"] = 1.33
    assert any("kubernetesVersion: 1.33 is not of type 'string'" in error for error in _errors(validator, broken))
    broken = copy.deepcopy(prod)
    next(iter(broken["config"][f"{PROJECT}:nodeGroups"].values()))["metadataHopLimit"] = 3
    assert any("metadataHopLimit: 3 is greater than the maximum of 2" in error for error in _errors(validator, broken))


def test_the_schema_checks_release_versions_and_the_tag_count_as_validation_does(validator, prod):
    group = next(iter(prod["config"][f"{PROJECT}:nodeGroups"].values()))
    group["releaseVersion"] = "v1.54"
    assert any("releaseVersion: 'v1.54' does not match" in error for error in _errors(validator, prod))
    group["releaseVersion"] = "1.55.0-0a1b2c3d"
    assert _errors(validator, prod) == []
    prod["config"][f"{PROJECT}:tags"] = {f"team-{index}": "x" for index in range(MAX_STACK_TAGS)}
    assert _errors(validator, prod) == [] and tag_problems(prod["config"][f"{PROJECT}:tags"]) == []
    prod["config"][f"{PROJECT}:tags"]["one-more"] = "x"
    assert any("has too many properties" in error for error in _errors(validator, prod))
    assert [problem.path for problem in tag_problems(prod["config"][f"{PROJECT}:tags"])] == [("tags",)]


def test_the_type_column_says_what_a_key_takes():
    """What a plain `string` would hide: the allowed values and shapes (the facts the hand-written table had)."""
    types = {row.key: row.type for row in config_reference.rows(StackConfig)}
    for key in ("nodeGroups.<g>.taints", "karpenter.nodePools.<p>.taints"):
        assert types[key] == "list of `{key, value, effect: NoSchedule|PreferNoSchedule|NoExecute}`"
    assert types["nodeGroups.<g>.releaseVersion"] == f"`latest` or a pin like `{PIN_EXAMPLE}`"
    assert types["karpenter.nodeClass.versionFrom"] == "an enabled node group's name"
    assert types["network.availabilityZones"].startswith("list of AZ name of `region`")
    assert types["nodeGroups.<g>.instanceTypes"].startswith("list of EC2 instance type")
    assert types["karpenter.nodePools.<p>.instanceCategories"].startswith("list of instance family letter")
    assert f"At most {MAX_STACK_TAGS}:" in (StackConfig.model_fields["tags"].description or "")


def test_the_schema_takes_other_namespaces_bare_keys_and_secrets_where_they_belong(validator, prod):
    prod["config"]["aws:skipMetadataApiCheck"] = False
    prod["config"]["stack"] = prod["config"].pop(f"{PROJECT}:stack")  # a bare key is this project's
    prod["config"][f"{PROJECT}:workloadSecrets"] = {"orders-worker": {"API_TOKEN": {"secure": "v1:abc"}}}
    prod["encryptionsalt"] = "v1:salt"
    assert _errors(validator, prod) == []
    prod["config"]["stack"] = {"protect": {"secure": "v1:abc"}}
    prod["surprise"] = 1
    assert len(_errors(validator, prod)) == 2


def test_freeze_and_release_version_describe_what_the_policy_holds_and_tags():
    """The descriptions name every input ReleasePolicy.ignore_changes holds for a frozen group and for a
    pinned one, and the tags the guardrails read."""
    freeze = NodeGroupConfig.model_fields["freeze"].description or ""
    release_version = NodeGroupConfig.model_fields["release_version"].description or ""
    frozen = release_policy("1.33", "BOTTLEROCKET_x86_64", "1.54.0-5043decc", frozen=True)
    pinned = release_policy("1.33", "BOTTLEROCKET_x86_64", "1.54.0-5043decc", frozen=False)
    assert all(f"`{field}`" in freeze for field in frozen.ignore_changes)
    assert all(f"`{field}`" in release_version for field in pinned.ignore_changes)
    assert "`releaseVersion`," not in release_version  # a pin sends releaseVersion: it is not held
    for description, policy in ((freeze, frozen), (release_version, pinned)):
        tag, value = next((key, value) for key, value in policy.tags.items() if f"`{key}:" in description)
        assert f"`{tag}: " in description and value in description


def test_descriptions_state_the_constants_the_program_uses():
    """Built from the constants (f-strings), so they cannot drift from what validation and rendering use."""
    described = {row.key: row.description for row in config_reference.rows(StackConfig)}
    volume = {row.key: row.description for row in config_reference.rows(VolumeConfig)}
    assert all(f"`{name}`" in described["workloads[i].env"] for name in INJECTED_ENV)
    assert all(f"`{namespace}`" in described["workloads[i].namespace"] for namespace in TAKEN_NAMESPACES)
    assert f"{INTERRUPTION_QUEUE_RETENTION_SECONDS} s" in described["stack.protect"]
    assert all(f"{size} GiB" in volume["sizeGiB"] for size in MINIMUM_ROOT_VOLUME_GIB.values())
    assert f"{GP3_IOPS[0]} to {GP3_IOPS[1]}" in volume["iops"]
    assert f"{GP3_THROUGHPUT_MIB_S[0]} to {GP3_THROUGHPUT_MIB_S[1]}" in volume["throughput"]
    scaled = sqs_worker.scaled_object(WorkloadConfig.model_validate({"name": "w", "image": "repo/app:1"}), "https://queue", "eu-west-1")
    down = scaled["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"]["policies"][0]
    scaling = {row.key: row.description for row in config_reference.rows(WorkloadScaling)}
    assert f"{down['value']} % of pods per {down['periodSeconds']} s" in scaling["scaleDownStabilizationSeconds"]
    assert f"fails {scaled['spec']['fallback']['failureThreshold']} times" in scaling["fallbackReplicas"]
    assert DEFAULT_MAX_UNAVAILABLE == NodeGroupConfig.model_fields["max_unavailable"].get_default() == 1


def _clone_files(tmp_path, *names: str):
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text((ROOT / name).read_text(encoding="utf-8"), encoding="utf-8")
    return tmp_path


def test_the_command_checks_writes_and_exits_with_the_documented_codes(tmp_path, capsys):
    root = _clone_files(tmp_path, "Pulumi.yaml", "README.md")  # no schema yet
    assert reference.main([], root=root) == EXIT_FAILED
    assert "out of date with the config models: schema/stack.schema.json" in capsys.readouterr().err
    assert reference.main(["--write"], root=root) == EXIT_OK
    assert reference.main([], root=root) == EXIT_OK
    assert (root / reference.SCHEMA).read_text(encoding="utf-8") == (ROOT / reference.SCHEMA).read_text(encoding="utf-8")


@pytest.mark.parametrize("broken, message", [
    (lambda root: (root / "Pulumi.yaml").unlink(), "Pulumi.yaml"),
    (lambda root: (root / "Pulumi.yaml").write_text("name: [", encoding="utf-8"), "Pulumi.yaml"),
    (lambda root: (root / "README.md").unlink(), "README.md: No such file or directory"),
    (lambda root: (root / "README.md").write_text("# no markers\n", encoding="utf-8"), "README.md has no <!-- generated: config table"),
])
def test_unreadable_project_files_are_one_line_and_exit_2(tmp_path, capsys, broken, message):
    root = _clone_files(tmp_path, "Pulumi.yaml", "README.md", str(reference.SCHEMA))
    broken(root)
    for argv in ([], ["--write"]):
        assert reference.main(argv, root=root) == EXIT_USAGE
        err = capsys.readouterr().err
        assert err.startswith("reference: ") and message in err and err.count("\n") == 1 and "Traceback" not in err


def test_a_file_that_cannot_be_written_is_one_line_and_exit_1(tmp_path, capsys):
    root = _clone_files(tmp_path, "Pulumi.yaml", "README.md")
    (root / "schema").write_text("a file where the folder goes", encoding="utf-8")
    assert reference.main(["--write"], root=root) == EXIT_FAILED
    err = capsys.readouterr().err
    assert err.startswith("reference: cannot write schema/stack.schema.json: ") and err.count("\n") == 1
