"""Shared test harness: where the benchmark datasets are, the datasets tests make, a runner for the real
`offsim-ray` command, and the small trial configs and sweep specs the tests build on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from offsim_ray.data import DatasetStore

REPO = Path(__file__).resolve().parents[1]
BENCH_ROOT = Path(os.environ.get("OFFSIM_BENCH_DATA", REPO.parent / "shared" / "datasets"))
BENCH_IDS = DatasetStore(BENCH_ROOT).ids()

ALGOS = ("sac", "ddpg", "ppo", "bc", "clare", "mlirl", "iqlearn")

# Small real datasets the tests make: (dataset id, env id, steps).
COLLECTED = [
    ("local/hopper/random-v0", "Hopper-v5", 3000),
    ("local/walker2d/random-v0", "Walker2d-v5", 2000),
    ("local/halfcheetah/random-v0", "HalfCheetah-v5", 1000),
]


def run_cli(*args: str, data_root: Path | None = None, env: dict | None = None,
            cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run `offsim-ray ARGS` in a fresh interpreter, as a user would."""
    full_env = {**os.environ, "OFFSIM_OFFLINE": "1", **(env or {})}
    if data_root is not None:
        full_env["MINARI_DATASETS_PATH"] = str(data_root)
    return subprocess.run(
        [sys.executable, "-m", "offsim_ray.cli", *args],
        capture_output=True, text=True, env=full_env, timeout=timeout, cwd=cwd or REPO,
    )


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    """Bad input: non-zero exit, exactly one line on stderr naming what failed, no traceback."""
    assert result.returncode != 0, result
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("offsim-ray: error:"), lines[0]
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def make_nonfinite_dataset(store: DatasetStore, dataset_id: str) -> None:
    """A 400-step random Hopper dataset of which 4 transitions hold NaN or inf."""
    import h5py
    import numpy as np

    from offsim_ray.data import collect_dataset

    collect_dataset(store, "Hopper-v5", "random", 400, dataset_id, seed=0, progress=False)
    with h5py.File(store.data_dir(dataset_id) / "main_data.hdf5", "a") as f:
        obs = f["episode_0/observations"]
        values = obs[...]
        values[2, 3] = np.nan  # row 1's next_obs and row 2's obs
        values[4, 0] = np.inf  # rows 3 and 4
        obs[...] = values


def smoke_config(trial_data, out, algo: str = "sac", **changes):
    from offsim_ray.trial import TrialConfig

    data_root, expert = trial_data
    return TrialConfig(**{"expert": expert, "out": str(out), "algo": algo, "preset": "smoke", "n": 4000,
                          "data_root": data_root, "offline": True, **changes})


def write_spec(path: Path, **changes) -> Path:
    """A table1 spec of two smoke trials on Hopper expert data (SAC and BC), changed by `changes`; its
    workers run trial after trial, as the shipped smoke presets' do."""
    spec = {
        "name": "table1",
        "grid": {"env": ["hopper"], "dataset": ["expert"], "algo": ["sac", "bc"], "seed": [0]},
        "trial": {"n": 4000},
        "resources": {"cpu": 1},
        "reuse_workers": True,
        **changes,
    }
    path.write_text(yaml.safe_dump(spec))
    return path
