"""Transitions from real Minari files: the s' shift, subsampling, mixing, NaN handling, statistics."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from offsim_ray.data import DIVERSE, EXPERT, load_transitions, mix
from offsim_ray.data.datasets import read_episodes
from offsim_ray.errors import OffSimError
from tests.harness import BENCH_IDS, COLLECTED


@pytest.mark.parametrize("dataset_id", [c[0] for c in COLLECTED])
def test_next_obs_is_the_episode_shifted_by_one(store, dataset_id):
    dataset = store.open(dataset_id)
    t = load_transitions(dataset_id, store)
    assert len(t) == dataset.total_steps
    row = 0
    for episode in read_episodes(dataset):
        n = len(episode.actions)
        np.testing.assert_allclose(t.obs[row : row + n], episode.observations[:-1], rtol=1e-6)
        np.testing.assert_allclose(t.next_obs[row : row + n], episode.observations[1:], rtol=1e-6)
        np.testing.assert_allclose(t.action[row : row + n], episode.actions, rtol=1e-6)
        np.testing.assert_allclose(t.reward[row : row + n], episode.rewards, rtol=1e-6)
        assert (t.terminated[row : row + n] == episode.terminations).all()
        assert (t.truncated[row : row + n] == episode.truncations).all()
        # the episode ends on its last row, and only there
        assert (t.terminated | t.truncated)[row + n - 1]
        assert not (t.terminated | t.truncated)[row : row + n - 1].any()
        row += n
    assert row == len(t)
    assert (t.source == EXPERT).all()


def test_runs_are_the_episodes_and_a_subsample_cuts_them(store):
    dataset_id = "local/hopper/random-v0"
    t = load_transitions(dataset_id, store)
    lengths = [len(e.actions) for e in read_episodes(store.open(dataset_id))]
    starts, runs = t.runs()
    assert runs.tolist() == lengths and starts.tolist() == np.cumsum([0] + lengths[:-1]).tolist()
    part = t.subsample(1000, seed=0)
    starts, runs = part.runs()
    assert runs.sum() == 1000 and len(starts) > len(lengths)
    for s, n in zip(starts, runs):  # each run is consecutive steps of one episode, and none could go on
        np.testing.assert_array_equal(part.next_obs[s : s + n - 1], part.obs[s + 1 : s + n])
        end = s + n - 1
        assert end == len(part) - 1 or part.terminated[end] or part.truncated[end] or \
            not np.array_equal(part.next_obs[end], part.obs[end + 1])


@pytest.mark.parametrize("dataset_id", BENCH_IDS)
def test_benchmark_datasets_load_as_20k_transitions(bench_store, dataset_id):
    t = load_transitions(dataset_id, bench_store, source="diverse")
    assert len(t) == 20_000
    assert t.env_id in ("Hopper-v5", "HalfCheetah-v5")
    assert t.obs.dtype == np.float32 and t.obs.shape[1] == t.next_obs.shape[1]
    assert (t.source == DIVERSE).all()
    assert not t.nonfinite_rows().any()


def test_subsample_is_deterministic_and_without_replacement(store):
    t = load_transitions("local/hopper/random-v0", store)
    a, b, c = t.subsample(500, seed=3), t.subsample(500, seed=3), t.subsample(500, seed=4)
    np.testing.assert_array_equal(a.obs, b.obs)
    assert not np.array_equal(a.obs, c.obs)
    assert len(np.unique(a.obs, axis=0)) == 500
    rows = {r.tobytes() for r in t.obs}
    assert all(r.tobytes() in rows for r in a.obs)


def test_subsample_larger_than_the_data_is_refused(store):
    t = load_transitions("local/hopper/random-v0", store)
    with pytest.raises(OffSimError, match=r"local/hopper/random-v0: asked for 3001 transitions but the data has only 3000"):
        t.subsample(3001, seed=0)


def test_mix_keeps_source_labels(store):
    expert = load_transitions("local/hopper/random-v0", store, "expert")
    diverse = load_transitions("local/hopper/random-v0", store, "diverse")
    mixed = mix(expert, diverse, 1200, 800, seed=0)
    assert len(mixed) == 2000
    assert (mixed.source == EXPERT).sum() == 1200 and (mixed.source == DIVERSE).sum() == 800
    assert mixed.of_source(DIVERSE).obs.shape == (800, 11)
    np.testing.assert_array_equal(mix(expert, diverse, 1200, 800, seed=0).obs, mixed.obs)


def test_mix_refuses_datasets_with_different_spaces(store):
    hopper = load_transitions("local/hopper/random-v0", store, "expert")
    cheetah = load_transitions("local/halfcheetah/random-v0", store, "diverse")
    with pytest.raises(OffSimError, match="local/hopper/random-v0.*local/halfcheetah/random-v0.*different envs"):
        mix(hopper, cheetah, 100, 100, seed=0)
    relabelled = dataclasses.replace(cheetah, env_id="Hopper-v5")
    with pytest.raises(OffSimError, match=r"different spaces: obs 11 vs 17, action 3 vs 6"):
        mix(hopper, relabelled, 100, 100, seed=0)


def test_normalization_statistics(store):
    t = load_transitions("local/walker2d/random-v0", store)
    stats = t.normalization()
    np.testing.assert_allclose(stats.obs_mean, t.obs.mean(axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(stats.delta_std, (t.next_obs - t.obs).std(axis=0), rtol=1e-4)
    assert (stats.action_std > 0).all()
    assert type(stats).from_dict(stats.to_dict()).to_dict() == stats.to_dict()


def test_transitions_are_frozen(store):
    t = load_transitions("local/hopper/random-v0", store)
    with pytest.raises(ValueError):
        t.obs[0, 0] = 1.0
