"""Temporary siblings for atomic writes (write there, then rename into place), with the modes the user's
umask gives new files, not tempfile's private 0700/0600: several users and nodes share sweep storage."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def temp_dir(parent: str | os.PathLike, prefix: str) -> Path:
    """A new empty folder in `parent`, mode 0777 less the umask."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    os.chmod(path, 0o777 & ~_umask())
    return path


def temp_file(parent: str | os.PathLike, prefix: str, suffix: str = "") -> tuple[int, str]:
    """(open descriptor, path) of a new empty file in `parent`, mode 0666 less the umask."""
    fd, path = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=parent)
    os.chmod(path, 0o666 & ~_umask())
    return fd, path
