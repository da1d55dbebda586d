"""The burst simulator: control-loop arithmetic against hand-worked cases and the documented defaults,
whole runs on small bursts, and the `simulate` command for dev and prod."""

from __future__ import annotations

import json
import random
import statistics
import subprocess
import sys

import pytest

from automation.simulate import autoscaling_for, capacity_for, pods_per_node
from core.burst_simulation import (
    DEFAULT_SCALE_DOWN,
    DEFAULT_SCALE_UP,
    Autoscaling,
    Capacity,
    Scenario,
    ScalingPolicy,
    ScalingRules,
    full_capacity_replicas,
    hpa_desired,
    node_ready_seconds,
    percentile,
    pod_ready_seconds,
    scale_limit,
    simulate,
)
from core.stack_config import validate_stack_config
from tests.conftest import ROOT, project_values

TUNED_UP = ScalingRules(0, "Max", (ScalingPolicy("Pods", 30, 15),))
TUNED_DOWN = ScalingRules(120, "Min", (ScalingPolicy("Percent", 25, 60),))


def test_hpa_desired_replicas():
    assert hpa_desired(1, 1000, 100) == 10          # ceil(1 × (1000 / 100) / 1)
    assert hpa_desired(10, 1050, 100) == 10         # ratio 1.05: inside the 10 % tolerance
    assert hpa_desired(10, 1110, 100) == 12         # ratio 1.11: ceil(11.1)
    assert hpa_desired(10, 950, 100) == 10          # ratio 0.95: inside the tolerance
    assert hpa_desired(10, 500, 100) == 5
    assert hpa_desired(0, 250, 100) == 3


def test_default_behaviour_limits_scale_up_to_double_or_four_pods():
    # Kubernetes' default scaleUp: max(100 % per 15 s, 4 pods per 15 s).
    assert scale_limit(DEFAULT_SCALE_UP, {15: 1}, 1, up=True) == 5
    assert scale_limit(DEFAULT_SCALE_UP, {15: 8}, 8, up=True) == 16
    assert DEFAULT_SCALE_DOWN.stabilization_seconds == 300


def test_tuned_behaviour_goes_to_max_in_one_step_and_down_gently():
    assert scale_limit(TUNED_UP, {15: 1}, 1, up=True) == 31
    assert scale_limit(TUNED_DOWN, {60: 60}, 60, up=False) == 45       # ceil(60 × 0.75)
    two_policies = ScalingRules(0, "Min", (ScalingPolicy("Percent", 25, 60), ScalingPolicy("Pods", 5, 60)))
    assert scale_limit(two_policies, {60: 60}, 60, up=False) == 55      # Min: the smaller change wins


def test_full_capacity_replicas():
    autoscaling = Autoscaling(5, 60, 0, 100, 0, 30, TUNED_UP, TUNED_DOWN)
    assert full_capacity_replicas(autoscaling, 100_000) == 30 and full_capacity_replicas(autoscaling, 250) == 3


def test_duration_distributions_match_the_field_notes():
    rng = random.Random(7)
    nodes = [node_ready_seconds(rng) for _ in range(5000)]
    pods = [pod_ready_seconds(rng) for _ in range(5000)]
    assert 12 <= statistics.median(nodes) <= 15 and max(nodes) <= 144 and min(nodes) >= 12
    assert 0.005 < sum(n > 15 for n in nodes) / len(nodes) < 0.05   # the rare slow launch
    assert 8 <= min(pods) and max(pods) <= 15 and 10 <= statistics.median(pods) <= 12


def test_percentile():
    assert percentile([5, 1, 3, None], 0.5) == 3 and percentile([1, 2, 3, 4], 0.95) == 4 and percentile([None], 0.5) is None


def _small(polling: int = 5) -> tuple[Autoscaling, Capacity]:
    autoscaling = Autoscaling(polling, 30, 0, 100, 0, 10, TUNED_UP, TUNED_DOWN)
    capacity = Capacity("c6i.xlarge", 0.2, 5, 2, 0.1, 4, 30, 10)
    return autoscaling, capacity


def test_small_burst_is_hand_checkable():
    """1000 messages at once, 100 per pod -> 10 pods; 4 fit on the managed nodes, 6 need 2 new nodes of 5."""
    autoscaling, capacity = _small()
    result = simulate(autoscaling, capacity, Scenario(messages=1000, shape="instant", processing_seconds=10, messages_in_flight_per_pod=10), seed=3)
    assert result.peak_replicas == 10 and result.peak_karpenter_nodes == 2
    assert 8 <= result.first_pod_ready <= 5 + 15                    # activation within one poll, then 8–15 s
    assert result.first_message_processed == result.first_pod_ready + 10
    assert result.full_capacity >= result.first_pod_ready + 12      # Karpenter nodes: batch + 12–15 s + pod start
    # 10 pods × 10 in flight / 10 s = 10 messages/s once at capacity: ~100 s of work after the ramp
    assert result.full_capacity + 60 <= result.drained <= result.full_capacity + 120
    assert result.back_to_zero >= result.drained + autoscaling.cooldown_seconds
    assert result.node_seconds >= 2 * result.back_to_zero and result.cost_usd > 0


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


def test_karpenter_respects_the_pool_limit():
    autoscaling, capacity = _small()
    limited = Capacity(capacity.node_type, 0.2, 5, 2, 0.1, 4, 30, max_karpenter_nodes=1)
    result = simulate(autoscaling, limited, Scenario(messages=1000, shape="instant", processing_seconds=10), seed=1)
    assert result.peak_karpenter_nodes == 1 and result.full_capacity is None  # 9 slots for 10 pods: never full


def test_stack_values_feed_the_simulation():
    config = validate_stack_config(project_values("prod"), "Pulumi.prod.yaml")
    workload = config.workloads[0]
    autoscaling = autoscaling_for(workload)
    assert (autoscaling.polling_seconds, autoscaling.cooldown_seconds, autoscaling.target_per_replica, autoscaling.max_replicas) == (5, 120, 100, 60)
    assert autoscaling.scale_up.policies == (ScalingPolicy("Pods", 60, 15),)
    prices = json.loads((ROOT / "data" / "ec2-on-demand-prices.json").read_text())["prices"]
    capacity = capacity_for(config, workload, prices)
    assert capacity.node_type.split(".")[0][0] in "cmr" and int(capacity.node_type.split(".")[0][1]) >= 6
    # m6i.xlarge: 4000m - 300m reserved - 250m DaemonSets = 3450m -> 6 pods of 500m; memory allows more
    assert pods_per_node("m6i.xlarge", config.node_group_settings("blue"), workload) == 6
    assert capacity.managed_nodes == 2 and capacity.consolidate_after_seconds == 300


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_simulate_command(stack, tmp_path):
    png = tmp_path / "burst.png"
    result = subprocess.run([sys.executable, "-m", "automation", "simulate", "--stack", stack, "--runs", "5", "--json",
                             "--compare", "defaults", "--plot", str(png)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    for key in ("firstPodReady", "firstMessageProcessed", "fullCapacity", "drained", "backToZero", "nodeSeconds", "podSeconds", "costUsd"):
        assert set(report[key]) == {"p50", "p95"} and report[key]["p50"] <= report[key]["p95"]
        assert set(report["defaults"][key]) == {"p50", "p95"}
    assert report["firstPodReady"]["p50"] < report["defaults"]["firstPodReady"]["p50"]
    assert report["fullCapacity"]["p50"] < report["defaults"]["fullCapacity"]["p50"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_simulate_table_output():
    result = subprocess.run([sys.executable, "-m", "automation", "simulate", "--stack", "dev", "--runs", "3", "--messages", "20000"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "dev/orders-worker: 20,000 messages over 10s" in result.stdout and "drained" in result.stdout
