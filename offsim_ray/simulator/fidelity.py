"""How far T_θ's open-loop rollouts drift from the real MuJoCo env: from a data state s_t, the ensemble's
mean steps the data's actions a_t..a_{t+k-1}, and the real env, restored to s_t, steps the same ones. The
error at k is the RMSE over dimensions in units of the data's std. Hopper, Walker2d and HalfCheetah v5
observe qpos[1:] then qvel, so a state restores exactly (x position 0: the dynamics do not depend on it)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

from offsim_ray.data.transitions import Transitions

K = 5
Windows = tuple[np.ndarray, np.ndarray, np.ndarray]  # starts (n, obs), actions (n, K, act), real (n, K, obs)
VELOCITY_CLIP = {"Hopper-v5": 10.0, "Walker2d-v5": 10.0}  # in their observations; HalfCheetah does not clip


def restorable_env(env_id: str, obs_dim: int):
    """The unwrapped env when its observation is qpos[1:] then qvel, else None."""
    env = gym.make(env_id).unwrapped
    return env if env.model.nq - 1 + env.model.nv == obs_dim else None


def real_windows(env, starts: np.ndarray, actions: np.ndarray, seed: int) -> Windows:
    """The real env's s_{t+1..t+K} after restoring each s_t and stepping its K actions."""
    env.reset(seed=seed)
    nq = env.model.nq
    real = []
    for s, a in zip(starts, actions):
        env.set_state(np.concatenate([[0.0], s[: nq - 1]]), s[nq - 1:])
        real.append([env.step(a_i)[0] for a_i in a])
    return np.asarray(starts, np.float32), np.asarray(actions, np.float32), np.asarray(real, np.float32)


def sampled_windows(env, obs: np.ndarray, next_obs: np.ndarray, action: np.ndarray, count: int, seed: int,
                    prefer: np.ndarray | None = None, steps: int = K) -> Windows:
    """Up to `count` random windows of `steps` steps, starting at rows i whose next steps-1 rows continue
    the same episode (next_obs[j] == obs[j+1]) and whose states restore exactly: no velocity at Hopper's or
    Walker2d's observation clip (±10). From the `prefer` rows when they hold enough."""
    velocity = env.model.nq - 1
    clip = VELOCITY_CLIP.get(env.spec.id, np.inf) - 1e-6
    restorable = (np.abs(np.concatenate([obs[:, velocity:], next_obs[:, velocity:]], 1)) < clip).all(axis=1)
    linked = np.isclose(next_obs[:-1], obs[1:]).all(axis=1)
    runs = lambda ok, n: np.lib.stride_tricks.sliding_window_view(ok, n).all(axis=1) if n else True
    candidates = np.flatnonzero(runs(restorable, steps) & runs(linked, steps - 1))
    if prefer is not None and prefer[candidates].sum() >= count:
        candidates = candidates[prefer[candidates]]
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(candidates, size=min(count, len(candidates)), replace=False))
    return real_windows(env, obs[rows], action[rows[:, None] + np.arange(steps)], seed)


def data_std(data: Transitions) -> np.ndarray:
    return data.obs.std(axis=0) + 1e-6


@torch.no_grad()
def open_loop_error(transition, windows: Windows, obs_std: np.ndarray) -> list[float]:
    """Normalised RMSE of the ensemble-mean rollout at each step k of the windows."""
    starts, actions, real = windows
    s = torch.as_tensor(starts)
    errors = []
    for k in range(actions.shape[1]):
        s = transition.mean_next_obs(s, torch.as_tensor(actions[:, k]))
        errors.append(float(np.sqrt((((s.numpy() - real[:, k]) / obs_std) ** 2).mean())))
    return errors


def fidelity(simulator, count: int = 200, seed: int = 0) -> dict[str, float]:
    """`sim/open_loop_error_k`, k = 1..K, each over up to `count` k-step windows of the simulator's own rows,
    held-out starts first. A subsample keeps few runs of consecutive rows, so each k has its own windows;
    a k without any is left out, as is every k for an env whose states do not restore."""
    data = simulator.data
    env = restorable_env(simulator.env_id, data.obs.shape[1])
    if env is None:
        return {}
    errors = {}
    for k in range(1, min(K, len(data)) + 1):
        windows = sampled_windows(env, data.obs, data.next_obs, data.action, count, seed, simulator.holdout, k)
        if not len(windows[0]):
            break
        errors[f"sim/open_loop_error_{k}"] = open_loop_error(simulator.transition, windows, data_std(data))[-1]
    return errors
