"""The benchmark's registration floor registers exactly the plan's resources, so the floor it reports is
the SDK's cost for this program's resources and not for some other set."""

from __future__ import annotations

import json

from bench.registration_floor import provider_value, register


def _comparable(record_type: str, inputs: dict) -> dict:
    if record_type.startswith("pulumi:providers:"):  # JSON text on the wire, decoded or not in the plan's record
        return {name: provider_value(value) for name, value in inputs.items()}
    return inputs


def test_the_registration_floor_registers_the_plans_resources_with_their_inputs(prod_plan):
    document = json.loads((prod_plan.out_dir / "resources.json").read_text())
    registered = register(document)
    assert sorted(registered) == sorted(record["urn"] for record in document["resources"])
    differing = [record["urn"] for record in document["resources"]
                 if _comparable(record["type"], registered[record["urn"]]) != _comparable(record["type"], record["inputs"])]
    assert differing == []
