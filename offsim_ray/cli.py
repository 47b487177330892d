"""`offsim-ray` command line. Bad input ends in one line on stderr and exit status 1 (2 for usage)."""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import fields
from pathlib import Path

import numpy as np

from offsim_ray.errors import OffSimError, check_device
from offsim_ray.files import check_can_make, check_replaceable, make_dir, write_with
from offsim_ray.policy.config import ALGORITHMS, ExpertConfig
from offsim_ray.policy.rllib import quiet_ray_logs
from offsim_ray.envs import VARIANCES
from offsim_ray.simulator.config import HINGE_ON
from offsim_ray.spec import PRESET_NAMES as PRESETS
from offsim_ray.spec import TABLES
from offsim_ray.sweep import TRACKERS
from offsim_ray.threads import DEFAULT_THREADS, note_if_busy, set_threads
from offsim_ray.trial import TrialConfig


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line instead of usage + message
        self.exit(2, f"offsim-ray: error: {message} (see `{self.prog} --help`)\n")


def _int_at_least(lowest: int, wanted: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < lowest:
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {text}")
        return value
    return parse


_positive_int = _int_at_least(1, "a positive integer")
_seed = _int_at_least(0, "an integer ≥ 0")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("offsim-ray")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _store(args: argparse.Namespace):
    from offsim_ray.data import DatasetStore

    return DatasetStore.from_env(args.data_root)


def data_collect(args: argparse.Namespace) -> None:
    from offsim_ray.data import collect_dataset, describe

    dataset = collect_dataset(
        _store(args),
        env_id=args.env,
        policy_name=args.policy,
        steps=args.steps,
        dataset_id=args.dataset_id,
        seed=args.seed,
        overwrite=args.overwrite,
        progress=not args.no_progress,
    )
    info = describe(dataset)
    print(f"wrote {info.dataset_id}: {info.steps} steps, {info.episodes} episodes, "
          f"mean return {info.return_mean:.1f} -> {dataset.storage.data_path.parent}")


def data_make(args: argparse.Namespace) -> None:
    from offsim_ray.data import describe
    from offsim_ray.data.make import make_datasets

    levels = tuple(args.levels.split(","))
    made = make_datasets(_store(args), args.env, args.experts, levels, args.steps, args.seed, args.overwrite,
                         progress=not args.no_progress)
    for item in made:
        info = describe(item.dataset)
        ref = info.reference
        state = "wrote" if item.written else "kept (exists; --overwrite replaces it)"
        print(f"{state} {info.dataset_id}: {info.steps} steps, {info.episodes} episodes, mean return "
              f"{info.return_mean:.1f} (normalised {float(ref.normalize(info.return_mean)):.1f}; "
              f"random {ref.random:.1f}, expert {ref.expert:.1f})")


def data_list(args: argparse.Namespace) -> None:
    from offsim_ray.data import DatasetStore

    store = DatasetStore.existing(args.data_root)
    ids = store.ids()
    print(f"{len(ids)} datasets in {store.root}")
    for dataset_id in ids:
        print(f"  {dataset_id}")


def data_info(args: argparse.Namespace) -> None:
    from offsim_ray.data import DatasetStore, describe, open_dataset

    info = describe(open_dataset(args.dataset, DatasetStore.existing(args.data_root), download=not args.offline))
    print("\n".join(info.lines()))


def _training_data(args: argparse.Namespace):
    from offsim_ray.data import training_transitions

    return training_transitions(args.expert, args.diverse, args.n, args.seed, _store(args),
                                drop_nonfinite=args.drop_nonfinite, download=not args.offline)


def data_export(args: argparse.Namespace) -> None:
    out = Path(args.out)
    if out.exists() and not args.overwrite:
        raise OffSimError(f"{out} already exists; pass --overwrite to replace it")
    data = _training_data(args)
    make_dir(out.parent)
    try:
        write_with(out, lambda tmp: np.savez(tmp, **data.arrays()))
    except OSError as e:
        raise OffSimError(f"cannot write {out}: {e.strerror or e}") from None
    print(f"wrote {len(data)} transitions of {data.name} ({data.env_id}) -> {out}")


def fit(args: argparse.Namespace) -> None:
    from offsim_ray.simulator import fit_simulator, preset
    from offsim_ray.simulator.fit import holdout_sizes

    out = Path(args.out)
    if out.exists() and not args.overwrite:
        raise OffSimError(f"{out} already exists; pass --overwrite to replace it")
    if out.exists() and not (out / "meta.json").is_file():
        raise OffSimError(f"{out} exists and is not a simulator artifact (no meta.json); --overwrite replaces "
                          "only one")
    check_replaceable(out)
    if args.device:
        check_device(args.device, "--device")
    overrides = {k: v for k, v in vars(args).items()
                 if k in ("alpha", "beta", "nll_weight", "margin", "reward_scale", "hinge_on", "device",
                          "steps", "warmup_steps") and v is not None}
    config = preset(args.preset).with_(seed=args.seed, margin_relative=args.margin_relative, **overrides)
    data = _training_data(args)
    holdout_sizes(data, config.holdout_fraction)  # refuses data too small to split, before the fit
    make_dir(out.parent)  # before the fit, once the data is known good: bad data leaves no folder
    kind = "OffSim+" if args.diverse else "OffSim"
    print(f"fitting {kind} on {len(data)} transitions of {data.name} ({data.env_id}), preset {args.preset}",
          file=sys.stderr)
    note_if_busy()
    simulator, history = fit_simulator(data, config, progress=not args.no_progress)
    simulator.save(out, history, overwrite=args.overwrite)
    last = history[-1] if history else {}
    figures = "  ".join(f"{k.split('/')[1]} {v:.4g}" for k, v in last.items() if k.startswith("sim/"))
    print(f"wrote {out} ({simulator.fit_seconds:.1f} s): {figures}")


def fit_report(args: argparse.Namespace) -> None:
    from offsim_ray.simulator import Simulator
    from offsim_ray.simulator.fidelity import fidelity

    simulator = Simulator.load(args.artifact)
    data, config = simulator.data, simulator.config
    lines = [
        f"artifact     {args.artifact}",
        f"env          {simulator.env_id}",
        f"data         {data.name}: {len(data)} transitions, {int(simulator.holdout.sum())} held out",
        f"fingerprint  {simulator.fingerprint}",
        f"config       alpha {config.alpha}  nll_weight {config.nll_weight}  beta {config.beta}  "
        f"margin {config.margin_value:.4g}  hinge_on {config.hinge_on}  steps {config.warmup_steps}+{config.steps}",
    ]
    rows = Simulator.history(args.artifact)
    if rows:
        lines += [f"{k:<24} {v:.4f}" for k, v in rows[-1].items() if k.startswith("sim/")]
    lines += [f"{k:<24} {v:.4f}" for k, v in {**simulator.reward_generalisation(), **simulator.reward_rank(),
                                                            **simulator.reward_rank(reward_on_mean=True),
                                                            **fidelity(simulator)}.items()]
    if args.dataset:
        from offsim_ray.data import load_transitions

        other = load_transitions(args.dataset, _store(args), download=not args.offline)
        simulator.check_matches(other)
        lines.append(f"reward/{other.name:<17} {float(simulator.reward_of(other).mean()):.4f}")
    print("\n".join(lines))


def rollout(args: argparse.Namespace) -> None:
    from offsim_ray.envs.offsim_env import random_rollouts

    n, seconds, ended, mean_reward = random_rollouts(args.artifact, args.num_envs, args.steps, args.horizon,
                                                     args.variance, args.termination, args.seed)
    print(f"{n} random-action transitions in {seconds:.2f} s ({n / seconds:.0f} steps/s), "
          f"{ended} episodes ended, mean reward {mean_reward:.4f}")


TRIAL_FLAGS = ("expert", "diverse", "algo", "preset", "seed", "n", "out", "artifact", "data_root", "offline",
               "drop_nonfinite")


def _trial_config(args: argparse.Namespace):
    values = {}
    if args.config:
        import yaml

        try:
            values = yaml.safe_load(Path(args.config).read_text()) or {}
        except OSError as e:
            raise OffSimError(f"cannot read {args.config}: {e.strerror or e}") from None
        except UnicodeDecodeError:
            raise OffSimError(f"{args.config} is not UTF-8 text") from None
        except yaml.YAMLError as e:
            raise OffSimError(f"{args.config} is not valid YAML: {' '.join(str(e).split())}") from None
        if not isinstance(values, dict):
            raise OffSimError(f"{args.config} must hold a mapping of trial config keys")
    values.update({k: getattr(args, k) for k in TRIAL_FLAGS if getattr(args, k) not in (None, False)})
    try:
        return TrialConfig.from_dict(values)
    except OffSimError as e:
        if not args.config:
            raise
        raise OffSimError(f"{args.config}: {e}") from None


def _print_metrics(metrics: dict) -> None:
    for key, value in metrics.items():
        print(f"{key:<28} {value:.4f}" if isinstance(value, float) else f"{key:<28} {value}")


def train(args: argparse.Namespace) -> None:
    from offsim_ray.trial import run_trial

    config = _trial_config(args)
    quiet_ray_logs()
    metrics = run_trial(config, progress=not args.no_progress, overwrite=args.overwrite)
    _print_metrics(metrics)
    print(f"wrote {Path(config.out) / 'metrics.json'}")


def evaluate_policy(args: argparse.Namespace) -> None:
    from offsim_ray.evaluation import evaluate
    from offsim_ray.policy.artifact import Policy

    directory = Path(args.policy)
    if (directory / "policy").is_dir():
        directory = directory / "policy"
    quiet_ray_logs()
    policy = Policy.load(directory)
    info = policy.info
    evaluation = evaluate(policy.act, args.env or info["env_id"], info["obs_dim"], info["action_dim"],
                          policy.reference, args.episodes, args.seed)
    _print_metrics({"policy": str(directory), "algo": info["algo"], "env": evaluation.env_id,
                    **evaluation.metrics()})


def experts_train(args: argparse.Namespace) -> None:
    from offsim_ray.policy.expert_training import train_expert

    flags = dict(env=args.env, env_steps=args.steps, iteration_steps=args.iteration_steps, num_envs=args.num_envs,
                 hidden=args.hidden, batch_size=args.batch_size, learning_starts=args.learning_starts,
                 seed=args.seed, device=args.device)
    values = {k: v for k, v in flags.items() if v is not None}
    config = ExpertConfig(**values)
    check_device(config.device, "--device")
    quiet_ray_logs()
    card = train_expert(config, args.out, progress=not args.no_progress)
    print(f"wrote {Path(args.out) / 'expert.npz'} (return {card['expert']['return_mean']:.1f}) and "
          f"{Path(args.out) / 'medium.npz'} (return {card['medium']['return_mean']:.1f})")


def experts_list(args: argparse.Namespace) -> None:
    from offsim_ray.data.experts import SHIPPED, expert_cards

    directory = args.dir or SHIPPED
    cards = expert_cards(directory)
    print(f"{len(cards)} experts in {directory}" if args.dir else f"{len(cards)} shipped experts")
    for card in cards:
        expert, medium = card["expert"], card["medium"]
        print(f"  {card['env_id']:<16} expert {expert['return_mean']:8.1f} ± {expert['return_std']:6.1f} "
              f"(after {expert['env_steps']})  medium {medium['return_mean']:8.1f} "
              f"({medium['fraction_of_expert']:.2f} of it, after {medium['env_steps']})  "
              f"trained {card['env_steps']} steps, seed {card['config']['seed']}, {card['train_seconds'] / 3600:.1f} h")


def _plan(args: argparse.Namespace, spec_path: Path):
    from offsim_ray.spec import load_spec, with_datasets
    from offsim_ray.sweep import SweepPlan

    spec = with_datasets(load_spec(spec_path, args.preset), args.datasets)
    storage = Path(args.storage).expanduser().resolve()
    data_root = str(Path(args.data_root).expanduser().resolve()) if args.data_root else None
    return SweepPlan(spec, str(storage), data_root, args.offline)


def _run_sweep(args: argparse.Namespace, plan, resume: bool):
    from offsim_ray.sweep import run_sweep

    outcome = run_sweep(plan, resume=resume, address=args.address, verbose=0 if args.quiet else 1,
                        track=tuple(args.track or ()))
    print(f"{outcome.experiment.name}: {outcome.finished} trials finished, {len(outcome.errored)} failed "
          f"-> {outcome.experiment}", file=sys.stderr)
    for line in outcome.errored:
        print(f"  failed: {line}", file=sys.stderr)
    if outcome.interrupted:
        again = "run the same command again" if args.func is reproduce else "pass --resume"
        print(f"offsim-ray: the sweep's state is saved in {outcome.experiment}; {again} to go on with it",
              file=sys.stderr)
        raise KeyboardInterrupt
    return outcome


def _failed(outcome) -> None:
    if outcome.errored:
        first = outcome.errored[0].split(": ", 1)[-1]
        raise OffSimError(f"{len(outcome.errored)} trials of {outcome.experiment.name} failed after their "
                          f"retries, the first with: {first}; fix the cause and pass --resume (error.txt files "
                          "listed above)")


def sweep(args: argparse.Namespace) -> None:
    _failed(_run_sweep(args, _plan(args, Path(args.spec)), args.resume))


def _print_tables(written) -> None:
    for status, tables, markdown in written:
        print(f"{status}\n")
        for table in tables:
            print(table.markdown() + "\n")
        print(f"wrote {markdown} and its tables (.parquet, .csv) beside it")


def reproduce(args: argparse.Namespace) -> None:
    from offsim_ray.report import write_report
    from offsim_ray.spec import find_spec
    from offsim_ray.tables import load_trials, write_tables

    check_can_make(args.out)  # before the sweeps, which may take hours
    names = TABLES if args.table == "all" else (args.table,)
    outcomes = []
    for name in names:
        plan = _plan(args, find_spec(name))
        outcomes.append(_run_sweep(args, plan, resume=plan.experiment.exists()))
    experiments = [o.experiment for o in outcomes]
    trials = load_trials(experiments)
    _print_tables(write_tables(trials, args.out))
    name = f"report-{args.preset}" if args.table == "all" else f"report-{args.table}-{args.preset}"
    print(f"wrote the report {write_report(trials, experiments, Path(args.out) / name)}")
    for outcome in outcomes:
        _failed(outcome)


def tables(args: argparse.Namespace) -> None:
    from offsim_ray.tables import load_trials, write_tables

    _print_tables(write_tables(load_trials(args.runs), args.out))


def report(args: argparse.Namespace) -> None:
    from offsim_ray.report import write_report
    from offsim_ray.tables import load_trials

    trials = load_trials(args.runs)
    index = write_report(trials, args.runs, args.out)
    shown, total = int((trials["status"] == "finished").sum()), len(trials)
    print(f"wrote {index}: {shown} of {total} trials finished and shown")


def _default(cls, name: str):
    """The default of the dataclass `cls`'s field `name`, for help texts."""
    return next(f.default for f in fields(cls) if f.name == name)


def build_parser() -> argparse.ArgumentParser:
    expert = ExpertConfig()
    parser = _Parser(prog="offsim-ray", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-root", help="Minari store (default: $MINARI_DATASETS_PATH or ~/.minari/datasets)")
    common.add_argument("--offline", action="store_true", help="never try the Minari remote")

    compute = argparse.ArgumentParser(add_help=False)
    compute.add_argument("--threads", type=_positive_int, default=DEFAULT_THREADS,
                         help=f"torch intra-op threads (default {DEFAULT_THREADS}: see docs/benchmarks.md, Threads)")

    data = commands.add_parser("data", help="offline datasets: collect, list, inspect, export")
    data_commands = data.add_subparsers(dest="data_command", required=True, parser_class=_Parser)

    p = data_commands.add_parser("collect", parents=[common, compute], help="roll a policy in the real env into a Minari dataset")
    p.add_argument("--env", required=True, help="Gymnasium env id, e.g. Hopper-v5")
    p.add_argument("--policy", default="random", help="policy to roll out (random)")
    p.add_argument("--steps", type=_positive_int, default=20_000, help="env steps to collect")
    p.add_argument("--dataset-id", required=True, help="Minari id to write, e.g. local/hopper/random-v0")
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--overwrite", action="store_true", help="replace an existing dataset of that id")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=data_collect)

    p = data_commands.add_parser("make", parents=[common, compute],
                                 help="make expert, medium and random datasets of an env from expert policies")
    p.add_argument("--env", required=True, help="Gymnasium env id, e.g. Hopper-v5")
    p.add_argument("--experts", help="folder with expert.npz and medium.npz (from `offsim-ray experts train`), "
                                     "or one sub-folder per env id (default: the shipped experts)")
    p.add_argument("--levels", default="expert,medium,random", help="comma-separated (default %(default)s)")
    p.add_argument("--steps", type=_positive_int, default=20_000, help="env steps per dataset (default %(default)s)")
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--overwrite", action="store_true", help="replace datasets that exist")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=data_make)

    p = data_commands.add_parser("list", parents=[common], help="datasets in the local store")
    p.set_defaults(func=data_list)

    p = data_commands.add_parser("info", parents=[common], help="steps, episodes, spaces and returns of a dataset")
    p.add_argument("dataset", help="Minari id or alias such as hopper-expert")
    p.set_defaults(func=data_info)

    training_data = argparse.ArgumentParser(add_help=False, parents=[common])
    training_data.add_argument("--expert", required=True, help="expert dataset id or alias")
    training_data.add_argument("--diverse", help="diverse dataset id or alias: N/2 expert + N/2 diverse, as OffSim+")
    training_data.add_argument("--n", type=_positive_int, default=20_000, help="transitions to use (paper: 20000)")
    training_data.add_argument("--seed", type=_seed, default=0)
    training_data.add_argument("--drop-nonfinite", action="store_true", help="drop rows with NaN or inf instead of refusing")

    p = data_commands.add_parser("export", parents=[training_data], help="write N (s, a, s') tuples to an .npz file")
    p.add_argument("--out", required=True, help="output .npz path")
    p.add_argument("--overwrite", action="store_true", help="replace an existing file")
    p.set_defaults(func=data_export)

    p = commands.add_parser("fit", parents=[training_data, compute], help="fit an OffSim (or, with --diverse, OffSim+) simulator")
    p.add_argument("--out", required=True, help="artifact directory to write")
    p.add_argument("--preset", choices=PRESETS, default=_default(TrialConfig, "preset"), help="fit budgets (default %(default)s)")
    p.add_argument("--alpha", type=float, help="entropy weight of eq. (3)")
    p.add_argument("--beta", type=float, help="hinge weight of eq. (8)")
    p.add_argument("--nll-weight", type=float, help="weight of the NLL anchor in the transition step")
    p.add_argument("--margin", type=float, help="margin m (absolute, or times R with --margin-relative)")
    p.add_argument("--margin-relative", action="store_true", help="read --margin in units of --reward-scale R")
    p.add_argument("--reward-scale", type=float, help="R = max|r| of an expert-only OffSim reward")
    p.add_argument("--hinge-on", choices=HINGE_ON, help="hinge expectations over data (eq. 5) or model (eq. 8)")
    p.add_argument("--steps", type=int, help="min-max iterations (overrides the preset)")
    p.add_argument("--warmup-steps", type=int, help="NLL warm-start steps (overrides the preset)")
    p.add_argument("--device", help="torch device, e.g. cuda")
    p.add_argument("--overwrite", action="store_true", help="replace an existing artifact")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=fit)

    p = commands.add_parser("fit-report", parents=[common], help="fidelity and reward-generalisation figures of an artifact")
    p.add_argument("artifact", help="artifact directory written by `offsim-ray fit`")
    p.add_argument("--dataset", help="also report the mean reward on this dataset")
    p.set_defaults(func=fit_report)

    p = commands.add_parser("rollout", help="random-action rollouts in the learned env (a quick check)")
    p.add_argument("artifact", help="artifact directory written by `offsim-ray fit`")
    p.add_argument("--horizon", type=int, default=5, help="steps before truncation (paper: 5)")
    p.add_argument("--num-envs", type=_positive_int, default=64)
    p.add_argument("--steps", type=_positive_int, default=100, help="vector steps")
    p.add_argument("--variance", choices=VARIANCES, default=VARIANCES[0])
    p.add_argument("--termination", action="store_true", help="apply the task's termination function")
    p.add_argument("--seed", type=_seed, default=0)
    p.set_defaults(func=rollout)
    p = commands.add_parser("train", parents=[common, compute],
                            help="fit a simulator, train a policy in it, evaluate it in the real env")
    p.add_argument("config", nargs="?", help="YAML file of trial config keys (flags override it)")
    p.add_argument("--expert", help="expert dataset id or alias")
    p.add_argument("--diverse", help="diverse dataset id or alias (OffSim+)")
    p.add_argument("--algo", choices=ALGORITHMS, help=f"policy algorithm (default {_default(TrialConfig, 'algo')})")
    p.add_argument("--preset", choices=PRESETS, help=f"budgets (default {_default(TrialConfig, 'preset')})")
    p.add_argument("--seed", type=_seed)
    p.add_argument("--n", type=_positive_int, help=f"transitions to fit on (default {_default(TrialConfig, 'n')})")
    p.add_argument("--out", help="trial directory: simulator, checkpoints, policy, metrics.json")
    p.add_argument("--artifact", help="simulator artifact to reuse or write (default OUT/simulator)")
    p.add_argument("--drop-nonfinite", action="store_true", help="drop rows with NaN or inf instead of refusing")
    p.add_argument("--overwrite", action="store_true",
                   help="start the trial afresh, removing what an earlier trial wrote in OUT")
    p.add_argument("--no-progress", action="store_true", help="no per-iteration lines")
    p.set_defaults(func=train)

    p = commands.add_parser("evaluate", help="evaluate a trained policy in the real env")
    p.add_argument("policy", help="trial directory (or its policy/ directory)")
    p.add_argument("--env", help="Gymnasium env id (default: the env it was trained for)")
    p.add_argument("--episodes", type=_positive_int, default=10)
    p.add_argument("--seed", type=_seed, default=0)
    p.set_defaults(func=evaluate_policy)

    experts = commands.add_parser("experts", help="expert policies for making datasets")
    experts_commands = experts.add_subparsers(dest="experts_command", required=True, parser_class=_Parser)
    p = experts_commands.add_parser("train", parents=[compute], help="train an expert with SAC in the real env (resumes DIR)")
    p.add_argument("--env", required=True, help="Gymnasium env id, e.g. Hopper-v5")
    p.add_argument("--out", required=True, help="run directory: checkpoints, snapshots, expert.npz, medium.npz")
    p.add_argument("--steps", type=_positive_int, help=f"env-step budget after the warm-up (default {expert.env_steps}); "
                                                       "may grow or shrink when resuming")
    p.add_argument("--iteration-steps", type=_positive_int,
                   help=f"env steps between checkpoints (default {expert.iteration_steps})")
    p.add_argument("--num-envs", type=_positive_int, help=f"envs stepped together (default {expert.num_envs})")
    p.add_argument("--hidden", type=_positive_int, help=f"width of the two hidden layers (default {expert.hidden})")
    p.add_argument("--batch-size", type=_positive_int,
                   help=f"transitions per gradient step (default {expert.batch_size})")
    p.add_argument("--learning-starts", type=_positive_int,
                   help=f"uniform-random warm-up steps (default {expert.learning_starts})")
    p.add_argument("--seed", type=_seed)
    p.add_argument("--device", help=f"torch device of the learner (default {expert.device})")
    p.add_argument("--no-progress", action="store_true", help="no per-iteration lines")
    p.set_defaults(func=experts_train)
    p = experts_commands.add_parser("list", help="experts with their returns (default: the shipped ones)")
    p.add_argument("dir", nargs="?", help="a folder of experts, or an `experts train` run")
    p.set_defaults(func=experts_list)

    sweeping = argparse.ArgumentParser(add_help=False, parents=[common])
    sweeping.add_argument("--preset", choices=PRESETS, default="quick",
                          help="budgets and grid of the spec (default %(default)s)")
    sweeping.add_argument("--storage", default="~/ray_results",
                          help="folder for the sweep, its trials and simulators; on a cluster, one every "
                               "node can reach (default ~/ray_results)")
    sweeping.add_argument("--address", help="Ray cluster to run on, e.g. auto (default: $RAY_ADDRESS, else a "
                                            "local Ray instance)")
    sweeping.add_argument("--datasets", help="dataset name template with {env} and {level}, e.g. "
                                             "'local/{env}/{level}-v0' (default: the spec's)")
    sweeping.add_argument("--quiet", action="store_true", help="no Tune status table")
    sweeping.add_argument("--track", action="append", choices=TRACKERS,
                          help="also log every trial to MLflow ($MLFLOW_TRACKING_URI) or Weights & Biases, "
                               "through Ray Tune's callbacks; needs offsim-ray[mlflow] or offsim-ray[wandb]")

    p = commands.add_parser("sweep", parents=[sweeping], help="run a sweep spec as Ray Tune trials")
    p.add_argument("spec", help="sweep spec YAML, e.g. sweeps/table2.yaml")
    p.add_argument("--resume", action="store_true",
                   help="go on with the sweep at the same place: unfinished and failed trials only")
    p.set_defaults(func=sweep)

    p = commands.add_parser("reproduce", parents=[sweeping],
                            help="run a paper table's sweep (resuming it if it exists) and write the table")
    p.add_argument("table", choices=[*TABLES, "all"])
    p.add_argument("--out", default="results", help="folder for the tables (default %(default)s)")
    p.set_defaults(func=reproduce)

    p = commands.add_parser("tables", help="rebuild the paper's tables from sweep folders")
    p.add_argument("runs", nargs="+", help="sweep folders (STORAGE/<table>-<preset>)")
    p.add_argument("--out", default="results", help="folder for the tables (default %(default)s)")
    p.set_defaults(func=tables)

    p = commands.add_parser("report", help="an HTML report with the tables and figures of sweep folders")
    p.add_argument("runs", nargs="+", help="sweep folders (STORAGE/<table>-<preset>)")
    p.add_argument("--out", required=True, help="folder for index.html and figures/ (replaced whole)")
    p.set_defaults(func=report)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="offsim-ray: %(message)s", stream=sys.stderr)
    try:
        if hasattr(args, "threads"):
            set_threads(args.threads)
        args.func(args)
    except OffSimError as e:
        print(f"offsim-ray: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("offsim-ray: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
