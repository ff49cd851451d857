"""Where numba keeps its compiled kernels, decided before numba is first imported.

numba caches compiled functions beside their source (``__pycache__``); in a read-only
install (a system site-packages, a container image) that fails, so runstate falls back to
``NUMBA_CACHE_DIR`` if the user set it, else ``~/.cache/runstate/numba``. Caching is an
optimisation only: when no folder is writable, kernels compile on every process start.
"""

from __future__ import annotations

import os

__all__ = ["configure"]

_done = False


def configure() -> None:
    global _done
    if _done or "NUMBA_CACHE_DIR" in os.environ:
        _done = True
        return
    package_dir = os.path.dirname(os.path.abspath(__file__))
    cache = os.path.join(package_dir, "__pycache__")
    try:
        os.makedirs(cache, exist_ok=True)
        writable = os.access(cache, os.W_OK)
    except OSError:
        writable = False
    if not writable:
        fallback = os.path.join(os.path.expanduser("~"), ".cache", "runstate", "numba")
        try:
            os.makedirs(fallback, exist_ok=True)
            os.environ["NUMBA_CACHE_DIR"] = fallback
        except OSError:
            pass
    _done = True
