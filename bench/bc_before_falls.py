"""Does a BC that never sees the run-up to the data's falls stay up longer? A plain BC (the 30-line BC of
the policy-quality issue: 3×256 ReLU MLP with a tanh output, squared error on standardised observations, Adam
at 3e-4, batch 256) trained on the dataset's rows with the last K steps of every run that ends in a fall
(terminated) left out, for each K given, side by side on the same seeds; normalised score and episode length
in the real env (deterministic actions). The issue's yardstick BC, not the project's (`policy/baselines/bc.py`
trains from a simulator artifact's rows), so the rows can be filtered here; its actions are taken as the
benchmark envs' [-1, 1] box.

    python bench/bc_before_falls.py [--data-root ../shared/datasets] [--dataset bench/hopper/medium-v0]
                                    [--drop 0 100] [--seeds 0 1 2] [--steps 12500] [--episodes 10]
"""

from __future__ import annotations

import numpy as np
import torch

import common
from offsim_ray.data import DatasetStore, dataset_reference, load_transitions
from offsim_ray.evaluation import evaluate


def train_bc(obs: np.ndarray, actions: np.ndarray, steps: int, seed: int):
    """The plain BC; returns obs -> action in [-1, 1]."""
    torch.manual_seed(seed)
    mean, std = obs.mean(0), obs.std(0) + 1e-3
    x = torch.as_tensor((obs - mean) / std, dtype=torch.float32)
    y = torch.as_tensor(np.clip(actions, -1.0, 1.0), dtype=torch.float32)
    width = 256
    net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], width), torch.nn.ReLU(), torch.nn.Linear(width, width),
                              torch.nn.ReLU(), torch.nn.Linear(width, width), torch.nn.ReLU(),
                              torch.nn.Linear(width, y.shape[1]), torch.nn.Tanh())
    optimiser = torch.optim.Adam(net.parameters(), lr=3e-4)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        index = torch.randint(0, len(x), (256,), generator=generator)
        loss = (net(x[index]) - y[index]).pow(2).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()

    @torch.no_grad()
    def act(o: np.ndarray) -> np.ndarray:
        return net(torch.as_tensor((o - mean) / std, dtype=torch.float32)).numpy()
    return act


def main() -> None:
    p = common.parser(__doc__)
    p.set_defaults(dataset="bench/hopper/medium-v0")
    p.add_argument("--drop", type=int, nargs="+", default=[0, 100], help="steps left out before each fall")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--steps", type=int, default=12_500, help="BC steps at batch 256")
    p.add_argument("--episodes", type=int, default=10, help="real-env episodes per policy")
    args = p.parse_args()
    torch.set_num_threads(1)
    store = DatasetStore.from_env(args.data_root)
    data = load_transitions(args.dataset, store)  # every row, in order: the runs stay whole
    reference = dataset_reference(args.dataset, store, download=False)
    obs, actions = np.asarray(data.obs), np.asarray(data.action)
    to_fall = common.steps_to_fall(data)
    print(f"{args.dataset}: {len(obs)} rows, {int(data.terminated.sum())} runs ending in a fall")
    for drop in args.drop:
        keep = (to_fall < 0) | (to_fall >= drop)
        scores, lengths = [], []
        for seed in args.seeds:
            act = train_bc(obs[keep], actions[keep], args.steps, seed)
            result = evaluate(act, data.env_id, obs.shape[1], actions.shape[1], reference, args.episodes, seed).metrics()
            scores.append(result["eval/normalized_score"])
            lengths.append(result["eval/length_mean"])
        print(f"  drop {drop:>4} steps before a fall ({keep.sum():5d} rows): score {np.mean(scores):5.1f} ± "
              f"{np.std(scores):4.1f} ({', '.join(f'{s:.1f}' for s in scores)}); episode lengths "
              f"{', '.join(f'{n:.0f}' for n in lengths)}")


if __name__ == "__main__":
    main()
