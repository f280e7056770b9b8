"""Profiles, stages, arrival schedules, options and the workload dataset."""

from __future__ import annotations

import itertools
import random
import statistics

import orjson
import pytest

from ollama_harness.load.arrivals import ArrivalSchedule
from ollama_harness.load.options import RunOptions
from ollama_harness.load.profiles import (
    PROFILES,
    ProfileError,
    Stage,
    get_profile,
    parse_stages,
    stage_at,
)
from ollama_harness.load.sweep import analyse, parse_levels
from ollama_harness.load.workload import Workload, WorkloadError, load_dataset, parse_mix


def test_every_profile_has_stages_covering_the_duration() -> None:
    for profile in PROFILES.values():
        stages = profile.stages(60.0, 16)
        assert stages[-1].until_s == pytest.approx(60.0), profile.name
        assert all(stage.users >= 1 for stage in stages), profile.name
        assert [s.until_s for s in stages] == sorted(s.until_s for s in stages)


def test_burst_and_ramp_shapes() -> None:
    burst = get_profile("burst").stages(100.0, 16)
    assert [s.users for s in burst] == [4, 16, 4, 16, 4]
    ramp = get_profile("ramp").stages(50.0, 10)
    assert [s.users for s in ramp] == [2, 4, 6, 8, 10]
    assert stage_at(ramp, 0.0) == ramp[0]
    assert stage_at(ramp, 49.9) == ramp[-1]
    assert stage_at(ramp, 50.0) is None


def test_custom_stages_add_up() -> None:
    stages = parse_stages("10s:2, 20s:8, 1m:8:0.5")
    assert stages == [Stage(10.0, 2), Stage(30.0, 8), Stage(90.0, 8, 0.5)]


@pytest.mark.parametrize("text", ["", "10s", "10s:x", "ten:2", "0s:2", "10s:2:0", "5s:-1"])
def test_bad_stages_are_refused(text: str) -> None:
    with pytest.raises(ProfileError):
        parse_stages(text)


def test_unknown_profile_lists_the_known_ones() -> None:
    with pytest.raises(ProfileError, match="steady"):
        get_profile("nope")


def test_constant_schedule_is_evenly_spaced_and_ends() -> None:
    schedule = ArrivalSchedule(4.0, poisson=False, seed=1, length_s=1.0)
    slots = []
    while (slot := schedule.next_slot(100.0)) is not None:
        slots.append(slot)
    assert slots == pytest.approx([100.0, 100.25, 100.5, 100.75])


def test_poisson_schedule_has_the_mean_rate_and_is_seeded() -> None:
    def gaps(seed: int) -> list[float]:
        schedule = ArrivalSchedule(50.0, poisson=True, seed=seed, length_s=100.0)
        slots = [schedule.next_slot(0.0) for _ in range(2000)]
        return [b - a for a, b in itertools.pairwise(slots)]  # type: ignore[operator]

    first = gaps(3)
    assert statistics.mean(first) == pytest.approx(1 / 50, rel=0.1)
    # exponential gaps: standard deviation equals the mean
    assert statistics.stdev(first) == pytest.approx(1 / 50, rel=0.15)
    assert gaps(3) == first
    assert gaps(4) != first


def test_a_late_caller_still_gets_the_slot_in_the_past() -> None:
    schedule = ArrivalSchedule(10.0, poisson=False, seed=1, length_s=10.0)
    schedule.next_slot(0.0)
    assert schedule.next_slot(5.0) == pytest.approx(0.1)  # queue time, not a skipped request


def test_options_validate_and_describe() -> None:
    options = RunOptions(workload="poisson", rate=2.0, duration="1m", users=3)
    options.validate()
    assert options.duration_s == 60.0
    assert options.describe()["rate"] == 2.0
    assert "--rate" in options.locust_args() and "--workload" in options.locust_args()
    for bad, message in [
        (RunOptions(workload="poisson"), "open loop"),
        (RunOptions(duration="soon"), "--duration"),
        (RunOptions(slo="ttft=1"), "METRIC_STAT"),
        (RunOptions(mix="chat=x"), "not a number"),
        (RunOptions(workload="ramp", stages="1s"), "--stages"),
        (RunOptions(max_tokens=-1), "--max-tokens"),
        (RunOptions(workload="nope"), "unknown profile"),
    ]:
        with pytest.raises(ValueError, match=message):
            bad.validate()


def test_stages_override_the_duration() -> None:
    options = RunOptions(workload="ramp", stages="5s:1,5s:2")
    assert options.duration_s == 10.0
    assert [s.users for s in options.stage_list] == [1, 2]


def test_dataset_has_realistic_spread() -> None:
    entries = load_dataset()
    kinds = {e["kind"] for e in entries}
    assert kinds == {"chat", "generate", "embed"}
    budgets = [e["max_tokens"] for e in entries if "max_tokens" in e]
    assert min(budgets) <= 48 and max(budgets) >= 256
    lengths = [len(orjson.dumps(e)) for e in entries if e["kind"] != "embed"]
    assert max(lengths) > 5 * min(lengths)


def test_workload_bodies_per_api() -> None:
    native = Workload({"chat": 1.0, "embed": 1.0}, api="native", model="m", max_tokens=7)
    chat = native.by_kind["chat"][0]
    body = orjson.loads(chat.body)
    assert chat.path == "/api/chat" and chat.stream
    assert body["model"] == "m" and body["stream"] is True
    assert body["options"] == {"num_predict": 7}
    embed = native.by_kind["embed"][0]
    assert embed.path == "/api/embed" and not embed.stream
    openai = Workload({"generate": 1.0}, api="openai", model="m", embed_model="e")
    gen = openai.by_kind["generate"][0]
    body = orjson.loads(gen.body)
    assert gen.path == "/v1/completions"
    assert body["stream_options"] == {"include_usage": True}
    assert "max_tokens" in body
    no_stream = Workload({"chat": 1.0}, stream=False)
    assert orjson.loads(no_stream.by_kind["chat"][0].body)["stream"] is False


def test_mix_weights_are_respected() -> None:
    workload = Workload(parse_mix("chat=3,embed=1"))
    rng = random.Random(5)
    picks = [workload.pick(rng).kind for _ in range(4000)]
    assert picks.count("chat") / len(picks) == pytest.approx(0.75, abs=0.03)
    with pytest.raises(WorkloadError):
        parse_mix("chat=0")
    with pytest.raises(WorkloadError):
        parse_mix("poem=1")
    with pytest.raises(WorkloadError):
        parse_mix("chat=nan")


def point(level: float, thr: float, slo: bool | None = None) -> dict[str, object]:
    return {
        "level": level,
        "requests": 10,
        "errors": 0,
        "requests_per_s": thr / 10,
        "output_tokens_per_s": thr,
        "goodput_per_s": (thr / 10 if slo else 0.0) if slo is not None else None,
        "slo_met": slo,
        "ttft_p50": 10.0 * level,
        "ttft_p95": 20.0 * level,
        "itl_p50": 5.0,
        "e2e_p50": 100.0,
        "e2e_p95": 200.0,
        "queue_p95": 0.1,
        "run_dir": "",
    }


def test_sweep_finds_the_saturation_point() -> None:
    sweep = analyse(
        [point(1, 100), point(2, 190), point(4, 300), point(8, 360), point(16, 365)],
        "users",
        {},
    )
    sat = sweep["saturation"]
    assert sat["level"] == 8 and sat["reached"] is True  # 360 >= 0.9 * 365
    climbing = analyse([point(1, 100), point(2, 200), point(4, 400)], "users", {})
    assert climbing["saturation"]["reached"] is False


def test_sweep_goodput_under_slo() -> None:
    sweep = analyse(
        [point(1, 100, True), point(2, 190, True), point(4, 330, False)], "users", {"slo": "x"}
    )
    assert sweep["best_goodput"]["level"] == 2
    assert sweep["highest_level_meeting_slo"] == 2


def test_sweep_levels() -> None:
    assert parse_levels("1, 2,4", "--users") == [1.0, 2.0, 4.0]
    for bad in ("", "2,1", "0,1", "a,b"):
        with pytest.raises(ValueError):
            parse_levels(bad, "--users")
