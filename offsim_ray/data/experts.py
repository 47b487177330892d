"""Expert policies as small portable files, and the experts the project ships.

An expert file (`.npz`) holds a tanh-Gaussian MLP policy: `w0, b0, w1, b1, …` (ReLU between layers; the
last layer gives the mean and the log std of the pre-tanh Gaussian, actions in [-1, 1] scaled to the env's
box) and `info`, a JSON string: env id, action box, and how the policy was made. Numpy only, so making
data needs neither torch nor RLlib.

Shipped experts live in `expert_weights/<env id>/` inside this package: `expert.npz`, `medium.npz` and
`card.json` (the command, budget, seed and wall time that made them, and their measured returns).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from offsim_ray.action_box import to_box
from offsim_ray.errors import OffSimError
from offsim_ray.files import read_json, write_with

SHIPPED = Path(__file__).parent / "expert_weights"
LEVELS = ("expert", "medium")
LOG_STD_RANGE = (-5.0, 2.0)  # the clamp RLlib's squashed Gaussian applies to the log std
# what `offsim-ray experts list` shows of a card.json
CARD_KEYS = {"env_id": str, "env_steps": int, "train_seconds": float, "config": {"seed": int},
             "expert": {"env_steps": int, "return_mean": float, "return_std": float},
             "medium": {"env_steps": int, "return_mean": float, "fraction_of_expert": float}}


@dataclass(frozen=True, eq=False)
class ExpertPolicy:
    """obs -> action in the env's box: deterministic (tanh of the mean), or that plus fixed Gaussian noise."""

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    info: dict = field(default_factory=dict)

    @property
    def env_id(self) -> str:
        return self.info["env_id"]

    def _gaussian(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.asarray(obs, np.float32)
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            x = x @ w.T + b
            if i < len(self.weights) - 1:
                x = np.maximum(x, 0.0)
        mean, log_std = np.split(x, 2, axis=-1)
        return mean, np.clip(log_std, *LOG_STD_RANGE)

    def _to_box(self, action: np.ndarray) -> np.ndarray:
        low = np.asarray(self.info["action_low"], np.float32)
        high = np.asarray(self.info["action_high"], np.float32)
        return to_box(np.clip(action, -1.0, 1.0), low, high)

    def mean_action(self, obs: np.ndarray) -> np.ndarray:
        return self._to_box(np.tanh(self._gaussian(obs)[0]))

    def noisy_action(self, obs: np.ndarray, rng: np.random.Generator, noise_std: float) -> np.ndarray:
        """The deterministic action plus N(0, noise_std²) per dimension in [-1, 1] units, clipped to the box."""
        action = np.tanh(self._gaussian(obs)[0])
        return self._to_box(action + noise_std * rng.standard_normal(action.shape, np.float32))

    def save(self, path: str | os.PathLike) -> Path:
        """Atomic: written next to `path`, then renamed over it."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {f"w{i}": w for i, w in enumerate(self.weights)} | {f"b{i}": b for i, b in enumerate(self.biases)}
        write_with(path, lambda tmp: np.savez_compressed(tmp, info=np.array(json.dumps(self.info)), **arrays))
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> ExpertPolicy:
        path = Path(path)
        try:
            with np.load(path) as f:
                layers = sum(1 for key in f.files if key.startswith("w"))
                weights = tuple(f[f"w{i}"].astype(np.float32) for i in range(layers))
                biases = tuple(f[f"b{i}"].astype(np.float32) for i in range(layers))
                info = json.loads(str(f["info"]))
        except FileNotFoundError:
            raise OffSimError(f"no expert policy at {path}") from None
        except Exception as e:  # zip, pickle and json errors of a damaged file
            raise OffSimError(f"expert policy {path} cannot be read: {' '.join(str(e).split())[:200]}") from None
        for key in ("env_id", "action_low", "action_high"):
            if key not in info:
                raise OffSimError(f"expert policy {path} has no '{key}' in its info")
        return cls(weights, biases, info)


def expert_files(directory: str | os.PathLike, env_id: str) -> dict[str, Path]:
    """The expert and medium policy files of `env_id` in `directory` (either the env's folder itself or
    a folder with one sub-folder per env id); an error names what is missing."""
    directory = Path(directory)
    folder = directory / env_id if (directory / env_id).is_dir() else directory
    files = {level: folder / f"{level}.npz" for level in LEVELS}
    missing = [str(path) for path in files.values() if not path.is_file()]
    if missing:
        raise OffSimError(f"no {env_id} experts in {directory}: missing {', '.join(missing)}")
    for level, path in files.items():
        trained_for = ExpertPolicy.load(path).env_id
        if trained_for != env_id:
            raise OffSimError(f"{path} is a {trained_for} policy, not a {env_id} one")
    return files


def expert_cards(directory: str | os.PathLike = SHIPPED) -> list[dict]:
    """The cards of the experts in `directory` (one sub-folder per env id, or an `experts train` run)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise OffSimError(f"no experts folder {directory}")
    folders = [directory] if (directory / "card.json").is_file() else sorted(directory.glob("*/"))
    return [read_json(folder / "card.json", "", f"experts {folder}", CARD_KEYS)
            for folder in folders if (folder / "card.json").is_file()]


def shipped_envs() -> list[str]:
    return sorted(p.name for p in SHIPPED.iterdir() if (p / "expert.npz").is_file()) if SHIPPED.is_dir() else []
