"""What every trainer writes while it trains: one metrics row per iteration (progress.jsonl, TensorBoard
events, a line on stderr, the sweep's report), and checkpoints that a restarted run resumes from.

Work directory layout:
  progress.json   iterations done at the last checkpoint
  progress.jsonl  one line of `policy/...` metrics per iteration (also TensorBoard events in tensorboard/);
                  a resumed run first drops the rows after its checkpoint, so each iteration has one row
  <checkpoint>/   the trainer's own checkpoint (RLlib's Algorithm, an expert's learner and replay, a
                  plain-torch trainer's state.pt)
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from tensorboardX import SummaryWriter

from offsim_ray.files import read_json, read_jsonl, replaced_dir, write_dir, write_json, write_text

if TYPE_CHECKING:
    from offsim_ray.policy.trainers import TrainingContext

STATE = "trainer"  # a plain-torch trainer's checkpoint folder

def read_progress(workdir: Path) -> list[dict]:
    """The rows of progress.jsonl; a line cut short by a kill is skipped."""
    return read_jsonl(workdir / "progress.jsonl")


class ProgressLog:
    """Each iteration's metrics row: a line of progress.jsonl, TensorBoard scalars, a line on stderr
    (with `progress`) and `report(row)` (a sweep hands it to Ray Tune)."""

    def __init__(self, workdir: Path, label: str, iterations: int, progress: bool, report=None, done: int = 0):
        self.workdir, self.label, self.iterations = workdir, label, iterations
        self.progress, self.report, self.done = progress, report, done

    def __enter__(self) -> ProgressLog:
        self.workdir.mkdir(parents=True, exist_ok=True)
        rows = read_progress(self.workdir)
        if any(row["iteration"] > self.done for row in rows):  # logged after the checkpoint, before a kill
            write_text(self.workdir / "progress.jsonl",
                       "".join(json.dumps(row) + "\n" for row in rows if row["iteration"] <= self.done))
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
        return read_json(workdir / "progress.json", "", f"run {workdir}", {"iteration": int})["iteration"]
    return 0


def seconds_at(workdir: Path, iteration: int) -> float:
    """Training seconds logged up to `iteration` (a resumed run goes on counting from there)."""
    return next((r["policy/seconds"] for r in read_progress(workdir) if r["iteration"] == iteration), 0.0)


def resume(workdir: Path, folder: str, label: str, progress: bool, restore) -> tuple[int, float]:
    """(iterations done, training seconds so far) of the checkpoint in workdir/folder, once `restore()` has
    loaded it, with a line on stderr when `progress`; (0, 0.0) and no call when there is none."""
    done = saved_iteration(workdir, folder)
    if not done:
        return 0, 0.0
    restore()
    if progress:
        print(f"resuming {label} from iteration {done} ({workdir / folder})", file=sys.stderr)
    return done, seconds_at(workdir, done)


def with_rng_states(state: dict) -> dict:
    """`state` and torch's global RNG states: the CPU's, and the GPUs' once CUDA is in use (the actor
    samples on the learner's device)."""
    rng = {"torch_rng": torch.get_rng_state()}
    if torch.cuda.is_initialized():
        rng["cuda_rng"] = torch.cuda.get_rng_state_all()
    return {**state, **rng}


def restore_rng_states(state: dict) -> None:
    """Puts back the RNG states `with_rng_states` saved in `state`."""
    torch.set_rng_state(state["torch_rng"])
    if "cuda_rng" in state:
        torch.cuda.set_rng_state_all(state["cuda_rng"])


class GeneratorState:
    """A torch.Generator with the state_dict() / load_state_dict() of the other parts of a checkpoint."""

    def __init__(self, generator: torch.Generator):
        self.generator = generator

    def state_dict(self) -> dict:
        return {"state": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["state"])


class Iterations:
    """A plain-torch trainer's iterations, resumed where its checkpoint left off: `parts` (name -> an object
    with state_dict() and load_state_dict(): modules, optimisers, generators, buffers) and torch's global
    RNGs are saved every `checkpoint_every` iterations and at the last, so a resumed run learns exactly what
    an uninterrupted one does. `for iteration in run:` gives the iterations still to do; `run.write(iteration,
    metrics)` logs a row with the updates and the seconds so far; `run.last` is the final row."""

    def __init__(self, context: TrainingContext, label: str, parts: dict):
        self.context, self.label, self.parts = context, label, parts
        self.config, self.workdir = context.config, Path(context.workdir)
        self._last: dict = {}

    def __enter__(self) -> Iterations:
        self.done, self.seconds = resume(self.workdir, STATE, self.label, self.context.progress, self._restore)
        self.started = time.perf_counter()
        self.log = ProgressLog(self.workdir, self.label, self.config.iterations, self.context.progress,
                               self.context.report, self.done).__enter__()
        return self

    def _restore(self) -> None:
        state = torch.load(self.workdir / STATE / "state.pt", map_location="cpu")
        for name, part in self.parts.items():
            part.load_state_dict(state[name])
        restore_rng_states(state)

    def __exit__(self, *exc) -> None:
        self.log.__exit__(*exc)

    def __iter__(self):
        return iter(range(self.done + 1, self.config.iterations + 1))

    def write(self, iteration: int, metrics: dict) -> None:
        self._last = {"iteration": iteration, "policy/updates": iteration * self.config.updates_per_iteration,
                      "policy/seconds": self.seconds + time.perf_counter() - self.started, **metrics}
        self.log.write(self._last)
        if iteration % self.config.checkpoint_every == 0 or iteration == self.config.iterations:
            state = with_rng_states({name: part.state_dict() for name, part in self.parts.items()})
            save_checkpoint(self.workdir, STATE, iteration, lambda folder: torch.save(state, folder / "state.pt"))

    @property
    def last(self) -> dict:
        """The final row, with the iteration the run resumed from (every row may predate this run)."""
        return {**(self._last or read_progress(self.workdir)[-1]), "policy/resumed_from": float(self.done)}
