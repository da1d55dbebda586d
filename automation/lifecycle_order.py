"""Create and delete order of an offline plan, derived the way the Pulumi engine derives it.

The mock engine creates nothing, so the order of a real `pulumi up` or `pulumi destroy` is only visible in
the dependency graph the program registers. This module computes it from `resources.json`:

- Edges, as in the engine's `DependencyGraph.DependenciesOf` (pulumi/pulumi
  pkg/resource/graph/dependency_graph.go, read at the stored commit 09c8227; the v3.272.0 tag itself is
  not in the store): a resource depends on its parent, its provider, its explicit
  `dependsOn` and its property dependencies (`dependencies` in the plan); a dependency on a component also
  covers the component's children (the SDK expands local components, the engine remote ones).
- Create waves: a resource is registered once everything it depends on exists (the SDK awaits the URNs of
  its dependencies before registering, sdk/python/lib/pulumi/runtime/resource.py `_prepare_resource`);
  wave N holds the resources whose longest dependency chain has N links, so a wave may run in parallel.
- Delete waves: the engine's `stepGenerator.ScheduleDeletes` (pkg/resource/deploy/step_generator.go)
  splits the condemned resources into antichains of that same graph and runs them in reverse, so nothing
  is deleted while a resource that depends on it still exists.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from core.resource_types import PROVIDER_TYPE_PREFIX

Graph = Mapping[str, frozenset[str]]


def _is_component(record: Mapping[str, Any]) -> bool:
    return record["id"] is None and not record["type"].startswith(PROVIDER_TYPE_PREFIX)


def dependency_graph(document: Mapping[str, Any]) -> dict[str, frozenset[str]]:
    """URN -> the URNs it directly depends on (only resources of the plan)."""
    records = {record["urn"]: record for record in document["resources"]}
    children: dict[str, list[str]] = {}
    for urn, record in records.items():
        if record["parent"] in records:
            children.setdefault(record["parent"], []).append(urn)

    def descendants(urn: str) -> Iterable[str]:
        for child in children.get(urn, []):
            yield child
            yield from descendants(child)

    def ancestors(urn: str) -> set[str]:
        found = set()
        while (parent := records[urn]["parent"]) in records:
            found.add(parent)
            urn = parent
        return found

    graph = {}
    for urn, record in records.items():
        named = {*record.get("dependencies", []), *record["options"].get("dependsOn", [])}
        if record["provider"]:
            named.add(record["provider"])
        edges = set()
        own_ancestors = ancestors(urn)
        for dependency in named & records.keys():
            edges.add(dependency)
            if _is_component(records[dependency]) and dependency not in own_ancestors:
                edges.update(descendants(dependency))
        if record["parent"] in records:
            edges.add(record["parent"])
        edges.discard(urn)
        graph[urn] = frozenset(edges)
    return graph


def create_waves(graph: Graph) -> list[list[str]]:
    """Antichains in create order; a cycle (which the engine would refuse too) raises ValueError."""
    depth: dict[str, int] = {}
    visiting: set[str] = set()

    def level(urn: str) -> int:
        if urn in depth:
            return depth[urn]
        if urn in visiting:
            raise ValueError(f"dependency cycle through {urn}")
        visiting.add(urn)
        depth[urn] = 1 + max((level(d) for d in graph[urn]), default=-1)
        visiting.discard(urn)
        return depth[urn]

    for urn in graph:
        level(urn)
    waves: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for urn in sorted(depth):
        waves[depth[urn]].append(urn)
    return waves


def lifecycle_order(document: Mapping[str, Any]) -> dict[str, Any]:
    """`order.json`: the create waves and the delete waves (each a list of URNs that run in parallel)."""
    waves = create_waves(dependency_graph(document))
    return {"create": waves, "delete": list(reversed(waves))}


class Lifecycle:
    """Questions over one plan's graph: is A created after B, and deleted before it?"""

    def __init__(self, document: Mapping[str, Any]):
        self.graph = dependency_graph(document)
        self._reach: dict[str, frozenset[str]] = {}

    def depends_on(self, urn: str, dependency: str) -> bool:
        """True when `urn` transitively depends on `dependency`: created after it, deleted before it."""
        return dependency in self.transitive_dependencies(urn)

    def transitive_dependencies(self, urn: str) -> frozenset[str]:
        if urn not in self._reach:
            found = set(self.graph[urn])
            for dependency in self.graph[urn]:
                found |= self.transitive_dependencies(dependency)
            self._reach[urn] = frozenset(found)
        return self._reach[urn]
