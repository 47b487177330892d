"""Torch's intra-op threads for one command, and a note when the machine is busier than its cores.

These networks (256 units, batch 256) gain little from a second thread, and two processes at torch's default
threads on the same cores thrash: measured in docs/benchmarks.md ("Threads")."""

from __future__ import annotations

import os
import sys

DEFAULT_THREADS = 1
_noted = False


def set_threads(threads: int) -> None:
    """Torch's intra-op threads for this process: at once when torch is loaded, else through OMP_NUM_THREADS,
    which torch reads as it loads; so a command refused before its heavy work never loads torch."""
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    else:
        os.environ["OMP_NUM_THREADS"] = str(threads)


def note_if_busy() -> None:
    """One line on stderr, once a process, when the last minute's load plus this process's threads exceed the
    cores. Called where the heavy work starts, after every check of the input: a refused input gets its one line."""
    import torch

    global _noted
    cores, threads = os.cpu_count() or 1, torch.get_num_threads()
    load = os.getloadavg()[0]
    if load + threads > cores + 0.5 and not _noted:
        _noted = True
        print(f"offsim-ray: note: load average {load:.1f} on {cores} cores before this run's {threads} torch "
              f"thread{'s' if threads > 1 else ''}: it shares its cores and runs slower; --threads sets them",
              file=sys.stderr)
