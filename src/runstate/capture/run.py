"""The Run API: one ``with`` statement records a run's whole execution state.

    >>> import runstate                                          # doctest: +SKIP
    >>> with runstate.run("score-daily", params={"threshold": 0.5}, seed=7) as run:
    ...     path = run.input("customers", "data/customers.csv")
    ...     with run.step("features"):
    ...         ...
    ...     run.output("predictions", "out/predictions.csv")
    ...     run.metric("approval_rate", 0.42)

On exit the run is committed whatever happened: ``succeeded``, ``failed`` (an exception;
its type and message are recorded and it propagates) or ``interrupted`` (Ctrl-C).

Under ``runstate run -- python job.py`` the same code does not commit a second run: it
hands its params, inputs, outputs, metrics and steps to the launcher (through the report
folder named by ``RUNSTATE_REPORT_DIR``), which merges them into the one run it records.

Table inputs (``run.read_table``) arrive with the data-state work; their seam is
:meth:`Run._record_io`, which every recorded input and output goes through.
"""

from __future__ import annotations

import ast
import inspect
import json
import linecache
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import FrameType, MappingProxyType, TracebackType
from typing import Any, TypeVar

from runstate.capture import replayed
from runstate.capture.record import (
    RECORD_SCHEMA,
    Entry,
    IOEntry,
    StepRecord,
    check_params,
    compose_state,
    current_host,
    current_user,
    metric_value,
    relative_path,
)
from runstate.data.statcache import StatCache
from runstate.errors import InputError, UsageError
from runstate.state.canonical import hash_bytes
from runstate.state.ids import uuid7
from runstate.state.redact import redact_argv, scrub_text
from runstate.store.atomic import atomic_write_bytes
from runstate.store.store import Store, utc_now

__all__ = ["Run", "run"]

F = TypeVar("F", bound=Callable[..., Any])
_PYTHONHASHSEED_AT_START = os.environ.get("PYTHONHASHSEED")


class Run:
    """A run being captured. Create it with :func:`runstate.run`."""

    def __init__(
        self,
        name: str,
        *,
        params: Mapping[str, Any] | None = None,
        seed: int | None = None,
        config_files: Sequence[str | os.PathLike[str]] = (),
        store: Store | str | os.PathLike[str] | None = None,
        parent_id: str | None = None,
        principal: str | None = None,
        purpose: str | None = None,
    ) -> None:
        if not name or not isinstance(name, str):
            raise UsageError("run name must be a non-empty string")
        self.name = name
        self.id = uuid7()
        self.parent_id = parent_id
        # Values from the launcher (``--param``/``--seed``, or a replay) win over code defaults.
        overrides = json.loads(os.environ.get("RUNSTATE_PARAMS") or "{}")
        self._params = check_params({**(params or {}), **overrides})
        self.params: Mapping[str, Any] = MappingProxyType(self._params)
        env_seed = os.environ.get("RUNSTATE_SEED")
        self.seed = int(env_seed) if env_seed else seed
        self._config_paths = [os.fspath(p) for p in config_files]
        self._report_dir = os.environ.get("RUNSTATE_REPORT_DIR")
        self.store = store if isinstance(store, Store) else Store.open(store)
        # The access policy (runstate.policy): checked now, before any data is read. A replay
        # reads under the recorded policy, not the store's current one (capture.replayed).
        self._policy = (
            replayed.recorded_policy(self.store)
            if replayed.ACTIVE
            else _resolve_policy(self.store, principal, purpose)
        )
        if replayed.ACTIVE:  # inside `runstate replay`: sandbox root, recorded params and seed
            replayed.attach(self)
        self.inputs: dict[str, Entry] = {}
        self.outputs: dict[str, Entry] = {}
        self.metrics: list[dict[str, Any]] = []
        self.steps: list[StepRecord] = []
        self._current_step: StepRecord | None = None
        self._cache = StatCache(self.store.cache_dir / "stat.sqlite")
        self._applied_seeds: list[str] = []
        self._started = 0.0
        self.status = "created"
        self.record: dict[str, Any] | None = None

    # -- lifecycle -----------------------------------------------------------------------

    def __enter__(self) -> Run:
        from runstate.state.seeds import apply_seed

        self._started = time.time()
        self._lease = self.store.lease(self.id).__enter__()
        if self.seed is not None:
            try:
                self._applied_seeds = apply_seed(self.seed)
            except ValueError as exc:
                self._lease.release()
                raise UsageError(str(exc)) from None
        self.status = "running"
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        error = None
        if exc_type is None:
            self.status = "succeeded"
        elif issubclass(exc_type, KeyboardInterrupt):
            self.status = "interrupted"
        else:
            self.status = "failed"
            error = scrub_text(
                "".join(traceback.format_exception_only(exc_type, exc)).strip()[-2000:]
            )
        try:
            self._finish(error)
        finally:
            self._lease.release()
            self._cache.close()

    # -- recording -----------------------------------------------------------------------

    def input(
        self,
        name: str,
        path: str | os.PathLike[str],
        *,
        retention: str = "full",
        role: str | None = None,
    ) -> str:
        """Fingerprint (and by default store) a file or folder the run reads; returns the path.

        ``role`` is ``"data"`` (default) or ``"model"`` (a model artifact: recorded as a
        ``model:<name>`` component). With ``retention="fingerprint"`` only the fingerprint
        and, for folders, the file manifest are kept: diffable, not replayable.
        """
        if role is None:
            role = "model" if name.startswith("model") else "data"
        if replayed.ACTIVE:  # the recorded bytes, laid out in the replay sandbox
            path = replayed.input_path(name, path)
        elif self._policy is not None and role == "data":
            self._policy.before_read(name, opaque=True)
        entry = IOEntry.capture(
            self.store,
            name,
            path,
            role=role,
            retention=retention,
            step=self._step_name(),
            cache=self._cache,
        )
        self._record_io(self.inputs, entry)
        return os.fspath(path)

    def read_table(
        self,
        name: str,
        source: Any,
        *,
        key: str | Sequence[str] | None = None,
        retention: str = "full",
        format: str | None = None,
        as_: str | None = None,
    ) -> Any:
        """Read a table, record it down to its rows, and return it.

        ``source`` is a file or folder (CSV, TSV, Parquet, Arrow IPC/Feather, JSON lines), a
        pandas or polars DataFrame, a pyarrow Table, or ``(connection, sql)`` where the
        connection is a DuckDB connection or a database URL. The data comes back as
        ``as_`` ("pandas", "polars" or "arrow"; default: the source's own kind, pandas for
        files). ``key`` names the column(s) that identify a row: diffs then report added,
        removed and changed keys. Retention ``full`` keeps a snapshot (replayable),
        ``fingerprint`` only the per-row fingerprints, schema and profile (diffable).

        >>> customers = run.read_table("customers", "data/customers.parquet",
        ...                            key="customer_id")                     # doctest: +SKIP
        """
        from runstate.data.readers import to_flavour

        step = self._step_name()
        served = replayed.serve_table(self.store, name, step) if replayed.ACTIVE else None
        if served is not None:  # inside a replay: the recorded snapshot, not the live source
            entry, table, flavour = served
        else:
            entry, table, flavour = self._capture_table(
                name, source, key, retention, format, "data"
            )
        self._record_io(self.inputs, entry)
        return to_flavour(table, as_ or flavour)

    def _capture_table(
        self,
        name: str,
        source: Any,
        key: str | Sequence[str] | None,
        retention: str,
        format: str | None,
        role: str,
    ) -> tuple[Any, Any, str]:
        from runstate.data.readers import open_table
        from runstate.data.tablecapture import capture_table

        policy = self._policy if role == "data" else None
        decision = policy.before_read(name) if policy is not None else None  # AccessDenied
        reader = open_table(source, format=format)
        pinned = None
        if retention == "reference":  # the external version, before and after the read
            from runstate.data.reference import pin_reference

            root = os.fspath(self.store.project_root)
            pinned = pin_reference(reader.source, root, name)
        if policy is not None and decision is not None:  # filtered rows never reach the caller
            table, key = policy.read(decision, reader, key)
        else:
            table = reader.read_all()
        if pinned is not None and pinned != pin_reference(reader.source, root, name):
            raise InputError(f"table {name!r}: {reader.source.path} changed while being read")
        described = reader.source.to_dict()
        path = reader.source.path
        shown = (
            relative_path(path, self.store.project_root)
            if path
            else f"<{described['kind']}:{name}>"
        )
        entry = capture_table(
            self.store.objects,
            name,
            table,
            path=shown,
            source=described,
            key=[key] if isinstance(key, str) else key,
            retention=retention,
            role=role,
            step=self._step_name(),
            reference=None if pinned is None else pinned.to_dict(),
        )
        return entry, table, reader.source.flavour

    def output(
        self,
        name: str,
        value: Any,
        *,
        retention: str = "full",
        key: str | Sequence[str] | None = None,
        format: str | None = None,
    ) -> None:
        """Record something the run produced: a table, a file or folder path, or raw bytes.

        Tables (pandas, polars, pyarrow, or a table file given with ``key=``/``format=``) are
        recorded down to their rows, so diffs show which keys and cells changed.
        """
        is_path = isinstance(value, (str, os.PathLike))
        if not isinstance(value, bytes) and (not is_path or key is not None or format is not None):
            entry, _, _ = self._capture_table(name, value, key, retention, format, "output")
            self._record_io(self.outputs, entry)
            return
        if isinstance(value, bytes):
            object_id = self.store.objects.put_bytes(value)
            from runstate.data.files import PathFingerprint

            fingerprint = PathFingerprint("bytes", object_id, len(value), 1, object_id, "full")
            entry = IOEntry(name, f"<bytes:{name}>", "file", fingerprint, self._step_name())
        else:
            entry = IOEntry.capture(
                self.store,
                name,
                value,
                role="file",
                retention=retention,
                step=self._step_name(),
                cache=self._cache,
            )
        self._record_io(self.outputs, entry)

    def _record_io(self, table: dict[str, Entry], entry: Entry) -> None:
        """The one place inputs and outputs are recorded (the seam for table captures)."""
        previous = table.get(entry.name)
        if previous is not None and previous.digest != entry.digest:
            kind = "input" if table is self.inputs else "output"
            raise UsageError(f"{kind} {entry.name!r} was recorded twice with different content")
        table[entry.name] = entry
        if self._current_step is not None:
            side = self._current_step.inputs if table is self.inputs else self._current_step.outputs
            side[entry.name] = entry.digest

    def metric(self, key: str, value: float, step: int | None = None) -> None:
        """Record a metric (any number of times; each value is kept, in order)."""
        self.metrics.append({"key": key, "value": metric_value(key, value), "step": step})

    def _step_name(self) -> str | None:
        return None if self._current_step is None else self._current_step.name

    def step(self, name: str, fn: Callable[..., Any] | None = None) -> _Step:
        """A named stage: ``with run.step("features"):`` or ``@run.step("features")``.

        The step records the inputs and outputs recorded inside it and a hash of the code
        it ran: the decorated function's source, or the source of the ``with`` block.
        """
        return _Step(self, name, fn, sys._getframe(1))

    @contextmanager
    def _stage(self, name: str, code_hash: str | None) -> Iterator[StepRecord]:
        if self._current_step is not None:
            raise UsageError(
                f"step {name!r} starts inside step {self._current_step.name!r}; steps do not nest"
            )
        if any(existing.name == name for existing in self.steps):
            raise UsageError(f"step {name!r} was already recorded in this run")
        record = StepRecord(name, code_hash, utc_now())
        started = time.time()
        self._current_step = record
        try:
            yield record
            record.status = "succeeded"
        except KeyboardInterrupt:
            record.status = "interrupted"
            raise
        except BaseException:
            record.status = "failed"
            raise
        finally:
            self._current_step = None
            record.ended_at = utc_now()
            record.duration_ms = int((time.time() - started) * 1000)
            self.steps.append(record)

    # -- committing ----------------------------------------------------------------------

    def _partial(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "params": self._params,
            "seed": self.seed,
            "applied_seeds": self._applied_seeds,
            "config_files": self._config_paths,
            "inputs": [entry.to_dict() for entry in self.inputs.values()],
            "outputs": [entry.to_dict() for entry in self.outputs.values()],
            "metrics": self.metrics,
            "steps": [step.to_dict() for step in self.steps],
            "status": self.status,
            "policy": None if self._policy is None else self._policy.component_body(),
        }

    def _finish(self, error: str | None) -> None:
        if self._report_dir:
            # Inside `runstate run`: the launcher records the run; hand it our part.
            path = os.path.join(self._report_dir, f"api-{os.getpid()}-{self.id}.json")
            atomic_write_bytes(path, json.dumps(self._partial()).encode())
            return
        from runstate.capture.collect import capture_code_component, capture_env_component
        from runstate.state.seeds import capture_seeds

        config_entries = [
            IOEntry.capture(self.store, f"config:{i}", p, role="file", cache=self._cache)
            for i, p in enumerate(self._config_paths)
        ]
        entry_script = sys.argv[0] if sys.argv and sys.argv[0] not in ("", "-c", "-m") else None
        state, _ = compose_state(
            self.store,
            env=capture_env_component(self.store),
            code=capture_code_component(self.store, _module_files(), entry_script),
            params=self._params,
            config_files=config_entries,
            seeds=capture_seeds(self.seed, self._applied_seeds, _hashseed_environ()),
            inputs=self.inputs.values(),
            policy=None if self._policy is None else self._policy.component_body(),
        )
        ended = time.time()
        self.record = {
            "schema": RECORD_SCHEMA,
            "id": self.id,
            "name": self.name,
            "kind": "api",
            "parent_id": self.parent_id,
            "status": self.status,
            "exit_code": None,
            "error": error,
            "command": redact_argv(sys.argv) if sys.argv else None,
            "cwd": relative_path(os.getcwd(), self.store.project_root),
            "started_at": utc_now(self._started),
            "ended_at": utc_now(ended),
            "duration_ms": int((ended - self._started) * 1000),
            "host": current_host(),
            "user": current_user(),
            "pid": os.getpid(),
            "state": state.to_dict(),
            "inputs": [entry.to_dict() for entry in self.inputs.values()],
            "outputs": [entry.to_dict() for entry in self.outputs.values()],
            "config_files": [entry.to_dict() for entry in config_entries],
            "metrics": self.metrics,
            "steps": [step.to_dict() for step in self.steps],
            "stderr_tail": None,
        }
        self.store.commit_run(self.record)


class _Step:
    """Both a context manager and a decorator; see :meth:`Run.step`."""

    def __init__(
        self, run: Run, name: str, fn: Callable[..., Any] | None, frame: FrameType
    ) -> None:
        self._run, self._name, self._fn = run, name, fn
        self._frame_file, self._frame_line = frame.f_code.co_filename, frame.f_lineno
        self._context: Any = None

    def __enter__(self) -> StepRecord:
        code_hash = (
            _function_hash(self._fn)
            if self._fn
            else _with_block_hash(self._frame_file, self._frame_line)
        )
        self._context = self._run._stage(self._name, code_hash)
        record: StepRecord = self._context.__enter__()
        return record

    def __exit__(self, *exc: Any) -> bool:
        return bool(self._context.__exit__(*exc))

    def __call__(self, fn: F) -> F:
        import functools

        run, name = self._run, self._name

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with run._stage(name, _function_hash(fn)):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


def _function_hash(fn: Callable[..., Any]) -> str | None:
    from runstate.state.code import function_hash

    return function_hash(fn, hasher=hash_bytes)


def _with_block_hash(filename: str, line: int) -> str | None:
    """Hash of the source of the ``with`` statement that starts on ``line`` of ``filename``."""
    source = "".join(linecache.getlines(filename))
    if not source:
        return None
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if not isinstance(node, (ast.With, ast.AsyncWith)):
            continue
        if line in {node.lineno, *(item.context_expr.lineno for item in node.items)}:
            segment = ast.get_source_segment(source, node) or ""
            return hash_bytes(inspect.cleandoc(segment).encode())
    return None


def _resolve_policy(store: Store, principal: str | None, purpose: str | None) -> Any:
    """The run's :class:`~runstate.policy.context.ActivePolicy`, prechecked (or None)."""
    from runstate.policy import may_apply

    if not may_apply(store.root, principal, purpose):
        return None
    from runstate.policy.context import resolve_policy

    policy = resolve_policy(store, principal, purpose)
    if policy is not None:
        policy.precheck()
    return policy


def _hashseed_environ() -> dict[str, str]:
    """PYTHONHASHSEED as it was when this interpreter started (later changes have no effect)."""
    if _PYTHONHASHSEED_AT_START is None:
        return {}
    return {"PYTHONHASHSEED": _PYTHONHASHSEED_AT_START}


def _module_files() -> list[str]:
    files = []
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if isinstance(path, str):
            files.append(path)
    return files


def run(
    name: str,
    *,
    params: Mapping[str, Any] | None = None,
    seed: int | None = None,
    config_files: Sequence[str | os.PathLike[str]] = (),
    store: Store | str | os.PathLike[str] | None = None,
    principal: str | None = None,
    purpose: str | None = None,
) -> Run:
    """Start capturing a run; use it as ``with runstate.run("name") as run:``.

    ``principal``/``purpose`` (default: ``RUNSTATE_PRINCIPAL``/``RUNSTATE_PURPOSE``) are who
    reads and why, for the access policy (docs/policy.md).
    """
    return Run(
        name,
        params=params,
        seed=seed,
        config_files=config_files,
        store=store,
        principal=principal,
        purpose=purpose,
    )
