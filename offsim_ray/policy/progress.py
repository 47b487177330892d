"""What every trainer writes while it trains: one metrics row per iteration (progress.jsonl, TensorBoard
events, a line on stderr, the sweep's report), and checkpoints that a restarted run resumes from.

Work directory layout:
  progress.json   iterations done at the last checkpoint
  progress.jsonl  one line of `policy/...` metrics per iteration (also TensorBoard events in tensorboard/)
  <checkpoint>/   the trainer's own checkpoint (RLlib's Algorithm, an expert's learner and replay)
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

from tensorboardX import SummaryWriter

from offsim_ray.files import read_jsonl, replaced_dir, write_dir, write_json

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


