"""Sweep-stage fixtures: where the sweeps read their data, and the four smoke sweeps every sweep test reads."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.harness import BENCH_IDS, BENCH_ROOT

NO_NETWORK = (
    "import socket\n"
    "try:\n"
    "    socket.create_connection(('pypi.org', 443), timeout=5)\n"
    "except OSError:\n"
    "    raise SystemExit(0)\n"
    "raise SystemExit('the network is reachable')\n"
)


@pytest.fixture(scope="session")
def sweep_data(store) -> list[str]:
    """CLI flags naming the data: the benchmark store's D4RL-style datasets when present, else the
    collected random data in every role."""
    if {"bench/hopper/expert-v0", "bench/hopper/random-v0", "bench/halfcheetah/medium-v0"} <= set(BENCH_IDS):
        return ["--data-root", str(BENCH_ROOT), "--datasets", "bench/{env}/{level}-v0", "--offline"]
    return ["--data-root", str(store.root), "--datasets", "local/{env}/random-v0", "--offline"]


@dataclass(frozen=True)
class Reproduction:
    root: Path                           # runs/ (the sweeps) and results/ (tables and report)
    home: Path                           # the user's home: ~/.minari/datasets holds the made data
    result: subprocess.CompletedProcess  # both commands' output

    @property
    def env(self) -> dict[str, str]:
        """The environment to run further commands on the same data."""
        return {"HOME": str(self.home)}


@pytest.fixture(scope="session")
def reproduced(tmp_path_factory) -> Reproduction:
    """A user's first steps on a machine with no network and no data: `offsim-ray data make` for Hopper and
    HalfCheetah from the shipped experts (5000 steps a dataset, for a 4000-row smoke fit), then `offsim-ray
    reproduce all --preset smoke`, the four smoke sweeps and their tables and report, in a network namespace
    that has only a loopback interface."""
    root = tmp_path_factory.mktemp("reproduce")
    home = root / "home"
    home.mkdir()
    cli = f"{sys.executable} -m offsim_ray.cli"
    script = " && ".join([
        "ip link set lo up",
        f"{sys.executable} -c \"$NO_NETWORK\"",
        *(f"{cli} data make --env {env} --steps 5000 --no-progress" for env in ("Hopper-v5", "HalfCheetah-v5")),
        f"{cli} reproduce all --preset smoke --quiet --storage {root / 'runs'} --out {root / 'results'}",
    ])
    keep = ("PATH", "LANG", "TMPDIR", "VIRTUAL_ENV")
    env = {**{k: os.environ[k] for k in keep if k in os.environ}, "HOME": str(home), "NO_NETWORK": NO_NETWORK,
           "RAY_AUTH_MODE": "disabled"}
    result = subprocess.run(["unshare", "--map-root-user", "--net", "sh", "-c", script], cwd=root, env=env,
                            capture_output=True, text=True, timeout=1500)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return Reproduction(root, home, result)
