"""`offsim-ray` command line. Bad input ends in one line on stderr and exit status 1 (2 for usage)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from offsim_ray.errors import OffSimError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line instead of usage + message
        self.exit(2, f"offsim-ray: error: {message} (see `{self.prog} --help`)\n")


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


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


def data_list(args: argparse.Namespace) -> None:
    from offsim_ray.data import DatasetStore

    store: DatasetStore = _store(args)
    ids = store.ids()
    print(f"{len(ids)} datasets in {store.root}")
    for dataset_id in ids:
        print(f"  {dataset_id}")


def data_info(args: argparse.Namespace) -> None:
    from offsim_ray.data import describe, open_dataset

    info = describe(open_dataset(args.dataset, _store(args), download=not args.offline))
    print("\n".join(info.lines()))


def data_export(args: argparse.Namespace) -> None:
    from offsim_ray.data import load_transitions, mix

    store = _store(args)
    kwargs = dict(drop_nonfinite=args.drop_nonfinite, download=not args.offline)
    expert = load_transitions(args.expert, store, "expert", **kwargs)
    if args.diverse:
        diverse = load_transitions(args.diverse, store, "diverse", **kwargs)
        half = args.n // 2
        data = mix(expert, diverse, args.n - half, half, args.seed)
    else:
        data = expert.subsample(args.n, args.seed)
    out = Path(args.out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out.parent, prefix=f".{out.name}.", suffix=".npz", delete=False) as f:
            np.savez(f, obs=data.obs, action=data.action, next_obs=data.next_obs,
                     terminated=data.terminated, truncated=data.truncated, source=data.source)
        os.replace(f.name, out)
    except OSError as e:
        raise OffSimError(f"cannot write {out}: {e.strerror or e}") from None
    print(f"wrote {len(data)} transitions of {data.name} ({data.env_id}) -> {out}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="offsim-ray", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-root", help="Minari store (default: $MINARI_DATASETS_PATH or ~/.minari/datasets)")
    common.add_argument("--offline", action="store_true", help="never try the Minari remote")

    data = commands.add_parser("data", help="offline datasets: collect, list, inspect, export")
    data_commands = data.add_subparsers(dest="data_command", required=True, parser_class=_Parser)

    p = data_commands.add_parser("collect", parents=[common], help="roll a policy in the real env into a Minari dataset")
    p.add_argument("--env", required=True, help="Gymnasium env id, e.g. Hopper-v5")
    p.add_argument("--policy", default="random", help="policy to roll out (random)")
    p.add_argument("--steps", type=_positive_int, default=20_000, help="env steps to collect")
    p.add_argument("--dataset-id", required=True, help="Minari id to write, e.g. local/hopper/random-v0")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--overwrite", action="store_true", help="replace an existing dataset of that id")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=data_collect)

    p = data_commands.add_parser("list", parents=[common], help="datasets in the local store")
    p.set_defaults(func=data_list)

    p = data_commands.add_parser("info", parents=[common], help="steps, episodes, spaces and returns of a dataset")
    p.add_argument("dataset", help="Minari id or alias such as hopper-expert")
    p.set_defaults(func=data_info)

    p = data_commands.add_parser("export", parents=[common], help="write N (s, a, s') tuples to an .npz file")
    p.add_argument("--expert", required=True, help="expert dataset id or alias")
    p.add_argument("--diverse", help="diverse dataset id or alias; mixes N/2 + N/2 as OffSim+ does")
    p.add_argument("--n", type=_positive_int, default=20_000, help="transitions to keep (paper: 20000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--drop-nonfinite", action="store_true", help="drop rows with NaN or inf instead of refusing")
    p.add_argument("--out", required=True, help="output .npz path")
    p.set_defaults(func=data_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="offsim-ray: %(message)s", stream=sys.stderr)
    try:
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
