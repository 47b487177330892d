"""The OffSim / OffSim+ objectives as pure functions of reward values and model terms."""

from __future__ import annotations

import torch


def reward_loss(r_model: torch.Tensor, r_data: torch.Tensor) -> torch.Tensor:
    """Eq. (2): E_{s'~T_θ}[r] - E_data[r] + ψ(r), ψ(r) = ½ r² over both sets of rewards."""
    psi = 0.5 * torch.cat([r_model, r_data]).pow(2).mean()
    return r_model.mean() - r_data.mean() + psi


def margin_hinge(r_expert: torch.Tensor, r_diverse: torch.Tensor, margin: float, beta: float) -> torch.Tensor:
    """Eq. (8): β·max(0, E_D[r] + m - E_E[r]); zero once expert rewards exceed diverse ones by m."""
    return beta * torch.relu(r_diverse.mean() + margin - r_expert.mean())


def transition_loss(r_model: torch.Tensor, entropy: torch.Tensor, nll: torch.Tensor,
                    alpha: float, nll_weight: float) -> torch.Tensor:
    """Eq. (3) as a loss, -(α·H + E_{s'~T_θ}[r]), plus the NLL anchor that keeps T_θ on the data."""
    return -(alpha * entropy + r_model.mean()) + nll_weight * nll
