"""The burst simulator: control-loop arithmetic against hand-worked cases and the upstream rules, Karpenter's
choice per batch, the node-start phases, event skipping against a plain per-second loop, seed stability,
and the `simulate` command for dev and prod."""

from __future__ import annotations

import copy
import json
import random
import re
import shlex
import statistics
import subprocess
import sys

import pytest
import yaml

from automation.__main__ import main
from automation.simulate import PRICES_FILE, run_many, summarize
from automation.stack_files import load_stack
from core import burst_simulation
from core.burst_simulation import (
    DEFAULT_SCALE_DOWN,
    DEFAULT_SCALE_UP,
    Autoscaling,
    Capacity,
    InstanceOption,
    NodePool,
    Scenario,
    ScalingPolicy,
    ScalingRules,
    full_capacity_replicas,
    hpa_desired,
    karpenter_node_claims,
    node_start_seconds,
    percentile,
    pod_ready_seconds,
    scale_limit,
    simulate,
)
from core.capacity import autoscaling_for, capacity_for, duration_seconds, node_pools_for, pods_per_node
from core.deployment import deployment_plan, node_group_settings
from core.config.base import ConfigError
from core.config.stack_config import validate_stack_config
from tests.conftest import PROJECT, ROOT, project_values

TUNED_UP = ScalingRules(0, "Max", (ScalingPolicy("Pods", 30, 15),))
TUNED_DOWN = ScalingRules(120, "Min", (ScalingPolicy("Percent", 25, 60),))
SMALL = InstanceOption("c6a.large", 0.0856, 2, 2000, 3789)
MEDIUM = InstanceOption("c6a.xlarge", 0.1712, 6, 4000, 7578)
LARGE = InstanceOption("c6a.8xlarge", 1.3696, 62, 32000, 60621)


def test_hpa_desired_replicas():
    assert hpa_desired(1, 1000, 100) == 10          # ceil(1000 / 100)
    assert hpa_desired(10, 1050, 100) == 10         # ratio 1.05: inside the 10 % tolerance
    assert hpa_desired(10, 1110, 100) == 12         # ratio 1.11: ceil(11.1)
    assert hpa_desired(10, 950, 100) == 10          # ratio 0.95: inside the tolerance
    assert hpa_desired(10, 500, 100) == 5


def test_default_behaviour_limits_scale_up_to_double_or_four_pods():
    # Kubernetes' default scaleUp: max(100 % per 15 s, 4 pods per 15 s).
    assert scale_limit(DEFAULT_SCALE_UP, {15: 1}, up=True) == 5
    assert scale_limit(DEFAULT_SCALE_UP, {15: 8}, up=True) == 16
    assert DEFAULT_SCALE_DOWN.stabilization_seconds == 300


def test_scale_up_rounds_up_and_scale_down_truncates():
    assert scale_limit(TUNED_UP, {15: 1}, up=True) == 31
    assert scale_limit(ScalingRules(0, "Max", (ScalingPolicy("Percent", 50, 15),)), {15: 3}, up=True) == 5  # ceil(4.5)
    assert scale_limit(TUNED_DOWN, {60: 60}, up=False) == 45                                               # 60 × 0.75
    assert scale_limit(TUNED_DOWN, {60: 61}, up=False) == 45                                               # int(45.75), not 46
    two_policies = ScalingRules(0, "Min", (ScalingPolicy("Percent", 25, 60), ScalingPolicy("Pods", 5, 60)))
    assert scale_limit(two_policies, {60: 60}, up=False) == 55      # Min: the smaller change wins


def _burst(autoscaling: Autoscaling, capacity: Capacity | None = None) -> burst_simulation._Burst:
    return burst_simulation._Burst(autoscaling, capacity or _small()[1], Scenario(messages=100_000), seed=1, keep_series=False)


def test_hpa_rate_limit_counts_only_its_own_scale_events():
    """KEDA's 0 -> 1 is not an HPA event: the first sync starts its 15 s period from 1 replica (5 = max(2, 1+4)),
    the next from 5, and so on, with the default behaviour."""
    burst = _burst(Autoscaling(30, 300, 0, 100, 0, 1000, DEFAULT_SCALE_UP, DEFAULT_SCALE_DOWN))
    burst.replicas, burst.active = 1, True
    seen = []
    for t in (15, 30, 45, 60, 75):
        burst.hpa_sync(t, metric=100_000)
        seen.append(burst.replicas)
    assert seen == [5, 10, 20, 40, 80]


def test_hpa_scale_down_waits_for_the_stabilisation_window():
    burst = _burst(Autoscaling(5, 60, 0, 100, 0, 30, TUNED_UP, TUNED_DOWN))
    burst.replicas, burst.active = 30, True
    burst.hpa_sync(0, metric=3000)        # recommendation 30
    burst.hpa_sync(15, metric=100)        # 1 recommended; 30 within the last 120 s wins
    assert burst.replicas == 30
    burst.hpa_sync(135, metric=100)       # the 30 has left the window: -25 % per 60 s, truncated: 22
    assert burst.replicas == 22
    burst.hpa_sync(150, metric=100)       # that scale-down counts within 60 s: limit int(30 × 0.75) = 22 still
    assert burst.replicas == 22
    burst.hpa_sync(195, metric=100)       # the event left the period: int(22 × 0.75) = 16
    assert burst.replicas == 16


def test_full_capacity_replicas():
    autoscaling = Autoscaling(5, 60, 0, 100, 0, 30, TUNED_UP, TUNED_DOWN)
    assert full_capacity_replicas(autoscaling, 100_000) == 30 and full_capacity_replicas(autoscaling, 250) == 3


def test_karpenter_takes_the_cheapest_type_that_fits_the_batch():
    pool = NodePool("default", (SMALL, MEDIUM, LARGE))
    (claim,) = karpenter_node_claims(4, (pool,), {})
    assert (claim.option, claim.pods) == (MEDIUM, 4)             # not the 62-pod size for 4 pods
    claims = karpenter_node_claims(66, (pool,), {})
    assert [(c.option, c.pods) for c in claims] == [(LARGE, 62), (MEDIUM, 4)]


def test_karpenter_respects_the_remaining_pool_limits():
    # Below the largest size, smaller types still launch (10 vCPU: 4 + 4 + 2, each NodeClaim reserving its
    # largest option: scheduler.go subtractMax).
    claims = karpenter_node_claims(40, (NodePool("default", (SMALL, MEDIUM, LARGE), cpu_limit_milli=10_000),), {})
    assert [(c.option, c.pods) for c in claims] == [(MEDIUM, 6), (MEDIUM, 6), (SMALL, 2)]
    # Nodes already running count against the limit; what does not fit goes to the next pool by weight.
    limited = NodePool("default", (SMALL, MEDIUM, LARGE), cpu_limit_milli=36_000)
    burst = NodePool("burst", (SMALL, MEDIUM))
    claims = karpenter_node_claims(70, (limited, burst), {"default": (32_000.0, 0.0)})
    assert [(c.pool.name, c.option, c.pods) for c in claims][:2] == [("default", MEDIUM, 6), ("burst", MEDIUM, 6)]
    assert sum(c.pods for c in claims) == 70
    assert karpenter_node_claims(5, (NodePool("default", (MEDIUM,), cpu_limit_milli=3000),), {}) == []


def test_node_start_phases_match_the_sources():
    rng = random.Random(7)
    phases = [node_start_seconds(rng) for _ in range(20_000)]
    registered = [p[0] for p in phases]
    ready = [p[1] for p in phases]
    total = [p[0] + p[1] for p in phases]
    assert 15 <= min(registered) and max(registered) <= 26 and 19 <= statistics.median(registered) <= 21  # NLK: 19-20 s
    assert 12 <= min(ready) and max(ready) <= 144 and 13 <= statistics.median(ready) <= 14                # field notes: 13-14 s
    assert 0.01 < sum(r > 15 for r in ready) / len(ready) < 0.03                                          # the rare slow node
    assert 30 <= statistics.median(total) <= 40                                                            # Karpenter #6165
    pods = [pod_ready_seconds(rng) for _ in range(5000)]
    assert 8 <= min(pods) and max(pods) <= 15 and 10 <= statistics.median(pods) <= 12


def test_percentile_ranks_never_last():
    assert percentile([5, 1, 3], 0.5) == 3 and percentile([1, 2, 3, 4], 0.95) == 4
    assert percentile([1.0, 2.0, None], 0.5) == 2.0 and percentile([1.0, 2.0, None], 0.95) is None


def _small(polling: int = 5) -> tuple[Autoscaling, Capacity]:
    autoscaling = Autoscaling(polling, 30, 0, 100, 0, 10, TUNED_UP, TUNED_DOWN)
    capacity = Capacity(2, 0.2, 4, (NodePool("default", (InstanceOption("c6i.xlarge", 0.2, 5, 4000, 7578),), consolidate_after_seconds=30),))
    return autoscaling, capacity


def test_small_burst_is_hand_checkable():
    """1000 messages at once, 100 per pod -> 10 pods; 4 fit on the managed nodes, 6 need 2 new nodes of 5."""
    autoscaling, capacity = _small()
    result = simulate(autoscaling, capacity, Scenario(messages=1000, shape="instant", processing_seconds=10, messages_in_flight_per_pod=10), seed=3)
    assert result.peak_replicas == 10 and result.peak_karpenter_nodes == 2 and result.launched == {"c6i.xlarge": 2}
    assert 8 <= result.first_pod_ready <= 5 + 15 + 15               # activation within a poll, the HPA's sync, 8-15 s
    assert result.first_message_processed == result.first_pod_ready + 10
    assert result.full_capacity >= result.first_pod_ready + 27      # Karpenter nodes: launch -> registration -> Ready
    assert result.back_to_zero >= result.drained + autoscaling.cooldown_seconds
    assert result.node_seconds >= 2 * result.back_to_zero and result.cost_usd > 0


class _PerSecond(burst_simulation._Burst):
    """The same run without event skipping or whole-cycle cruising."""

    def cruise(self, t: int) -> int:
        return t

    def next_event(self, t: int) -> int:
        return t + 1


def _stack_cases(stack: str) -> list[tuple[Autoscaling, Capacity, Scenario]]:
    """The stack's first workload with its own settings and with the defaults."""
    config = validate_stack_config(project_values(stack), f"Pulumi.{stack}.yaml")
    workload = config.workloads[0]
    capacity = capacity_for(config, workload, json.loads(PRICES_FILE.read_text())["prices"])
    scenario = Scenario(processing_seconds=workload.processing_seconds)
    return [(autoscaling, capacity, scenario) for autoscaling in (autoscaling_for(workload), autoscaling_for(workload).with_defaults())]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_event_skipping_changes_nothing(stack):
    for autoscaling, capacity, scenario in _stack_cases(stack):
        for seed in range(3):
            fast = burst_simulation._Burst(autoscaling, capacity, scenario, seed, keep_series=True).run()
            plain = _PerSecond(autoscaling, capacity, scenario, seed, keep_series=True).run()
            assert fast.series == plain.series and fast.launched == plain.launched
            assert fast.figures() == pytest.approx(plain.figures())


def test_same_seed_same_result():
    autoscaling, capacity = _small()
    scenario = Scenario(messages=5000, burst_seconds=10)
    assert simulate(autoscaling, capacity, scenario, seed=11).figures() == simulate(autoscaling, capacity, scenario, seed=11).figures()


def test_slower_polling_activates_later_on_average():
    tuned, capacity = _small(polling=5)
    slow = tuned.with_defaults()
    assert slow.polling_seconds == 30 and slow.cooldown_seconds == 300 and slow.scale_up == DEFAULT_SCALE_UP
    scenario = Scenario(messages=2000, shape="instant", processing_seconds=5)
    fast_ready = statistics.mean(simulate(tuned, capacity, scenario, seed=s).first_pod_ready for s in range(40))
    slow_ready = statistics.mean(simulate(slow, capacity, scenario, seed=s).first_pod_ready for s in range(40))
    assert slow_ready - fast_ready > 8  # half of the 25 s of extra polling interval, on average


def test_karpenter_pool_limit_bounds_the_nodes():
    autoscaling, capacity = _small()
    (pool,) = capacity.pools
    limited = Capacity(2, 0.2, 4, (NodePool("default", pool.options, cpu_limit_milli=4000, consolidate_after_seconds=30),))
    result = simulate(autoscaling, limited, Scenario(messages=1000, shape="instant", processing_seconds=10), seed=1)
    assert result.peak_karpenter_nodes == 1 and result.full_capacity is None  # 9 slots for 10 pods: never full
    assert result.drained is not None                                          # but the queue still drains


def test_stack_values_feed_the_simulation():
    config = validate_stack_config(project_values("prod"), "Pulumi.prod.yaml")
    workload = config.workloads[0]
    autoscaling = autoscaling_for(workload)
    assert (autoscaling.polling_seconds, autoscaling.cooldown_seconds, autoscaling.target_per_replica, autoscaling.max_replicas) == (5, 120, 100, 60)
    assert autoscaling.scale_up.policies == (ScalingPolicy("Pods", 60, 15),)
    capacity = capacity_for(config, workload, json.loads(PRICES_FILE.read_text())["prices"])
    assert capacity.managed_nodes == 3                                   # blue's desiredSize; green is disabled
    assert [pool.name for pool in capacity.pools] == ["default", "burst"]  # by weight: 50, then 10
    default = capacity.pools[0]
    assert default.cpu_limit_milli == 400_000 and default.consolidate_after_seconds == 300
    assert {o.name.split(".")[0][0] for o in default.options} <= set("cmr")
    assert all(int(o.name.split(".")[0][1]) >= 6 for o in default.options)
    # m6i.xlarge: 4000m - 300m reserved - 250m DaemonSets = 3450m -> 6 pods of 500m; memory allows more
    assert pods_per_node("m6i.xlarge", node_group_settings(config, "blue"), workload) == 6
    # Karpenter's memory for limits: 16 GiB less its 7.5 % VM overhead estimate
    (m6i,) = [o for o in default.options if o.name == "m6i.xlarge"]
    assert (m6i.cpu_milli, m6i.memory_mib) == (4000, 16384 - 1229)


def test_capacity_maths_over_a_hand_made_price_list():
    """core/capacity.py over plain data: the duration helper, the instance types a NodePool
    allows (category, generation, architecture), and the room the controllers leave on managed nodes."""
    assert [duration_seconds(t) for t in ("900", "15m", "1h30m", "90s", "soon", "")] == [900, 900, 5400, 90, None, None]
    config = validate_stack_config(project_values("prod"), "Pulumi.prod.yaml")
    workload = config.workloads[0]
    # prod's pools allow amd64 c/m(/r) of generation 6 or later: m5 (generation 5), t3 (category), m6g and
    # c7g (arm64) and x2idn (category) are left out
    prices = {"m6i.xlarge": 0.192, "m5.xlarge": 0.192, "t3.xlarge": 0.1664, "m6g.xlarge": 0.154, "c7g.large": 0.0725,
              "x2idn.16xlarge": 6.669}
    pools = node_pools_for(deployment_plan(config).karpenter, workload, prices)
    assert [(pool.name, [o.name for o in pool.options], pool.consolidate_after_seconds) for pool in pools] == [
        ("default", ["m6i.xlarge"], 300), ("burst", ["m6i.xlarge"], 60)]
    # on Karpenter's nodes kube-reserved is Karpenter's (core/karpenter.py): 4000m - 80m kube-reserved (60 + 10 + 10)
    # - 200m system-reserved - 250m DaemonSets = 3470m -> 6 pods of 500m
    assert pools[0].options[0].pods == 6
    # c6i.large is memory-bound: 4096 MiB less the 7.5 % VM overhead (308) = 3788; kube-reserved 11 * 29 + 255 = 574
    # (29 ENI-limited pods: 3 ENIs x 9 + 2), system-reserved 1024, prod's hard memory.available 1024, DaemonSets
    # 300 -> 866 MiB, 1 pod of 512 MiB (2 by CPU: 2000 - 70 - 200 - 250 = 1480m)
    assert pods_per_node("c6i.large", deployment_plan(config).karpenter.settings, workload) == 1
    # blue's 3 m6i.xlarge: 3450m each for workers (test above), less a third of the controllers' 2 x 1 CPU
    # (Karpenter) and 2 x 200m (KEDA) = 2650m -> 5 pods per node
    capacity = capacity_for(config, workload, prices)
    assert (capacity.managed_nodes, capacity.managed_free_pod_slots, round(capacity.managed_price_per_hour, 3)) == (3, 15, 0.576)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_two_seed_blocks_agree_within_five_percent(stack):
    for autoscaling, capacity, scenario in _stack_cases(stack):
        first, second = (summarize(run_many(autoscaling, capacity, scenario, 200, seed)) for seed in (1, 10_001))
        for figure in ("fullCapacity", "drained", "backToZero", "nodeSeconds", "costUsd"):
            assert first[figure]["p50"] == pytest.approx(second[figure]["p50"], rel=0.05), figure
        # ~13 s: 5 % is below the simulation's one-second resolution
        assert first["firstPodReady"]["p50"] == pytest.approx(second["firstPodReady"]["p50"], abs=1)


def _simulate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "automation", "simulate", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_simulate_command(stack, tmp_path):
    png = tmp_path / "burst.png"
    result = _simulate("--stack", stack, "--runs", "20", "--json", "--compare", "defaults", "--plot", str(png))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    for key in ("firstPodReady", "firstMessageProcessed", "fullCapacity", "drained", "backToZero", "nodeSeconds", "podSeconds", "costUsd"):
        assert set(report[key]) == {"p50", "p95"} and report[key]["p50"] <= report[key]["p95"]
        assert set(report["defaults"][key]) == {"p50", "p95"}
    assert report["firstPodReady"]["p50"] < report["defaults"]["firstPodReady"]["p50"]
    assert report["fullCapacity"]["p50"] < report["defaults"]["fullCapacity"]["p50"]
    assert report["capacity"]["karpenterLaunched"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_simulate_table_output():
    result = _simulate("--stack", "dev", "--runs", "3", "--messages", "20000")
    assert result.returncode == 0, result.stderr
    assert "dev/orders-worker: 20,000 messages over 10s" in result.stdout and "drained" in result.stdout
    assert "2 managed nodes" in result.stdout


@pytest.mark.parametrize(("args", "flag"), [
    (["--runs", "0"], "--runs"),
    (["--runs", "-3"], "--runs"),
    (["--processing-seconds", "0"], "--processing-seconds"),
    (["--processing-seconds", "-5"], "--processing-seconds"),
    (["--in-flight-per-pod", "0"], "--in-flight-per-pod"),
    (["--in-flight-per-pod", "-1"], "--in-flight-per-pod"),
    (["--messages", "0"], "--messages"),
    (["--burst-seconds", "0"], "--burst-seconds"),
    (["--target-drain", "soon"], "--target-drain"),
    (["--target-drain", "0m"], "--target-drain"),
    (["--target-drain", "15m", "--plot", "x.png"], "--plot"),
    (["--workload", "nobody"], "--workload"),
])
def test_invalid_arguments_exit_2_naming_the_flag(args, flag, capsys):
    assert main(["simulate", "--stack", "dev", *args]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and flag in err


def _apply_edit(document: dict, path: str, value) -> None:
    """Apply a `pulumi config set --path` key path (`ns:key[0].a.b`) to a stack file document."""
    parts = [int(token) if token.isdigit() else token for token in re.findall(r"[^.\[\]]+", path)]
    node = document["config"]
    for part in parts[:-1]:
        node = node[part]
    node[parts[-1]] = value


def test_target_drain_prints_an_edit_that_drains_in_time(tmp_path):
    found = _simulate("--stack", "prod", "--target-drain", "15m", "--json")
    assert found.returncode == 0, found.stderr
    answer = json.loads(found.stdout)
    edits = {edit["path"]: edit for edit in answer["edits"]}
    replicas = edits[f"{PROJECT}:workloads[0].scaling.maxReplicas"]["to"]
    # 100,000 messages × 20 s / 10 in flight / 900 s = 223 pods even with an instant ramp; at most the 1000 the HPA can ask for
    assert 223 <= replicas <= 1000 and answer["drained"]["p95"] <= 900
    document = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    for edit in answer["edits"]:
        _apply_edit(document, edit["path"], edit["to"])
    edited = tmp_path / "Pulumi.prod.yaml"
    edited.write_text(yaml.safe_dump(document, sort_keys=False))
    check = _simulate("--stack", "prod", "--config-file", str(edited), "--json")
    assert check.returncode == 0, check.stderr
    report = json.loads(check.stdout)
    assert report["drained"]["p95"] <= 900
    # the unedited stack does not make it
    assert json.loads(_simulate("--stack", "prod", "--runs", "20", "--json").stdout)["drained"]["p95"] > 900


def test_target_drain_exits_1_when_nothing_can_make_it():
    result = _simulate("--stack", "dev", "--target-drain", "30s")
    assert result.returncode == 1 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and "no setting drains" in result.stderr


def _config_set(document: dict, command: str) -> None:
    """What `pulumi config set --path [--type string] KEY VALUE` stores: an untyped value that reads as a boolean or
    an integer without a leading 0 becomes one (pulumi/pulumi v3.259.0 sdk/go/common/resource/config/object.go:566
    `coerce`), a `--type string` value stays a string (map.go:239)."""
    words = shlex.split(command)
    assert words[:3] == ["pulumi", "config", "set"] and "--path" in words, command
    key, value = words[-2:]
    if "--type" in words:
        assert words[words.index("--type") + 1] == "string"
        typed: object = value
    elif value in ("true", "false"):
        typed = value == "true"
    else:
        typed = int(value) if re.fullmatch(r"-?(0|[1-9]\d*)", value) else value
    _apply_edit(document, key, typed)


def test_target_drain_text_edit_is_what_the_stack_file_takes(tmp_path):
    """The text output's values, written into the file as printed, and its `pulumi config set` lines, each give
    a stack file that validates; the CPU limit, a quantity string, is printed quoted."""
    found = _simulate("--stack", "dev", "--target-drain", "30m", "--messages", "20000", "--runs", "20")
    assert found.returncode == 0, found.stderr
    rows = re.findall(r"^  (\S+:\S+)\s+(\S+)\s+\((?:was (\S+)|unchanged|not set)\)$", found.stdout, flags=re.MULTILINE)
    commands = [line.strip() for line in found.stdout.splitlines() if line.strip().startswith("pulumi config set")]
    assert len(rows) == len(commands) >= 3
    cpu = f"{PROJECT}:karpenter.nodePools.default.limits.cpu"
    assert re.fullmatch(r'"\d+"', dict((path, value) for path, value, _ in rows)[cpu])
    original = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    for how in ("file", "commands"):
        document = copy.deepcopy(original)
        if how == "file":
            for path, value, _ in rows:
                _apply_edit(document, path, yaml.safe_load(value))
        else:
            for command in commands:
                _config_set(document, command)
        edited = tmp_path / f"{how}.yaml"
        edited.write_text(yaml.safe_dump(document, sort_keys=False))
        config = load_stack("dev", edited)
        assert config.workloads[0].scaling.max_replicas == int(rows[0][1]), how
    # the value unquoted, as the text output printed it before, is refused
    document = copy.deepcopy(original)
    _apply_edit(document, cpu, int(dict((path, value) for path, value, _ in rows)[cpu].strip('"')))
    (tmp_path / "bare.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    with pytest.raises(ConfigError, match="is unquoted"):
        load_stack("dev", tmp_path / "bare.yaml")
