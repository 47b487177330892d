"""Does r_φ rank real data by quality? Mean r_φ(s, s') of fitted simulators (artifact dirs, or folders of
them) on every real transition of the expert, medium and random datasets of their env, whatever data the
simulator was fitted on. A reward fitted on medium data that scores medium transitions above expert ones
asks the policy to act like the medium policy.

    python bench/reward_levels.py --artifacts DIR [DIR ...] [--data-root ../shared/datasets]
                                  [--made-root bench-runs/data]
"""

from __future__ import annotations

import argparse

import torch

import common
from offsim_ray.data import DatasetStore, load_transitions

LEVELS = ("expert", "medium", "random")


def level_id(dataset_id: str, level: str) -> str:
    """'bench/hopper/medium-v0', 'expert' -> 'bench/hopper/expert-v0'."""
    prefix, _, name = dataset_id.rpartition("/")
    return f"{prefix}/{level}-v{name.rpartition('-v')[2]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    common.store_flags(parser, made_root=True)
    parser.add_argument("--artifacts", nargs="+", metavar="DIR", required=True,
                        help="fitted simulator artifacts, or folders of them")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cache = {}

    def real(dataset_id: str):
        if dataset_id not in cache:
            store = DatasetStore.from_env(common.data_root(args, dataset_id))
            cache[dataset_id] = (load_transitions(dataset_id, store, download=False)
                                 if (store.root / dataset_id).is_dir() else None)
        return cache[dataset_id]

    print("| artifact | fitted on | " + " | ".join(f"r on {level}" for level in LEVELS) + " |")
    print("|---|---|" + "---|" * len(LEVELS))
    for path, simulator in common.simulators(args.artifacts):
        cells = []
        for level in LEVELS:
            data = real(level_id(simulator.data.dataset_ids[0], level))
            cells.append("—" if data is None else f"{simulator.reward_of(data).mean():.3f}")
        print(f"| {path.name} | {simulator.data.name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
