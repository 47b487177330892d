"""The one exception type the CLI turns into a readable line on stderr, and the checks of configs and of
the machine that raise it."""

import math


class OffSimError(Exception):
    """Bad input or an unusable file; the message names what failed and how to fix it."""


def known_fields(cls, d: dict, what: str) -> dict:
    """`d` unchanged when every key is a field of the dataclass `cls`, else an error naming the others."""
    from dataclasses import fields

    unknown = sorted(map(str, set(d) - {f.name for f in fields(cls)}))  # YAML keys may be numbers too
    if unknown:
        raise OffSimError(f"unknown {what} keys: {', '.join(unknown)}")
    return d


def placement_fields(cls) -> set[str]:
    """Fields of the config dataclass `cls` that say where it runs, not what it computes (declared with
    compare=False: the torch device); an artifact or trial is the same whichever device ran it."""
    from dataclasses import fields

    return {f.name for f in fields(cls) if not f.compare}


def is_of(value, kind) -> bool:
    """Whether `value` is of the annotated `kind` (int for float is fine, bool for a number is not; a
    `list[item]` checks its items)."""
    import types
    import typing

    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        return any(is_of(value, k) for k in typing.get_args(kind))
    if typing.get_origin(kind) is list and typing.get_args(kind):
        return isinstance(value, list) and all(is_of(item, typing.get_args(kind)[0]) for item in value)
    if kind is type(None):
        return value is None
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, typing.get_origin(kind) or kind)


def check_types(config, what: str) -> None:
    """An error naming every field of the dataclass `config` whose value is not of its annotated type, or is
    a float that is not finite."""
    import typing
    from dataclasses import fields

    hints = typing.get_type_hints(type(config))
    bad = []
    for f in fields(config):
        value, kind = getattr(config, f.name), hints[f.name]
        if not is_of(value, kind):
            bad.append(f"{f.name}={value!r} (not {getattr(kind, '__name__', kind)})")
        elif isinstance(value, float) and not math.isfinite(value):  # inf passes every `x >= 0` check
            bad.append(f"{f.name}={value!r} (not a finite number)")
    if bad:
        raise OffSimError(f"invalid {what}: " + ", ".join(bad))


def check_fields(config, checks: dict[str, bool], what: str, hints: dict[str, str] | None = None) -> None:
    """An error naming every field of `config` whose check failed, with its value (and a hint if given)."""
    bad = [name for name, ok in checks.items() if not ok]
    if bad:
        hints = hints or {}
        raise OffSimError(f"invalid {what}: " + ", ".join(
            f"{name}={getattr(config, name)!r}" + (f" ({hints[name]})" if name in hints else "") for name in bad))


def check_device(name: str, what: str = "device") -> None:
    """An error unless `name` is a torch device this machine has."""
    import torch

    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise OffSimError(f"{what} {name!r} is not a torch device (e.g. cpu, cuda, cuda:1)") from None
    if device.type == "cuda" and (not torch.cuda.is_available() or (device.index or 0) >= torch.cuda.device_count()):
        raise OffSimError(f"{what} {name!r}: this machine has {torch.cuda.device_count()} CUDA GPUs visible to "
                          "torch; choose cpu")
    if device.type not in ("cpu", "cuda"):
        raise OffSimError(f"{what} {name!r}: only cpu and cuda devices are supported")


def check_bf16(device: str, what: str) -> None:
    """An error where bfloat16 matrix multiplies would run on a CPU without bfloat16 instructions: there a
    matrix multiply ran 55x slower than in float32, a SAC update 19x (docs/benchmarks.md)."""
    import torch

    from offsim_ray.nets import cpu_has_bf16

    if torch.device(device).type == "cpu" and not cpu_has_bf16():
        raise OffSimError(f"{what}: this CPU has no bfloat16 matrix instructions (AMX or AVX512-BF16), so bf16 "
                          "would run many times slower than fp32; use precision fp32 here, or a GPU")


def check_compiler(what: str) -> None:
    """An error unless the C++ compiler torch.compile builds its code with ($CXX, else g++) is on the PATH."""
    import os
    import shutil

    compiler = os.environ.get("CXX") or "g++"
    if shutil.which(compiler) is None:
        raise OffSimError(f"{what} needs a C++ compiler for torch.compile, and {compiler} is not on the PATH: "
                          "install one (or set CXX), or leave compile off")
