"""``replay --twice``: is the run deterministic, and if not, what likely makes it vary?

Two replays of the same state are compared with each other (not with the original): if
their outputs or metrics differ, the run is nondeterministic under its recorded state. The
likely sources are named as far as runstate can observe them:

* from the recorded state — no seed (``random``/NumPy/PyTorch unseeded), ``PYTHONHASHSEED``
  unset (string hashes and so ``set`` order vary between processes), BLAS/OpenMP thread
  counts not pinned on a multi-core machine (parallel float reductions can depend on them),
  PyTorch's ``cudnn.benchmark`` on / deterministic algorithms off, no
  ``CUBLAS_WORKSPACE_CONFIG``;
* from the recorded code (the project files the run imported, parsed, never run) — calls
  that read the clock or entropy: ``time.time()``, ``datetime.now()``, ``date.today()``,
  ``uuid.uuid4()``, ``os.urandom()``, ``secrets.*``, ``random.SystemRandom``, and NumPy
  generators created without a seed (``np.random.default_rng()``), with file and line.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from typing import Any

from runstate.store.objects import ObjectStore

__all__ = ["code_sources", "likely_sources", "state_sources"]

_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
_NUMERIC = ("numpy", "scipy", "torch", "scikit-learn", "tensorflow", "jax")
# Dotted call names (as written, last two parts) that read the clock or entropy.
_CLOCK_CALLS = {
    "time.time": "reads the clock",
    "time.time_ns": "reads the clock",
    "datetime.now": "reads the clock",
    "datetime.utcnow": "reads the clock",
    "datetime.today": "reads the clock",
    "date.today": "reads the clock",
    "uuid.uuid1": "makes a time-based id",
    "uuid.uuid4": "makes a random id",
    "os.urandom": "reads OS entropy",
    "random.SystemRandom": "uses OS entropy",
}
_UNSEEDED_IF_NO_ARGS = {"random.default_rng", "np.random.default_rng", "numpy.random.default_rng"}


def state_sources(seeds: Mapping[str, Any], env: Mapping[str, Any]) -> list[str]:
    """Likely sources of nondeterminism visible in the recorded seeds and env components."""
    found = []
    if seeds.get("seed") is None:
        found.append("no seed was set: random, NumPy and PyTorch generators were unseeded")
    if seeds.get("pythonhashseed") is None:
        found.append(
            "PYTHONHASHSEED was unset: string hashes, and so set and dict-of-set ordering, "
            "vary between processes"
        )
    determinism = seeds.get("determinism") or {}
    if determinism.get("cudnn_benchmark"):
        found.append("torch.backends.cudnn.benchmark was on: cuDNN picks algorithms per run")
    if determinism.get("torch_deterministic_algorithms") is False:
        found.append("torch deterministic algorithms were off")
    if "torch" in (env.get("packages") or {}) and "CUBLAS_WORKSPACE_CONFIG" not in determinism:
        found.append("CUBLAS_WORKSPACE_CONFIG was unset: cuBLAS reductions may vary on GPU")
    packages = env.get("packages") or {}
    threads = env.get("threads") or {}
    cpus = (env.get("hardware") or {}).get("cpu_count") or 0
    numeric = any(p in packages for p in _NUMERIC)
    if numeric and cpus != 1 and not any(threads.get(v) for v in _THREAD_VARS):
        found.append(
            "BLAS/OpenMP thread counts were not pinned (OMP_NUM_THREADS, MKL_NUM_THREADS, "
            "OPENBLAS_NUM_THREADS): parallel float reductions can depend on them"
        )
    return found


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def code_sources(objects: ObjectStore, files: Mapping[str, str], limit: int = 20) -> list[str]:
    """Calls in the recorded project code that read the clock or entropy (``file:line``)."""
    found: list[str] = []
    for rel, blob_id in sorted(files.items()):
        if not rel.endswith(".py"):
            continue
        try:
            tree = ast.parse(objects.get_bytes(blob_id))
        except (SyntaxError, ValueError, OSError):
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = _dotted(node.func)
            if name is None:
                continue
            tail = ".".join(name.split(".")[-2:])
            if tail in _CLOCK_CALLS:
                found.append(f"{rel}:{node.lineno} {name}() {_CLOCK_CALLS[tail]}")
            elif tail.startswith("secrets."):
                found.append(f"{rel}:{node.lineno} {name}() uses OS entropy")
            elif (
                (name in _UNSEEDED_IF_NO_ARGS or tail == "random.default_rng")
                and not node.args
                and not node.keywords
            ):
                found.append(f"{rel}:{node.lineno} {name}() makes an unseeded generator")
            if len(found) >= limit:
                return found
    return found


def likely_sources(
    objects: ObjectStore,
    seeds: Mapping[str, Any],
    env: Mapping[str, Any],
    code: Mapping[str, Any],
) -> list[str]:
    return state_sources(seeds, env) + code_sources(objects, code.get("files") or {})


def differences(
    outputs: Sequence[Mapping[str, Any]], metrics: Sequence[Mapping[str, Any]]
) -> list[str]:
    """What differed between two replays, by name."""
    names = [str(o["name"]) for o in outputs if o["status"] != "identical"]
    return names + [f"metric {m['key']}" for m in metrics if m["status"] != "identical"]
