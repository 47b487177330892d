"""Training iterations with checkpoints, so a restarted run resumes: policies in the learned simulator
(here) and experts in a real env (experts.py).

Work directory layout:
  algorithm/      the RLlib Algorithm checkpoint (learner, optimizers, module), every `checkpoint_every`
  progress.json   iterations done at that checkpoint
  progress.jsonl  one line of `policy/...` metrics per iteration (also TensorBoard events in tensorboard/)
The replay buffer is not checkpointed: a resumed run refills it with `learning_starts` random steps in the
learned env (seconds).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path

from tensorboardX import SummaryWriter

from offsim_ray.files import read_jsonl, replaced_dir, write_dir, write_json
from offsim_ray.policy.config import PolicyConfig
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
           "policy/seconds": seconds}
    row.update({f"policy/{k}": float(learner[k]) for k in LEARNER_KEYS if k in learner})
    return row


def ensure_ray() -> None:
    import ray

    if not ray.is_initialized():
        ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)


def read_progress(workdir: Path) -> list[dict]:
    """The rows of progress.jsonl; a line cut short by a kill is skipped."""
    return read_jsonl(workdir / "progress.jsonl")


class ProgressLog:
    """Each iteration's metrics row: a line of progress.jsonl, TensorBoard scalars, a line on stderr
    (with `progress`) and `report(row)` (a sweep hands it to Ray Tune)."""

    def __init__(self, workdir: Path, label: str, iterations: int, progress: bool, report=None):
        self.workdir, self.label, self.iterations = workdir, label, iterations
        self.progress, self.report = progress, report

    def __enter__(self) -> ProgressLog:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._writer = SummaryWriter(str(self.workdir / "tensorboard"))
        self._log = open(self.workdir / "progress.jsonl", "a")
        return self

    def __exit__(self, *exc) -> None:
        self._log.close()
        self._writer.close()

    def write(self, row: dict) -> None:
        self._log.write(json.dumps(row) + "\n")
        self._log.flush()
        for key, value in row.items():
            if "/" in key and math.isfinite(value):
                self._writer.add_scalar(key, value, row["iteration"])
        if self.report is not None:
            self.report(row)
        if self.progress:
            shown = "  ".join(f"{k.split('/')[1]} {v:.4g}" for k, v in row.items() if "/" in k)
            print(f"{self.label} {row['iteration']}/{self.iterations}  {shown}", file=sys.stderr)


def save_checkpoint(workdir: Path, name: str, iteration: int, write) -> None:
    """`write(folder)` fills a fresh folder that then replaces `workdir/name` by renames only, so a kill
    at any moment leaves one whole checkpoint; progress.json records `iteration` after it."""
    write_dir(workdir / name, write)
    write_json(workdir / "progress.json", {"iteration": iteration})


def saved_iteration(workdir: Path, name: str) -> int:
    """Iterations done at the checkpoint `workdir/name` (0 without one); one left between the two renames
    of `save_checkpoint` by a kill is put back first."""
    if not (workdir / name).exists() and replaced_dir(workdir / name).exists():
        os.replace(replaced_dir(workdir / name), workdir / name)
    if (workdir / name).exists() and (workdir / "progress.json").exists():
        return json.loads((workdir / "progress.json").read_text())["iteration"]
    return 0


def seconds_at(workdir: Path, iteration: int) -> float:
    """Training seconds logged up to `iteration` (a resumed run goes on counting from there)."""
    return next((r["policy/seconds"] for r in read_progress(workdir) if r["iteration"] == iteration), 0.0)


def run_iterations(algo, config: PolicyConfig, workdir: Path, label: str, progress: bool = True,
                   report=None) -> tuple[dict, int]:
    """`config.iterations` training iterations of `algo`, resumed from the checkpoint in `workdir` if any;
    returns (last metrics, iterations done before this call)."""
    done = saved_iteration(workdir, "algorithm")
    seconds = 0.0
    if done:
        algo.restore_from_path(str(workdir / "algorithm"))
        seconds = seconds_at(workdir, done)
        if progress:
            print(f"resuming {label} from iteration {done} ({workdir / 'algorithm'})", file=sys.stderr)
    row = {}
    with ProgressLog(workdir, label, config.iterations, progress, report) as log:
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
    from offsim_ray.policy.algorithm import build_algorithm

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
