"""`offsim-ray experts train`: SAC in the real Hopper env, killed and resumed, then exported."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import psutil
import pytest
import torch

from offsim_ray.data.collect import run_episodes
from offsim_ray.data.experts import ExpertPolicy, expert_files
from tests.harness import REPO, assert_one_line_error, run_cli

TINY = ["--env", "Hopper-v5", "--steps", "600", "--iteration-steps", "200", "--hidden", "32", "--batch-size", "64",
        "--learning-starts", "256"]


def test_portable_policy_acts_like_the_sac_module():
    from ray.rllib.core.columns import Columns

    from offsim_ray.policy.actor_critic import SquashedGaussian
    from offsim_ray.policy.actor_critic import build_module
    from offsim_ray.policy.config import PolicyConfig
    from offsim_ray.policy.expert_training import portable_policy

    low, high = np.full(3, -0.5, np.float32), np.full(3, 2.0, np.float32)
    module = build_module(PolicyConfig(hidden=32, layers=3), 11, low, high, inference_only=True)
    policy = portable_policy(module, {"env_id": "Hopper-v5", "action_low": low.tolist(), "action_high": high.tolist()})
    obs = np.random.default_rng(0).normal(size=(32, 11)).astype(np.float32)
    with torch.no_grad():
        logits = module.forward_inference({Columns.OBS: torch.as_tensor(obs)})[Columns.ACTION_DIST_INPUTS]
        unit = SquashedGaussian.from_logits(logits).to_deterministic().sample().numpy()
    np.testing.assert_allclose(policy.mean_action(obs), low + (unit + 1) * 0.5 * (high - low), atol=1e-5)


def _train(out, *extra, wait=True):
    command = [sys.executable, "-m", "offsim_ray.cli", "experts", "train", *TINY, "--out", str(out), *extra]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if wait:
        return subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO, timeout=400)
    with open(out.parent / "first.log", "w") as log:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO)


def test_expert_training_survives_a_kill_and_writes_expert_and_medium(tmp_path):
    out = tmp_path / "run"
    first = _train(out, wait=False)
    deadline = time.time() + 300
    while not (out / "progress.json").exists() and time.time() < deadline and first.poll() is None:
        time.sleep(0.1)
    assert first.poll() is None, (tmp_path / "first.log").read_text()[-2000:]
    parent = psutil.Process(first.pid)
    for process in [parent, *parent.children(recursive=True)]:
        try:
            process.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    first.wait()
    done = json.loads((out / "progress.json").read_text())["iteration"]
    assert 1 <= done < 3

    result = _train(out)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"resuming expert Hopper-v5 from iteration {done}" in result.stderr
    # the replay came back from the checkpoint: the warm-up ran once, every env step is in it once
    with np.load(out / "checkpoint" / "replay.npz") as replay:
        assert len(replay["obs"]) == 256 + 600
    assert sorted(p.name for p in (out / "snapshots").iterdir()) == ["200.npz", "400.npz", "600.npz"]

    card = json.loads((out / "card.json").read_text())
    assert card["command"] == "offsim-ray experts train " + " ".join(TINY[:2]) + " --out DIR " + " ".join(TINY[2:])
    assert card["env_steps"] == 600
    assert card["expert"]["env_steps"] in (200, 400, 600) and card["medium"]["env_steps"] in (200, 400, 600)
    assert card["expert"]["episodes"] == 10 and card["train_seconds"] > 0
    files = expert_files(out, "Hopper-v5")
    expert = ExpertPolicy.load(files["expert"])
    assert expert.info["level"] == "expert" and expert.info["card"] == card
    best = max((p for p in (out / "snapshots").iterdir()),
               key=lambda p: run_episodes(ExpertPolicy.load(p).mean_action, "Hopper-v5", 10, seed=10_000)[0].mean())
    assert best.name == f"{card['expert']['env_steps']}.npz"
    np.testing.assert_array_equal(expert.weights[0], ExpertPolicy.load(best).weights[0])
    returns, _ = run_episodes(expert.mean_action, "Hopper-v5", 10, seed=10_000)
    assert np.mean(returns) == card["expert"]["return_mean"]
    assert f"return {card['expert']['return_mean']:.1f}" in result.stdout

    # a kill between the two renames of a checkpoint leaves the previous one, which a rerun picks up
    os.replace(out / "checkpoint", out / ".checkpoint.replaced")
    longer = run_cli("experts", "train", *TINY, "--out", str(out), "--steps", "800", timeout=400)
    assert longer.returncode == 0, longer.stderr[-2000:]
    assert "resuming expert Hopper-v5 from iteration 3" in longer.stderr
    assert json.loads((out / "card.json").read_text())["env_steps"] == 800
    assert not (out / ".checkpoint.replaced").exists()

    # a smaller budget trains no more: the card is written from the snapshots within it
    shorter = run_cli("experts", "train", *TINY, "--out", str(out), "--steps", "400", timeout=400)
    assert shorter.returncode == 0, shorter.stderr[-2000:]
    card = json.loads((out / "card.json").read_text())
    assert card["env_steps"] == 400 and card["expert"]["env_steps"] in (200, 400)
    assert json.loads((out / "progress.json").read_text())["iteration"] == 4

    changed = run_cli("experts", "train", *TINY, "--out", str(out), "--hidden", "64")
    assert_one_line_error(changed, str(out), "hidden differ")


def test_bad_expert_settings_are_one_line(tmp_path):
    assert_one_line_error(run_cli("experts", "train", "--env", "NoSuchEnv-v0", "--out", str(tmp_path / "a")),
                          "cannot make env NoSuchEnv-v0")
    assert_one_line_error(run_cli("experts", "train", "--env", "Hopper-v5", "--out", str(tmp_path / "b"),
                                  "--batch-size", "512", "--learning-starts", "100"), "learning_starts=100")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()  # refused runs leave no folder


@pytest.mark.parametrize("files, fragment", [
    ({"config.json": "[1]"}, "config.json holds a list, not a mapping"),
    ({"config.json": '{"nope": 1}'}, "config.json is not an expert config (unknown expert config keys: nope)"),
    ({"checkpoint/replay.npz": "", "progress.json": "[]"}, "progress.json holds a list, not a mapping"),
    ({"checkpoint/replay.npz": "", "progress.json": '{"iteration": "x"}'},
     "progress.json's iteration is 'x', not an integer"),
    ({"checkpoint/learner.pt": "junk", "progress.json": '{"iteration": 1}'}, "its checkpoint"),
])
def test_a_damaged_expert_run_is_named_before_it_resumes(tmp_path, files, fragment):
    from offsim_ray.errors import OffSimError
    from offsim_ray.policy.config import ExpertConfig
    from offsim_ray.policy.expert_training import train_expert

    for name, text in files.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    config = ExpertConfig(env_steps=10, iteration_steps=10, hidden=8, batch_size=8, learning_starts=8)
    with pytest.raises(OffSimError, match=re.escape(f"{tmp_path}: {fragment}")):
        train_expert(config, tmp_path, progress=False)
