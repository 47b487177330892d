"""The loop CLARE and ML-IRL share: a reward r(s, a) and a SAC policy trained in turns, the policy on short
rollouts of a dynamics ensemble fit by maximum likelihood (the simulator stage's T_θ without the min-max
game), both methods under the budgets and network sizes of OffSim's own policy stage.

Each iteration:
  1. the current policy is rolled out for `horizon` steps from `rollout_starts` start states (the expert
     states or every state of the data, as the method says); as in OffSim's learned env, rollouts end
     at the task's termination function only with `termination`; the rows join a model buffer;
  2. `updates_per_iteration` SAC steps on batches of model rows, plus a `real_ratio` share of data rows,
     rewarded by the current r(s, a) (model rows: minus the method's uncertainty penalty);
     (`reward: task`: the task's own reward in place of r, an oracle that is not IRL, and no step 3);
  3. `reward_updates` Adam steps of the method's reward loss on `reward_batch` samples of each kind:
     the expert rows, all data rows, and a fresh rollout of the current policy from expert states
     (with `reward_horizon`: the expert rows are the first `reward_horizon` steps of each expert episode,
     the policy's rollouts start from their first states and run as long, or until they terminate).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from offsim_ray.action_box import to_box
from offsim_ray.data.task_reward import RewardFn, task_reward_fn
from offsim_ray.data.termination import never_terminated, termination_fn
from offsim_ray.data.transitions import EXPERT, Transitions
from offsim_ray.errors import OffSimError
from offsim_ray.policy.actor_critic import SquashedGaussian
from offsim_ray.policy.config import PolicyConfig
from offsim_ray.policy.losses import value_range_of
from offsim_ray.policy.baselines.offline import ActorCritic, Batch, DataRows
from offsim_ray.policy.trainers import TrainingContext
from offsim_ray.policy.progress import GeneratorState, Iterations
from offsim_ray.simulator.simulator import Simulator


@torch.no_grad()
def uncertainty(simulator: Simulator, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """max_i ‖σ_i(s, a)‖₂ over the ensemble members, σ in the state's own units (MOPO's penalty);
    actions in [-1, 1]."""
    _, logstd = simulator.transition(obs, raw_actions(simulator, actions))
    return max_sigma(simulator.transition, logstd)


def max_sigma(transition, logstd: torch.Tensor) -> torch.Tensor:
    """max over members of ‖σ_i‖₂ in raw state units, from the members' normalised log σ (E, B, d)."""
    return (logstd.exp() * transition.delta_std).norm(dim=-1).max(0).values


def task_rewards(fn: RewardFn, simulator: Simulator, obs: torch.Tensor, actions: torch.Tensor,
                 next_obs: torch.Tensor) -> torch.Tensor:
    """The task's own reward (`reward: task`, an oracle) of rows whose actions are in [-1, 1]."""
    r = fn(obs.cpu().numpy(), raw_actions(simulator, actions).cpu().numpy(), next_obs.cpu().numpy())
    return torch.as_tensor(r, dtype=obs.dtype, device=obs.device)


def raw_actions(simulator: Simulator, actions: torch.Tensor) -> torch.Tensor:
    low = torch.as_tensor(simulator.action_low, dtype=actions.dtype, device=actions.device)
    high = torch.as_tensor(simulator.action_high, dtype=actions.dtype, device=actions.device)
    return to_box(actions, low, high)


@dataclass(frozen=True)
class Rollout:
    """Model rows (s, a, s', terminated) and the uncertainty of each (s, a)."""

    obs: torch.Tensor
    actions: torch.Tensor
    next_obs: torch.Tensor
    terminated: torch.Tensor
    uncertainty: torch.Tensor

    FIELDS = ("obs", "actions", "next_obs", "terminated", "uncertainty")

    def take(self, index: torch.Tensor) -> Rollout:
        return Rollout(*(getattr(self, name)[index] for name in self.FIELDS))

    def __len__(self) -> int:
        return len(self.obs)


@torch.no_grad()
def rollout(module, simulator: Simulator, starts: torch.Tensor, horizon: int, generator: torch.Generator,
            terminate: bool = False, lengths: torch.Tensor | None = None) -> Rollout:
    """`horizon` steps of the policy from `starts` (start i: at most `lengths[i]`), a uniformly drawn member
    per row and step plus its Gaussian noise; with `terminate`, a row stops once the task's termination
    function fires."""
    terminated_fn = termination_fn(simulator.env_id) if terminate else never_terminated
    transition = simulator.transition
    parts, obs = [], starts
    steps_left = torch.full((len(starts),), horizon, device=starts.device) if lengths is None else lengths
    for _ in range(horizon):
        if len(obs) == 0:
            break
        actions = SquashedGaussian.from_logits(module.actor(obs)).sample()
        mean, logstd = transition(obs, raw_actions(simulator, actions))
        next_obs = transition.pick(obs, mean, logstd, *transition.draw(obs, generator))
        sigma = max_sigma(transition, logstd)
        done = terminated_fn(obs.cpu().numpy(), actions.cpu().numpy(), next_obs.cpu().numpy())
        done = torch.as_tensor(done, device=obs.device)
        parts.append(Rollout(obs, actions, next_obs, done.float(), sigma))
        going = ~done & (steps_left > 1)
        obs, steps_left = next_obs[going], steps_left[going] - 1
    return Rollout(*(torch.cat([getattr(p, name) for p in parts]) for name in Rollout.FIELDS))


@dataclass(frozen=True)
class Openings:
    """The first `length` steps of each expert episode, or of each unbroken stretch of one: a reward step's
    expert rows and the start state and step count of the policy's rollout beside each (ML-IRL's authors)."""

    starts: torch.Tensor   # row of each opening's first state
    lengths: torch.Tensor  # its steps in the data, at most `length`
    rows: torch.Tensor     # every row of every opening

    @classmethod
    def of(cls, data: Transitions, length: int, device: str) -> Openings:
        starts, lengths = data.runs()
        expert = data.source[starts] == EXPERT
        starts, lengths = starts[expert], np.minimum(lengths[expert], length)
        rows = np.concatenate([np.arange(s, s + n) for s, n in zip(starts, lengths)])
        return cls(*(torch.as_tensor(x, device=device) for x in (starts, lengths, rows)))


class ModelBuffer:
    """The latest `capacity` model rows, first in first out."""

    def __init__(self, capacity: int, device: str):
        self.capacity, self.device = capacity, device
        self.rows: Rollout | None = None

    def add(self, rows: Rollout) -> None:
        if self.rows is not None:
            rows = Rollout(*(torch.cat([getattr(self.rows, n), getattr(rows, n)]) for n in Rollout.FIELDS))
        self.rows = rows.take(torch.arange(max(0, len(rows) - self.capacity), len(rows), device=rows.obs.device))

    def sample(self, n: int, generator: torch.Generator) -> Rollout:
        return self.rows.take(torch.randint(0, len(self.rows), (n,), generator=generator,
                                            device=self.rows.obs.device))

    def state_dict(self) -> dict:
        return {} if self.rows is None else {name: getattr(self.rows, name) for name in Rollout.FIELDS}

    def load_state_dict(self, state: dict) -> None:
        self.rows = Rollout(*(state[name].to(self.device) for name in Rollout.FIELDS)) if state else None


class RewardModel(nn.Module):
    """r(s, a): `net` on the state normalised by the data's statistics and the action in [-1, 1]."""

    def __init__(self, net: nn.Module, simulator: Simulator, bound: float | None = None):
        super().__init__()
        self.net = net
        self.register_buffer("obs_mean", simulator.transition.obs_mean.clone())
        self.register_buffer("obs_std", simulator.transition.obs_std.clone())
        self.bound = bound

    def forward(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        r = self.net(torch.cat([(obs - self.obs_mean) / self.obs_std, actions], -1)).squeeze(-1)
        return r if self.bound is None else r.clamp(-self.bound, self.bound)


class RewardLearning:
    """What a model-based IRL method decides: its reward network, its reward loss, the policy's start
    states and the uncertainty penalty on model rewards."""

    name: str
    starts_from_expert: bool   # rollouts for the policy start from expert states (else every data state)
    weight_decay: float        # Adam weight decay of the reward

    def build_reward(self, simulator: Simulator, config: PolicyConfig) -> RewardModel:
        raise NotImplementedError

    def prepare(self, rows: DataRows, simulator: Simulator, config: PolicyConfig) -> dict[str, float]:
        """Anything computed once from the data before training; returns metrics to report."""
        return {}

    def penalty(self, uncertainty: torch.Tensor, config: PolicyConfig) -> torch.Tensor:
        return torch.zeros_like(uncertainty)

    def reward_loss(self, reward: RewardModel, rows: DataRows, expert: torch.Tensor, data: torch.Tensor,
                    agent: Rollout, config: PolicyConfig) -> tuple[torch.Tensor, dict[str, float]]:
        """The loss of one reward step: `expert` and `data` index expert rows and all rows."""
        raise NotImplementedError


def train_model_based(method: RewardLearning, context: TrainingContext):
    """Trains `method`'s reward and policy in the context's dynamics ensemble; returns (the
    policy's RLModule, the last metrics row)."""
    data, config, low, high = context.data, context.config, context.low, context.high
    simulator = context.simulator
    if simulator.config.device != config.device:  # sim.device and policy.device are set apart
        simulator = Simulator.load(context.artifact, config.device)
    torch.manual_seed(config.seed)
    device = config.device
    generator = torch.Generator(device=device).manual_seed(config.seed)
    rows = DataRows(data, low, high, config.action_clip, device)
    if config.true_reward and not torch.isfinite(rows.rewards).all():
        raise OffSimError(f"{data.name}: true_reward needs the data's recorded rewards, and some rows have none")
    actor_critic = ActorCritic(config, data.obs_dim, low, high, data=data)
    reward = method.build_reward(simulator, config).to(device)
    reward_opt = torch.optim.Adam(reward.parameters(), lr=config.reward_lr, weight_decay=method.weight_decay)
    prepared = method.prepare(rows, simulator, config)
    buffer = ModelBuffer(config.replay_capacity, device)
    n_real = int(round(config.batch_size * config.real_ratio))
    openings = Openings.of(data, config.reward_horizon, device) if config.reward_horizon else None
    task = task_reward_fn(simulator.env_id) if config.reward == "task" else None

    def rewards(obs: torch.Tensor, actions: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
        return reward(obs, actions) if task is None else task_rewards(task, simulator, obs, actions, next_obs)

    @torch.no_grad()
    def model_rewards(model: Rollout) -> torch.Tensor:
        return rewards(model.obs, model.actions, model.next_obs) - method.penalty(model.uncertainty, config)

    @torch.no_grad()
    def real_rewards(index: torch.Tensor) -> torch.Tensor:
        r = rewards(rows.obs[index], rows.actions[index], rows.next_obs[index])
        if config.true_reward:  # never reads the recorded rewards otherwise (NaN where unknown)
            r = r + config.true_reward * rows.rewards[index]
        return r

    parts = {"actor_critic": actor_critic, "reward": reward, "reward_optimiser": reward_opt, "buffer": buffer,
             "generator": GeneratorState(generator)}
    with Iterations(context, method.name, parts) as run:
        for iteration in run:
            starts = rows.obs[rows.sample(config.rollout_starts, generator, method.starts_from_expert)]
            model_rows = rollout(actor_critic.module, simulator, starts, config.horizon, generator, config.termination)
            buffer.add(model_rows)
            bound, clamp_metrics = None, {}
            if config.value_clamp and config.clamp_bound == "range":  # r is fixed until this round's reward steps
                every_row = torch.arange(len(rows.obs), device=device)
                bound = value_range_of(torch.cat([real_rewards(every_row), model_rewards(model_rows)]), config.gamma)
                clamp_metrics = {"policy/value_low": bound[0].item(), "policy/value_high": bound[1].item()}
            for _ in range(config.updates_per_iteration):
                model = buffer.sample(config.batch_size - n_real, generator)
                real = rows.sample(n_real, generator)
                batch = Batch.concat([Batch(model.obs, model.actions, model_rewards(model), model.next_obs,
                                            model.terminated), rows.batch(real, real_rewards(real))])
                policy_metrics = actor_critic.sac_step(batch, bound)
            reward_metrics = {}
            for _ in range(config.reward_updates if task is None else 0):
                if openings is None:
                    expert_starts = rows.obs[rows.sample(max(1, config.reward_batch // config.horizon), generator, True)]
                    agent = rollout(actor_critic.module, simulator, expert_starts, config.horizon, generator,
                                    config.termination)
                    expert = rows.sample(config.reward_batch, generator, True)
                else:  # ended by the task's termination, as the authors' reward rollouts
                    agent = rollout(actor_critic.module, simulator, rows.obs[openings.starts], config.reward_horizon,
                                    generator, True, openings.lengths)
                    expert = openings.rows
                loss, reward_metrics = method.reward_loss(reward, rows, expert,
                                                          rows.sample(config.reward_batch, generator), agent, config)
                if openings is not None:
                    reward_metrics["irl/rollout_share"] = len(agent) / len(expert)
                reward_opt.zero_grad()
                loss.backward()
                reward_opt.step()
            run.write(iteration, {**policy_metrics, **clamp_metrics, **reward_metrics,
                                  "irl/model_uncertainty": model_rows.uncertainty.mean().item(), **prepared})
    return actor_critic.module.eval(), run.last
