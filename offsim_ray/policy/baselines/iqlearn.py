"""IQ-Learn, offline: inverse soft-Q learning on the data alone (Garg et al., NeurIPS 2021, arXiv 2106.12142).

One critic Q(s, a) stands for both the reward and the value: the reward it implies is
r(s, a, s') = Q(s, a) − γ·V^π(s') (eq. 11), with the soft value V^π(s) = E_{a~π}[Q(s, a) − α·log π(a|s)].
The critic maximises the inverse soft-Q objective (eq. 10)
  J*(Q) = E_{ρ_E}[φ(Q(s, a) − γ(1 − d)·V^π(s'))] − (1 − γ)·E_{ρ0}[V^π(s0)],
with the χ² divergence's φ(x) = x − x²/(4α_χ) (section 5.3), and the initial-state term replaced by the
telescoping identity (section 5.1) (1 − γ)·E_{ρ0}[V^π(s0)] = E_{(s, s')~ρ}[V^π(s) − γ(1 − d)·V^π(s')],
which holds for any policy's occupancy ρ: offline, ρ is the data (the expert rows; with diverse rows, all
rows). The actor is SAC's: min_π E_{s~ρ_E, a~π}[α·log π(a|s) − Q(s, a)].

Equation numbers are those of the paper's NeurIPS submission text. Published MuJoCo settings used here
(the authors' scripts): one critic, its target copy (τ = 0.005) for V^π(s'); actor Adam 3e-5, critic 3e-4;
temperature fixed at 0.01; α_χ = 0.5; batch 256. Policy networks and budgets are the preset's, the same
for every method.
"""

from __future__ import annotations

import time

import torch

from offsim_ray.policy.baselines.offline import ActorCritic, DataRows
from offsim_ray.policy.trainers import TrainingContext
from offsim_ray.policy.progress import ProgressLog


def inverse_soft_q_loss(q: torch.Tensor, v_next_expert: torch.Tensor, done_expert: torch.Tensor,
                        v: torch.Tensor, v_next: torch.Tensor, done: torch.Tensor, gamma: float,
                        chi2: float) -> tuple[torch.Tensor, torch.Tensor]:
    """−J*(Q) on a batch of expert rows (q, v_next_expert, done_expert) and of ρ rows (v, v_next, done);
    also the implicit rewards of the expert rows."""
    implicit = q - gamma * (1.0 - done_expert) * v_next_expert
    phi = implicit - implicit.pow(2) / (4.0 * chi2)
    initial = (v - gamma * (1.0 - done) * v_next).mean()
    return -phi.mean() + initial, implicit.detach()


def train(context: TrainingContext):
    """iterations × updates_per_iteration critic and actor steps; returns (the policy's RLModule, last row)."""
    data, config, low, high = context.data, context.config, context.low, context.high
    torch.manual_seed(config.seed)
    generator = torch.Generator(device=config.device).manual_seed(config.seed)
    rows = DataRows(data, low, high, config.device)
    actor_critic = ActorCritic(config, data.obs_dim, low, high, critics=1, data=data)
    module = actor_critic.module
    started, row = time.perf_counter(), {}
    with ProgressLog(context.workdir, "iqlearn", config.iterations, context.progress, context.report) as log:
        for iteration in range(1, config.iterations + 1):
            for _ in range(config.updates_per_iteration):
                expert = rows.sample(config.batch_size, generator, expert_only=True)
                occupancy = rows.sample(config.batch_size, generator)
                with torch.no_grad():
                    v_next_expert = module.soft_value(rows.next_obs[expert], target=True)
                    v_next = module.soft_value(rows.next_obs[occupancy], target=True)
                q = module.critic(rows.obs[expert], rows.actions[expert])[0]
                loss, implicit = inverse_soft_q_loss(q, v_next_expert, rows.terminated[expert],
                                                     module.soft_value(rows.obs[occupancy]), v_next,
                                                     rows.terminated[occupancy], config.gamma, config.chi2)
                metrics = actor_critic.step(loss, rows.obs[expert])
            row = {"iteration": iteration, "policy/updates": iteration * config.updates_per_iteration,
                   "policy/seconds": time.perf_counter() - started, **metrics, "policy/q_mean": q.mean().item(),
                   "irl/implicit_reward_expert": implicit.mean().item()}
            log.write(row)
    return module.eval(), row
