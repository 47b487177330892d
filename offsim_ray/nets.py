"""Network parts the simulator and the policy share: one vectorised layer for ensembles and the MLP."""

from __future__ import annotations

import platform

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


def bf16_matmuls(x: torch.Tensor, enabled: bool):
    """Autocast on `x`'s device: matrix multiplies in bfloat16 (cores with AMX or AVX512-BF16), the rest as is."""
    return torch.autocast(x.device.type, torch.bfloat16, enabled=enabled)


def cpu_has_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 matrices in hardware (AMX or AVX512-BF16 on x86); assumed on other
    architectures, and where this torch cannot tell."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return True
    probes = [getattr(torch.cpu, name, None) for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported")]
    return not all(probes) or any(probe() for probe in probes)


def compile_for(fn, device: str):
    """`fn` under torch.compile; on a GPU in mode "reduce-overhead", which replays it as CUDA graphs (a small
    network's step there is bound by kernel launches)."""
    return torch.compile(fn, mode=compile_mode(device))


def compile_mode(device: str) -> str | None:
    """The torch.compile mode for `device`: CUDA graphs on a GPU, the default elsewhere."""
    return "reduce-overhead" if str(device).startswith("cuda") else None


class Sequential(nn.Sequential):
    """nn.Sequential whose matrix multiplies run in bfloat16 when `bf16` (`bf16_matmuls`), the output back in
    float32; the same weights and state-dict keys either way."""

    def __init__(self, *layers: nn.Module, bf16: bool = False):
        super().__init__(*layers)
        self.bf16 = bf16

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with bf16_matmuls(x, self.bf16):
            out = super().forward(x)
        return out.float()


def mlp(inputs: int, outputs: int, hiddens: list[int], activation: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    """Linear layers through `hiddens` with `activation` between them; a linear output."""
    layers, width = [], inputs
    for hidden in hiddens:
        layers += [nn.Linear(width, hidden), activation()]
        width = hidden
    return nn.Sequential(*layers, nn.Linear(width, outputs))
