"""A fitted simulator (T_θ, r_φ, the data it was fit on) and its artifact directory.

Artifact layout (format version 1):
  meta.json   format version, env id, spaces, fingerprint of the data, dataset ids, resolved config
  weights.pt  state dicts of T_θ and r_φ, normalisation statistics included
  data.npz    the (s, a, s', source) rows it was fit on, their recorded rewards, the held-out mask (start states, reports)
  norm.json   the normalisation statistics, readable
  metrics.jsonl  the fit's metric history, also as TensorBoard events under tensorboard/
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from pathlib import Path

import numpy as np
import torch

from offsim_ray.data.transitions import DIVERSE, EXPERT, NormStats, Transitions, check_compatible
from offsim_ray.errors import OffSimError
from offsim_ray.files import check_keys, read_json, read_jsonl, write_dir
from offsim_ray.nets import compile_for
from offsim_ray.simulator.config import SimConfig
from offsim_ray.simulator.models import RewardNet, TransitionEnsemble

FORMAT_VERSION = 1
# what `load` reads from meta.json
META_KEYS = {"env_id": str, "fingerprint": str, "dataset_ids": list[str], "action_low": list[float],
             "action_high": list[float], "config": dict}


def action_bounds(data: Transitions) -> tuple[list[float], list[float]]:
    """The real env's action box, else the range the data covers."""
    import gymnasium as gym

    try:
        env = gym.make(data.env_id)
        low, high = env.action_space.low, env.action_space.high
        env.close()
    except gym.error.Error:
        low, high = data.action.min(axis=0), data.action.max(axis=0)
    return np.asarray(low, dtype=float).tolist(), np.asarray(high, dtype=float).tolist()


def fingerprint(data: Transitions) -> str:
    """sha256 over the rows, their source labels and the env id: same data, same fingerprint."""
    h = hashlib.sha256(data.env_id.encode())
    for array in (data.obs, data.action, data.next_obs, data.source):
        h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()[:16]


def _write_tensorboard(log_dir: Path, history: list[dict]) -> None:
    from tensorboardX import SummaryWriter

    with SummaryWriter(str(log_dir)) as writer:
        for row in history:
            for key, value in row.items():
                if "/" in key:
                    writer.add_scalar(key, value, row["step"])


def build_networks(obs_dim: int, action_dim: int, stats: NormStats,
                   config: SimConfig) -> tuple[TransitionEnsemble, RewardNet]:
    """Fresh T_θ and r_φ of the sizes `config` names, on `config.device`."""
    transition = TransitionEnsemble(obs_dim, action_dim, stats, config.ensemble_size,
                                    config.transition_hidden, config.transition_layers)
    reward = RewardNet(obs_dim, stats, config.reward_hidden, config.reward_layers)
    return transition.to(config.device), reward.to(config.device)


class Simulator:
    """T_θ and r_φ with the data they were fit on; `step` is what the learned env calls."""

    def __init__(self, transition: TransitionEnsemble, reward: RewardNet, data: Transitions,
                 holdout: np.ndarray, config: SimConfig, fit_seconds: float = 0.0,
                 bounds: tuple[list[float], list[float]] | None = None):
        self.transition = transition
        self.reward = reward
        self.data = data
        self.holdout = holdout
        self.config = config
        self.fit_seconds = fit_seconds
        self.fingerprint = fingerprint(data)
        self.action_low, self.action_high = bounds or action_bounds(data)

    @property
    def env_id(self) -> str:
        return self.data.env_id

    @torch.no_grad()
    def step(self, obs: np.ndarray, action: np.ndarray, rng: np.random.Generator,
             high_variance: bool = True, reward_on_mean: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(B, obs_dim), (B, act_dim) -> next obs and reward r_φ(s, s').

        High variance (the default): a uniformly drawn member per row plus its Gaussian noise.
        Low variance (Table 3a ablation): the ensemble mean, no noise. Randomness comes from `rng`.
        `reward_on_mean`: r_φ of the ensemble's mean s' rather than of the s' returned, so the reward
        answers for the action and not for the draw of model noise.
        """
        device = self.config.device
        s = torch.tensor(obs, dtype=torch.float32, device=device)
        a = torch.tensor(action, dtype=torch.float32, device=device)
        noise = member = None
        if high_variance:
            member = torch.as_tensor(rng.integers(0, self.transition.members, len(s)), device=device)
            noise = torch.as_tensor(rng.standard_normal(s.shape, dtype=np.float32), device=device)
        next_s, reward = self.next_and_reward(s, a, noise, member, reward_on_mean)
        return next_s.cpu().numpy(), reward.cpu().numpy()

    def next_and_reward(self, s: torch.Tensor, a: torch.Tensor, noise: torch.Tensor | None,
                        member: torch.Tensor | None, reward_on_mean: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """`step`'s tensor work: s' of member `member[i]` plus σ·`noise` for row i (the ensemble's mean s'
        when `member` is None) and r_φ(s, s')."""
        if member is None:
            next_s = mean_s = self.transition.mean_next_obs(s, a)
        elif reward_on_mean:  # every member runs on every row anyway: one forward gives both
            next_s, mean_s = self.transition.sample_and_mean(s, a, noise, member)
        else:
            next_s, _ = self.transition.sample(s, a, noise, member)
        return next_s, self.reward(s, mean_s if reward_on_mean else next_s)

    def compiled(self) -> Simulator:
        """This simulator, its networks shared, with `step`'s tensor work under torch.compile (CUDA graphs
        on a GPU)."""
        twin = copy.copy(self)
        twin.next_and_reward = compile_for(self.next_and_reward, self.config.device)
        return twin

    @torch.no_grad()
    def reward_of(self, data: Transitions) -> np.ndarray:
        """r_φ(s, s') of real transitions."""
        device = self.config.device
        return self.reward(torch.as_tensor(np.array(data.obs), device=device),
                           torch.as_tensor(np.array(data.next_obs), device=device)).cpu().numpy()

    def check_matches(self, data: Transitions) -> None:
        """Refuse data from another env or with other spaces than this simulator's."""
        check_compatible(self.data, data)

    def reward_generalisation(self) -> dict[str, float]:
        """Mean r_φ on seen (training) and unseen (held-out) expert and diverse transitions (Table 3b)."""
        rewards = self.reward_of(self.data)
        report = {}
        for source_name, source in (("expert", EXPERT), ("diverse", DIVERSE)):
            for split_name, split in (("seen", ~self.holdout), ("unseen", self.holdout)):
                rows = split & (self.data.source == source)
                if rows.any():
                    report[f"reward/{split_name}_{source_name}"] = float(rewards[rows].mean())
        return report

    @torch.no_grad()
    def reward_rank(self, seed: int = 0, reward_on_mean: bool = False) -> dict[str, float]:
        """Does r_φ rank actions? Mean r_φ(s, s'), s' from T_θ as the learned env draws it (a sampled member
        and its noise; `reward_on_mean`: the ensemble's mean s'), on held-out expert states for the expert's
        actions, those plus N(0, 0.1²) and N(0, 0.3²) noise (in units of half the action box, clipped to it)
        and uniform random actions; `sim/reward_rank` is the share of the six pairs of these four that r
        orders best-first (1: it ranks them; 0.5: no better than chance). Keys end in `_on_mean` for the mean."""
        rows = self.holdout & (self.data.source == EXPERT)
        obs, action = self.data.obs[rows], self.data.action[rows]
        if not len(obs):
            return {}
        rng = np.random.default_rng(seed)
        low, high = np.asarray(self.action_low, np.float32), np.asarray(self.action_high, np.float32)
        half = (high - low) / 2
        candidates = {
            "expert": action,
            "noise01": np.clip(action + 0.1 * half * rng.standard_normal(action.shape), low, high),
            "noise03": np.clip(action + 0.3 * half * rng.standard_normal(action.shape), low, high),
            "random": rng.uniform(low, high, action.shape),
        }
        means = {name: float(self.step(obs, a.astype(np.float32), rng, reward_on_mean=reward_on_mean)[1].mean())
                 for name, a in candidates.items()}
        ordered = list(means.values())
        pairs = [(i, j) for i in range(len(ordered)) for j in range(i + 1, len(ordered))]
        rank = sum(ordered[i] > ordered[j] for i, j in pairs) / len(pairs)
        suffix = "_on_mean" if reward_on_mean else ""
        return {f"sim/reward_rank{suffix}": rank,
                **{f"sim/reward_rank_{name}{suffix}": value for name, value in means.items()}}

    def save(self, out: str | os.PathLike, history: list[dict] = (), overwrite: bool = False) -> Path:
        """Write the artifact to a temporary sibling of `out`, then rename it into place."""
        out = Path(out)
        if out.exists() and not overwrite:
            raise OffSimError(f"{out} already exists; pass --overwrite to replace it")
        d = self.data
        meta = {
            "format_version": FORMAT_VERSION,
            "env_id": d.env_id,
            "obs_dim": d.obs_dim,
            "action_dim": d.action_dim,
            "fingerprint": self.fingerprint,
            "dataset_ids": list(d.dataset_ids),
            "action_low": self.action_low,
            "action_high": self.action_high,
            "fit_seconds": round(self.fit_seconds, 3),
            "config": self.config.to_dict(),
        }

        def fill(folder: Path) -> None:
            (folder / "meta.json").write_text(json.dumps(meta, indent=2))
            (folder / "norm.json").write_text(json.dumps(d.normalization().to_dict()))
            torch.save({"transition": self.transition.state_dict(), "reward": self.reward.state_dict()},
                       folder / "weights.pt")
            np.savez(folder / "data.npz", **d.arrays(), holdout=self.holdout)
            (folder / "metrics.jsonl").write_text("".join(json.dumps(row) + "\n" for row in history))
            _write_tensorboard(folder / "tensorboard", history)

        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            write_dir(out, fill)
        except OSError as e:
            raise OffSimError(f"cannot write the artifact to {out}: {e.strerror or e}") from None
        return out

    @staticmethod
    def history(path: str | os.PathLike) -> list[dict]:
        """The fit's metric rows of the artifact at `path` (metrics.jsonl); a damaged line is an error naming it."""
        return read_jsonl(Path(path) / "metrics.jsonl", strict=True)

    @classmethod
    def load(cls, path: str | os.PathLike, device: str = "cpu") -> Simulator:
        path = Path(path)
        meta = read_json(path / "meta.json", f"{path} is not a simulator artifact (no meta.json)",
                         f"simulator artifact {path}")
        version = meta.get("format_version")
        if version != FORMAT_VERSION:
            raise OffSimError(
                f"simulator artifact {path} has format version {version}; this offsim-ray reads "
                f"version {FORMAT_VERSION}: refit it with `offsim-ray fit`"
            )
        check_keys(meta, META_KEYS, f"simulator artifact {path}: meta.json")
        try:
            config = SimConfig.from_dict({**meta["config"], "device": device})
        except OffSimError as e:
            raise OffSimError(f"simulator artifact {path}: meta.json's config: {e}") from None
        try:
            arrays = np.load(path / "data.npz")
            data = Transitions(
                obs=arrays["obs"], action=arrays["action"], next_obs=arrays["next_obs"],
                reward=arrays["reward"] if "reward" in arrays else np.full(len(arrays["obs"]), np.nan, np.float32),
                terminated=arrays["terminated"], truncated=arrays["truncated"], source=arrays["source"],
                env_id=meta["env_id"], dataset_ids=tuple(meta["dataset_ids"]),
            )
            if not len(meta["action_low"]) == len(meta["action_high"]) == data.action_dim:
                raise OffSimError(f"simulator artifact {path}: meta.json's action_low and action_high need "
                                  f"{data.action_dim} numbers each, one per action dimension")
            stats = NormStats.from_dict(json.loads((path / "norm.json").read_text()))
            transition, reward = build_networks(data.obs_dim, data.action_dim, stats, config)
            weights = torch.load(path / "weights.pt", map_location=device, weights_only=True)
            transition.load_state_dict(weights["transition"])
            reward.load_state_dict(weights["reward"])
            simulator = cls(transition.eval(), reward.eval(), data,
                            arrays["holdout"], config, meta.get("fit_seconds", 0.0),
                            (meta["action_low"], meta["action_high"]))
        except OffSimError:
            raise
        except Exception as e:  # zip, pickle, json and torch raise many types for a damaged file
            raise OffSimError(f"simulator artifact {path} is corrupt: {' '.join(str(e).split())}") from None
        if simulator.fingerprint != meta["fingerprint"]:
            raise OffSimError(f"simulator artifact {path} is corrupt: its data does not match its fingerprint")
        return simulator
