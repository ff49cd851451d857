"""Apply and record the *seeds* dimension: RNG seeds and the switches that make runs repeatable.

Why
---
A replay can only reproduce a result if every random number generator the run used starts
from the same state, and if the libraries that trade determinism for speed (cuDNN autotuning,
cuBLAS workspaces, TensorFlow op selection) are configured the same way. :func:`apply_seed`
seeds the generators a run is likely to use; :func:`capture_seeds` records the seed, what was
actually seeded, and the determinism settings in force, so that a diff can say "run B was not
seeded" or "run B had cudnn.benchmark on" instead of leaving the user to guess.

Import policy
-------------
numpy is seeded whenever it is installed: the user asked for a seed, and a run that imports
numpy after :func:`apply_seed` must still get the seeded global generator, which only works
if numpy's generator is seeded now (importing numpy costs tens of milliseconds, acceptable
when a seed was requested). torch is seeded only if it is already imported: importing torch
costs seconds and initialises CUDA, which no capture tool may do behind the user's back.
Modules are reached through :data:`sys.modules` / :func:`importlib.import_module`, so this
module imports only the standard library and type-checks without numpy or torch installed.

Seeds are unsigned 32-bit integers because that is the range ``numpy.random.seed`` accepts;
rejecting other values early gives a clear error instead of a numpy traceback mid-run.
"""

from __future__ import annotations

import importlib
import importlib.util
import operator
import os
import random
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, SupportsIndex

__all__ = ["DETERMINISM_ENV_VARS", "SEED_MAX", "apply_seed", "capture_seeds", "validate_seed"]

#: Exclusive upper bound of a seed (numpy's legacy seeding takes 32-bit unsigned integers).
SEED_MAX = 2**32

#: Environment variables that switch GPU/ML libraries between fast and deterministic modes.
DETERMINISM_ENV_VARS: tuple[str, ...] = (
    "CUBLAS_WORKSPACE_CONFIG",
    "TF_DETERMINISTIC_OPS",
    "TF_CUDNN_DETERMINISTIC",
    "CUDA_LAUNCH_BLOCKING",
)


def validate_seed(seed: object) -> int:
    """Return *seed* as an ``int`` if it is an integer in ``[0, 2**32)``, else raise ValueError.

    Integer-like objects (``numpy.int64``) are accepted through ``__index__``; ``bool`` and
    ``float`` are rejected because ``seed=True`` or ``seed=7.5`` is a bug, not a seed.
    """
    if isinstance(seed, bool):
        raise ValueError(f"invalid seed {seed!r}: expected an integer, got a bool")
    if not isinstance(seed, SupportsIndex):
        raise ValueError(f"invalid seed {seed!r}: expected an integer, got {type(seed).__name__}")
    value = operator.index(seed)
    if not 0 <= value < SEED_MAX:
        raise ValueError(f"invalid seed {seed!r}: must satisfy 0 <= seed < 2**32")
    return value


def apply_seed(seed: int) -> list[str]:
    """Seed Python's ``random``, numpy (if installed) and torch (if already imported).

    Returns the names of what was seeded, e.g. ``["random", "numpy"]``; ``"torch.cuda"`` is
    added when torch reports CUDA available. A library that is present but fails to seed is
    left out of the list rather than failing the run: the list is the record of what holds.
    """
    value = validate_seed(seed)
    applied = ["random"]
    random.seed(value)

    if "numpy" in sys.modules or importlib.util.find_spec("numpy") is not None:
        try:
            numpy = importlib.import_module("numpy")
            numpy.random.seed(value)
        except Exception:  # a broken numpy must not break the run
            pass
        else:
            applied.append("numpy")

    torch = sys.modules.get("torch")
    if torch is not None:
        try:
            torch.manual_seed(value)
        except Exception:
            pass
        else:
            applied.append("torch")
            try:
                if torch.cuda.is_available():
                    torch.cuda.manual_seed_all(value)
                    applied.append("torch.cuda")
            except Exception:  # no usable CUDA: the CPU seed still holds
                pass
    return applied


def _torch_determinism(torch: Any) -> dict[str, Any]:
    """Read torch's determinism switches; any that cannot be read is recorded as None."""
    out: dict[str, Any] = {}
    readers: dict[str, Callable[[], Any]] = {
        "torch_deterministic_algorithms": lambda: torch.are_deterministic_algorithms_enabled(),
        "cudnn_deterministic": lambda: torch.backends.cudnn.deterministic,
        "cudnn_benchmark": lambda: torch.backends.cudnn.benchmark,
    }
    for key, read in readers.items():
        try:
            out[key] = bool(read())
        except Exception:  # old or partial torch builds lack some switches
            out[key] = None
    return out


def capture_seeds(
    seed: int | None,
    applied: Sequence[str],
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Record the seeds dimension of a run as a JSON-safe dict.

    ``pythonhashseed`` is ``PYTHONHASHSEED`` from *environ* (default :data:`os.environ`):
    pass the environment the interpreter *started* with, since the variable only acts at
    start-up. None means hash randomisation was on, so ``set`` iteration order and anything
    derived from ``hash(str)`` may differ between runs. ``determinism`` holds the variables
    of :data:`DETERMINISM_ENV_VARS` that are set and, when torch is imported, its switches.
    """
    env = os.environ if environ is None else environ
    determinism: dict[str, Any] = {name: env[name] for name in DETERMINISM_ENV_VARS if name in env}
    torch = sys.modules.get("torch")
    if torch is not None:
        determinism.update(_torch_determinism(torch))
    return {
        "seed": None if seed is None else validate_seed(seed),
        "applied": sorted(set(applied)),
        "pythonhashseed": env.get("PYTHONHASHSEED"),
        "determinism": dict(sorted(determinism.items())),
    }
