"""The training step SAC and DDPG share: learned-env samples into a flat replay, batches from it.

The training step feeds `learner_group.update(batch=...)` from a flat replay (policy/replay.py): a numpy batch
skips both the episode replay buffer and the learner connector, which together cost about half of a
default RLlib SAC step on 2 cores. The env runner writes its steps straight into that replay
(`FlatEnvRunner`): RLlib's episode objects and connectors took 5.1 s of sampling per 500 quick-preset
updates, the arrays 0.9-1.2 s (docs/benchmarks.md, "The env runner writes arrays").
"""

from __future__ import annotations

import time

import numpy as np
import torch
from ray.rllib.core import DEFAULT_MODULE_ID
from ray.rllib.core.columns import Columns
from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner
from ray.rllib.policy.sample_batch import MultiAgentBatch, SampleBatch
from ray.rllib.utils.spaces.space_utils import unsquash_action
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


class FlatEnvRunner(SingleAgentEnvRunner):
    """RLlib's single-agent env runner, stepping its vector env into a `FlatReplay` as arrays.

    The same steps, actions and row order as RLlib's `sample()` with its episodes' steps written in
    order: at least `rollout_fragment_length` × envs transitions, next-step autoreset (a resetting env gives
    no transition), the rows of the episodes that end first, then the other envs' rows in env order;
    episode returns and lengths go to RLlib's env-runner metrics.
    """

    def sample_into(self, replay: FlatReplay, random_actions: bool = False) -> int:
        n = self.num_envs
        num_timesteps = self.config.get_rollout_fragment_length(self.worker_index) * n
        if self._needs_initial_reset:
            self._obs = np.asarray(self._try_env_reset(seed=self._seed, options=None)[0], np.float32)
            self._resetting = np.zeros(n, bool)  # ended last step: the next step resets it (no transition)
            self._returns, self._lengths = np.zeros(n), np.zeros(n, np.int64)  # of the open episodes
            self._started = np.full(n, time.perf_counter())
            self._needs_initial_reset = False
        space = self.env.single_action_space
        steps, ended_rows, ts = [], [], 0
        while ts < num_timesteps:
            obs = self._obs
            if random_actions:
                actions = actions_for_env = self.env.action_space.sample()
            else:
                actions = self._explore(obs)
                actions_for_env = unsquash_action(actions, space) if self.config.normalize_actions else actions
            next_obs, rewards, terminateds, truncateds, _ = self.env.step(actions_for_env)
            next_obs = np.asarray(next_obs, np.float32)
            stepped = ~self._resetting
            steps.append((obs, np.asarray(actions, np.float32), np.asarray(rewards, np.float32), next_obs,
                          np.asarray(terminateds, np.float32), stepped))
            ts += int(stepped.sum())
            self._returns[stepped] += rewards[stepped]
            self._lengths[stepped] += 1
            ended = stepped & (terminateds | truncateds)
            now = time.perf_counter()
            for i in np.flatnonzero(ended):
                ended_rows.append((len(steps) - 1, i))
                self._log_episode_metrics(int(self._lengths[i]), float(self._returns[i]), now - self._started[i])
            self._returns[ended], self._lengths[ended], self._started[ended] = 0.0, 0, now
            self._resetting, self._obs = ended, next_obs
        self._add_in_episode_order(replay, steps, ended_rows)
        self._increase_sampled_metrics(ts, len(ended_rows))
        return ts

    @torch.no_grad()
    def _explore(self, obs: np.ndarray) -> np.ndarray:
        out = self.module.forward_exploration({Columns.OBS: torch.from_numpy(obs)})
        actions = out.get(Columns.ACTIONS)
        if actions is None:
            actions = self.module.get_exploration_action_dist_cls().from_logits(
                out[Columns.ACTION_DIST_INPUTS]).sample()
        return actions.cpu().numpy()

    @staticmethod
    def _add_in_episode_order(replay: FlatReplay, steps: list, ended_rows: list) -> None:
        """Each env's rows since its last episode end (or the call's start) as one chunk: the chunks of the
        episodes that ended, in the order they ended, then the open ones in env order."""
        obs, actions, rewards, next_obs, terminateds, stepped = (np.stack(column) for column in zip(*steps))
        first = np.zeros(obs.shape[1], np.int64)
        chunks = []
        for t, i in ended_rows:
            chunks.append((i, first[i], t + 1))
            first[i] = t + 1
        chunks += [(i, first[i], len(steps)) for i in range(obs.shape[1]) if first[i] < len(steps)]
        rows = [(t, i) for i, start, stop in chunks for t in range(start, stop) if stepped[t, i]]
        if rows:
            t, i = np.array(rows).T
            replay.add(obs[t, i], actions[t, i], rewards[t, i], next_obs[t, i], terminateds[t, i])


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
            sampled = 0
            while sampled < (steps or 1):  # RLlib's synchronous_parallel_sample: whole sample() calls
                sampled += self.env_runner.sample_into(self.replay, random_actions)

    def training_step(self) -> None:
        settings = self.config.learner_config_dict
        if self.replay.size < settings["learning_starts"]:
            self._collect(settings["learning_starts"] - self.replay.size, random_actions=True)
        last = settings["updates_per_iteration"] - 1
        for update in range(last + 1):
            if update % settings["updates_per_sample"] == 0:
                self._collect()
            batch = self.replay.sample(settings["batch_size"])
            batch.update(weights=self._ones, n_step=self._ones)
            with self.metrics.log_time((TIMERS, LEARNER_UPDATE_TIMER)):
                results = self.learner_group.update(
                    batch=MultiAgentBatch({DEFAULT_MODULE_ID: SampleBatch(batch)}, env_steps=len(self._ones)),
                    timesteps={NUM_ENV_STEPS_SAMPLED_LIFETIME: self.replay.added},
                    _no_metrics_reduce=update < last,  # the learner's metrics reduced once an iteration
                )
            if update % settings["updates_per_sample"] == settings["updates_per_sample"] - 1:
                with self.metrics.log_time((TIMERS, SYNCH_WORKER_WEIGHTS_TIMER)):
                    self.env_runner_group.sync_weights(from_worker_or_learner_group=self.learner_group,
                                                       inference_only=True)
        self.metrics.aggregate([self.env_runner.get_metrics()], key=ENV_RUNNER_RESULTS)
        self.metrics.aggregate(results, key=LEARNER_RESULTS)
