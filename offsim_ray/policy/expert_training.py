"""Experts for the data stage: SAC in a real MuJoCo env, checkpointed so a killed run resumes.

The learner is the project's SAC (the module and losses of the RLlib learner, actor_critic.py) stepped by
a plain loop: `ActorCritic.sac_update` on batches of a flat replay, beside a Gymnasium vector env.
Side by side, the plain loop does 1.23× the updates per second of the same SAC driven by an RLlib
Algorithm, and an expert's million updates are its whole cost (docs/benchmarks.md, shipped experts).

Work directory:
  config.json          the ExpertConfig (a resumed run must use the same one)
  checkpoint/          learner.pt (module, optimiser, RNG) and replay.npz, after every iteration
  progress.json        iterations done at that checkpoint
  progress.jsonl       one line of metrics per iteration (`policy/…`, `expert/…`), also in tensorboard/
  snapshots/<N>.npz    the actor after N env steps, as a portable ExpertPolicy
  expert.npz, medium.npz, card.json   when the budget is spent (write_card)
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from offsim_ray.action_box import to_box
from offsim_ray.data.collect import run_episodes
from offsim_ray.data.experts import ExpertPolicy
from offsim_ray.errors import OffSimError
from offsim_ray.files import make_dir, read_json, write_json
from offsim_ray.policy.actor_critic import SquashedGaussian
from offsim_ray.policy.config import ExpertConfig
from offsim_ray.policy.baselines.offline import ActorCritic, Batch, floats
from offsim_ray.policy.replay import FlatReplay
from offsim_ray.policy.progress import (ProgressLog, read_progress, restore_rng_states, save_checkpoint,
                                        resume, saved_iteration, with_rng_states)
from offsim_ray.threads import note_if_busy

MEDIUM_RANGE = (1 / 3, 1 / 2)   # medium return / expert return
MEDIUM_TARGET = 0.4
FINAL_EPISODES = 10
FINAL_CANDIDATES = 5            # snapshots measured again over FINAL_EPISODES when choosing expert and medium
CHECKPOINT = "checkpoint"
REPLAY_CAPACITY = 1_000_000     # transitions (Haarnoja et al. 2018); fixed, so a budget may shrink on resume
# Batch fields <- the columns of FlatReplay.sample
BATCH_COLUMNS = {"obs": "obs", "actions": "actions", "rewards": "rewards", "next_obs": "new_obs",
                 "terminated": "terminateds"}


def portable_policy(module, info: dict) -> ExpertPolicy:
    """The actor MLP of our SAC module as an ExpertPolicy (numpy weights), its observation standardisation
    folded into the first layer: W·(s − m)/σ + b = (W/σ)·s + (b − W·m/σ)."""
    standardise, *layers = module.actor
    linear = [layer for layer in layers if isinstance(layer, nn.Linear)]
    weights = [layer.weight.detach().cpu().numpy().astype(np.float32) for layer in linear]
    biases = [layer.bias.detach().cpu().numpy().astype(np.float32) for layer in linear]
    mean, std = standardise.mean.cpu().numpy(), standardise.std.cpu().numpy()
    biases[0] = biases[0] - weights[0] @ (mean / std)
    weights[0] = weights[0] / std
    return ExpertPolicy(tuple(weights), tuple(biases), info)


def episode_returns(policy: ExpertPolicy, episodes: int, seed: int) -> np.ndarray:
    return run_episodes(policy.mean_action, policy.env_id, episodes, seed)[0]


def _check_config(config: ExpertConfig, workdir: Path) -> None:
    """A resumed run keeps its settings; only the budget (`env_steps`) may change."""
    path = workdir / "config.json"
    if path.exists():
        recorded = read_json(path, "", f"expert run {workdir}")
        try:
            before = ExpertConfig.from_dict(recorded).to_dict()
        except OffSimError as e:
            raise OffSimError(f"expert run {workdir}: {path.name} is not an expert config ({e})") from None
        changed = [k for k, v in config.to_dict().items() if before[k] != v and k != "env_steps"]
        if changed:
            raise OffSimError(f"{workdir} holds an expert run with other settings ({', '.join(changed)} differ); "
                              "use another --out or the same settings")
    write_json(path, config.to_dict())


class RealEnv:
    """`num_envs` copies of a Gymnasium env stepped together, every step written to the replay (actions in
    [-1, 1]); an episode's last transition keeps its true final observation."""

    def __init__(self, env_id: str, num_envs: int, seed: int):
        try:
            self.envs = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="sync",
                                     vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP})
        except gym.error.Error as e:
            raise OffSimError(f"cannot make env {env_id}: {e}") from None
        space = self.envs.single_action_space
        self.low, self.high = space.low, space.high
        self.obs_dim, self.action_dim = self.envs.single_observation_space.shape[0], space.shape[0]
        self.obs = self.envs.reset(seed=seed)[0].astype(np.float32)
        self.running_return = np.zeros(num_envs)
        self.returns: list[float] = []  # of the episodes ended since the last `take_returns`
        self._rng = np.random.default_rng(seed)

    def step(self, actions: np.ndarray, replay: FlatReplay) -> None:
        """`actions` in [-1, 1], scaled to the env's box."""
        scaled = to_box(actions, self.low, self.high)
        obs, reward, terminated, truncated, info = self.envs.step(scaled)
        obs = obs.astype(np.float32)
        next_obs = obs.copy()
        ended = terminated | truncated
        for i in np.flatnonzero(ended):
            next_obs[i] = info["final_obs"][i]
        replay.add(self.obs, actions, reward, next_obs, terminated)
        self.running_return += reward
        self.returns += self.running_return[ended].tolist()
        self.running_return[ended] = 0.0
        self.obs = obs

    def random_actions(self) -> np.ndarray:
        return self._rng.uniform(-1.0, 1.0, (len(self.obs), self.action_dim)).astype(np.float32)

    def take_returns(self) -> float:
        returns, self.returns = self.returns, []
        return float(np.mean(returns)) if returns else float("nan")


def _sample_actions(learner: ActorCritic, obs: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        inputs = learner.module.actor(torch.as_tensor(obs, device=learner.config.device))
        return SquashedGaussian.from_logits(inputs).sample().cpu().numpy()  # tanh: in [-1, 1]


def _replay_batch(replay: FlatReplay, n: int, device: str) -> Batch:
    rows = replay.sample(n)
    return Batch(**{name: torch.as_tensor(rows[key], device=device) for name, key in BATCH_COLUMNS.items()})


def _save(workdir: Path, iteration: int, learner: ActorCritic, replay: FlatReplay) -> None:
    def write(folder: Path) -> None:
        torch.save(with_rng_states(learner.state_dict()), folder / "learner.pt")
        replay.save(folder / "replay.npz")

    save_checkpoint(workdir, CHECKPOINT, iteration, write)


def _restore(workdir: Path, learner: ActorCritic, replay: FlatReplay) -> None:
    try:
        state = torch.load(workdir / CHECKPOINT / "learner.pt", map_location="cpu")  # RNG states stay on the host
        learner.load_state_dict(state)
        restore_rng_states(state)
        replay.load(workdir / CHECKPOINT / "replay.npz")
    except Exception as e:  # pickle, torch, zip and json raise many types for a damaged file
        raise OffSimError(f"expert run {workdir}: its checkpoint {workdir / CHECKPOINT} is damaged ("
                          f"{type(e).__name__}: {' '.join(str(e).split())[:200]}); remove that folder to train "
                          "from the start") from None


def train_expert(config: ExpertConfig, workdir: str | os.PathLike, progress: bool = True) -> dict:
    """Trains (or resumes) an expert in `config.env`, then writes expert.npz, medium.npz and card.json.
    Returns the card."""
    workdir = Path(workdir).resolve()
    done = saved_iteration(workdir, CHECKPOINT)
    env = RealEnv(config.env, config.num_envs, config.seed + done)  # a resumed run starts new episodes
    make_dir(workdir)  # once the env is known good: an unknown one leaves no folder
    _check_config(config, workdir)
    policy = config.policy()
    torch.manual_seed(config.seed)
    learner = ActorCritic(policy, env.obs_dim, env.low, env.high)
    replay = FlatReplay(REPLAY_CAPACITY, env.obs_dim, env.action_dim, config.seed)
    info = {"env_id": config.env, "action_low": env.low.tolist(), "action_high": env.high.tolist()}
    label = f"expert {config.env}"
    done, seconds = resume(workdir, CHECKPOINT, label, progress, lambda: _restore(workdir, learner, replay))
    if progress:
        note_if_busy()
    with ProgressLog(workdir, label, config.iterations, progress, done=done) as log:
        while replay.size < config.learning_starts:  # uniform-random warm-up (once: the replay is kept)
            env.step(env.random_actions(), replay)
        for iteration in range(done + 1, config.iterations + 1):
            started = time.perf_counter()
            steps = min(iteration * config.iteration_steps, config.env_steps)
            for _ in range(-(-(steps - (iteration - 1) * config.iteration_steps) // config.num_envs)):
                env.step(_sample_actions(learner, env.obs), replay)
                for _ in range(config.num_envs):  # one gradient step per env step
                    metrics = learner.sac_update(_replay_batch(replay, policy.batch_size, policy.device))
            metrics = floats(metrics)
            seconds += time.perf_counter() - started
            snapshot = portable_policy(learner.module, {**info, "env_steps": steps})
            snapshot.save(workdir / "snapshots" / f"{steps}.npz")
            returns = episode_returns(snapshot, config.eval_episodes, seed=config.seed + iteration)
            log.write({"iteration": iteration, "policy/updates": float(steps), "policy/env_steps": float(replay.added),
                       "policy/episode_return_mean": env.take_returns(), "policy/seconds": seconds, **metrics,
                       "expert/env_steps": float(steps), "expert/eval_return": float(returns.mean())})
            _save(workdir, iteration, learner, replay)
    return write_card(config, workdir, seconds, progress)


def command_of(config: ExpertConfig) -> str:
    """The `offsim-ray experts train` line that makes this run."""
    fields = {"steps": "env_steps", "iteration-steps": "iteration_steps", "num-envs": "num_envs", "hidden": "hidden",
              "batch-size": "batch_size", "learning-starts": "learning_starts", "seed": "seed"}
    defaults = ExpertConfig()
    shown = [f"--{flag} {getattr(config, name)}" for flag, name in fields.items()
             if getattr(config, name) != getattr(defaults, name)]
    return " ".join([f"offsim-ray experts train --env {config.env} --out DIR", *shown])


def write_card(config: ExpertConfig, workdir: Path, seconds: float, progress: bool) -> dict:
    """expert.npz = the best snapshot: of the five with the highest 5-episode evaluations, the one with the
    highest return over 10 episodes. medium.npz = the snapshot whose 10-episode return is nearest 0.4 × the
    expert's among those inside [1/3, 1/2] of it (nearest the range when none is inside); the five nearest
    by their 5-episode evaluation are measured."""
    evaluated = {int(r["expert/env_steps"]): r["expert/eval_return"] for r in read_progress(workdir)
                 if "expert/env_steps" in r and r["expert/env_steps"] <= config.env_steps}
    measured: dict[int, np.ndarray] = {}

    def measure(candidates: list[int]) -> None:
        for steps in candidates:
            if steps not in measured:
                policy = ExpertPolicy.load(workdir / "snapshots" / f"{steps}.npz")
                measured[steps] = episode_returns(policy, FINAL_EPISODES, seed=10_000)

    best = sorted(evaluated, key=evaluated.get, reverse=True)[:FINAL_CANDIDATES]
    measure(best)
    expert_steps = max(best, key=lambda steps: measured[steps].mean())
    expert_returns = measured[expert_steps]
    target, low, high = (f * expert_returns.mean() for f in (MEDIUM_TARGET, *MEDIUM_RANGE))

    def distance(ret: float) -> float:
        return max(low - ret, ret - high, 0.0) + 1e-3 * abs(ret - target)

    nearest = sorted(evaluated, key=lambda steps: distance(evaluated[steps]))[:FINAL_CANDIDATES]
    measure(nearest)
    medium_steps = min(nearest, key=lambda steps: distance(measured[steps].mean()))
    expert, medium = (ExpertPolicy.load(workdir / "snapshots" / f"{steps}.npz")
                      for steps in (expert_steps, medium_steps))
    card = {
        "env_id": config.env,
        "command": command_of(config),
        "config": config.to_dict(),
        "train_seconds": round(seconds, 1),
        "env_steps": max(evaluated),
        "warmup_steps": config.learning_starts,
        "expert": {"env_steps": expert_steps, "return_mean": float(expert_returns.mean()),
                   "return_std": float(expert_returns.std()), "episodes": FINAL_EPISODES},
        "medium": {"env_steps": medium_steps, "return_mean": float(measured[medium_steps].mean()),
                   "return_std": float(measured[medium_steps].std()), "episodes": FINAL_EPISODES,
                   "fraction_of_expert": float(measured[medium_steps].mean() / expert_returns.mean())},
    }
    for level, policy in (("expert", expert), ("medium", medium)):
        ExpertPolicy(policy.weights, policy.biases, {**policy.info, "level": level, "card": card}).save(
            workdir / f"{level}.npz")
    write_json(workdir / "card.json", card)
    if progress:
        print(f"expert {config.env} (after {expert_steps} steps): return {card['expert']['return_mean']:.1f} "
              f"± {card['expert']['return_std']:.1f}; "
              f"medium (after {medium_steps} steps) {card['medium']['return_mean']:.1f} "
              f"= {card['medium']['fraction_of_expert']:.2f} of it", file=sys.stderr)
    return card
