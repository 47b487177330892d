"""RLlib training in the learned simulator, resumed from the work folder's checkpoint.

Work directory layout (see progress.py): algorithm/ is the RLlib Algorithm checkpoint (learner, optimizers,
module), every `checkpoint_every` iterations. The replay buffer is not checkpointed: a resumed run refills it
with `learning_starts` random steps in the learned env (seconds).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

from offsim_ray.policy.config import PolicyConfig
from offsim_ray.policy.progress import ProgressLog, read_progress, resume, save_checkpoint
from offsim_ray.policy.trainers import TrainingContext

LEARNER_KEYS = ("actor_loss", "critic_loss", "expert_penalty", "alpha", "q_mean", "policy_loss", "vf_loss",
                "entropy", "mean_kl_loss")


def gradient_steps_per_iteration(config: PolicyConfig) -> int:
    if config.algo == "ppo":
        batch = config.num_envs * config.ppo_rollout
        return config.ppo_epochs * math.ceil(batch / min(config.batch_size, batch))
    return config.updates_per_iteration


def iteration_metrics(result: dict, iteration: int, config: PolicyConfig, seconds: float) -> dict:
    learner = result.get("learners", {}).get("default_policy", {})
    runners = result.get("env_runners", {})
    row = {"iteration": iteration, "policy/updates": iteration * gradient_steps_per_iteration(config),
           "policy/env_steps": float(runners.get("num_env_steps_sampled_lifetime", 0)),
           "policy/learned_return_mean": float(runners.get("episode_return_mean", float("nan"))),
           # below `horizon` when the termination function ends episodes early
           "policy/learned_length_mean": float(runners.get("episode_len_mean", float("nan"))),
           "policy/seconds": seconds}
    row.update({f"policy/{k}": float(learner[k]) for k in LEARNER_KEYS if k in learner})
    return row


def ensure_ray() -> None:
    import ray

    if not ray.is_initialized():
        ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)


def run_iterations(algo, config: PolicyConfig, workdir: Path, label: str, progress: bool = True,
                   report=None) -> tuple[dict, int]:
    """`config.iterations` training iterations of `algo`, resumed from the checkpoint in `workdir` if any;
    returns (last metrics, iterations done before this call)."""
    done, seconds = resume(workdir, "algorithm", label, progress,
                           lambda: algo.restore_from_path(str(workdir / "algorithm")))
    row = {}
    with ProgressLog(workdir, label, config.iterations, progress, report, done) as log:
        for iteration in range(done + 1, config.iterations + 1):
            started = time.perf_counter()
            result = algo.train()
            seconds += time.perf_counter() - started
            row = iteration_metrics(result, iteration, config, seconds)
            log.write(row)
            if iteration % config.checkpoint_every == 0 or iteration == config.iterations:
                save_checkpoint(workdir, "algorithm", iteration, lambda folder: algo.save_to_path(str(folder)))
    if not row:  # every iteration was done before a restart
        row = read_progress(workdir)[-1]
    return row, done


def train_in_simulator(context: TrainingContext):
    """Trains `config.algo` in OffSim-v0 built from the context's artifact, resuming from the workdir's
    checkpoint; returns (RLModule, last metrics)."""
    from offsim_ray.policy.rllib.algorithm import build_algorithm

    config = context.config
    ensure_ray()
    workdir = Path(context.workdir).resolve()  # RLlib writes through pyarrow, which takes absolute paths only
    workdir.mkdir(parents=True, exist_ok=True)
    algo = build_algorithm(config, context.artifact)
    row, done = run_iterations(algo, config, workdir, config.algo, context.progress, context.report)
    algo.env_runner_group.sync_weights(from_worker_or_learner_group=algo.learner_group, inference_only=True)
    module = algo.get_module()
    algo.stop()
    return module, {**row, "policy/resumed_from": float(done)}
