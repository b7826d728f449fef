"""Workload sizes: full size for people, ``LAB_FAST=1`` for CI."""

from __future__ import annotations

import os
from typing import TypeVar

__all__ = ["fast_mode", "sized"]

T = TypeVar("T")


def fast_mode() -> bool:
    """True when the environment variable ``LAB_FAST`` is ``1`` (read on every call)."""
    return os.environ.get("LAB_FAST", "") == "1"


def sized(full: T, fast: T) -> T:
    """``full`` normally, ``fast`` under ``LAB_FAST=1``.

    Notebooks shrink counts with it (``n = sized(1000, 200)``) but keep durations and the
    structure of each experiment, so the same thing is shown either way.
    """
    return fast if fast_mode() else full
