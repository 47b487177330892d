"""Smoke-preset trials end to end (data -> simulator -> OffSim-v0 -> RLlib -> real-env evaluation) for
SAC, DDPG, PPO, BC and the IRL baselines CLARE, ML-IRL and IQ-Learn: the pipeline's invariants, not
learning quality."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from offsim_ray.errors import OffSimError
from tests.harness import run_cli
from tests.harness import ALGOS, smoke_config

RL_ALGOS = ("sac", "ddpg", "ppo")
BASELINES = ("clare", "mlirl", "iqlearn")


@pytest.mark.parametrize("algo", ALGOS)
def test_trial_metrics_are_finite_and_well_formed(trials, algo):
    from offsim_ray.policy.rllib.training import gradient_steps_per_iteration

    config, metrics = trials[algo]
    policy = config.policy_config()
    assert metrics["trial/algo"] == algo and metrics["trial/env_id"] == "Hopper-v5"
    assert metrics["eval/episodes"] == policy.eval_episodes
    for key in ("eval/return_mean", "eval/return_std", "eval/normalized_score", "eval/length_mean",
                "trial/seconds"):
        assert math.isfinite(metrics[key]), key
    assert json.loads((Path(config.out) / "metrics.json").read_text()) == metrics
    assert metrics["policy/updates"] == policy.iterations * gradient_steps_per_iteration(policy)
    assert all(math.isfinite(v) for k, v in metrics.items() if k.startswith(("sim/", "policy/", "irl/")))
    if algo in RL_ALGOS:
        assert metrics["policy/env_steps"] > 0
        assert math.isfinite(metrics["policy/learned_return_mean"])
        assert 1 <= metrics["policy/learned_length_mean"] <= policy.horizon


def test_normalised_score_uses_the_datasets_reference(trials, trial_data):
    from offsim_ray.data import DatasetStore, dataset_reference

    _, metrics = trials["sac"]
    reference = dataset_reference(trial_data[1], DatasetStore(trial_data[0]), download=False)
    assert metrics["eval/normalized_score"] == pytest.approx(float(reference.normalize(metrics["eval/return_mean"])))


def test_rl_trials_share_one_simulator_fit(trials):
    reused = [trials[algo][1]["sim/reused"] for algo in RL_ALGOS]
    assert reused == [0.0, 1.0, 1.0]
    seconds = [trials[algo][1]["sim/fit_seconds"] for algo in RL_ALGOS]
    assert seconds == pytest.approx([seconds[0]] * 3, abs=1e-3)  # the artifact keeps milliseconds


@pytest.mark.parametrize("algo", RL_ALGOS)
def test_trial_checkpoints_and_logs_every_iteration(trials, algo):
    config, _ = trials[algo]
    training = Path(config.out) / "training"
    iterations = config.policy_config().iterations
    assert json.loads((training / "progress.json").read_text()) == {"iteration": iterations}
    assert (training / "algorithm").is_dir()
    rows = [json.loads(line) for line in (training / "progress.jsonl").read_text().splitlines()]
    assert [row["iteration"] for row in rows] == list(range(1, iterations + 1))
    assert list((training / "tensorboard").glob("events.out.tfevents.*"))


def test_bc_logs_every_iteration_like_every_other_trainer(trials):
    config, metrics = trials["bc"]
    training = Path(config.out) / "training"
    rows = [json.loads(line) for line in (training / "progress.jsonl").read_text().splitlines()]
    assert [row["iteration"] for row in rows] == list(range(1, config.policy_config().iterations + 1))
    loss = f"policy/bc_{config.policy_config().expert_loss}"
    assert rows[-1][loss] == metrics[loss] and list((training / "tensorboard").glob("events.*"))


@pytest.mark.parametrize("algo", BASELINES)
def test_baseline_logs_every_iteration_with_its_own_hyper_parameters(trials, algo):
    from offsim_ray.policy.config import ALGORITHM_DEFAULTS

    config, metrics = trials[algo]
    policy = config.policy_config()
    assert {k: getattr(policy, k) for k in ALGORITHM_DEFAULTS[algo]} == ALGORITHM_DEFAULTS[algo]
    training = Path(config.out) / "training"
    rows = [json.loads(line) for line in (training / "progress.jsonl").read_text().splitlines()]
    assert [row["iteration"] for row in rows] == list(range(1, policy.iterations + 1))
    assert any(key.startswith("irl/") for key in rows[-1]) and list((training / "tensorboard").glob("events.*"))
    if policy.value_clamp and policy.clamp_bound == "range":  # CLARE, ML-IRL: TD targets within their reward's returns
        assert all(row["policy/value_low"] <= 0.0 <= row["policy/value_high"] for row in rows)
        assert rows[-1]["policy/value_high"] > rows[-1]["policy/value_low"]
    assert metrics["policy/alpha"] == pytest.approx(policy.initial_alpha, rel=0.5)
    # checkpointed while it trained (the resume test below), its checkpoint gone once the trial finished
    assert json.loads((training / "progress.json").read_text()) == {"iteration": policy.iterations}
    assert not (training / "trainer").exists() and metrics["policy/resumed_from"] == 0


def test_model_based_baselines_share_one_maximum_likelihood_ensemble(trials):
    """CLARE and ML-IRL roll out the same T_θ, fit without min-max steps and kept apart from OffSim's."""
    fits = [trials[algo][1] for algo in ("clare", "mlirl")]
    assert [fit["sim/reused"] for fit in fits] == [0.0, 1.0]
    artifacts = [p for p in Path(trials["clare"][0].simulators).iterdir() if not p.name.startswith(".")]
    assert len(artifacts) == 1 and json.loads((artifacts[0] / "meta.json").read_text())["config"]["steps"] == 0
    assert "sim/loss_reward" not in fits[0] and "sim/margin" not in fits[0]


@pytest.mark.parametrize("algo", ALGOS)
def test_saved_policy_acts_deterministically_inside_the_action_box(trials, algo):
    from offsim_ray.policy.artifact import Policy

    config, _ = trials[algo]
    policy = Policy.load(Path(config.out) / "policy")
    obs = np.random.default_rng(0).normal(size=(32, policy.info["obs_dim"])).astype(np.float32)
    actions = policy.act(obs)
    assert actions.shape == (32, policy.info["action_dim"])
    assert np.all(actions >= np.array(policy.info["action_low"]) - 1e-6)
    assert np.all(actions <= np.array(policy.info["action_high"]) + 1e-6)
    assert np.array_equal(actions, policy.act(obs))


def test_evaluate_command_reproduces_the_trials_evaluation(trials):
    config, metrics = trials["ddpg"]
    result = run_cli("evaluate", config.out, "--episodes", str(metrics["eval/episodes"]), "--seed", str(config.seed))
    assert result.returncode == 0, result.stderr
    shown = dict(line.split(maxsplit=1) for line in result.stdout.splitlines())
    assert float(shown["eval/return_mean"]) == pytest.approx(metrics["eval/return_mean"], abs=1e-3)


def test_finished_trial_returns_its_metrics_without_rerunning(trials):
    from offsim_ray.trial import run_trial

    config, metrics = trials["ppo"]
    written = (Path(config.out) / "metrics.json").stat().st_mtime_ns
    reported = []
    assert run_trial(config, progress=False, report=reported.append) == metrics
    assert (Path(config.out) / "metrics.json").stat().st_mtime_ns == written
    # its learning curve is reported again, so a rerun sweep's report still draws it
    assert [row["iteration"] for row in reported] == list(range(1, config.policy_config().iterations + 1))
    assert reported[-1]["policy/updates"] == metrics["policy/updates"]


def test_other_config_in_a_finished_trial_directory_is_refused(trials, trial_data):
    from offsim_ray.trial import run_trial

    config, _ = trials["sac"]
    with pytest.raises(OffSimError, match="another config"):
        run_trial(smoke_config(trial_data, config.out, "sac", seed=5), progress=False)


def test_interrupted_training_resumes_from_its_checkpoint(local_ray, trials, tmp_path):
    """Two iterations, then the same run asked for four: it restores the checkpoint and runs 3 and 4."""
    from offsim_ray.policy.trainers import TrainingContext
    from offsim_ray.policy.rllib.training import train_in_simulator

    config, _ = trials["sac"]
    policy = config.policy_config().with_(checkpoint_every=2)
    for iterations in (2, 4):
        _, last = train_in_simulator(TrainingContext(None, policy.with_(iterations=iterations), None, None, tmp_path,
                                                     config.artifact, progress=False))
    rows = [json.loads(line) for line in (tmp_path / "progress.jsonl").read_text().splitlines()]
    assert [row["iteration"] for row in rows] == [1, 2, 3, 4]
    assert last["policy/updates"] == 4 * policy.updates_per_iteration
    assert json.loads((tmp_path / "progress.json").read_text()) == {"iteration": 4}


def plain_torch_training(config, iterations: int, workdir: Path):
    """The trial's own trainer, data and simulator, run for `iterations` in `workdir`, checkpointing every 2."""
    from offsim_ray.data import DatasetStore, training_transitions
    from offsim_ray.policy.trainers import TRAINERS, TrainingContext
    from offsim_ray.simulator.simulator import action_bounds
    from offsim_ray.trial import prepared_simulator

    store = DatasetStore.from_env(config.data_root)
    data = training_transitions(config.expert, None, config.n, config.seed, store, download=False)
    trainer = TRAINERS[config.algo]
    artifact, simulator, _ = prepared_simulator(config, trainer, data, store, progress=False)
    policy = config.policy_config().with_(iterations=iterations, checkpoint_every=2)
    return trainer.train(TrainingContext(data, policy, *action_bounds(data), workdir, artifact, simulator,
                                         progress=False))


@pytest.mark.parametrize("algo", ("bc", *BASELINES))
def test_an_interrupted_plain_torch_trainer_resumes_to_the_uninterrupted_result(trials, tmp_path, algo):
    """Four iterations straight, against two, a kill once a third was logged, and a restart asked for four:
    the restart restores the checkpoint of iteration 2, logs 3 and 4 once each, and ends with the same
    weights and metrics to the last bit."""
    config, _ = trials[algo]
    straight, straight_last = plain_torch_training(config, 4, tmp_path / "straight")
    killed = tmp_path / "killed"
    plain_torch_training(config, 2, killed)
    with open(killed / "progress.jsonl", "a") as log:  # iteration 3's row, logged before the kill
        log.write(json.dumps({"iteration": 3, "policy/updates": -1.0}) + "\n")
    resumed, resumed_last = plain_torch_training(config, 4, killed)
    rows = [json.loads(line) for line in (killed / "progress.jsonl").read_text().splitlines()]
    expected = [json.loads(line) for line in (tmp_path / "straight" / "progress.jsonl").read_text().splitlines()]
    assert [row["iteration"] for row in rows] == [1, 2, 3, 4]
    drop_seconds = lambda row: {k: v for k, v in row.items() if k not in ("policy/seconds", "policy/resumed_from")}  # noqa: E731
    assert [drop_seconds(row) for row in rows] == [drop_seconds(row) for row in expected]
    assert resumed_last["policy/resumed_from"] == 2 and straight_last["policy/resumed_from"] == 0
    for key, tensor in straight.state_dict().items():
        assert torch.equal(resumed.state_dict()[key], tensor), key


@pytest.mark.parametrize("algo", RL_ALGOS)
def test_a_trial_run_again_with_its_seed_learns_the_same_policy(trials, tmp_path, algo):
    import dataclasses

    from offsim_ray.trial import run_trial

    config, metrics = trials[algo]
    again = run_trial(dataclasses.replace(config, out=str(tmp_path / algo)), progress=False)
    learned = {k: v for k, v in metrics.items() if k.startswith(("policy/", "eval/")) and k != "policy/seconds"}
    assert len(learned) > 5 and {k: again[k] for k in learned} == learned


def test_a_compiled_trial_learns_the_eager_trials_policy_to_rounding(trials, tmp_path):
    """`compile` changes how the learner's update and the learned env's step run, not what they compute."""
    import dataclasses

    from torch._dynamo.utils import counters

    from offsim_ray.trial import run_trial

    config, metrics = trials["sac"]
    graphs = counters["stats"]["unique_graphs"]
    compiled = run_trial(dataclasses.replace(config, out=str(tmp_path / "sac"), policy={"compile": True}),
                         progress=False)
    assert counters["stats"]["unique_graphs"] > graphs
    learned = {k: v for k, v in metrics.items() if k.startswith(("policy/", "eval/")) and k != "policy/seconds"}
    assert len(learned) > 5 and {k: compiled[k] for k in learned} == pytest.approx(learned, rel=1e-3, abs=1e-4)


@pytest.mark.parametrize("has_bf16", [False, True])
def test_bf16_on_a_cpu_without_bfloat16_instructions_is_refused_before_the_trial_starts(
        trial_data, tmp_path, monkeypatch, has_bf16):
    """Where bf16 runs in hardware the check passes, and the trial fails later only on its missing data."""
    import offsim_ray.nets
    from offsim_ray.trial import run_trial

    monkeypatch.setattr(offsim_ray.nets, "cpu_has_bf16", lambda: has_bf16)
    config = smoke_config(trial_data, tmp_path / "run", "bc", policy={"precision": "bf16"}, expert="no-such-data")
    with pytest.raises(OffSimError, match="no-such-data" if has_bf16 else "no bfloat16 matrix instructions"):
        run_trial(config, progress=False)
    assert not (tmp_path / "run").exists()


def test_a_trial_refused_on_a_damaged_artifact_leaves_no_folder(trials, tmp_path):
    import dataclasses
    import shutil

    from offsim_ray.trial import run_trial

    config, _ = trials["sac"]
    artifact = shutil.copytree(config.artifact, tmp_path / "sim")
    (artifact / "meta.json").write_text("[1, 2]")
    with pytest.raises(OffSimError, match="meta.json holds a list, not a mapping"):
        run_trial(dataclasses.replace(config, out=str(tmp_path / "run"), artifact=str(artifact)), progress=False)
    assert not (tmp_path / "run").exists()


def test_sac_temperature_stays_at_its_fixed_value_and_ddpg_reports_none(trials):
    config, metrics = trials["sac"]
    assert metrics["policy/alpha"] == pytest.approx(config.policy_config().initial_alpha)
    assert "policy/alpha" not in trials["ddpg"][1]


def test_a_trial_moved_to_another_device_is_the_same_trial(trials):
    """A sweep retries a trial on whichever node is free: a GPU node's run of a CPU node's trial."""
    import dataclasses

    from offsim_ray.trial import run_trial

    config, metrics = trials["sac"]
    moved = dataclasses.replace(config, sim={"device": "cuda"}, policy={"device": "cuda"})
    assert run_trial(moved, progress=False) == metrics


@pytest.mark.parametrize("algo", ("sac", "ppo", "bc", "iqlearn"))
def test_saved_policy_standardises_observations_with_the_training_data(trials, algo):
    import torch

    from offsim_ray.data import DatasetStore, training_transitions
    from offsim_ray.policy.actor_critic import Standardise
    from offsim_ray.policy.artifact import Policy

    config, _ = trials[algo]
    policy = Policy.load(Path(config.out) / "policy")
    data = training_transitions(config.expert, None, config.n, config.seed, DatasetStore(config.data_root),
                                download=False)
    standardise = next(m for m in policy.module.modules() if isinstance(m, Standardise))
    np.testing.assert_allclose(standardise.mean.numpy(), data.obs.mean(0), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(standardise.std.numpy(), data.obs.std(0) + 1e-3, rtol=1e-4)
    obs = data.obs[:8]
    before = policy.act(obs)
    with torch.no_grad():
        standardise.std.mul_(2.0)  # the buffers are what the actor reads
    assert not np.allclose(policy.act(obs), before)


def test_simulator_trials_report_how_the_reward_ranks_actions(trials):
    _, metrics = trials["sac"]
    assert 0.0 <= metrics["sim/reward_rank"] <= 1.0
    for name in ("expert", "noise01", "noise03", "random"):
        assert -1.0 < metrics[f"sim/reward_rank_{name}"] < 1.0


def test_an_offsim_plus_trial_takes_the_proposed_margin_unless_one_is_named(trial_data, tmp_path):
    assert smoke_config(trial_data, tmp_path, diverse="bench/hopper/random-v0").proposes_margin
    named = smoke_config(trial_data, tmp_path, diverse="bench/hopper/random-v0", sim={"margin": 0.0})
    assert not named.proposes_margin and named.sim_config().margin_value == 0.0
    assert not smoke_config(trial_data, tmp_path).proposes_margin


def test_every_algorithm_has_a_trainer_that_resolves():
    import inspect

    from offsim_ray.policy.config import ALGORITHMS
    from offsim_ray.policy.trainers import TRAINERS

    assert set(TRAINERS) == set(ALGORITHMS)
    for trainer in TRAINERS.values():
        module, _, name = trainer.function.partition(":")
        function = getattr(__import__(module, fromlist=[name]), name)
        assert list(inspect.signature(function).parameters) == ["context"]
        assert trainer.simulator in ("offsim", "dynamics", None)
