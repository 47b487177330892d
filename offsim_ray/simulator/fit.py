"""The OffSim (eqs. 2-4) and OffSim+ (eqs. 5-8) fit: alternating reward and transition steps.

1. Warm start: T_θ by maximum likelihood on the training transitions.
2. Each iteration, on a batch (s, a, s') of the (mixed) data:
   reward step      min_φ  E_{s'~T_θ}[r] - E_data[r] + ψ(r)  (+ β·max(0, E_D[r] + m - E_E[r]) for OffSim+)
   transition step  max_θ  α·H(T_θ) + E_{s'~T_θ}[r]  - (NLL anchor)
OffSim+ is the same loop on data with diverse rows (source = DIVERSE): the hinge is on.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from offsim_ray.data.transitions import DIVERSE, EXPERT, Transitions
from offsim_ray.errors import OffSimError
from offsim_ray.simulator.config import SimConfig
from offsim_ray.simulator.losses import margin_hinge, reward_loss, transition_loss
from offsim_ray.simulator.models import TransitionEnsemble
from offsim_ray.simulator.simulator import Simulator, build_networks


@dataclass(frozen=True)
class Batch:
    obs: torch.Tensor
    action: torch.Tensor
    next_obs: torch.Tensor
    expert: torch.Tensor  # bool mask of rows from the expert data

    @classmethod
    def of(cls, data: Transitions, device: str) -> Batch:
        def t(x):
            return torch.as_tensor(np.array(x), device=device)

        return cls(t(data.obs), t(data.action), t(data.next_obs), t(data.source == EXPERT))

    def take(self, index: torch.Tensor) -> Batch:
        return Batch(self.obs[index], self.action[index], self.next_obs[index], self.expert[index])


def holdout_sizes(data: Transitions, fraction: float) -> dict[int, int]:
    """Held-out rows per source of `data`; an error when a source would keep none to hold out or to fit on."""
    sizes = {}
    for source in (EXPERT, DIVERSE):
        rows = int((data.source == source).sum())
        sizes[source] = int(round(fraction * rows))
        if rows and not 0 < sizes[source] < rows:
            raise OffSimError(f"{data.name}: {rows} rows of one dataset leave no rows to "
                              f"{'hold out' if sizes[source] == 0 else 'fit on'} at holdout_fraction {fraction}")
    return sizes


def split_holdout(data: Transitions, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of held-out rows, drawn per source so both keep the same share."""
    rng = np.random.default_rng(seed)
    holdout = np.zeros(len(data), dtype=bool)
    for source, size in holdout_sizes(data, fraction).items():
        holdout[rng.choice(np.flatnonzero(data.source == source), size=size, replace=False)] = True
    return holdout


def _sample(transition: TransitionEnsemble, batch: Batch, generator: torch.Generator):
    member, noise = transition.draw(batch.obs, generator)
    return transition.sample(batch.obs, batch.action, noise, member)


def _hinge_terms(batch: Batch, r_data: torch.Tensor, r_model: torch.Tensor, config: SimConfig):
    r = r_data if config.hinge_on == "data" else r_model
    return r[batch.expert], r[~batch.expert]


@torch.no_grad()
def evaluate(simulator: Simulator, batch: Batch, generator: torch.Generator, margin: float) -> dict[str, float]:
    """Fidelity and game figures on held-out transitions (namespaced `sim/`)."""
    transition, reward = simulator.transition, simulator.reward
    next_model, logstd = _sample(transition, batch, generator)
    r_data, r_model = reward(batch.obs, batch.next_obs), reward(batch.obs, next_model)
    metrics = {
        "sim/holdout_nll": transition.nll(batch.obs, batch.action, batch.next_obs).item(),
        "sim/holdout_mse": transition.mse(batch.obs, batch.action, batch.next_obs).item(),
        "sim/reward_gap": (r_data.mean() - r_model.mean()).item(),
        "sim/entropy": transition.entropy(logstd).item(),
    }
    if (~batch.expert).any() and batch.expert.any():
        metrics["sim/hinge_violation"] = margin_hinge(r_data[batch.expert], r_data[~batch.expert], margin, 1.0).item()
    return metrics


def fit_simulator(data: Transitions, config: SimConfig, progress: bool = True) -> tuple[Simulator, list[dict]]:
    """Fit T_θ and r_φ on `data` (expert rows, plus diverse rows for OffSim+); returns the simulator and
    its metric history. Deterministic on CPU for a given config.seed."""
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    generator = torch.Generator(device=config.device).manual_seed(config.seed)
    holdout = split_holdout(data, config.holdout_fraction, config.seed)
    train, test = data.take(~holdout), data.take(holdout)
    stats = train.normalization()
    transition, reward = build_networks(data.obs_dim, data.action_dim, stats, config)
    simulator = Simulator(transition, reward, data, holdout, config)
    opt_t = torch.optim.Adam(transition.parameters(), lr=config.lr)
    opt_r = torch.optim.Adam(reward.parameters(), lr=config.lr)
    train_batch, test_batch = Batch.of(train, config.device), Batch.of(test, config.device)
    plus = bool((train.source == DIVERSE).any())
    margin = config.margin_value

    history: list[dict] = []
    total = config.warmup_steps + config.steps
    bar = tqdm(total=total, desc="fit simulator", unit="step", disable=not progress)
    started = time.perf_counter()

    def log(step: int, phase: str, extra: dict[str, float]) -> None:
        metrics = {**evaluate(simulator, test_batch, generator, margin), **extra}
        row = {"step": step, "phase": phase, "time_s": round(time.perf_counter() - started, 3), **metrics}
        history.append(row)
        bar.set_postfix({k.split("/")[-1]: f"{v:.3g}" for k, v in metrics.items()}, refresh=False)
        if not progress:
            return
        bar.write(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}),
                  file=sys.stderr)

    def next_batch() -> Batch:
        return train_batch.take(torch.as_tensor(rng.integers(0, len(train), config.batch_size), device=config.device))

    for step in range(config.warmup_steps):
        batch = next_batch()
        loss = transition.nll(batch.obs, batch.action, batch.next_obs)
        opt_t.zero_grad()
        loss.backward()
        opt_t.step()
        bar.update(1)
        if (step + 1) % config.eval_every == 0 or step + 1 == config.warmup_steps:
            log(step + 1, "warmup", {"sim/loss_nll": loss.item()})

    for it in range(config.steps):
        batch = next_batch()
        with torch.no_grad():
            next_model, _ = _sample(transition, batch, generator)
        r_data, r_model = reward(batch.obs, batch.next_obs), reward(batch.obs, next_model)
        loss_r = reward_loss(r_model, r_data)
        if plus:
            loss_r = loss_r + margin_hinge(*_hinge_terms(batch, r_data, r_model, config), margin, config.beta)
        opt_r.zero_grad()
        loss_r.backward()
        opt_r.step()

        next_model, logstd = _sample(transition, batch, generator)
        nll = transition.nll(batch.obs, batch.action, batch.next_obs)
        reward.requires_grad_(False)  # r_φ is fixed during the transition step
        loss_t = transition_loss(reward(batch.obs, next_model), transition.entropy(logstd), nll,
                                 config.alpha, config.nll_weight)
        opt_t.zero_grad()
        loss_t.backward()
        opt_t.step()
        reward.requires_grad_(True)
        bar.update(1)
        if (it + 1) % config.eval_every == 0 or it + 1 == config.steps:
            log(config.warmup_steps + it + 1, "minmax",
                {"sim/loss_reward": loss_r.item(), "sim/loss_transition": loss_t.item()})
    bar.close()
    simulator.fit_seconds = time.perf_counter() - started
    return simulator, history
