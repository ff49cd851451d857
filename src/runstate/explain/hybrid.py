"""Hybrid states: run A with a subset S of the factors taken from run B; run them once.

A hybrid is described to the replay machinery as :class:`runstate.replay.Sources`: base A,
whole components (``data:<name>``, ``seeds``, ``policy``, ``config`` for config files, ``env``)
overridden by B's, B's version of some project files overlaid on A's code
(``Sources.code_files``) and A's params with some keys set to B's (``Sources.params``).

**Hybrid state id** — A's state components with the switched ones replaced (a code overlay
or a param mix as the content id of "A's component + these changes"), plus the env mode:
``content_id`` of that mapping. Two explains (or two subsets in one search) that build the
same hybrid get the same id, and the result is taken from the cache in
``.runstate/explain-cache/<id>.json`` (written atomically) instead of being replayed again.
The empty subset is A's own state and the full subset B's factors on A.

Replays run in worker interpreters (``python -m runstate.explain.worker --serve``, one
replay at a time each: the replay sets environment variables and redirects file
descriptors, which threads of one process would share), at most ``parallel`` at a time;
a worker is reused for the next hybrid, so interpreter start and imports are paid once.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from runstate.explain.factors import Factor, apply_params
from runstate.state.canonical import content_id
from runstate.store.atomic import atomic_write_bytes
from runstate.store.store import Store

__all__ = ["CACHE_DIR", "HybridCache", "HybridResult", "HybridRunner", "hybrid_key"]

CACHE_DIR = "explain-cache"
CACHE_SCHEMA = "runstate.explain-hybrid/v1"


@dataclass(frozen=True)
class HybridResult:
    """What one hybrid replay produced (or why it produced nothing)."""

    state_id: str
    factors: tuple[str, ...]
    status: str  # ok | failed | not_replayable
    reason: str | None = None
    replay_run_id: str | None = None
    outputs: list[dict[str, Any]] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    cached: bool = False

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": CACHE_SCHEMA,
            "state_id": self.state_id,
            "factors": list(self.factors),
            "status": self.status,
            "reason": self.reason,
            "replay_run_id": self.replay_run_id,
            "outputs": self.outputs,
            "metrics": self.metrics,
            "seconds": self.seconds,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], cached: bool = False) -> HybridResult:
        return cls(
            str(data["state_id"]),
            tuple(data.get("factors") or ()),
            str(data["status"]),
            data.get("reason"),
            data.get("replay_run_id"),
            list(data.get("outputs") or []),
            list(data.get("metrics") or []),
            float(data.get("seconds") or 0.0),
            cached,
        )


class HybridCache:
    """Hybrid results by hybrid state id, one JSON file each (atomic writes)."""

    def __init__(self, store_root: os.PathLike[str] | str) -> None:
        self.folder = os.path.join(os.fspath(store_root), CACHE_DIR)

    def _path(self, state_id: str) -> str:
        return os.path.join(self.folder, f"{state_id}.json")

    def get(self, state_id: str) -> HybridResult | None:
        try:
            with open(self._path(state_id), "rb") as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            return None
        if data.get("schema") != CACHE_SCHEMA:
            return None
        return HybridResult.from_dict(data, cached=True)

    def put(self, result: HybridResult) -> None:
        os.makedirs(self.folder, exist_ok=True)
        data = json.dumps(result.to_dict(), sort_keys=True, allow_nan=True).encode()
        atomic_write_bytes(self._path(result.state_id), data)


def _params_of(store: Store, record: Mapping[str, Any]) -> dict[str, Any]:
    component_id = record["state"]["components"].get("config")
    if component_id is None:
        return {}
    return dict(store.load_json(component_id)["body"].get("params") or {})


@dataclass(frozen=True)
class HybridSpec:
    """A hybrid ready to run: its id, its factor names and the replay sources' parts."""

    state_id: str
    factors: tuple[str, ...]
    overrides: tuple[str, ...]  # component names taken from B
    code_files: Mapping[str, str | None]
    params: Mapping[str, Any] | None


def hybrid_key(
    store: Store,
    record_a: Mapping[str, Any],
    record_b: Mapping[str, Any],
    factors: Sequence[Factor],
    env_mode: str,
    repeat: int = 0,
) -> HybridSpec:
    """The spec (and hybrid state id) of A with ``factors`` switched to B (``repeat``: the
    n-th extra replay of the same hybrid, for a determinism check: another id)."""
    comps: dict[str, Any] = dict(record_a["state"]["components"])
    comps_b: Mapping[str, str] = record_b["state"]["components"]
    overrides: list[str] = []
    code_files: dict[str, str | None] = {}
    chosen_params: dict[str, Any] = {}
    for factor in factors:
        for component in factor.components:
            overrides.append(component)
            comps[component] = comps_b.get(component)
        code_files.update(factor.code_files)
        chosen_params.update(factor.params)
    if code_files and "code" not in overrides:
        comps["code"] = content_id(
            {"base": comps.get("code"), "overlay": dict(sorted(code_files.items()))}
        )
    params = None
    if chosen_params or "config" in overrides:  # config files from B keep A's params
        params = apply_params(_params_of(store, record_a), chosen_params)
        comps["config"] = content_id({"base": comps.get("config"), "params": params})
    state_id = content_id(
        {
            "schema": CACHE_SCHEMA,
            "components": {k: v for k, v in sorted(comps.items()) if v is not None},
            "env_mode": env_mode,
            **({"repeat": repeat} if repeat else {}),
        }
    )
    return HybridSpec(
        state_id,
        tuple(sorted(f.name for f in factors)),
        tuple(sorted(set(overrides))),
        dict(code_files),
        params,
    )


# -- worker side -----------------------------------------------------------------------


def replay_hybrid(
    store_root: str,
    record_a: Mapping[str, Any],
    record_b: Mapping[str, Any],
    spec: HybridSpec,
    env_mode: str,
) -> dict[str, Any]:
    """Replay one hybrid (in a worker process: ``python -m runstate.explain.worker``)."""
    from runstate.errors import RunstateError
    from runstate.replay.manifest import Sources
    from runstate.replay.runner import ReplayOptions, _load, replay_sources

    started = time.perf_counter()
    store = Store(store_root)
    base: dict[str, Any] = {
        "state_id": spec.state_id,
        "factors": list(spec.factors),
        "schema": CACHE_SCHEMA,
    }
    try:
        sources = Sources(
            record_a,
            {name: record_b for name in spec.overrides},
            code_files=dict(spec.code_files),
            params=None if spec.params is None else dict(spec.params),
        )
        verdict = replay_sources(store, sources, ReplayOptions(env=env_mode))
        if verdict.verdict == "not_replayable":
            return {**base, "status": "not_replayable", "reason": verdict.reason}
        if verdict.verdict == "failed" or verdict.replay_run_id is None:
            tail = (verdict.stderr_tail or "").strip().splitlines()[-1:]
            reason = verdict.reason or "the replay failed"
            return {
                **base,
                "status": "failed",
                "reason": reason + (f": {tail[0]}" if tail else ""),
                "replay_run_id": verdict.replay_run_id,
            }
        record = _load(store, verdict.replay_run_id)
        return {
            **base,
            "status": "ok",
            "replay_run_id": verdict.replay_run_id,
            "outputs": record.get("outputs") or [],
            "metrics": record.get("metrics") or [],
            "seconds": time.perf_counter() - started,
        }
    except RunstateError as exc:  # the hybrid cannot be materialised (e.g. a file overlay)
        return {**base, "status": "failed", "reason": f"{type(exc).__name__}: {exc}"}
    finally:
        store.close()


def _spec_dict(spec: HybridSpec) -> dict[str, Any]:
    return {
        "state_id": spec.state_id,
        "factors": list(spec.factors),
        "overrides": list(spec.overrides),
        "code_files": dict(spec.code_files),
        "params": None if spec.params is None else dict(spec.params),
    }


def spec_from_dict(data: Mapping[str, Any]) -> HybridSpec:
    return HybridSpec(
        str(data["state_id"]),
        tuple(data["factors"]),
        tuple(data["overrides"]),
        dict(data["code_files"]),
        data.get("params"),
    )


class _Worker:
    """A long-lived worker interpreter (``python -m runstate.explain.worker --serve``): one
    job file path per line on its stdin, one line back when the result file is written.
    Replays in it run one at a time: the replay sets environment variables and redirects
    file descriptors, which threads of one process would share. Reusing the interpreter
    saves its start and imports for every hybrid after the first."""

    def __init__(self) -> None:
        import subprocess
        import sys

        env = {k: v for k, v in os.environ.items() if k != "RUNSTATE_REPLAY_MANIFEST"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "runstate.explain.worker", "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            text=True,
        )

    def run(self, job: Mapping[str, Any]) -> dict[str, Any]:
        import tempfile

        assert self.process.stdin is not None and self.process.stdout is not None
        with tempfile.TemporaryDirectory(prefix="runstate-explain-") as folder:
            job_path = os.path.join(folder, "job.json")
            out_path = os.path.join(folder, "result.json")
            with open(job_path, "w", encoding="utf-8") as handle:
                json.dump({**job, "out": out_path}, handle)
            try:
                self.process.stdin.write(job_path + "\n")
                self.process.stdin.flush()
                answer = self.process.stdout.readline()
            except OSError:
                answer = ""
            if not answer:
                raise RuntimeError(f"the worker exited ({self.process.poll()})")
            with open(out_path, encoding="utf-8") as handle:
                result: dict[str, Any] = json.load(handle)
                return result

    def close(self) -> None:
        try:
            if self.process.stdin is not None:
                self.process.stdin.close()
            self.process.wait(timeout=30)
        except Exception:  # never leave it running
            self.process.kill()
            self.process.wait()


class HybridRunner:
    """Runs hybrids of A and B (cached by hybrid state id), in parallel worker processes."""

    def __init__(
        self,
        store: Store,
        record_a: Mapping[str, Any],
        record_b: Mapping[str, Any],
        env_mode: str = "current",
        parallel: int | None = None,
        on_done: Callable[[HybridResult], None] | None = None,
    ) -> None:
        self.store = store
        self.record_a, self.record_b = dict(record_a), dict(record_b)
        self.env_mode = env_mode
        self.parallel = max(1, parallel or (os.cpu_count() or 1))
        self.cache = HybridCache(store.root)
        self.on_done = on_done
        self.results: dict[str, HybridResult] = {}  # this explain's, by state id
        self.replays = 0  # replays actually run (not cache hits)
        self.cache_hits = 0
        self._pool: Any = None

    def spec(self, factors: Iterable[Factor], repeat: int = 0) -> HybridSpec:
        return hybrid_key(
            self.store, self.record_a, self.record_b, list(factors), self.env_mode, repeat
        )

    def known(self, spec: HybridSpec) -> HybridResult | None:
        found = self.results.get(spec.state_id)
        if found is None:
            found = self.cache.get(spec.state_id)
            if found is not None:
                self.results[spec.state_id] = found
                self.cache_hits += 1
        return found

    def run(self, specs: Sequence[HybridSpec]) -> list[HybridResult]:
        """Results for ``specs`` in order; each distinct unknown hybrid is replayed once."""
        todo: dict[str, HybridSpec] = {}
        for spec in specs:
            if self.known(spec) is None and spec.state_id not in todo:
                todo[spec.state_id] = spec
        if todo:
            pool = self._executor(len(todo))
            futures = {pool.submit(self._replay, spec): spec for spec in todo.values()}
            from concurrent.futures import as_completed

            for future in as_completed(futures):
                spec = futures[future]
                try:
                    data = future.result()
                except Exception as exc:
                    data = {
                        "state_id": spec.state_id,
                        "factors": list(spec.factors),
                        "status": "failed",
                        "reason": f"the replay worker crashed: {exc}",
                    }
                result = HybridResult.from_dict(data)
                if result.status != "not_replayable":  # nothing ran for those
                    self.replays += 1
                self.results[spec.state_id] = result
                if result.status != "failed" or "crashed" not in (result.reason or ""):
                    self.cache.put(result)
                if self.on_done is not None:
                    self.on_done(result)
        return [self.results[spec.state_id] for spec in specs]

    def _replay(self, spec: HybridSpec) -> dict[str, Any]:
        """In a pool thread: borrow a worker interpreter, replay, give it back."""
        import queue

        try:
            worker = self._idle.get_nowait()
        except queue.Empty:
            worker = _Worker()
            self._workers.append(worker)
        job = {
            "store_root": str(self.store.root),
            "record_a": self.record_a,
            "record_b": self.record_b,
            "spec": _spec_dict(spec),
            "env_mode": self.env_mode,
        }
        try:
            result = worker.run(job)
        except BaseException:
            worker.close()  # a broken worker is not reused
            raise
        self._idle.put(worker)
        return result

    def _executor(self, pending: int) -> Any:
        if self._pool is None:
            import queue
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=self.parallel)
            self._idle: queue.Queue[_Worker] = queue.Queue()
            self._workers: list[_Worker] = []
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
            for worker in self._workers:
                worker.close()
            self._workers = []
