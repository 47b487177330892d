"""Experts for the data stage: RLlib SAC in a real MuJoCo env, checkpointed so a killed run resumes.

Work directory:
  config.json          the ExpertConfig (a resumed run must use the same one)
  algorithm/           RLlib checkpoint and the replay buffer, after every iteration; progress.json
  progress.jsonl       one line of metrics per iteration (`policy/…`, `expert/eval_return`), also in tensorboard/
  snapshots/<N>.npz    the actor after N env steps, as a portable ExpertPolicy
  expert.npz, medium.npz, card.json   when the budget is spent: the final actor, and the snapshot nearest
                       0.4 × its return (D4RL's medium policies reach a third to a half of the expert's)
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
from torch import nn

from offsim_ray.data.collect import run_episodes
from offsim_ray.data.experts import ExpertPolicy
from offsim_ray.errors import OffSimError
from offsim_ray.policy.config import ExpertConfig
from offsim_ray.policy.training import ensure_ray, read_progress, run_iterations

MEDIUM_RANGE = (1 / 3, 1 / 2)   # medium return / expert return
MEDIUM_TARGET = 0.4
FINAL_EPISODES = 10


def portable_policy(module, info: dict) -> ExpertPolicy:
    """The actor MLP of our SAC RLModule as an ExpertPolicy (numpy weights)."""
    linear = [layer for layer in module.actor if isinstance(layer, nn.Linear)]
    return ExpertPolicy(tuple(layer.weight.detach().cpu().numpy().copy() for layer in linear),
                        tuple(layer.bias.detach().cpu().numpy().copy() for layer in linear), info)


def episode_returns(policy: ExpertPolicy, episodes: int, seed: int) -> np.ndarray:
    return run_episodes(policy.mean_action, policy.env_id, episodes, seed)[0]


def _check_config(config: ExpertConfig, workdir: Path) -> None:
    """A resumed run keeps its settings; only the budget (`env_steps`) may change."""
    path = workdir / "config.json"
    if path.exists():
        before = ExpertConfig.from_dict(json.loads(path.read_text())).to_dict()
        changed = [k for k, v in config.to_dict().items() if before[k] != v and k != "env_steps"]
        if changed:
            raise OffSimError(f"{workdir} holds an expert run with other settings ({', '.join(changed)} differ); "
                              "use another --out or the same settings")
    tmp = workdir / ".config.json"
    tmp.write_text(json.dumps(config.to_dict(), indent=2))
    os.replace(tmp, path)


def train_expert(config: ExpertConfig, workdir: str | os.PathLike, progress: bool = True) -> dict:
    """Trains (or resumes) an expert in `config.env`, then writes expert.npz, medium.npz and card.json.
    Returns the card."""
    from offsim_ray.policy.algorithm import build_algorithm

    workdir = Path(workdir).resolve()  # RLlib writes through pyarrow, which takes absolute paths only
    workdir.mkdir(parents=True, exist_ok=True)
    _check_config(config, workdir)
    ensure_ray()
    policy_config = config.policy()
    algo = build_algorithm(policy_config, None, config.env)
    space = algo.get_module().action_space
    info = {"env_id": config.env, "action_low": space.low.tolist(), "action_high": space.high.tolist()}

    def evaluate_snapshot(iteration: int) -> dict:
        steps = min(iteration * config.iteration_steps, config.env_steps)
        snapshot = portable_policy(algo.get_module(), {**info, "env_steps": steps})
        snapshot.save(workdir / "snapshots" / f"{steps}.npz")
        returns = episode_returns(snapshot, config.eval_episodes, seed=config.seed + iteration)
        return {"expert/env_steps": float(steps), "expert/eval_return": float(returns.mean())}

    label = f"expert {config.env}"
    row, _ = run_iterations(algo, policy_config, workdir, label, progress, after_iteration=evaluate_snapshot,
                            keep_replay=True)
    algo.stop()
    return write_card(config, workdir, row["policy/seconds"], progress)


def command_of(config: ExpertConfig) -> str:
    """The `offsim-ray experts train` line that makes this run."""
    fields = {"steps": "env_steps", "iteration-steps": "iteration_steps", "num-envs": "num_envs", "hidden": "hidden",
              "batch-size": "batch_size", "learning-starts": "learning_starts", "seed": "seed"}
    defaults = ExpertConfig()
    shown = [f"--{flag} {getattr(config, name)}" for flag, name in fields.items()
             if getattr(config, name) != getattr(defaults, name)]
    return " ".join([f"offsim-ray experts train --env {config.env} --out DIR", *shown])


def write_card(config: ExpertConfig, workdir: Path, seconds: float, progress: bool) -> dict:
    """expert.npz = the final snapshot; medium.npz = the snapshot whose return (10 episodes) is nearest
    0.4 × the expert's among those inside [1/3, 1/2] of it (nearest the range when none is inside)."""
    evaluated = {int(r["expert/env_steps"]): r["expert/eval_return"] for r in read_progress(workdir)
                 if "expert/env_steps" in r}
    expert = ExpertPolicy.load(workdir / "snapshots" / f"{max(evaluated)}.npz")
    expert_returns = episode_returns(expert, FINAL_EPISODES, seed=10_000)
    target, low, high = (f * expert_returns.mean() for f in (MEDIUM_TARGET, *MEDIUM_RANGE))

    def distance(ret: float) -> float:
        return max(low - ret, ret - high, 0.0) + 1e-3 * abs(ret - target)

    # the five snapshots whose quick evaluation is nearest, re-evaluated with 10 episodes
    candidates = sorted(evaluated, key=lambda steps: distance(evaluated[steps]))[:5]
    measured = {steps: episode_returns(ExpertPolicy.load(workdir / "snapshots" / f"{steps}.npz"), FINAL_EPISODES,
                                       seed=10_000) for steps in candidates}
    medium_steps = min(measured, key=lambda steps: distance(measured[steps].mean()))
    medium = ExpertPolicy.load(workdir / "snapshots" / f"{medium_steps}.npz")
    card = {
        "env_id": config.env,
        "command": command_of(config),
        "config": config.to_dict(),
        "train_seconds": round(seconds, 1),
        "env_steps": max(evaluated),
        "warmup_steps": config.learning_starts,
        "expert": {"env_steps": max(evaluated), "return_mean": float(expert_returns.mean()),
                   "return_std": float(expert_returns.std()), "episodes": FINAL_EPISODES},
        "medium": {"env_steps": medium_steps, "return_mean": float(measured[medium_steps].mean()),
                   "return_std": float(measured[medium_steps].std()), "episodes": FINAL_EPISODES,
                   "fraction_of_expert": float(measured[medium_steps].mean() / expert_returns.mean())},
    }
    for level, policy in (("expert", expert), ("medium", medium)):
        ExpertPolicy(policy.weights, policy.biases, {**policy.info, "level": level, "card": card}).save(
            workdir / f"{level}.npz")
    tmp = workdir / ".card.json"
    tmp.write_text(json.dumps(card, indent=2))
    os.replace(tmp, workdir / "card.json")
    if progress:
        print(f"expert {config.env}: return {card['expert']['return_mean']:.1f} ± {card['expert']['return_std']:.1f}; "
              f"medium (after {medium_steps} steps) {card['medium']['return_mean']:.1f} "
              f"= {card['medium']['fraction_of_expert']:.2f} of it", file=sys.stderr)
    return card
