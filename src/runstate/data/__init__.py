"""Data layer: fingerprints of files, folders and tables; profiles; row-level diffs.

``runstate.data.diff(old, new, key=...)`` compares two tables in hand (imported lazily:
this package is on the start-up path of every capture).
"""

from __future__ import annotations

from typing import Any

__all__ = ["diff"]


def __getattr__(name: str) -> Any:
    if name == "diff":
        from runstate.data.tablediff import diff

        return diff
    raise AttributeError(f"module 'runstate.data' has no attribute {name!r}")
