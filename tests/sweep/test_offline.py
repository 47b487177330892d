"""A machine with no network and no prepared data: `offsim-ray data make` and the smoke reproduction of
Table 1 run from the shipped experts, in a network namespace that has only a loopback interface."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd

from offsim_ray.data import DatasetStore, describe

NO_NETWORK = (
    "import socket\n"
    "try:\n"
    "    socket.create_connection(('pypi.org', 443), timeout=5)\n"
    "except OSError:\n"
    "    raise SystemExit(0)\n"
    "raise SystemExit('the network is reachable')\n"
)


def test_data_make_and_smoke_reproduction_without_network_or_data(tmp_path):
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    cli = f"{sys.executable} -m offsim_ray.cli"
    script = " && ".join([
        "ip link set lo up",
        f"{sys.executable} -c \"$NO_NETWORK\"",
        f"{cli} data make --env Hopper-v5 --no-progress",
        f"{cli} reproduce table1 --preset smoke --quiet --storage runs --out results",
    ])
    keep = ("PATH", "LANG", "TMPDIR", "VIRTUAL_ENV")
    env = {**{k: os.environ[k] for k in keep if k in os.environ}, "HOME": str(home), "NO_NETWORK": NO_NETWORK,
           "RAY_AUTH_MODE": "disabled"}
    result = subprocess.run(["unshare", "--map-root-user", "--net", "sh", "-c", script], cwd=work, env=env,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    store = DatasetStore(home / ".minari" / "datasets")
    assert store.ids() == ["local/hopper/expert-v0", "local/hopper/medium-v0", "local/hopper/random-v0"]
    for level in ("expert", "medium", "random"):
        assert f"wrote local/hopper/{level}-v0: 20000 steps" in result.stdout
    expert = describe(store.open("local/hopper/expert-v0"))

    trials = pd.read_parquet(work / "results" / "table1-smoke-trials.parquet")
    assert len(trials) == 10 and (trials["status"] == "finished").all()
    assert set(trials["algo"]) == {"sac", "clare", "mlirl", "iqlearn", "bc"}
    # every trial scored against the made expert data: it stood in for mujoco/hopper/expert-v0
    assert (trials["reference_expert"] == expert.reference.expert).all()
    assert (work / "results" / "table1-smoke.md").read_text().count("Hopper") >= 1
