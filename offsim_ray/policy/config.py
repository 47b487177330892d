"""Policy-stage configuration: a frozen dataclass with one line per field, and its presets.

No RLlib here, so the trial and the CLI can read and validate a config without importing it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

from offsim_ray.envs import REWARDS, START_STATES, VARIANCES
from offsim_ray.errors import OffSimError, check_fields, check_types, known_fields

ALGORITHMS = ("sac", "ddpg", "ppo", "bc", "clare", "mlirl", "iqlearn")
# RLlib's, in the learned env "OffSim-v0": the ones whose learner `compile` puts under torch.compile
RLLIB_ALGORITHMS = ALGORITHMS[:3]
# the model-based IRL baselines, whose SAC trains on batches of a dynamics ensemble's rollouts
MODEL_BASED_ALGORITHMS = ("clare", "mlirl")
# RLlib's in the learned env "OffSim-v0", and the model-based IRL baselines: those a `reward: task` oracle can train
TASK_REWARD_ALGORITHMS = RLLIB_ALGORITHMS + MODEL_BASED_ALGORITHMS
# those whose actor trains beside Q critics: the ones `advantage_weight` can weigh eq. (9) by
Q_CRITIC_ALGORITHMS = ("sac", "ddpg", "clare", "mlirl", "iqlearn")
# the allowed values of the config's choice fields: their checks and error hints are made from this
CHOICES = {"algo": ALGORITHMS, "expert_loss": ("mse", "nll", "censored"), "variance": VARIANCES, "start_states": START_STATES, "reward": REWARDS,
           "iq_value": ("value", "v0"), "chi2_rows": ("expert", "all"), "value_rows": ("expert", "all"), "precision": ("fp32", "bf16"),
           "clamp_bound": ("batch", "range")}


def choice_hint(name: str, values: tuple[str, ...]) -> str:
    return f"{name} is " + (f"one of {', '.join(values)}" if len(values) > 2 else " or ".join(values))


@dataclass(frozen=True)
class PolicyConfig:
    algo: str = "sac"                # sac | ddpg | ppo (RLlib, in the learned env) | bc (on the expert data) | clare | mlirl | iqlearn
    layers: int = 4                  # linear layers of the actor and of each critic (paper: 4-layer MLP)
    hidden: int = 256                # width of their hidden layers
    gamma: float = 0.99              # discount
    actor_lr: float = 3e-4           # Adam learning rate of the actor (and of BC)
    critic_lr: float = 3e-4          # Adam learning rate of the critics (PPO: of the value function)
    batch_size: int = 256            # transitions per gradient step (PPO: per minibatch)
    iterations: int = 100            # RLlib training iterations (one `train()` call each)
    updates_per_iteration: int = 100  # gradient steps per iteration (SAC, DDPG, BC)
    num_envs: int = 64               # learned envs stepped as one batch by the env runner
    updates_per_sample: int = 4      # gradient steps per vector step of `num_envs` transitions (SAC, DDPG)
    learning_starts: int = 5000      # random-action env steps in the replay before the first update
    replay_capacity: int = 1_000_000  # transitions kept in the replay buffer
    tau: float = 0.005               # Polyak step of the target networks
    initial_alpha: float = 0.01      # SAC: initial temperature (r_φ is in (-1, 1): RLlib's 1.0 drowns it)
    learn_alpha: bool = False        # SAC: tune the temperature to an entropy of entropy_target·dim(A) (off: see docs/policy.md)
    entropy_target: float = -1.0     # SAC with learn_alpha: target entropy per action dimension
    regulariser: float = 1.0         # λ of eq. (9): weight of the expert term on the actor loss (measured: docs/policy.md)
    expert_loss: str = "censored"    # eq. (9) and BC: −log π(a|s) with actions at ±action_clip censored, "nll" the plain −log π, or "mse" ‖tanh μ(s) − a‖² (measured: docs/benchmarks.md)
    action_clip: float = 0.99        # data actions, scaled to [-1, 1], are clipped to ±this: −log π is infinite on the bounds (measured: docs/benchmarks.md)
    advantage_weight: float = 0.0    # β: eq. (9) weighs each expert pair by exp(β·A) of its standardised advantage under the critics, mean 1 (AWR's filter, not the paper's; 0: every pair alike; measured: docs/benchmarks.md)
    advantage_clip: float = 0.0      # with β > 0: the standardised advantage z is held to ±this before exp(β·z), bounding the weights to [e^-βc, e^βc] before scaling (0: unbounded; measured: docs/benchmarks.md)
    q_weight: float = 1.0            # κ: the actor's Q term is scaled by κ / mean|Q| (TD3+BC's λ); 0: unscaled (measured: docs/benchmarks.md)
    critic_norm: bool = False        # critics' hidden layers layer-normalised (no learned scale), bounding Q's growth off the data (measured: docs/benchmarks.md)
    normalise_obs: bool = True       # actor and critics standardise observations with the training data's mean, std
    exploration_noise: float = 0.1   # DDPG: std of the Gaussian noise on actions in [-1, 1]
    ppo_rollout: int = 20            # PPO: env steps per env per iteration (4 learned-env episodes of 5)
    ppo_epochs: int = 10             # PPO: passes over each iteration's batch
    ppo_clip: float = 0.2            # PPO: clip range of the probability ratio
    horizon: int = 5                 # learned-env steps before truncation (paper: 5-step rollouts)
    variance: str = "high"           # learned env: "high" (sampled member + noise) or "low" (ensemble mean)
    termination: bool = False        # learned env: apply the task's healthy-state termination function (r < 0 mostly: ending early pays)
    reward_on_mean: bool = True      # learned env: r_φ(s, s') on the ensemble's mean s' (False: on the sampled s', measured)
    reward_shift: float = 0.0        # learned env: added to every reward (with termination, > 1 makes staying alive pay)
    start_states: str = "expert"     # learned env: episodes start from the expert rows' states, or "all" rows (OffSim+: the diverse ones too; measured)
    reward: str = "learned"          # r_φ (clare, mlirl: their r(s, a)), or "task": the task's own reward, an oracle that is not IRL (clare, mlirl: no reward steps; measured)
    reward_lr: float = 1e-4          # clare, mlirl: Adam learning rate of the reward r(s, a)
    reward_updates: int = 1          # clare, mlirl: reward steps per iteration, after its policy updates
    reward_batch: int = 5000         # clare, mlirl: samples of each kind per reward step
    reward_horizon: int = 0          # clare, mlirl: > 0: a reward step compares the first this-many steps of each expert episode with the policy's from its first state in T̂ (ML-IRL's authors: 200; lower here, measured: docs/benchmarks.md); 0: `horizon`-step rollouts from random expert rows
    rollout_starts: int = 2000       # clare, mlirl: model rollouts of `horizon` steps started per iteration
    real_ratio: float = 0.0          # clare, mlirl: share of real data rows in each policy batch
    penalty: float = 0.0             # mlirl: λ of the uncertainty penalty r − λ·max_i‖σ_i(s, a)‖
    value_clamp: bool = False        # clare, mlirl: TD targets' next values clamped to the returns the rewards allow, as `clamp_bound` says (OffSim's learned env clamps to r_φ's bound; measured: docs/benchmarks.md)
    clamp_bound: str = "batch"       # clare, mlirl with value_clamp: ±max|r| of each "batch"'s rewards, or the "range" [min(r, 0), max(r, 0)] of every data row's and the iteration's rollout rows' (measured: docs/benchmarks.md)
    true_reward: float = 0.0         # clare, mlirl: weight of the dataset's recorded reward added on real rows (ML-IRL's authors: 1; not IRL, measured)
    uncertainty_threshold: float = 0.5  # clare: normalised uncertainty below which data counts as reliable
    chi2: float = 0.5                # iqlearn: α of the χ² regulariser φ(x) = x − x²/(4α)
    iq_value: str = "value"          # iqlearn: eq. (10)'s initial-state term, "value" E_ρ[V(s) − γV(s')] or "v0" (1 − γ)·E_E[V(s)]
    chi2_rows: str = "expert"        # iqlearn: implicit rewards the χ² term penalises, the "expert" rows' or "all" sampled rows'
    value_rows: str = "expert"       # iqlearn: ρ of the "value" term and the rows of the observation statistics, the "expert" rows or "all" (the same on expert-only data; "all" diverges on mixes, measured)
    precision: str = "fp32"          # actor and critics (SAC, DDPG, the baselines): "bf16" runs their matrix multiplies in bfloat16 (measured: docs/benchmarks.md)
    compile: bool = False            # sac, ddpg, ppo: the learner's whole update and the learned env's step under torch.compile, CUDA graphs on a GPU (slower on a CPU core, measured: docs/benchmarks.md)
    eval_episodes: int = 10          # real-env episodes of the final evaluation (deterministic actions)
    checkpoint_every: int = 10       # iterations between algorithm checkpoints
    seed: int = 0                    # seeds the networks, the env runner and the replay sampling
    device: str = field(default="cpu", compare=False)  # torch device of the learner (where, not what: not compared)

    def __post_init__(self) -> None:
        check_types(self, "policy config")
        checks = {
            "layers": self.layers >= 2, "hidden": self.hidden > 0,
            "gamma": 0 < self.gamma <= 1, "actor_lr": self.actor_lr > 0, "critic_lr": self.critic_lr > 0,
            "batch_size": self.batch_size > 0, "iterations": self.iterations > 0,
            "updates_per_iteration": self.updates_per_iteration > 0, "num_envs": self.num_envs > 0,
            "updates_per_sample": self.updates_per_sample > 0, "learning_starts": self.learning_starts >= 0,
            "replay_capacity": self.replay_capacity >= self.batch_size, "tau": 0 < self.tau <= 1, "initial_alpha": self.initial_alpha > 0,
            "entropy_target": self.entropy_target < math.log(2),  # a uniform action's entropy per dimension
            "regulariser": self.regulariser >= 0, "action_clip": 0 < self.action_clip < 1,
            "q_weight": self.q_weight >= 0, "advantage_weight": self.advantage_weight >= 0 and (self.advantage_weight == 0 or self.algo in Q_CRITIC_ALGORITHMS), "advantage_clip": self.advantage_clip >= 0 and (self.advantage_clip == 0 or self.advantage_weight > 0), "exploration_noise": self.exploration_noise >= 0,
            "critic_norm": not self.critic_norm or self.algo in Q_CRITIC_ALGORITHMS,
            "ppo_rollout": self.ppo_rollout > 0, "ppo_epochs": self.ppo_epochs > 0, "ppo_clip": self.ppo_clip > 0,
            "horizon": self.horizon > 0,
            "reward_lr": self.reward_lr > 0, "reward_updates": self.reward_updates >= 0,
            "reward_batch": self.reward_batch > 0, "reward_horizon": self.reward_horizon >= 0,
            "rollout_starts": self.rollout_starts > 0,
            "real_ratio": 0 <= self.real_ratio <= 1, "penalty": self.penalty >= 0,
            "value_clamp": not self.value_clamp or self.algo in MODEL_BASED_ALGORITHMS,
            "compile": not self.compile or self.algo in RLLIB_ALGORITHMS,
            "true_reward": self.true_reward >= 0 and (self.true_reward == 0 or self.real_ratio > 0),
            "uncertainty_threshold": self.uncertainty_threshold > 0, "chi2": self.chi2 > 0,
            "eval_episodes": self.eval_episodes > 0, "checkpoint_every": self.checkpoint_every > 0,
            "seed": self.seed >= 0, **{name: getattr(self, name) in values for name, values in CHOICES.items()},
            "reward": self.reward in REWARDS and (self.reward == "learned" or self.algo in TASK_REWARD_ALGORITHMS),
        }
        check_fields(self, checks, "policy config",
                     {**{name: choice_hint(name, values) for name, values in CHOICES.items()},
                      "true_reward": "must be ≥ 0, and > 0 only with real rows (real_ratio > 0)",
                      "advantage_weight": "must be ≥ 0, and > 0 only for " + ", ".join(Q_CRITIC_ALGORITHMS),
                      "advantage_clip": "must be ≥ 0, and > 0 only with advantage_weight > 0",
                      "critic_norm": "only for " + ", ".join(Q_CRITIC_ALGORITHMS),
                      "value_clamp": "only for " + " and ".join(MODEL_BASED_ALGORITHMS),
                      "compile": "only for " + ", ".join(RLLIB_ALGORITHMS),
                      "reward": choice_hint("reward", REWARDS) + "; task only for " + ", ".join(TASK_REWARD_ALGORITHMS)})

    @property
    def hiddens(self) -> list[int]:
        return [self.hidden] * (self.layers - 1)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> PolicyConfig:
        return cls(**known_fields(cls, d, "policy config"))

    def with_(self, **changes) -> PolicyConfig:
        return replace(self, **changes)


PRESETS: dict[str, PolicyConfig] = {
    # a 13-24 s trial (fit included) on 2 CPU cores: tests and the smoke reproduction
    "smoke": PolicyConfig(hidden=64, iterations=4, updates_per_iteration=25, num_envs=16, learning_starts=256,
                          ppo_rollout=10, ppo_epochs=2, checkpoint_every=2),
    # about 7 minutes an OffSim trial (fit included) on one thread (391-408 s measured; 294 s with bf16), two at a time on 2 cores
    "quick": PolicyConfig(iterations=50, updates_per_iteration=250),
    # the paper's budgets, for GPUs
    "paper": PolicyConfig(iterations=1000, updates_per_iteration=1000, num_envs=256),
}


# The baselines' own hyper-parameters for MuJoCo, from their authors (sources in each module's docstring),
# and the deviations measured there; network sizes, budgets and standardised observations stay the
# preset's, so every method trains under the same conditions.
ALGORITHM_DEFAULTS: dict[str, dict] = {
    # eq. (9)'s form is inert at λ = 0 (IQ-Learn) and for a deterministic actor (DDPG: the squared
    # error): "nll", their value before the censored default, keeps their trial keys. DDPG's λ = 50 =
    # 1/(2σ²), σ = 0.1 its exploration noise: the squared error weighted as that Gaussian's −log π per
    # dimension (at λ = 1 its actor left the expert; at κ = 2.5 it fell on Walker2d; measured: docs/benchmarks.md)
    "ddpg": dict(expert_loss="nll", regulariser=50.0),
    # CLARE's reward steps and ML-IRL's λ depart from their authors' (5e-5 × 1 a round; 5.9); both actors are the
    # preset's, OffSim's (eq. (9)'s censored term, κ = 1, α fixed at 0.01), CLARE's term at its authors' 0.25 (theirs
    # the plain one, unscaled, learned from 0.2; ML-IRL's: none, unscaled, learned from 1.0), both critics with TD targets
    # clamped to the returns their reward's range over the data and the latest rollout allows: measured in
    # docs/benchmarks.md, "Table 1 baselines", and explained in each module's docstring
    "clare": dict(regulariser=0.25, value_clamp=True, clamp_bound="range", reward_lr=1e-3, reward_updates=10, real_ratio=0.0,
                  uncertainty_threshold=0.5),
    "mlirl": dict(value_clamp=True, clamp_bound="range", reward_lr=1e-4, real_ratio=0.05, penalty=0.0),
    "iqlearn": dict(actor_lr=3e-5, critic_lr=3e-4, initial_alpha=0.01, learn_alpha=False, regulariser=0.0,
                    q_weight=0.0, chi2=0.5, expert_loss="nll"),
}


def preset(name: str, algo: str | None = None) -> PolicyConfig:
    """The preset's config, for `algo` with its own defaults when it is a baseline."""
    if name not in PRESETS:
        raise OffSimError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name].with_(**({"algo": algo} if algo else {}), **ALGORITHM_DEFAULTS.get(algo, {}))


@dataclass(frozen=True)
class ExpertConfig:
    """SAC in a real MuJoCo env (Haarnoja et al. 2018 hyper-parameters), for the data stage's experts."""

    env: str = "Hopper-v5"           # real Gymnasium env to train in
    env_steps: int = 1_000_000       # budget: policy steps in the env after the warm-up, one gradient step each
    iteration_steps: int = 10_000    # env steps per iteration; a checkpoint and an evaluation after each
    hidden: int = 256                # width of the two hidden layers of the actor and of each critic
    batch_size: int = 256            # transitions per gradient step
    lr: float = 3e-4                 # Adam learning rate of actor, critics and temperature
    gamma: float = 0.99              # discount
    tau: float = 0.005               # Polyak step of the target critics
    learning_starts: int = 10_000    # uniform-random warm-up steps before the first update
    num_envs: int = 1                # envs stepped together; a vector step is followed by num_envs updates
    eval_episodes: int = 5           # deterministic episodes after each iteration (the final expert: 10)
    seed: int = 0                    # seeds the networks, the envs and the replay sampling
    device: str = "cpu"              # torch device of the learner

    def __post_init__(self) -> None:
        check_types(self, "expert config")
        checks = {"env_steps": self.env_steps > 0, "iteration_steps": self.iteration_steps > 0,
                  "hidden": self.hidden > 0, "batch_size": self.batch_size > 0, "lr": self.lr > 0,
                  "gamma": 0 < self.gamma <= 1, "tau": 0 < self.tau <= 1,
                  "learning_starts": self.learning_starts >= self.batch_size, "num_envs": self.num_envs > 0,
                  "eval_episodes": self.eval_episodes > 0, "seed": self.seed >= 0}
        check_fields(self, checks, "expert config")

    @property
    def iterations(self) -> int:
        return -(-self.env_steps // self.iteration_steps)

    def policy(self) -> PolicyConfig:
        """The SAC learner's settings: tuned temperature from 1.0, no expert regulariser."""
        return PolicyConfig(algo="sac", layers=3, hidden=self.hidden, gamma=self.gamma, actor_lr=self.lr,
                            critic_lr=self.lr, batch_size=self.batch_size, tau=self.tau, initial_alpha=1.0,
                            learn_alpha=True, regulariser=0.0, q_weight=0.0, normalise_obs=False, seed=self.seed,
                            device=self.device)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ExpertConfig:
        return cls(**known_fields(cls, d, "expert config"))
