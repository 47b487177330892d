"""The training step SAC and DDPG share: learned-env samples into a flat replay, batches from it.

The training step feeds `learner_group.update(batch=...)` from a flat replay (policy/replay.py): a numpy batch
skips both the episode replay buffer and the learner connector, which together cost about half of a
default RLlib SAC step on 2 cores.
"""

from __future__ import annotations

import numpy as np
from ray.rllib.core import DEFAULT_MODULE_ID
from ray.rllib.execution.rollout_ops import synchronous_parallel_sample
from ray.rllib.policy.sample_batch import MultiAgentBatch, SampleBatch
from ray.rllib.utils.metrics import (
    ENV_RUNNER_RESULTS,
    ENV_RUNNER_SAMPLING_TIMER,
    LEARNER_RESULTS,
    LEARNER_UPDATE_TIMER,
    NUM_ENV_STEPS_SAMPLED_LIFETIME,
    SYNCH_WORKER_WEIGHTS_TIMER,
    TIMERS,
)

from offsim_ray.policy.replay import FlatReplay


class FlatReplayTraining:
    """Algorithm mixin: one vector step of every learned env per `updates_per_sample` gradient steps."""

    def setup(self, config) -> None:
        super().setup(config)
        settings = self.config.learner_config_dict
        self.replay = FlatReplay(settings["replay_capacity"], settings["obs_dim"], settings["action_dim"],
                                 settings["seed"])
        self._ones = np.ones(settings["batch_size"], np.float32)

    def _collect(self, steps: int | None = None, random_actions: bool = False) -> None:
        with self.metrics.log_time((TIMERS, ENV_RUNNER_SAMPLING_TIMER)):
            episodes, results = synchronous_parallel_sample(
                worker_set=self.env_runner_group, max_env_steps=steps, random_actions=random_actions,
                concat=True, _uses_new_env_runners=True, _return_metrics=True)
        self.metrics.aggregate(results, key=ENV_RUNNER_RESULTS)
        self.replay.add_episodes(episodes)

    def training_step(self) -> None:
        settings = self.config.learner_config_dict
        if self.replay.size < settings["learning_starts"]:
            self._collect(settings["learning_starts"] - self.replay.size, random_actions=True)
        for update in range(settings["updates_per_iteration"]):
            if update % settings["updates_per_sample"] == 0:
                self._collect()
            batch = self.replay.sample(settings["batch_size"])
            batch.update(weights=self._ones, n_step=self._ones)
            with self.metrics.log_time((TIMERS, LEARNER_UPDATE_TIMER)):
                results = self.learner_group.update(
                    batch=MultiAgentBatch({DEFAULT_MODULE_ID: SampleBatch(batch)}, env_steps=len(self._ones)),
                    timesteps={NUM_ENV_STEPS_SAMPLED_LIFETIME: self.replay.added},
                )
            if update % settings["updates_per_sample"] == settings["updates_per_sample"] - 1:
                with self.metrics.log_time((TIMERS, SYNCH_WORKER_WEIGHTS_TIMER)):
                    self.env_runner_group.sync_weights(from_worker_or_learner_group=self.learner_group,
                                                       inference_only=True)
        self.metrics.aggregate(results, key=LEARNER_RESULTS)
