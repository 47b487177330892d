"""Does the learned simulator see a trained policy as the real env does? For each finished learned-env trial,
its final policy (deterministic actions) from the real env's reset states:
- in the real v5 env: episode lengths and forward velocity (qvel[0], m/s);
- in the trial's simulator, closed loop on the ensemble's mean s' with the task's termination function, up to
  1000 steps: episode lengths, and per 100-step block the forward velocity and r_φ(s, s');
- along the real episodes, per stretch of steps: the ensemble mean's one-step error (RMSE in units of the data's
  std), its members' disagreement (the largest distance of a member's mean Δs from theirs, normalised Δs units),
  and r_φ of the real s' against r_φ of the model's s';
- the disagreement at each step of five-step rollouts (ensemble mean) from 4000 of the data's states, where the
  policy trains and where a penalty on disagreement (MOPO) would act.

    python bench/policy_in_sim.py TRIAL_DIR [TRIAL_DIR ...] [--episodes 5] [--seed 100]
"""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

import common
from offsim_ray.data.termination import termination_fn
from offsim_ray.policy.artifact import Policy
from offsim_ray.simulator import Simulator
from offsim_ray.simulator.models import TransitionEnsemble

STRETCHES = ((0, 20), (20, 100), (100, 1000))


def real_episodes(env: gym.Env, policy: Policy, seeds: list[int]) -> list[np.ndarray]:
    """Each episode's (obs, action, next_obs) rows, concatenated along the last axis."""
    episodes = []
    for seed in seeds:
        obs, _ = env.reset(seed=seed)
        rows, done = [], False
        while not done:
            action = policy.act(obs[None])[0]
            next_obs, _, terminated, truncated, _ = env.step(action)
            rows.append(np.concatenate([obs, action, next_obs]))
            obs, done = next_obs, terminated or truncated
        episodes.append(np.array(rows, np.float32))
    return episodes


def closed_loop(simulator: Simulator, policy: Policy, starts: np.ndarray, velocity: int,
                steps: int = 1000) -> tuple[np.ndarray, list[float], list[float]]:
    """Episode lengths, and the mean forward velocity and reward of the live episodes per 100-step block."""
    terminated_fn = termination_fn(simulator.env_id)
    rng = np.random.default_rng(0)
    obs, alive = starts.copy(), np.ones(len(starts), bool)
    lengths = np.full(len(starts), steps)
    velocities, rewards = np.full((steps, len(starts)), np.nan), np.full((steps, len(starts)), np.nan)
    for t in range(steps):
        action = policy.act(obs)
        next_obs, reward = simulator.step(obs, action, rng, high_variance=False)
        velocities[t, alive], rewards[t, alive] = next_obs[alive, velocity], reward[alive]
        ended = alive & np.asarray(terminated_fn(obs, action, next_obs), bool)
        lengths[ended] = t + 1
        alive &= ~ended
        obs = next_obs.astype(np.float32)
        if not alive.any():
            break
    blocks = [slice(t, t + 100) for t in range(0, int(lengths.max()), 100)]
    return lengths, [float(np.nanmean(velocities[b])) for b in blocks], [float(np.nanmean(rewards[b])) for b in blocks]


def disagreement(transition: TransitionEnsemble, obs: torch.Tensor,
                 action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row: the largest distance of a member's mean Δs from the members' mean, and the mean s'."""
    mean, _ = transition(obs, action)
    return (mean - mean.mean(0)).norm(dim=-1).max(0).values, transition.to_next_obs(obs, mean.mean(0))


@torch.no_grad()
def from_data(simulator: Simulator, policy: Policy, starts: int = 4000, steps: int = 5) -> list[float]:
    """Mean disagreement at each step of `steps`-step rollouts on the ensemble's mean from `starts` data states."""
    rng = np.random.default_rng(0)
    obs = torch.as_tensor(np.asarray(simulator.data.obs)[rng.integers(0, len(simulator.data.obs), starts)])
    spread = []
    for _ in range(steps):
        value, obs = disagreement(simulator.transition, obs, torch.as_tensor(policy.act(obs.numpy())))
        spread.append(float(value.mean()))
    return spread


@torch.no_grad()
def along_real(simulator: Simulator, rows: list[np.ndarray], stretch: tuple[int, int], scale: torch.Tensor) -> str:
    """The stretch's rows of every real episode: one-step error (in units of `scale`), disagreement, r_φ."""
    dim = simulator.data.obs_dim
    picked = np.concatenate([episode[slice(*stretch)] for episode in rows if len(episode) > stretch[0]])
    obs, action, next_obs = (torch.as_tensor(part) for part in np.split(picked, [dim, picked.shape[1] - dim], 1))
    spread, predicted = disagreement(simulator.transition, obs, action)
    error = ((predicted - next_obs) / scale).pow(2).mean(1).sqrt().mean()
    real_r, model_r = simulator.reward(obs, next_obs).mean(), simulator.reward(obs, predicted).mean()
    return (f"steps {stretch[0]:>3}-{stretch[1]:<4} ({len(picked):4d} rows): one-step error {error:.3f} std  "
            f"disagreement {spread.mean():.3f}  r on real s' {real_r:6.3f}, on the model's s' {model_r:6.3f}")


def report(trial: Path, episodes: int, seed: int) -> None:
    simulator = common.trial_simulator(trial)
    policy = Policy.load(trial / "policy")
    env = gym.make(simulator.env_id)
    velocity = env.unwrapped.model.nq - 1  # the observation leaves out the x position: qvel[0] follows qpos[1:]
    seeds = list(range(seed, seed + episodes))
    rows = real_episodes(env, policy, seeds)
    print(trial)
    print(f"  real env:      lengths {[len(r) for r in rows]}  velocity "
          f"{[round(float(r[:, -simulator.data.obs_dim + velocity].mean()), 2) for r in rows]}")
    starts = np.array([r[0, :simulator.data.obs_dim] for r in rows])
    lengths, velocities, rewards = closed_loop(simulator, policy, starts, velocity)
    print(f"  learned env:   lengths {lengths.tolist()}  per 100 steps: velocity {np.round(velocities, 2).tolist()}  "
          f"r {np.round(rewards, 3).tolist()}")
    scale = torch.as_tensor(np.asarray(simulator.data.next_obs).std(0) + 1e-6)
    for stretch in STRETCHES:
        print("  along real: " + along_real(simulator, rows, stretch, scale))
    spread = np.round(from_data(simulator, policy), 3).tolist()
    print(f"  from the data's states, disagreement per learned step: {spread}")


def main() -> None:
    args = common.episode_flags(common.trials_parser(__doc__, "finished learned-env trial directories")).parse_args()
    common.for_each_trial("policy_in_sim", args.trials, lambda trial: report(trial, args.episodes, args.seed))


if __name__ == "__main__":
    main()
