"""Sweep specs: the shipped ones parse for every preset; bad specs are clear errors before Ray starts."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
import yaml

from offsim_ray.errors import OffSimError
from offsim_ray.spec import (PRESET_NAMES, TABLES, dataset_names, load_spec, parse_spec, trial_config,
                             trial_key, with_datasets)
from offsim_ray.trial import TrialConfig
from tests.harness import REPO, assert_one_line_error, run_cli

BASE = {"name": "table1", "grid": {"env": ["hopper"], "dataset": ["expert", "expert-random"]}}


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("preset", PRESET_NAMES)
def test_shipped_specs_parse_and_every_trial_config_is_valid(table, preset):
    spec = load_spec(REPO / "sweeps" / f"{table}.yaml", preset)
    assert spec.name == table and spec.preset == preset
    points = spec.points()
    assert len(points) == len({trial_key(p, trial_config(spec, p, out="t")) for p in points})
    if preset == "paper":
        assert spec.grid["seed"] == list(range(7))  # the paper averages 7 seeds
        assert spec.trial["n"] == 20_000
    assert spec.reuse_workers == (preset == "smoke")  # a worker per trial, named after it, beyond smoke


def test_paper_grids_cover_the_paper_tables():
    table2 = load_spec(REPO / "sweeps" / "table2.yaml", "paper")
    assert table2.grid["margin"] == pytest.approx([0.2 * i for i in range(10)])
    assert table2.trial["sim"]["margin_relative"] is True
    assert load_spec(REPO / "sweeps" / "table3.yaml", "paper").grid["variance"] == ["high", "low"]
    assert load_spec(REPO / "sweeps" / "table4.yaml", "paper").grid["algo"] == ["sac", "ddpg", "ppo"]
    table1 = load_spec(REPO / "sweeps" / "table1.yaml", "paper")
    assert set(table1.grid["env"]) == {"hopper", "walker2d", "halfcheetah"} and len(table1.grid["dataset"]) == 5


def test_a_preset_overrides_grid_axes_and_trial_keys_one_by_one():
    raw = {**BASE, "trial": {"n": 100, "sim": {"alpha": 0.1, "beta": 1.0}},
           "presets": {"smoke": {"grid": {"dataset": ["expert"]}, "trial": {"sim": {"beta": 3.0}}}}}
    spec = parse_spec(raw, "smoke")
    assert spec.grid == {"env": ["hopper"], "dataset": ["expert"]}
    assert spec.trial == {"n": 100, "sim": {"alpha": 0.1, "beta": 3.0}}
    assert parse_spec(raw, "quick").grid["dataset"] == ["expert", "expert-random"]


def test_grid_points_become_trial_configs():
    spec = parse_spec({**BASE, "grid": {**BASE["grid"], "margin": [0.4], "beta": [1.5], "variance": ["low"],
                                        "algo": ["ddpg"], "seed": [3]},
                       "trial": {"sim": {"margin_relative": True}}}, "quick")
    (point,) = [p for p in spec.points() if p["dataset"] == "expert-random"]
    config = trial_config(spec, point, out="t")
    assert (config.expert, config.diverse) == ("hopper-expert", "hopper-random")
    assert (config.algo, config.seed, config.preset) == ("ddpg", 3, "quick")
    sim = config.sim_config()
    assert (sim.margin, sim.beta, sim.margin_relative) == (0.4, 1.5, True)
    assert config.policy_config().variance == "low"


def test_dataset_template_names_the_data():
    spec = with_datasets(parse_spec(BASE, "smoke"), "local/{env}/{level}-v0")
    assert dataset_names(spec, "hopper", "medium-random") == ("local/hopper/medium-v0", "local/hopper/random-v0")
    assert dataset_names(spec, "walker2d", "expert") == ("local/walker2d/expert-v0", None)


def test_trial_key_changes_with_the_config_and_nothing_else():
    spec = parse_spec(BASE, "smoke")
    point = spec.points()[0]
    key = trial_key(point, trial_config(spec, point, out="a"))
    assert key == trial_key(point, trial_config(spec, point, out="b"))
    assert key != trial_key(point, trial_config(spec, point, out="a", data_root="/elsewhere"))
    assert key.startswith("env=hopper_dataset=expert_")


def test_trial_keys_of_a_smoke_config_stay_as_they_were():
    """Config field names and the shape of to_dict() make trial keys: a rename would orphan every stored trial.
    (The keys changed on purpose twice: with eq. (9)'s censored likelihood, then with κ = 1, as the defaults.)"""
    spec = parse_spec(BASE, "smoke")
    keys = [trial_key(p, trial_config(spec, p, out="a")) for p in spec.points()]
    assert keys == ["env=hopper_dataset=expert_3f5c8da9", "env=hopper_dataset=expert-random_ca51d737"]


@pytest.mark.parametrize("name, value, algo", [("precision", "bf16", "sac"), ("entropy_target", -2.0, "sac"),
                                               ("action_clip", 0.995, "sac"), ("reward", "task", "sac"),
                                               ("reward_horizon", 200, "sac"), ("advantage_weight", 1.0, "sac"),
                                               ("clamp_bound", "range", "sac"), ("compile", True, "sac")])
def test_a_setting_added_later_keys_a_trial_only_when_it_is_set(name, value, algo):
    spec = parse_spec(BASE, "smoke")
    point = spec.points()[0]
    config = replace(trial_config(spec, point, out="a"), algo=algo)
    changed = replace(config, policy={**config.policy, name: value})
    assert name not in config.resolved()["policy"] and changed.resolved()["policy"][name] == value
    assert trial_key(point, changed) != trial_key(point, config)


@pytest.mark.parametrize("algo", ["clare", "mlirl"])
def test_the_baselines_clamp_keys_their_trials_and_once_off_leaves_their_keys_as_before_it_existed(algo):
    """Both clamp by default, so their keys name the clamp; turned off, it is left out of the key again."""
    spec = parse_spec(BASE, "smoke")
    point = spec.points()[0]
    config = replace(trial_config(spec, point, out="a"), algo=algo)
    assert {k: config.resolved()["policy"][k] for k in ("value_clamp", "clamp_bound")} == \
        {"value_clamp": True, "clamp_bound": "range"}
    off = replace(config, policy={**config.policy, "value_clamp": False, "clamp_bound": "batch"})
    assert "value_clamp" not in off.resolved()["policy"] and "clamp_bound" not in off.resolved()["policy"]
    assert trial_key(point, off) != trial_key(point, config)


def test_iqlearn_value_rows_keys_its_trials_on_a_mix_only():
    """value_rows acts on IQ-Learn's mixes alone: there its default changed what a trial runs, elsewhere keys stay."""
    spec = parse_spec({**BASE, "grid": {**BASE["grid"], "algo": ["sac", "iqlearn"]}}, "smoke")
    for point in spec.points():
        config = trial_config(spec, point, out="a")
        other = replace(config, policy={**config.policy, "value_rows": "all"})
        keyed = point["algo"] == "iqlearn" and point["dataset"] == "expert-random"
        assert ("value_rows" in config.resolved()["policy"]) == keyed, point
        assert (trial_key(point, other) != trial_key(point, config)) == keyed, point


@pytest.mark.parametrize("change, fragment", [
    ({"grid": {"env": ["hopper"], "dataset": ["expert"], "seeds": [0]}}, "unknown grid keys: seeds"),
    ({"grid": {"env": ["hopper"], "dataset": []}}, "grid axis dataset must be a non-empty list"),
    ({"grid": {"env": ["hopper"]}}, "grid needs the axes dataset"),
    ({"grid": {"env": ["hopper"], "dataset": ["expert"], "beta": [2, -1]}}, "grid axis beta: -1 is not a number ≥ 0"),
    ({"grid": {"env": ["hopper"], "dataset": ["expert"], "seed": ["0"]}}, "grid axis seed: '0' is not an integer ≥ 0"),
    ({"grid": {"env": ["hopper"], "dataset": ["expert"], "seed": [0, -1]}}, "grid axis seed: -1 is not an integer ≥ 0"),
    ({"grid": {"env": ["ant"], "dataset": ["expert"]}}, "grid axis env: 'ant' is not one of"),
    ({"grid": {"env": ["hopper"], "dataset": ["expert-best"]}}, "grid axis dataset: 'expert-best'"),
    ({"grid": {"env": ["hopper"], "dataset": ["expert", "expert"]}}, "grid axis dataset repeats a value"),
    ({"grid": {"env": ["hopper"], "dataset": ["expert"], "algo": ["td3"]}}, "grid axis algo: 'td3'"),
    ({"trial": {"sim": {"beta": -2}}}, "invalid simulator config: beta=-2"),
    ({"trial": {"policy": {"gama": 0.9}}}, "unknown policy config keys: gama"),
    ({"trial": {"seed": 1}}, "unknown trial keys: seed"),
    ({"trial": {"n": 0}}, "n=0 (must be positive)"),
    ({"resources": {"cpu": 0}}, "resources.cpu must be a positive number"),
    ({"resources": {"gpu": "one"}}, "resources.gpu must be a non-negative number"),
    ({"max_failures": -1}, "max_failures must be a non-negative integer"),
    ({"reuse_workers": "yes"}, "reuse_workers must be true or false, got 'yes'"),
    ({"name": "table9"}, "name must be one of table1"),
    ({"datasets": "{env}-{lvl}"}, "has a bad field"),
    ({"repeat": 2}, "unknown spec keys: repeat"),
    ({"presets": {"huge": {}}}, "unknown presets keys: huge"),
    ({"presets": {"smoke": {"grid": {"dataset": []}}}}, "grid axis dataset must be a non-empty list"),
    ({"grid": {"env": ["hopper"], "dataset": []}, "presets": {"smoke": {"grid": {"dataset": ["expert"]}}}},
     "grid axis dataset must be a non-empty list"),  # the base grid, though the preset hides it
    ({"trial": {"sim": 3}}, "trial.sim must be a mapping"),
    ({"datasets": "bench/hopper/expert-v0"}, "names the hopper expert and the hopper random data alike"),
    ({"grid": {"env": ["hopper", "walker2d"], "dataset": ["expert"]}, "datasets": "{level}"},
     "names the hopper expert and the walker2d expert data alike (expert)"),
    ({"grid": {"env": ["hopper"], "dataset": ["expert-expert"]}}, "expert and diverse are both 'hopper-expert'"),
])
def test_bad_specs_are_refused_with_the_key_that_failed(change, fragment):
    with pytest.raises(OffSimError) as error:
        parse_spec({**BASE, **change}, "smoke", "bad.yaml")
    assert str(error.value).startswith("bad.yaml: ")
    assert fragment in str(error.value)


def test_a_bad_shared_trial_setting_names_its_key_and_value():
    with pytest.raises(OffSimError) as error:
        parse_spec({**BASE, "trial": {"n": "lots"}}, "smoke", "bad.yaml")
    assert str(error.value).startswith("bad.yaml: ")
    assert re.search(r"\bn\b", str(error.value)) and "lots" in str(error.value)


def test_datasets_flag_that_cannot_tell_the_levels_apart_is_refused(tmp_path):
    with pytest.raises(OffSimError, match="^--datasets: .* hopper expert and the hopper random data alike"):
        with_datasets(parse_spec(BASE, "smoke"), "bench/hopper/expert-v0")
    result = run_cli("sweep", "sweeps/table1.yaml", "--preset", "smoke", "--datasets", "bench/hopper/expert-v0",
                     "--storage", str(tmp_path / "runs"))
    assert_one_line_error(result, "--datasets", "bench/hopper/expert-v0")
    assert not (tmp_path / "runs").exists()


def test_a_trial_on_the_same_expert_and_diverse_data_is_refused(tmp_path):
    with pytest.raises(OffSimError, match="expert and diverse are both 'bench/hopper/expert-v0'"):
        TrialConfig(expert="bench/hopper/expert-v0", diverse="bench/hopper/expert-v0", out="t")
    result = run_cli("train", "--expert", "none/x-v0", "--diverse", "none/x-v0", "--offline",
                     "--out", str(tmp_path / "trial"))
    assert_one_line_error(result, "expert and diverse are both 'none/x-v0'")
    assert not (tmp_path / "trial").exists()


def test_sweep_command_refuses_a_bad_spec_in_one_line_before_starting_ray(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text(yaml.safe_dump({**BASE, "grid": {"env": ["hopper"], "dataset": ["expert"], "beta": [-1]}}))
    result = run_cli("sweep", str(spec), "--preset", "smoke", "--storage", str(tmp_path / "runs"))
    assert_one_line_error(result, str(spec), "grid axis beta")
    assert not (tmp_path / "runs").exists()
    spec.write_text("grid: [unclosed")
    assert_one_line_error(run_cli("sweep", str(spec), "--storage", str(tmp_path / "runs")), "not valid YAML")
    assert_one_line_error(run_cli("sweep", str(tmp_path / "none.yaml")), "cannot read sweep spec")


def test_a_spec_file_that_is_not_utf8_or_has_number_keys_is_named(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_bytes(b"name: table1\n\xff\n")
    with pytest.raises(OffSimError, match=re.escape(f"{spec} is not UTF-8 text")):
        load_spec(spec, "smoke")
    spec.write_text("name: table1\n1: x\nnope: 2\n")
    with pytest.raises(OffSimError, match=re.escape(f"{spec}: unknown spec keys: 1, nope")):
        load_spec(spec, "smoke")


def test_resume_of_a_sweep_that_never_ran_is_refused(tmp_path):
    result = run_cli("sweep", "sweeps/table1.yaml", "--preset", "smoke", "--storage", str(tmp_path), "--resume")
    assert_one_line_error(result, "nothing to resume", str(tmp_path / "table1-smoke"))
