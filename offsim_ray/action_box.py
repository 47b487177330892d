"""The scaling of actions between [-1, 1] and an env's action box, for NumPy arrays and tensors alike."""

from __future__ import annotations


def to_box(action, low, high):
    """[-1, 1] -> [low, high], per dimension; NumPy arrays or tensors, `low` and `high` of the same kind."""
    return low + (action + 1.0) * 0.5 * (high - low)


def from_box(action, low, high):
    """[low, high] -> [-1, 1], per dimension; the inverse of `to_box`."""
    return 2.0 * (action - low) / (high - low) - 1.0
