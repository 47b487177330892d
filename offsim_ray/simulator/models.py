"""T_θ, an ensemble of Gaussian MLPs evaluated as one batched op, and r_φ(s, s'), a tanh-bounded MLP.

Both hold the data's normalisation statistics as buffers, so a saved state dict is self-contained.
Inputs are normalised; T_θ predicts the normalised state delta Δs = s' - s.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from offsim_ray.data.transitions import NormStats
from offsim_ray.nets import EnsembleLinear, mlp


def _stats_buffers(module: nn.Module, stats: NormStats) -> None:
    for name, value in stats.to_dict().items():
        module.register_buffer(name, torch.as_tensor(value, dtype=torch.float32))


class TransitionEnsemble(nn.Module):
    """T_θ(s'|s, a): `members` Gaussian MLPs of `layers` linear layers each; log σ soft-bounded."""

    def __init__(self, obs_dim: int, action_dim: int, stats: NormStats, members: int, hidden: int, layers: int,
                 max_logstd: float = 0.5, min_logstd: float = -10.0):
        super().__init__()
        _stats_buffers(self, stats)
        self.members = members
        self.obs_dim = obs_dim
        sizes = [obs_dim + action_dim] + [hidden] * (layers - 1)
        self.hidden = nn.ModuleList(EnsembleLinear(members, i, o) for i, o in zip(sizes[:-1], sizes[1:]))
        self.head = EnsembleLinear(members, sizes[-1], 2 * obs_dim)
        self.register_buffer("max_logstd", torch.full((obs_dim,), max_logstd))
        self.register_buffer("min_logstd", torch.full((obs_dim,), min_logstd))

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised Δs mean and log σ, shaped (E, B, obs_dim).

        obs/action are (B, ·), fed to every member, or (E, B, ·), one slice per member.
        """
        x = torch.cat([(obs - self.obs_mean) / self.obs_std, (action - self.action_mean) / self.action_std], -1)
        if x.dim() == 2:
            x = x.expand(self.members, *x.shape)
        for layer in self.hidden:
            x = F.silu(layer(x))
        mean, logstd = self.head(x).chunk(2, dim=-1)
        logstd = self.max_logstd - F.softplus(self.max_logstd - logstd)
        logstd = self.min_logstd + F.softplus(logstd - self.min_logstd)
        return mean, logstd

    def to_next_obs(self, obs: torch.Tensor, delta_normalised: torch.Tensor) -> torch.Tensor:
        return obs + delta_normalised * self.delta_std + self.delta_mean

    def nll(self, obs: torch.Tensor, action: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
        """Gaussian negative log-likelihood of the normalised Δs (constant dropped), mean over members and data."""
        mean, logstd = self(obs, action)
        target = (next_obs - obs - self.delta_mean) / self.delta_std
        return (((target - mean) * torch.exp(-logstd)) ** 2 / 2 + logstd).sum(-1).mean()

    def mse(self, obs: torch.Tensor, action: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
        """Mean squared error of the ensemble-mean s' in raw units, mean over data and dimensions."""
        return ((self.mean_next_obs(obs, action) - next_obs) ** 2).mean()

    def entropy(self, logstd: torch.Tensor) -> torch.Tensor:
        """H(T_θ, ρ̂) of the Gaussian members, Σ_d log σ_d in raw units (+ const), mean over members and data."""
        return (logstd + torch.log(self.delta_std)).sum(-1).mean()

    def draw(self, obs: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """The high-variance draw for each row of `obs`: a uniformly drawn member, and standard normal noise."""
        member = torch.randint(self.members, (len(obs),), generator=generator, device=obs.device)
        return member, torch.randn(obs.shape, generator=generator, device=obs.device)

    def pick(self, obs: torch.Tensor, mean: torch.Tensor, logstd: torch.Tensor, member: torch.Tensor,
             noise: torch.Tensor) -> torch.Tensor:
        """s' = s + μ + σ·ε of member `member[i]` for row i, from every member's (E, B, obs_dim) prediction."""
        rows = torch.arange(len(obs), device=obs.device)
        return self.to_next_obs(obs, mean[member, rows] + torch.exp(logstd[member, rows]) * noise)

    def sample(self, obs: torch.Tensor, action: torch.Tensor, noise: torch.Tensor,
               member: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """s' = s + μ + σ·ε from member `member[i]` for row i (reparameterised); also returns log σ.

        Rows are grouped by member so that each member sees only its own rows: one batched op,
        no wasted compute. `member` is (B,) ints, `noise` is (B, obs_dim) standard normal.
        """
        order = torch.argsort(member, stable=True)
        counts = torch.bincount(member, minlength=self.members)
        width = int(counts.max())
        # slot of each row inside its member's group
        slot = torch.arange(len(member), device=member.device) - torch.repeat_interleave(
            torch.cumsum(counts, 0) - counts, counts)
        grouped_obs = obs.new_zeros(self.members, width, obs.shape[-1])
        grouped_act = action.new_zeros(self.members, width, action.shape[-1])
        sorted_member = member[order]
        grouped_obs[sorted_member, slot] = obs[order]
        grouped_act[sorted_member, slot] = action[order]
        mean, logstd = self(grouped_obs, grouped_act)
        mean, logstd = mean[sorted_member, slot], logstd[sorted_member, slot]
        delta = mean + torch.exp(logstd) * noise[order]
        inverse = torch.argsort(order)
        return self.to_next_obs(obs, delta[inverse]), logstd[inverse]

    def sample_and_mean(self, obs: torch.Tensor, action: torch.Tensor, noise: torch.Tensor,
                        member: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`sample`'s s' and the ensemble's mean s' from one forward of every member on every row."""
        mean, logstd = self(obs, action)
        return self.pick(obs, mean, logstd, member, noise), self.to_next_obs(obs, mean.mean(0))

    def mean_next_obs(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """The low-variance transition: the ensemble's mean prediction, no noise."""
        mean, _ = self(obs, action)
        return self.to_next_obs(obs, mean.mean(0))


class RewardNet(nn.Module):
    """r_φ(s, s') in (-1, 1): an MLP of `layers` linear layers on normalised s and Δs, tanh output."""

    def __init__(self, obs_dim: int, stats: NormStats, hidden: int, layers: int):
        super().__init__()
        _stats_buffers(self, stats)
        self.net = mlp(2 * obs_dim, 1, [hidden] * (layers - 1), nn.SiLU)

    def forward(self, obs: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
        x = torch.cat([(obs - self.obs_mean) / self.obs_std,
                       (next_obs - obs - self.delta_mean) / self.delta_std], -1)
        return torch.tanh(self.net(x)).squeeze(-1)
