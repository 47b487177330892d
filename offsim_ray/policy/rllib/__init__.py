"""The RLlib algorithms trained inside the learned simulator (SAC, DDPG, PPO), their learners and the
training loop: the only place that imports RLlib's Algorithm API."""

import logging


def quiet_ray_logs(rllib: bool = True) -> None:
    """Ray's, Tune's and (`rllib`: after importing it) RLlib's own warnings, API-stack notices and deprecations,
    off the user's screen."""
    if rllib:
        import ray.rllib  # noqa: F401  (sets its logger's level on import: set ours after it)

    for name in ("ray", "ray.rllib", "ray.tune"):
        logging.getLogger(name).setLevel(logging.ERROR)
