"""Does the critic feed on the learned env's drift? For finished SAC or DDPG trials in the learned env: the
final critic's Q on the data's rows by source; where the data's runs end in falls, the advantage of the data's
action over the policy's, A = Q(s, a) − Q(s, π(s)), and its weight in eq. (9) at `policy.advantage_weight` 1, by
steps to the fall (which rows the weights favour); and along rollouts of the final policy in the learned env
from the data's states, per step: how far the states have drifted from the data (the largest |s − mean| / std
over dimensions), mean Q(s, π(s)), and mean reward. When Q grows along a rollout by more than 1/γ per step,
each TD target bootstrapped from a rollout's last state is larger than the Q it trains, and the critic
climbs without end.

    python bench/critic_drift.py TRIAL_DIR [TRIAL_DIR ...] [--steps 8] [--starts 4000]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from ray.rllib.core.rl_module.rl_module import RLModule

import common
from offsim_ray.action_box import from_box, to_box
from offsim_ray.data.transitions import DIVERSE, EXPERT, Transitions
from offsim_ray.errors import OffSimError
from offsim_ray.policy import losses
from offsim_ray.simulator import Simulator

SOURCES = {EXPERT: "expert", DIVERSE: "diverse"}


def load(trial: Path) -> tuple[RLModule, Simulator]:
    """The trial's last checkpointed module (actor and critics) and the simulator it trained in."""
    simulator = common.trial_simulator(trial)
    module_dir = trial.resolve() / "training/algorithm/learner_group/learner/rl_module/default_policy"
    try:
        module = RLModule.from_checkpoint(str(module_dir))
    except (OSError, KeyError, ImportError, AttributeError) as e:
        raise OffSimError(f"{trial}: no policy module that this code can read ({e})") from None
    if not hasattr(module, "critic"):
        raise OffSimError(f"{trial}: not an actor-critic trial in the learned env")
    return module.eval(), simulator


@torch.no_grad()
def report(trial: Path, steps: int, starts: int) -> None:
    module, simulator = load(trial)
    dist_cls = module.get_inference_action_dist_cls()
    data = simulator.data
    low, high = np.asarray(simulator.action_low), np.asarray(simulator.action_high)
    obs = torch.as_tensor(np.array(data.obs), dtype=torch.float32)

    def policy_action(states: torch.Tensor) -> torch.Tensor:
        inputs = module.forward_inference({"obs": states})["action_dist_inputs"]
        return dist_cls.from_logits(inputs).to_deterministic().sample().clamp(-1, 1)

    data_actions = torch.as_tensor(np.clip(from_box(np.asarray(data.action), low, high), -1, 1), dtype=torch.float32)
    q_data = module.critic(obs, data_actions).min(0).values.numpy()
    q_policy = module.critic(obs, policy_action(obs)).min(0).values.numpy()
    print(trial)
    for source in np.unique(data.source):
        rows = np.asarray(data.source) == source
        print(f"  {SOURCES.get(int(source), source):<8} rows: Q(s, a_data) {q_data[rows].mean():8.2f}   "
              f"Q(s, π(s)) {q_policy[rows].mean():8.2f}")
    by_fall(data, q_data, q_policy)
    rng = np.random.default_rng(0)
    states = np.asarray(data.obs)[rng.integers(0, len(data.obs), starts)]
    previous = None
    for step in range(steps):
        s = torch.as_tensor(states, dtype=torch.float32)
        actions = policy_action(s)
        q = module.critic(s, actions).min(0).values.numpy().mean()
        drift = module.critic.standardise(s).abs().max(1).values.mean()  # the critic's own data statistics
        states, reward = simulator.step(states, to_box(actions.numpy(), low, high), rng, True, True)
        growth = f"×{q / previous:5.3f}" if previous else ""
        print(f"  step {step}: drift {drift:5.2f} std   Q {q:8.2f} {growth:<7}  r {reward.mean():6.3f}")
        previous = q


FALL_BANDS = ((0, 10), (10, 50), (50, 100), (100, 200), (200, None))


def by_fall(data: Transitions, q_data: np.ndarray, q_policy: np.ndarray) -> None:
    """A over all rows; on the rows of the runs that end in a fall, A and its weight exp(z)
    (`losses.advantage_weights`, β = 1, standardised over all rows) by steps left before the fall."""
    to_fall = common.steps_to_fall(data)
    advantage = q_data - q_policy
    print(f"  A over all rows: mean {advantage.mean():6.3f}, std {advantage.std():5.3f}; "
          f"{(to_fall >= 0).mean():.1%} of the rows in runs that end in a fall")
    if not (to_fall >= 0).any():
        return
    weights = losses.advantage_weights(torch.as_tensor(q_data), torch.as_tensor(q_policy), 1.0).numpy()
    for low, high in FALL_BANDS:
        rows = (to_fall >= low) & (to_fall < (high or len(to_fall)))
        print(f"    {low:>3}–{high or '':<3} steps before a fall: {rows.sum():6d} rows   A {advantage[rows].mean():6.3f}"
              f"   weight at β = 1 {weights[rows].mean():5.2f}")


def main() -> None:
    parser = common.trials_parser(__doc__, "trial directories of finished SAC or DDPG trials")
    parser.add_argument("--steps", type=int, default=8, help="learned-env steps per rollout")
    parser.add_argument("--starts", type=int, default=4000, help="rollouts, started from the data's states")
    args = parser.parse_args()
    common.for_each_trial("critic_drift", args.trials, lambda trial: report(trial, args.steps, args.starts))


if __name__ == "__main__":
    main()
