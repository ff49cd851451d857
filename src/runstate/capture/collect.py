"""The capturers of the env and code dimensions, bound to a store's settings and caches."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from runstate.state.canonical import hash_bytes
from runstate.state.code import CodeCapture, GitCapture, capture_code
from runstate.state.env import capture_env
from runstate.store.store import Store

__all__ = ["capture_code_component", "capture_env_component", "env_patterns"]


def env_patterns(store: Store) -> list[str]:
    """Extra environment-variable name patterns the store's config asks to record."""
    return [str(p) for p in store.config.get("env_vars", [])]


def capture_env_component(store: Store) -> dict[str, Any]:
    return capture_env(cache_dir=str(store.cache_dir), extra_env_patterns=env_patterns(store))


def capture_code_component(
    store: Store, module_files: Iterable[str], entry: str | None, git: GitCapture | None = None
) -> CodeCapture:
    return capture_code(store.project_root, module_files, entry, hasher=hash_bytes, git=git)
