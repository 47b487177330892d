"""The k-step open-loop error against the real MuJoCo env: exact state restoring, windows per k."""

from __future__ import annotations

import numpy as np

from offsim_ray.data import load_transitions
from offsim_ray.simulator import fit_simulator, preset
from offsim_ray.simulator.fidelity import K, fidelity, real_windows, restorable_env, sampled_windows


def test_restored_states_step_to_the_datas_next_states(store):
    data = load_transitions("local/walker2d/random-v0", store, "expert")
    env = restorable_env(data.env_id, data.obs_dim)
    velocity = env.model.nq - 1
    unclipped = np.flatnonzero((np.abs(data.obs[:, velocity:]) < 10).all(1)
                               & (np.abs(data.next_obs[:, velocity:]) < 10).all(1))[:50]
    _, _, real = real_windows(env, data.obs[unclipped], data.action[unclipped, None], seed=0)
    assert real.shape == (50, 1, data.obs_dim)
    np.testing.assert_allclose(real[:, 0], data.next_obs[unclipped], atol=1e-4)
    starts, actions, chained = sampled_windows(env, data.obs, data.next_obs, data.action, 50, seed=0, steps=2)
    assert 0 < len(starts) <= 50 and actions.shape == (len(starts), 2, data.action_dim)
    assert np.isfinite(chained).all()
    assert (np.abs(starts[:, velocity:]) < 10).all()  # random Walker2d data clips often: those are left out


def test_each_k_is_measured_where_the_rows_hold_k_step_windows(store):
    data = load_transitions("local/hopper/random-v0", store, "expert")
    config = preset("smoke").with_(warmup_steps=100, steps=20, eval_every=20)
    simulator, _ = fit_simulator(data, config, progress=False)
    errors = fidelity(simulator, count=100)
    assert list(errors) == [f"sim/open_loop_error_{k}" for k in range(1, K + 1)]
    assert all(0 < e < 10 for e in errors.values()) and errors["sim/open_loop_error_5"] > errors["sim/open_loop_error_1"]
    apart, _ = fit_simulator(data.take(np.arange(0, len(data), 2)), config, progress=False)
    assert list(fidelity(apart, count=100)) == ["sim/open_loop_error_1"]  # no two rows in a row
