"""`offsim-ray train` and `offsim-ray evaluate` as a user runs them, bad input included."""

from __future__ import annotations

import json

import pytest

from tests.harness import assert_one_line_error, run_cli


def test_train_from_yaml_with_flags_overriding_it_into_a_relative_directory(tmp_path, trial_data):
    data_root, expert = trial_data
    config = tmp_path / "trial.yaml"
    config.write_text(f"expert: {expert}\nalgo: ppo\npreset: smoke\nseed: 3\nn: 3000\nout: {tmp_path / 'unused'}\n"
                      "policy:\n  iterations: 2\n")
    result = run_cli("train", str(config), "--algo", "bc", "--out", "run",  # relative to the working directory
                     "--data-root", data_root, "--no-progress", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["trial/algo"] == "bc" and metrics["trial/seed"] == 3
    resolved = json.loads((tmp_path / "run" / "trial.json").read_text())
    assert resolved["policy"]["iterations"] == 2 and resolved["n"] == 3000
    shown = dict(line.split(maxsplit=1) for line in result.stdout.splitlines()[:-1])
    assert float(shown["eval/return_mean"]) == pytest.approx(metrics["eval/return_mean"], abs=1e-3)
    assert not (tmp_path / "unused").exists()


def test_train_rejects_an_unsupported_algorithm(tmp_path):
    result = run_cli("train", "--expert", "hopper-expert", "--algo", "td3", "--out", str(tmp_path / "x"))
    assert result.returncode == 2
    assert_one_line_error(result, "td3")


@pytest.mark.parametrize("text, fragment", [
    ("expert: hopper-expert\nout: OUT\nalgo: td3\n", "algo is one of sac, ddpg, ppo, bc, clare, mlirl, iqlearn"),
    ("expert: hopper-expert\nout: OUT\nlearning_rate: 3\n", "unknown trial config keys: learning_rate"),
    ("expert: hopper-expert\nout: OUT\npolicy:\n  horizon: 0\n", "horizon=0"),
    ("expert: hopper-expert\n", "needs out"),
    ("expert: [unclosed\n", "not valid YAML"),
])
def test_train_rejects_a_bad_config_file(tmp_path, text, fragment):
    config = tmp_path / "trial.yaml"
    config.write_text(text.replace("OUT", str(tmp_path / "out")))
    assert_one_line_error(run_cli("train", str(config)), fragment)


def test_train_rejects_a_directory_that_is_no_simulator_artifact(tmp_path, trial_data):
    data_root, expert = trial_data
    (tmp_path / "notes").mkdir()
    result = run_cli("train", "--expert", expert, "--data-root", data_root, "--preset", "smoke",
                     "--out", str(tmp_path / "run"), "--artifact", str(tmp_path / "notes"))
    assert_one_line_error(result, "is not a simulator artifact")


def test_train_rejects_an_artifact_fit_on_other_data(tmp_path, trial_data, fitted):
    data_root, expert = trial_data
    result = run_cli("train", "--expert", expert, "--data-root", data_root, "--preset", "smoke",
                     "--out", str(tmp_path / "run"), "--artifact", str(fitted[2]))
    assert_one_line_error(result, "was fit on other data")


def test_evaluate_rejects_an_env_with_other_spaces(trials):
    config, _ = trials["sac"]
    assert_one_line_error(run_cli("evaluate", config.out, "--env", "Walker2d-v5"), "Walker2d-v5 has observations")


def test_evaluate_rejects_a_directory_without_a_policy(tmp_path):
    assert_one_line_error(run_cli("evaluate", str(tmp_path)), "holds no trained policy")
