"""A trained policy as files and as a function obs -> action in the real env's action box.

Layout of a policy directory:
  policy.json  algorithm, env id, spaces, action box, reference scores, where it was trained
  module/      the RLlib RLModule checkpoint (RLModule.from_checkpoint)
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
from ray.rllib.core.columns import Columns
from ray.rllib.core.rl_module.rl_module import RLModule

from offsim_ray.action_box import to_box
from offsim_ray.data.scores import ReferenceScores
from offsim_ray.errors import OffSimError
from offsim_ray.files import read_json, write_dir

# what `load` and the evaluation read from policy.json
INFO_KEYS = {"algo": str, "env_id": str, "obs_dim": int, "action_dim": int, "action_low": list[float],
             "action_high": list[float], "reference": {"random": float, "expert": float, "origin": str}}


class Policy:
    def __init__(self, module: RLModule, info: dict):
        # real envs step one batch of observations at a time: a CPU's work, and a module trained on a GPU
        # is saved as one any machine can load
        self.module = module.to("cpu")
        self.info = info
        self._low = np.asarray(info["action_low"], np.float32)
        self._high = np.asarray(info["action_high"], np.float32)

    @property
    def reference(self) -> ReferenceScores:
        reference = self.info["reference"]
        return ReferenceScores(reference["random"], reference["expert"], reference["origin"])

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Deterministic actions: the mean (squashed for SAC, μ(s) for DDPG), scaled to the action box."""
        with torch.no_grad():
            out = self.module.forward_inference({Columns.OBS: torch.tensor(obs, dtype=torch.float32)})
            dist = self.module.get_inference_action_dist_cls().from_logits(out[Columns.ACTION_DIST_INPUTS])
            action = np.clip(dist.to_deterministic().sample().numpy(), -1.0, 1.0)
        return to_box(action, self._low, self._high)

    def save(self, directory: str | os.PathLike) -> Path:
        directory = Path(directory).resolve()  # RLlib writes through pyarrow, which takes absolute paths only
        directory.parent.mkdir(parents=True, exist_ok=True)

        def fill(folder: Path) -> None:
            self.module.save_to_path(str(folder / "module"))
            (folder / "policy.json").write_text(json.dumps(self.info, indent=2))

        write_dir(directory, fill)
        return directory

    @classmethod
    def load(cls, directory: str | os.PathLike) -> Policy:
        directory = Path(directory)
        info = read_json(directory / "policy.json", f"{directory} holds no trained policy (no policy.json)",
                         f"policy {directory}", INFO_KEYS)
        if not len(info["action_low"]) == len(info["action_high"]) == info["action_dim"]:
            raise OffSimError(f"policy {directory}: policy.json's action_low and action_high need "
                              f"{info['action_dim']} numbers each, one per action dimension")
        try:
            module = RLModule.from_checkpoint(str((directory / "module").resolve()))
        except Exception as e:  # pickle, torch and RLlib raise many types for a damaged checkpoint
            raise OffSimError(f"policy {directory}: cannot load its module: {' '.join(str(e).split())[:300]}") from None
        if not isinstance(module, torch.nn.Module):  # RLlib falls back to a bare RLModule on a damaged constructor
            raise OffSimError(f"policy {directory}: its module checkpoint is damaged (no torch module in "
                              f"{directory / 'module'})")
        module.eval()
        return cls(module, info)
