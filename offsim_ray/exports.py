"""Package names imported on first use: reading a config or a bad command line then costs neither torch
nor RLlib (a CLI call that fails its checks takes well under a second instead of several)."""

from __future__ import annotations

import sys
from importlib import import_module
from typing import Callable


def lazy_exports(package: str, modules: dict[str, tuple[str, ...]]) -> Callable[[str], object]:
    """The module `__getattr__` (PEP 562) of `package`, giving each name in `modules[submodule]` from
    `package.submodule` when it is first asked for, then kept on the package (later lookups skip this)."""
    home = {name: module for module, names in modules.items() for name in names}

    def getattr_(name: str) -> object:
        if name not in home:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(f"{package}.{home[name]}"), name)
        setattr(sys.modules[package], name, value)
        return value

    return getattr_
