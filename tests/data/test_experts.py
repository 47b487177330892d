"""Expert policy files and the D4RL-style datasets made from them, in the real MuJoCo envs."""

from __future__ import annotations

import json
import logging
import re

import numpy as np
import pytest

from offsim_ray.data import DatasetStore, describe, open_dataset
from offsim_ray.data import datasets as datasets_module
from offsim_ray.data.experts import SHIPPED, ExpertPolicy, expert_cards, expert_files
from offsim_ray.data.make import ACTION_NOISE_STD, make_datasets
from offsim_ray.errors import OffSimError
from tests.harness import assert_one_line_error, run_cli


def random_policy_file(path, env_id="Hopper-v5", obs_dim=11, action_dim=3, seed=0) -> ExpertPolicy:
    """A policy file with random weights: these tests check the format, not the expert."""
    rng = np.random.default_rng(seed)
    sizes = [obs_dim, 32, 32, 2 * action_dim]
    policy = ExpertPolicy(tuple(rng.normal(0, 0.3, (o, i)).astype(np.float32) for i, o in zip(sizes, sizes[1:])),
                          tuple(np.zeros(o, np.float32) for o in sizes[1:]),
                          {"env_id": env_id, "action_low": [-1.0] * action_dim, "action_high": [1.0] * action_dim})
    policy.save(path)
    return policy


def test_policy_file_round_trip(tmp_path):
    policy = random_policy_file(tmp_path / "p.npz")
    loaded = ExpertPolicy.load(tmp_path / "p.npz")
    obs = np.random.default_rng(1).normal(size=(64, 11)).astype(np.float32)
    assert np.array_equal(loaded.mean_action(obs), policy.mean_action(obs))
    assert loaded.info == policy.info
    mean = loaded.mean_action(obs)
    noisy = loaded.noisy_action(obs, np.random.default_rng(0), 0.1)
    assert noisy.shape == (64, 3) and np.all(np.abs(noisy) <= 1.0)
    inside = np.abs(mean) < 0.7  # away from the bounds the noise is not clipped
    assert np.std((noisy - mean)[inside]) == pytest.approx(0.1, rel=0.25)
    assert np.array_equal(noisy, loaded.noisy_action(obs, np.random.default_rng(0), 0.1))
    assert [p.name for p in tmp_path.iterdir()] == ["p.npz"]


def test_damaged_missing_or_foreign_policy_files_are_named(tmp_path):
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(OffSimError, match="bad.npz cannot be read"):
        ExpertPolicy.load(tmp_path / "bad.npz")
    with pytest.raises(OffSimError, match="no expert policy at .*none.npz"):
        ExpertPolicy.load(tmp_path / "none.npz")
    random_policy_file(tmp_path / "hopper" / "expert.npz")
    with pytest.raises(OffSimError, match="missing .*medium.npz"):
        expert_files(tmp_path / "hopper", "Hopper-v5")
    random_policy_file(tmp_path / "hopper" / "medium.npz")
    with pytest.raises(OffSimError, match="is a Hopper-v5 policy, not a Walker2d-v5 one"):
        expert_files(tmp_path / "hopper", "Walker2d-v5")


def test_shipped_experts_carry_their_cards():
    for env_id in ("Hopper-v5",):
        files = expert_files(SHIPPED, env_id)
        for level, path in files.items():
            info = ExpertPolicy.load(path).info
            assert info["level"] == level and info["card"]["env_id"] == env_id
            assert info["card"]["command"].startswith(f"offsim-ray experts train --env {env_id}")
            assert path.stat().st_size < 400_000


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    store = DatasetStore(tmp_path_factory.mktemp("made"))
    return store, make_datasets(store, "Hopper-v5", steps=1500, progress=False)


def test_made_datasets_have_measured_reference_scores(made):
    store, datasets = made
    assert [(d.level, d.dataset.spec.dataset_id, d.written) for d in datasets] == [
        ("expert", "local/hopper/expert-v0", True), ("medium", "local/hopper/medium-v0", True),
        ("random", "local/hopper/random-v0", True)]
    info = {d.level: describe(d.dataset) for d in datasets}
    assert all(i.steps == 1500 and i.env_id == "Hopper-v5" for i in info.values())
    reference = info["expert"].reference
    assert all(i.reference == reference for i in info.values())
    assert reference.random == pytest.approx(info["random"].return_mean)
    assert reference.expert == pytest.approx(info["expert"].return_mean)
    assert info["random"].return_mean < info["medium"].return_mean < info["expert"].return_mean


def test_made_expert_data_is_the_deterministic_expert_plus_small_noise(made):
    store, datasets = made
    dataset = next(d.dataset for d in datasets if d.level == "expert")
    episodes = list(dataset.iterate_episodes())
    obs = np.concatenate([e.observations[:-1] for e in episodes])
    deterministic = ExpertPolicy.load(SHIPPED / "Hopper-v5" / "expert.npz").mean_action(obs)  # box [-1, 1]
    noise = np.concatenate([e.actions for e in episodes]) - deterministic
    inside = np.abs(deterministic) < 0.7  # away from the bounds the noise is not clipped
    assert np.mean(noise[inside]) == pytest.approx(0.0, abs=0.01)
    assert np.std(noise[inside]) == pytest.approx(ACTION_NOISE_STD, rel=0.05)
    assert f"Gaussian noise of std {ACTION_NOISE_STD}" in describe(dataset).description


def test_made_expert_data_returns_close_to_the_deterministic_expert(tmp_path):
    # HalfCheetah never terminates: a short run measures what the noise costs, not whether a hop fell
    [made] = make_datasets(DatasetStore(tmp_path), "HalfCheetah-v5", levels=("expert",), steps=2000, progress=False)
    deterministic = ExpertPolicy.load(SHIPPED / "HalfCheetah-v5" / "expert.npz").info["card"]["expert"]["return_mean"]
    info = describe(made.dataset)
    assert info.episodes == 2 and info.return_mean >= 0.9 * deterministic


def test_a_level_made_alone_equals_the_one_made_with_the_others(made, tmp_path):
    store, datasets = made
    alone = DatasetStore(tmp_path)
    [medium] = make_datasets(alone, "Hopper-v5", levels=("medium",), steps=1500, progress=False)
    assert alone.ids() == ["local/hopper/medium-v0"]
    ours = next(d.dataset for d in datasets if d.level == "medium")
    first = [e.observations for e in ours.iterate_episodes()]
    second = [e.observations for e in medium.dataset.iterate_episodes()]
    assert len(first) == len(second) and all(np.array_equal(a, b) for a, b in zip(first, second))
    assert describe(medium.dataset).reference == describe(ours).reference


def test_existing_datasets_are_kept_unless_overwrite(made):
    store, _ = made
    path = store.data_dir("local/hopper/expert-v0") / "main_data.hdf5"
    before = path.read_bytes()
    again = make_datasets(store, "Hopper-v5", levels=("expert",), steps=800, progress=False)
    assert [d.written for d in again] == [False] and path.read_bytes() == before
    [replaced] = make_datasets(store, "Hopper-v5", levels=("expert",), steps=800, overwrite=True, progress=False)
    assert replaced.written and replaced.dataset.total_steps == 800


def test_unknown_level_or_missing_experts(tmp_path):
    with pytest.raises(OffSimError, match="unknown dataset level simple"):
        make_datasets(DatasetStore(tmp_path), "Hopper-v5", levels=("simple",))
    with pytest.raises(OffSimError, match="unknown env Hoper-v5: .*; did you mean Hopper-v5"):
        make_datasets(DatasetStore(tmp_path), "Hoper-v5")
    with pytest.raises(OffSimError, match="no Ant-v5 experts in"):
        make_datasets(DatasetStore(tmp_path), "Ant-v5", experts=tmp_path)
    assert DatasetStore(tmp_path).ids() == []


def test_offline_alias_falls_back_to_data_made_from_the_shipped_experts(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(datasets_module, "MADE_STEPS", 600)
    store = DatasetStore(tmp_path)
    with caplog.at_level(logging.INFO, logger="offsim_ray.data.datasets"):
        dataset = open_dataset("hopper-expert", store, download=False, progress=False)
        assert dataset.spec.dataset_id == "local/hopper/expert-v0" and dataset.total_steps == 600
        assert "mujoco/hopper/expert-v0 (download disabled): making local/hopper/expert-v0" in caplog.text
        assert "shipped Hopper-v5 experts" in caplog.text
        caplog.clear()
        again = open_dataset("hopper-expert", store, download=False, progress=False)
    assert again.spec.dataset_id == "local/hopper/expert-v0"
    assert "using local/hopper/expert-v0" in caplog.text and "made earlier by offsim-ray" in caplog.text
    assert store.ids() == ["local/hopper/expert-v0"]


def test_random_data_of_an_env_without_experts_is_collected_uniformly(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets_module, "MADE_STEPS", 500)
    monkeypatch.setattr(datasets_module, "shipped_envs", lambda: [])
    store = DatasetStore(tmp_path)
    dataset = open_dataset("walker2d-random", store, progress=False)
    assert dataset.spec.dataset_id == "local/walker2d/random-v0" and dataset.total_steps == 500
    with pytest.raises(OffSimError, match="no data of the project stands in for it"):
        open_dataset("walker2d-expert", store, download=False)


def test_data_make_command(tmp_path):
    root = tmp_path / "new"  # data make creates the store
    made = run_cli("data", "make", "--env", "Hopper-v5", "--steps", "800", "--levels", "expert,random",
                   "--no-progress", data_root=root)
    assert made.returncode == 0, made.stderr
    assert "wrote local/hopper/expert-v0: 800 steps" in made.stdout
    assert "wrote local/hopper/random-v0: 800 steps" in made.stdout
    assert re.search(r"expert-v0: .* \(normalised 100\.0;", made.stdout)
    assert re.search(r"random-v0: .* \(normalised -?0\.0;", made.stdout)
    again = run_cli("data", "make", "--env", "Hopper-v5", "--steps", "800", "--levels", "expert", "--no-progress",
                    data_root=root)
    assert "kept (exists; --overwrite replaces it) local/hopper/expert-v0" in again.stdout


def test_data_make_bad_input_is_one_line(tmp_path):
    random_policy_file(tmp_path / "experts" / "expert.npz")
    random_policy_file(tmp_path / "experts" / "medium.npz")
    store = tmp_path / "store"
    cases = [
        (["--env", "Hopper-v5", "--levels", "expert,simple"], "unknown dataset level simple"),
        (["--env", "Hopper-v5", "--experts", str(tmp_path / "none")], f"no Hopper-v5 experts in {tmp_path / 'none'}"),
        (["--env", "Walker2d-v5", "--experts", str(tmp_path / "experts")], "is a Hopper-v5 policy, not a Walker2d-v5"),
        (["--env", "Hopper-v5", "--steps", "0"], "--steps"),
        (["--env", "Hoper-v5"],
         "unknown env Hoper-v5: no registered Gymnasium env has that id; did you mean Hopper-v5?"),
        (["--env", "NoSuchEnv-v0"], "unknown env NoSuchEnv-v0: no registered Gymnasium env has that id"),
    ]
    for flags, message in cases:
        assert_one_line_error(run_cli("data", "make", *flags, data_root=store), message)
    assert not store.exists() or DatasetStore(store).ids() == []


def test_experts_list_shows_the_shipped_cards(tmp_path):
    listed = run_cli("experts", "list")
    assert listed.returncode == 0, listed.stderr
    cards = {card_env: ExpertPolicy.load(SHIPPED / card_env / "expert.npz").info["card"] for card_env in
             [p.name for p in SHIPPED.iterdir() if (p / "card.json").is_file()]}
    assert listed.stdout.splitlines()[0] == f"{len(cards)} shipped experts"
    for env_id, card in cards.items():
        assert f"{env_id:<16} expert {card['expert']['return_mean']:8.1f}" in listed.stdout
    assert_one_line_error(run_cli("experts", "list", str(tmp_path / "none")), f"no experts folder {tmp_path / 'none'}")


def test_experts_list_names_the_key_of_a_damaged_card_and_lists_nothing(tmp_path):
    card = json.loads((SHIPPED / "Hopper-v5" / "card.json").read_text())
    folder = tmp_path / "Hopper-v5"
    folder.mkdir()
    for damaged, fragment in (([1], "card.json holds a list, not a mapping"),
                              ({"env_id": "Hopper-v5"}, "card.json has no env_steps"),
                              ({**card, "expert": {**card["expert"], "return_mean": "x"}},
                               "card.json's expert.return_mean is 'x', not a number")):
        (folder / "card.json").write_text(json.dumps(damaged))
        with pytest.raises(OffSimError, match=re.escape(f"experts {folder}: {fragment}")):
            expert_cards(tmp_path)
    result = run_cli("experts", "list", str(tmp_path))
    assert_one_line_error(result, f"experts {folder}: card.json's expert.return_mean")
    assert result.stdout == ""
