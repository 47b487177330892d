"""`offsim-ray fit`, `fit-report` and `rollout` as a user runs them, and their one-line errors."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.harness import assert_one_line_error, run_cli


@pytest.fixture(scope="module")
def cli_artifact(store, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "sim"
    result = run_cli("fit", "--expert", "hopper-random", "--diverse", "local/hopper/random-v0", "--n", "2000",
                     "--preset", "smoke", "--out", str(out), data_root=store.root)
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}" in result.stdout and "holdout_nll" in result.stdout
    assert '"phase": "minmax"' in result.stderr  # per-step metrics while fitting
    return out


def test_fit_report(cli_artifact, store):
    result = run_cli("fit-report", str(cli_artifact), "--dataset", "local/hopper/random-v0", data_root=store.root)
    assert result.returncode == 0, result.stderr
    rows = dict(line.split(None, 1) for line in result.stdout.splitlines())
    assert rows["env"] == "Hopper-v5"
    assert rows["data"].startswith("local/hopper/random-v0 + local/hopper/random-v0: 2000 transitions, 200 held out")
    for key in ("sim/holdout_nll", "sim/holdout_mse", "sim/reward_gap", "sim/hinge_violation",
                "reward/seen_expert", "reward/unseen_expert", "reward/seen_diverse", "reward/unseen_diverse",
                "reward/local/hopper/random-v0"):
        assert abs(float(rows[key])) < 1e3, key


def test_rollout(cli_artifact):
    result = run_cli("rollout", str(cli_artifact), "--num-envs", "32", "--steps", "10", "--horizon", "5")
    assert result.returncode == 0, result.stderr
    # horizon 5 with next-step autoreset: steps 1-5 end an episode, step 6 resets, steps 7-11 are the next one
    assert result.stdout.startswith("320 random-action transitions") and "32 episodes ended" in result.stdout


def test_dataset_with_other_spaces(cli_artifact, store):
    result = run_cli("fit-report", str(cli_artifact), "--dataset", "halfcheetah-random", data_root=store.root)
    assert_one_line_error(result, "different envs")


def test_bad_horizon(cli_artifact):
    assert_one_line_error(run_cli("rollout", str(cli_artifact), "--horizon", "0"),
                          "horizon must be a positive number of steps, got 0")


@pytest.mark.parametrize("flags, fragment", [
    (["--beta", "-1"], "invalid simulator config: beta=-1.0"),
    (["--alpha", "-0.5"], "invalid simulator config: alpha=-0.5"),
    (["--margin", "-1"], "margin=-1.0 (m must be ≥ 0)"),
    (["--steps", "0", "--warmup-steps", "0"], "steps=0 (a fit needs warmup_steps + steps > 0)"),
    (["--device", "foo"], "--device 'foo' is not a torch device"),
    (["--device", "cuda:64"], "--device 'cuda:64': this machine has"),
    (["--alpha", "inf"], "alpha=inf (not a finite number)"),
    (["--n", "5"], "leave no rows to hold out"),
])
def test_bad_fit_settings(store, tmp_path, flags, fragment):
    result = run_cli("fit", "--expert", "hopper-random", "--n", "500", "--preset", "smoke", "--out",
                     str(tmp_path / "sim"), *flags, data_root=store.root)
    assert_one_line_error(result, fragment)
    assert not (tmp_path / "sim").exists()


def test_existing_output_is_kept(cli_artifact, store):
    before = (cli_artifact / "weights.pt").read_bytes()
    result = run_cli("fit", "--expert", "hopper-random", "--n", "500", "--preset", "smoke", "--out",
                     str(cli_artifact), data_root=store.root)
    assert_one_line_error(result, "already exists; pass --overwrite")
    assert (cli_artifact / "weights.pt").read_bytes() == before


def test_overwrite_replaces_only_a_simulator_artifact(store, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    (tmp_path / "file").write_text("keep")
    for target in ("mine", "file"):
        result = run_cli("fit", "--expert", "hopper-random", "--n", "500", "--preset", "smoke", "--out",
                         str(tmp_path / target), "--overwrite", data_root=store.root)
        assert_one_line_error(result, f"{tmp_path / target} exists and is not a simulator artifact")
    assert (tmp_path / "mine" / "notes.txt").read_text() == (tmp_path / "file").read_text() == "keep"


def test_an_interrupted_replacement_is_named_before_the_fit(store, tmp_path):
    """A kill between the renames of `fit --overwrite` left the old artifact aside and none in place."""
    (tmp_path / ".sim.replaced").mkdir()
    result = run_cli("fit", "--expert", "hopper-random", "--n", "500", "--preset", "smoke", "--out",
                     str(tmp_path / "sim"), "--overwrite", data_root=store.root)
    assert_one_line_error(result, f"{tmp_path / '.sim.replaced'} holds the only copy of {tmp_path / 'sim'}")
    assert (tmp_path / ".sim.replaced").is_dir() and not (tmp_path / "sim").exists()


def test_fit_report_names_a_bad_line_of_the_fit_history(cli_artifact, tmp_path):
    artifact = shutil.copytree(cli_artifact, tmp_path / "sim")
    with open(artifact / "metrics.jsonl", "a") as f:
        f.write('{"sim/holdout_nll": 1.0, "cut\n')
    lines = len((artifact / "metrics.jsonl").read_text().splitlines())
    assert_one_line_error(run_cli("fit-report", str(artifact)), f"metrics.jsonl: line {lines} is not JSON")


def test_other_format_version_and_corrupt_artifact(cli_artifact, tmp_path):
    old = shutil.copytree(cli_artifact, tmp_path / "old")
    meta = json.loads((old / "meta.json").read_text())
    (old / "meta.json").write_text(json.dumps({**meta, "format_version": 99}))
    assert_one_line_error(run_cli("fit-report", str(old)), "format version 99")
    broken = shutil.copytree(cli_artifact, tmp_path / "broken")
    (broken / "weights.pt").write_bytes(b"not a checkpoint")
    assert_one_line_error(run_cli("fit-report", str(broken)), "is corrupt")
    assert_one_line_error(run_cli("rollout", str(broken)), "is corrupt")
