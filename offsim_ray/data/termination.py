"""Pure termination functions fn(obs, action, next_obs) -> bool array, one per MuJoCo task.

They mirror the v5 envs' healthy-state checks (defaults of `gymnasium.envs.mujoco`) on
observations that exclude the x position: obs[0] is the torso height z, obs[1] its angle.
Velocities in the observation are clipped to ±10, so Hopper's |state| < 100 check can
only be evaluated on what the observation shows.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from offsim_ray.errors import OffSimError

TerminationFn = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def hopper_terminated(obs: np.ndarray, action: np.ndarray, next_obs: np.ndarray) -> np.ndarray:
    z, angle = next_obs[..., 0], next_obs[..., 1]
    healthy_state = np.all(np.abs(next_obs[..., 1:]) < 100.0, axis=-1)
    healthy = healthy_state & (z > 0.7) & (np.abs(angle) < 0.2)
    return ~healthy


def walker2d_terminated(obs: np.ndarray, action: np.ndarray, next_obs: np.ndarray) -> np.ndarray:
    z, angle = next_obs[..., 0], next_obs[..., 1]
    healthy = (z > 0.8) & (z < 2.0) & (angle > -1.0) & (angle < 1.0)
    return ~healthy


def never_terminated(obs: np.ndarray, action: np.ndarray, next_obs: np.ndarray) -> np.ndarray:
    return np.zeros(np.shape(next_obs)[:-1], dtype=bool)


TERMINATION_FNS: dict[str, TerminationFn] = {
    "Hopper": hopper_terminated,
    "Walker2d": walker2d_terminated,
    "HalfCheetah": never_terminated,
}


def env_family(env_id: str) -> str:
    """'Hopper-v5' -> 'Hopper'."""
    return env_id.split("-v")[0]


def task_function(table: dict, env_id: str, what: str):
    """`table`'s entry for `env_id`'s task, or a readable error naming the tasks it has."""
    try:
        return table[env_family(env_id)]
    except KeyError:
        known = ", ".join(sorted(table))
        raise OffSimError(f"no {what} for {env_id}; known: {known}") from None


def termination_fn(env_id: str) -> TerminationFn:
    return task_function(TERMINATION_FNS, env_id, "termination function")
