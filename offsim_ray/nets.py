"""Network parts the simulator and the policy share: one vectorised layer for ensembles, the MLP, and the
scaling of actions between [-1, 1] and the env's action box."""

from __future__ import annotations

import torch
from torch import nn


class EnsembleLinear(nn.Module):
    """E independent linear layers: (E, B, in) -> (E, B, out) with one batched matmul."""

    def __init__(self, members: int, in_features: int, out_features: int):
        super().__init__()
        bound = 1.0 / in_features**0.5
        self.weight = nn.Parameter(torch.empty(members, in_features, out_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(members, 1, out_features).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


def mlp(inputs: int, outputs: int, hiddens: list[int], activation: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    """Linear layers through `hiddens` with `activation` between them; a linear output."""
    layers, width = [], inputs
    for hidden in hiddens:
        layers += [nn.Linear(width, hidden), activation()]
        width = hidden
    return nn.Sequential(*layers, nn.Linear(width, outputs))


def to_box(action, low, high):
    """[-1, 1] -> [low, high], per dimension; NumPy arrays or tensors, `low` and `high` of the same kind."""
    return low + (action + 1.0) * 0.5 * (high - low)


def from_box(action, low, high):
    """[low, high] -> [-1, 1], per dimension; the inverse of `to_box`."""
    return 2.0 * (action - low) / (high - low) - 1.0
