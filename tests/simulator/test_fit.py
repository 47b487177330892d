"""The OffSim(+) fit on real Hopper data, its artifact, and its bad inputs."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import torch

from offsim_ray.data import load_transitions, mix
from offsim_ray.errors import OffSimError
from offsim_ray.simulator import FORMAT_VERSION, SimConfig, Simulator, fit_simulator, preset, propose_margin

TINY = preset("smoke").with_(warmup_steps=30, steps=30, eval_every=10)


def test_smoke_fit_learns_the_dynamics_and_separates_the_data(fitted):
    simulator, history, _ = fitted
    assert [row["phase"] for row in history][:2] == ["warmup", "warmup"] and history[-1]["phase"] == "minmax"
    for row in history:
        assert all(math.isfinite(v) for k, v in row.items() if k.startswith("sim/"))
    assert history[-1]["sim/holdout_nll"] < history[0]["sim/holdout_nll"]
    assert {"sim/holdout_mse", "sim/reward_gap", "sim/entropy", "sim/hinge_violation"} <= set(history[-1])
    report = simulator.reward_generalisation()
    assert set(report) == {"reward/seen_expert", "reward/unseen_expert", "reward/seen_diverse", "reward/unseen_diverse"}
    assert all(-1 < v < 1 for v in report.values())


def test_hinge_is_satisfied_after_an_offsim_plus_fit(hopper_pair):
    expert, diverse = hopper_pair
    _, history = fit_simulator(mix(expert, diverse, 500, 500, 0), TINY.with_(margin=0.05, steps=100), progress=False)
    assert history[-1]["sim/hinge_violation"] == 0.0


def test_fit_is_deterministic_on_cpu(hopper_pair):
    data = hopper_pair[0].subsample(600, 0)
    a, _ = fit_simulator(data, TINY, progress=False)
    b, _ = fit_simulator(data, TINY, progress=False)
    for (name, x), y in zip(a.transition.state_dict().items(), b.transition.state_dict().values()):
        assert torch.equal(x, y), name
    for x, y in zip(a.reward.parameters(), b.reward.parameters()):
        assert torch.equal(x, y)


def test_artifact_round_trip_gives_identical_outputs(fitted):
    simulator, _, path = fitted
    loaded = Simulator.load(path)
    assert loaded.fingerprint == simulator.fingerprint and loaded.config == simulator.config
    assert (loaded.action_low, loaded.action_high) == ([-1.0] * 3, [1.0] * 3)
    obs, action = simulator.data.obs[:64], simulator.data.action[:64]
    for high in (True, False):
        a = simulator.step(obs, action, np.random.default_rng(5), high)
        b = loaded.step(obs, action, np.random.default_rng(5), high)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_array_equal(loaded.holdout, simulator.holdout)
    meta = json.loads((path / "meta.json").read_text())
    assert meta["format_version"] == FORMAT_VERSION and meta["env_id"] == "Hopper-v5"
    assert len((path / "metrics.jsonl").read_text().splitlines()) == len(fitted[1])
    assert any((path / "tensorboard").iterdir())


def test_artifact_keeps_the_recorded_rewards_and_one_written_without_them_still_loads(fitted, tmp_path):
    simulator, _, path = fitted
    np.testing.assert_array_equal(Simulator.load(path).data.reward, simulator.data.reward)
    assert np.isfinite(simulator.data.reward).all()
    copy = shutil.copytree(path, tmp_path / "sim")
    with np.load(copy / "data.npz") as f:
        arrays = {name: f[name] for name in f.files if name != "reward"}
    np.savez(copy / "data.npz", **arrays)
    earlier = Simulator.load(copy)
    assert earlier.fingerprint == simulator.fingerprint and np.isnan(earlier.data.reward).all()


def test_other_format_version_is_refused(fitted, tmp_path):
    copy = shutil.copytree(fitted[2], tmp_path / "sim")
    meta = json.loads((copy / "meta.json").read_text())
    (copy / "meta.json").write_text(json.dumps({**meta, "format_version": 0}))
    with pytest.raises(OffSimError, match="has format version 0; this offsim-ray reads version 1"):
        Simulator.load(copy)


@pytest.mark.parametrize("change, fragment", [
    (lambda meta: [1, 2], "meta.json holds a list, not a mapping"),
    (lambda meta: {**meta, "action_low": "x"}, "meta.json's action_low is 'x', not a list of numbers"),
    (lambda meta: {**meta, "action_high": meta["action_high"][:1]},
     "meta.json's action_low and action_high need 3 numbers each"),
    (lambda meta: {k: v for k, v in meta.items() if k != "env_id"}, "meta.json has no env_id"),
    (lambda meta: {**meta, "config": {**meta["config"], "nope": 1}},
     "meta.json's config: unknown simulator config keys: nope"),
])
def test_a_damaged_meta_json_is_refused_with_the_key_that_failed(fitted, tmp_path, change, fragment):
    copy = shutil.copytree(fitted[2], tmp_path / "sim")
    (copy / "meta.json").write_text(json.dumps(change(json.loads((copy / "meta.json").read_text()))))
    with pytest.raises(OffSimError, match=f"simulator artifact {copy}: {fragment}"):
        Simulator.load(copy)


@pytest.mark.parametrize("damaged", ["weights.pt", "data.npz"])
def test_corrupted_artifact_is_refused(fitted, tmp_path, damaged):
    copy = shutil.copytree(fitted[2], tmp_path / "sim")
    f = copy / damaged
    f.write_bytes(f.read_bytes()[:100])
    with pytest.raises(OffSimError, match=f"simulator artifact {copy} is corrupt"):
        Simulator.load(copy)


def test_tampered_data_fails_the_fingerprint(fitted, tmp_path):
    copy = shutil.copytree(fitted[2], tmp_path / "sim")
    arrays = dict(np.load(copy / "data.npz"))
    arrays["obs"] = arrays["obs"] + 1.0
    np.savez(copy / "data.npz", **arrays)
    with pytest.raises(OffSimError, match="does not match its fingerprint"):
        Simulator.load(copy)


def test_existing_artifact_is_not_overwritten(fitted):
    simulator, _, path = fitted
    before = (path / "weights.pt").read_bytes()
    with pytest.raises(OffSimError, match="already exists; pass --overwrite"):
        simulator.save(path)
    assert (path / "weights.pt").read_bytes() == before


def test_dataset_with_other_spaces_is_refused(fitted, store):
    cheetah = load_transitions("local/halfcheetah/random-v0", store)
    with pytest.raises(OffSimError, match="different envs"):
        fitted[0].check_matches(cheetah)


@pytest.mark.parametrize("field, value", [("beta", -1.0), ("alpha", -0.1), ("hinge_on", "nowhere")])
def test_invalid_config_is_refused(field, value):
    with pytest.raises(OffSimError, match=f"invalid simulator config: {field}="):
        SimConfig(**{field: value})


def test_relative_margin_is_in_units_of_r():
    assert SimConfig(margin=1.6, margin_relative=True, reward_scale=0.5).margin_value == pytest.approx(0.8)
    assert SimConfig(margin=0.3).margin_value == 0.3


def test_proposed_margin_lies_in_zero_to_two_r(fitted, hopper_pair):
    proposal = propose_margin(fitted[0], *hopper_pair)
    assert 0 < proposal.reward_scale <= 1
    assert 0 <= proposal.relative <= 1.8 and proposal.margin == pytest.approx(proposal.relative * proposal.reward_scale)


def test_proposed_margin_places_the_diverse_data_between_expert_and_model_transitions(fitted, hopper_pair):
    import dataclasses

    simulator, expert = fitted[0], hopper_pair[0]
    assert propose_margin(simulator, expert, expert).relative == 0.0
    model_next_obs, _ = simulator.step(expert.obs, expert.action, np.random.default_rng(0))
    model_like = dataclasses.replace(expert, next_obs=model_next_obs.astype(np.float32))
    assert propose_margin(simulator, expert, model_like, seed=0).relative == pytest.approx(1.8)


def test_reward_rank_reports_the_mean_reward_of_each_kind_of_action(fitted):
    rank = fitted[0].reward_rank(seed=0)
    assert set(rank) == {"sim/reward_rank", "sim/reward_rank_expert", "sim/reward_rank_noise01",
                         "sim/reward_rank_noise03", "sim/reward_rank_random"}
    assert rank["sim/reward_rank"] in {i / 6 for i in range(7)}
    assert rank == fitted[0].reward_rank(seed=0)


def test_fit_configs_that_differ_only_in_device_are_the_same_fit():
    assert TINY.with_(device="cuda") == TINY
    assert TINY.with_(device="cuda", alpha=0.5) != TINY
