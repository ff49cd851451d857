"""``runstate run -- CMD``: run any command and record its execution state without code changes.

The launcher starts the command with ``capture/bootstrap`` first on ``PYTHONPATH``, so every
Python process it starts reports (through PEP 578 audit hooks) the files it read and wrote
under the project root, the project modules it imported and its environment. Declared
``--input``/``--output`` paths cover what audit hooks cannot see (shell, R, binaries, C
libraries that open files themselves). When the command ends — succeeded, failed,
interrupted or killed — the launcher fingerprints what was read and written, assembles the
components and commits the run; its exit code is the command's.

Parameters and the seed reach the program through ``RUNSTATE_PARAMS``/``RUNSTATE_SEED``;
``runstate.run(...)`` inside the program merges them over its own defaults and hands its
inputs, outputs, metrics and steps back to the launcher, so one run is recorded.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runstate.errors import InputNotFound, UsageError
from runstate.state.canonical import canonical_bytes
from runstate.state.ids import uuid7
from runstate.store.store import Store, utc_now

if TYPE_CHECKING:
    from runstate.capture.record import Entry
    from runstate.state.code import GitCapture

# The assembly machinery (fingerprints, code and env capture, components) is imported by
# a prefetch thread while the command runs, not before it starts: `runstate run` costs the
# user only what cannot overlap with their command.

__all__ = ["LaunchOptions", "LaunchResult", "launch", "parse_param"]

BOOTSTRAP_DIR = str(Path(__file__).resolve().parent / "bootstrap")
ENV_MODULE = str(Path(__file__).resolve().parent.parent / "state" / "env.py")
STDERR_TAIL_BYTES = 8192
_CODE_SUFFIXES = (".py", ".pyw", ".pyi")


class _Prefetch(threading.Thread):
    """Imports the assembly modules and captures git state while the command runs."""

    def __init__(self, project_root: Path) -> None:
        super().__init__(daemon=True, name="runstate-prefetch")
        self.project_root = project_root
        self.git: GitCapture | None = None

    def run(self) -> None:
        try:
            import runstate.capture.collect  # warms the import
            import runstate.capture.record  # noqa: F401
            from runstate.state.canonical import hash_bytes
            from runstate.state.code import capture_git

            self.git = capture_git(self.project_root, hasher=hash_bytes)
        except Exception:
            self.git = None  # _assemble captures git itself

    def result(self) -> GitCapture | None:
        self.join()
        return self.git


def parse_param(text: str) -> tuple[str, Any]:
    """``k=v`` from the command line; ``v`` is JSON when it parses (``0.5``, ``true``, ``[1]``)."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise UsageError(f"--param {text!r}: expected KEY=VALUE")
    try:
        value: Any = json.loads(raw)
    except ValueError:
        value = raw
    if isinstance(value, float) and value != value:
        value = raw
    return key, value


@dataclass
class LaunchOptions:
    command: Sequence[str]
    name: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    seed: int | None = None
    inputs: Sequence[str] = ()
    outputs: Sequence[str] = ()
    config_files: Sequence[str] = ()
    retention: str = "full"
    parent_id: str | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    principal: str | None = None
    purpose: str | None = None


@dataclass
class LaunchResult:
    exit_code: int
    record: dict[str, Any]
    record_id: str


class _StderrTee(threading.Thread):
    """Copies the child's stderr to ours and keeps its last bytes for the record."""

    def __init__(self, stream: Any) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.tail: collections.deque[bytes] = collections.deque()
        self.size = 0

    def run(self) -> None:
        out = sys.stderr.buffer if hasattr(sys.stderr, "buffer") else None
        fd = self.stream.fileno()
        while chunk := os.read(fd, 65536):
            if out is not None:
                try:
                    out.write(chunk)
                    out.flush()
                except (OSError, ValueError):
                    out = None
            self.tail.append(chunk)
            self.size += len(chunk)
            while self.size - len(self.tail[0]) >= STDERR_TAIL_BYTES:
                self.size -= len(self.tail.popleft())

    def text(self) -> str | None:
        data = b"".join(self.tail)[-STDERR_TAIL_BYTES:]
        return data.decode("utf-8", "replace") if data else None


def _default_name(command: Sequence[str]) -> str:
    words = [w for w in command if not w.startswith("-")]
    if words and os.path.basename(words[0]).startswith("python") and len(words) > 1:
        return Path(words[1]).stem or "run"
    return Path(words[0]).name if words else "run"


def launch(options: LaunchOptions, store: Store | None = None) -> LaunchResult:
    """Run ``options.command`` under capture and commit the run; see the module docstring."""
    if not options.command:
        raise UsageError("no command given: use `runstate run [OPTIONS] -- CMD [ARGS]`")
    store = store or Store.open()
    try:
        canonical_bytes(dict(options.params))
    except (TypeError, ValueError) as exc:
        raise UsageError(f"--param: {exc}") from None
    params = dict(options.params)
    if options.seed is not None and not (0 <= options.seed < 2**32):
        raise UsageError(f"--seed {options.seed}: must be 0 <= seed < 2**32")
    cwd = os.path.abspath(options.cwd or os.getcwd())
    for declared in (*options.inputs, *options.config_files):
        if not os.path.exists(os.path.join(cwd, declared)):
            raise InputNotFound(f"{declared}: no such file or folder")
    executable = shutil.which(options.command[0], path=os.environ.get("PATH"))
    if executable is None and not os.path.exists(os.path.join(cwd, options.command[0])):
        raise UsageError(f"{options.command[0]}: command not found")
    # The access policy: an unusable one, or a principal it admits nowhere, stops the run
    # here, before the command reads anything (docs/policy.md).
    from runstate.capture import replayed
    from runstate.policy import may_apply

    policy = None
    if replayed.manifest() is not None:  # a replay: the recorded policy, not the current one
        policy = replayed.recorded_policy(store)
    elif may_apply(store.root, options.principal, options.purpose):
        from runstate.policy.context import resolve_policy

        policy = resolve_policy(store, options.principal, options.purpose)
        if policy is not None:
            policy.precheck()

    run_id = uuid7()
    report_dir = store.cache_dir / f"run-{run_id}"
    report_dir.mkdir(parents=True)
    env = dict(os.environ)
    env.update(options.extra_env)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (BOOTSTRAP_DIR, env.get("PYTHONPATH", "")) if p)
    env.update(
        RUNSTATE_REPORT_DIR=str(report_dir),
        RUNSTATE_PROJECT_ROOT=str(store.project_root),
        RUNSTATE_STORE_DIR=str(store.root),
        RUNSTATE_STORE=str(store.root),
        RUNSTATE_RUN_ID=run_id,
        RUNSTATE_LAUNCHER_PID=str(os.getpid()),
        RUNSTATE_ENV_MODULE=ENV_MODULE,
        RUNSTATE_ENV_CACHE=str(store.cache_dir),
        RUNSTATE_PARAMS=json.dumps(params),
    )
    if policy is not None:  # runstate.run() inside the command reads as the same identity
        for variable, value in (
            ("RUNSTATE_PRINCIPAL", policy.identity.principal),
            ("RUNSTATE_PURPOSE", policy.identity.purpose),
        ):
            if value:
                env[variable] = value
    if options.seed is not None:
        env["RUNSTATE_SEED"] = str(options.seed)
        env.setdefault("PYTHONHASHSEED", str(options.seed))

    with store.lease(run_id):
        started = time.time()
        # Ctrl-C reaches the whole foreground process group: the child handles it, and we
        # must survive it to record the run. A no-op handler (not SIG_IGN, which exec would
        # pass on to the child) does both.
        _interrupted.clear()
        previous_int = signal.signal(signal.SIGINT, _ignore_signal)
        try:
            child = subprocess.Popen(
                list(options.command), env=env, cwd=cwd, stderr=subprocess.PIPE
            )
        except OSError as exc:
            signal.signal(signal.SIGINT, previous_int)
            shutil.rmtree(report_dir, ignore_errors=True)
            raise UsageError(
                f"{options.command[0]}: cannot start ({exc.strerror or exc})"
            ) from None
        forward = _forward_signals(child)
        tee = _StderrTee(child.stderr)
        tee.start()
        prefetch = _Prefetch(store.project_root)
        prefetch.start()
        try:
            returncode = child.wait()
        finally:
            signal.signal(signal.SIGINT, previous_int)
            for signum, handler in forward.items():
                signal.signal(signum, handler)
        tee.join(timeout=5)
        ended = time.time()
        try:
            record = _assemble(
                store,
                options,
                run_id,
                params,
                cwd,
                report_dir,
                returncode,
                started,
                ended,
                tee.text(),
                prefetch.result(),
                policy=policy,
            )
            record_id = store.commit_run(record)
        finally:
            shutil.rmtree(report_dir, ignore_errors=True)
    exit_code = returncode if returncode >= 0 else 128 - returncode
    if policy is not None and policy.problems:
        exit_code = 2  # the policy refused a read: the run is recorded as failed
    return LaunchResult(exit_code, record, record_id)


_interrupted = threading.Event()


def _ignore_signal(_signum: int, _frame: Any) -> None:
    _interrupted.set()


def _forward_signals(child: subprocess.Popen[bytes]) -> dict[int, Any]:
    previous: dict[int, Any] = {}

    def forward(signum: int, _frame: Any) -> None:
        try:
            child.send_signal(signum)
        except ProcessLookupError:
            pass

    for signum in (signal.SIGTERM, signal.SIGHUP):
        previous[signum] = signal.signal(signum, forward)
    return previous


def _read_reports(report_dir: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    processes: list[dict[str, Any]] = []
    api_parts: list[dict[str, Any]] = []
    for path in sorted(report_dir.glob("*.json")):
        try:
            data = json.loads(path.read_bytes())
        except (OSError, ValueError):
            continue
        (api_parts if path.name.startswith("api-") else processes).append(data)
    return processes, api_parts


_TABLE_SUFFIXES = (
    ".csv",
    ".tsv",
    ".parquet",
    ".pq",
    ".arrow",
    ".feather",
    ".ipc",
    ".jsonl",
    ".ndjson",
)


def _capture_table_file(
    store: Store, name: str, path: str, role: str, retention: str, policy: Any = None
) -> Entry | None:
    """A table file the command read or wrote, recorded as a table; None when the file is not
    a recognisable table (the caller falls back to a file fingerprint)."""
    if not path.lower().endswith(_TABLE_SUFFIXES) or not os.path.isfile(path):
        return None
    from runstate.data.readers import detect_format, open_table
    from runstate.data.tablecapture import (
        STREAMING_THRESHOLD_BYTES,
        capture_table,
        capture_table_streaming,
    )
    from runstate.errors import RunstateError

    role_name = "data" if role == "data" else "output"

    try:
        if detect_format(path) is None:
            return None
        reader = open_table(path)
        if policy is not None and role == "data":
            return _capture_under_policy(store, name, path, reader, retention, policy)
        if os.path.getsize(path) > STREAMING_THRESHOLD_BYTES:
            return capture_table_streaming(
                store.objects,
                name,
                reader,
                path=name,
                role=role_name,
                retention="fingerprint" if retention == "fingerprint" else "full",
            )
        return capture_table(
            store.objects,
            name,
            reader.read_all(),
            path=name,
            source=reader.source.to_dict(),
            retention="fingerprint" if retention == "fingerprint" else "full",
            role=role_name,
        )
    except (RunstateError, OSError):
        return None  # unreadable as a table: recorded as a file instead


def _capture_under_policy(
    store: Store, name: str, path: str, reader: Any, retention: str, policy: Any
) -> Entry:
    """A table file the command read itself: the command saw it whole, but the store only
    gets what the policy lets through; withheld or unreadable, it is recorded by fingerprint
    only (never its bytes)."""
    from runstate.capture.record import IOEntry
    from runstate.data.tablecapture import capture_table
    from runstate.errors import RunstateError

    try:
        _decision, table = policy.record_table(name, reader)
        if table is not None:
            return capture_table(
                store.objects,
                name,
                table,
                path=name,
                source=reader.source.to_dict(),
                retention="fingerprint" if retention == "fingerprint" else "full",
                role="data",
            )
    except (RunstateError, OSError) as exc:
        policy.problems.append(f"dataset {name!r}: {exc}; recorded by fingerprint only")
    return IOEntry.capture(store, name, path, role="data", retention="fingerprint")


def _error_text(status: str, returncode: int) -> str | None:
    if status == "succeeded":
        return None
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"command was killed by {name}"
    if status == "interrupted":
        return f"command was interrupted (Ctrl-C) and exited with {returncode}"
    return f"command exited with {returncode}"


def _status(returncode: int, api_parts: list[dict[str, Any]]) -> str:
    interrupted = _interrupted.is_set() and returncode != 0
    if (
        interrupted
        or returncode in (-signal.SIGINT, 130)
        or any(p.get("status") == "interrupted" for p in api_parts)
    ):
        return "interrupted"
    if returncode < 0:
        return "killed"
    return "succeeded" if returncode == 0 else "failed"


def _assemble(
    store: Store,
    options: LaunchOptions,
    run_id: str,
    cli_params: dict[str, Any],
    cwd: str,
    report_dir: Path,
    returncode: int,
    started: float,
    ended: float,
    stderr_tail: str | None,
    git: GitCapture | None,
    policy: Any = None,
) -> dict[str, Any]:
    from runstate.capture.collect import capture_code_component, capture_env_component
    from runstate.capture.record import (
        RECORD_SCHEMA,
        IOEntry,
        check_params,
        compose_state,
        current_host,
        current_user,
        entry_from_dict,
        metric_value,
        relative_path,
    )
    from runstate.data.statcache import StatCache
    from runstate.state.redact import redact_argv, scrub_text
    from runstate.state.seeds import capture_seeds

    processes, api_parts = _read_reports(report_dir)
    cache = StatCache(store.cache_dir / "stat.sqlite")
    root = str(store.project_root)
    direct = [p for p in processes if p.get("env") is not None]
    env_body = direct[0]["env"] if direct else capture_env_component(store)

    module_files = sorted({m for p in processes for m in p.get("modules", [])})
    entry = None
    for proc in direct or processes:
        argv = proc.get("argv") or []
        if (
            argv
            and argv[0] not in ("", "-c", "-m")
            and os.path.isfile(os.path.join(proc.get("cwd", cwd), argv[0]))
        ):
            entry = os.path.join(proc.get("cwd", cwd), argv[0])
            break

    params = check_params(cli_params)
    name = options.name
    inputs: dict[str, Entry] = {}
    outputs: dict[str, Entry] = {}
    metrics: list[dict[str, Any]] = []
    steps: list[dict[str, Any]] = []
    config_paths = [os.path.join(cwd, p) for p in options.config_files]
    applied = sorted({s for p in processes for s in p.get("applied_seeds", [])})
    for part in api_parts:
        name = name or part.get("name")
        params = {**part.get("params", {}), **params}
        for item in part.get("inputs", []):
            inputs[item["name"]] = entry_from_dict(item)
        for item in part.get("outputs", []):
            outputs[item["name"]] = entry_from_dict(item)
        metrics.extend(
            {**m, "value": metric_value(m["key"], m["value"])} for m in part.get("metrics", [])
        )
        steps.extend(part.get("steps", []))
        config_paths.extend(part.get("config_files", []))
        applied = sorted(set(applied) | set(part.get("applied_seeds", [])))
        if policy is not None:
            policy.merge(part.get("policy"))

    known_paths = {os.path.join(root, e.path) for e in (*inputs.values(), *outputs.values())}
    config_set = {os.path.abspath(p) for p in config_paths}

    def covered(absolute: str) -> bool:
        """Already recorded, itself or through a recorded folder that contains it."""
        return absolute in known_paths or any(absolute.startswith(k + os.sep) for k in known_paths)

    def add(table: dict[str, Entry], path: str, role: str) -> None:
        absolute = os.path.abspath(os.path.join(cwd, path))
        if covered(absolute) or not os.path.exists(absolute):
            return
        name = relative_path(absolute, root)
        entry_io: Entry | None = _capture_table_file(
            store, name, absolute, role, options.retention, policy
        )
        if entry_io is None:
            entry_io = IOEntry.capture(
                store, name, absolute, role=role, retention=options.retention, cache=cache
            )
        table.setdefault(entry_io.name, entry_io)
        known_paths.add(absolute)

    for path in options.outputs:
        add(outputs, path, "file")
    for path in options.inputs:
        add(inputs, path, "data")
    written = {w for p in processes for w in p.get("writes", [])}
    for path in sorted(written):
        add(outputs, path, "file")
    code_files = set(module_files) | ({os.path.abspath(entry)} if entry else set())
    policy_file = os.path.join(root, "runstate-policy.yaml")
    for proc in processes:
        for path in proc.get("reads", []):
            if (
                path in written
                or path in code_files
                or path in config_set
                or path.endswith(_CODE_SUFFIXES)
                or path == policy_file  # recorded as the policy component
            ):
                continue
            add(inputs, path, "data")

    config_entries = [
        IOEntry.capture(store, f"config:{i}", p, role="file", cache=cache)
        for i, p in enumerate(config_paths)
    ]
    hashseed = next((p.get("pythonhashseed") for p in processes if p.get("env") is not None), None)
    if hashseed is None and options.seed is not None:
        hashseed = os.environ.get("PYTHONHASHSEED", str(options.seed))
    seeds_env = {"PYTHONHASHSEED": hashseed} if hashseed is not None else {}
    state, _ = compose_state(
        store,
        env=env_body,
        code=capture_code_component(store, module_files, entry, git=git),
        params=params,
        config_files=config_entries,
        # The seed given to `runstate run`, else the one the program gave runstate.run().
        seeds=capture_seeds(
            next((p["seed"] for p in api_parts if p.get("seed") is not None), options.seed)
            if options.seed is None
            else options.seed,
            applied,
            seeds_env,
        ),
        inputs=inputs.values(),
        policy=None if policy is None else policy.component_body(),
    )
    cache.close()
    status = _status(returncode, api_parts)
    error = _error_text(status, returncode)
    if policy is not None and policy.problems:  # a refused read is never a success
        status, error = "failed", scrub_text("; ".join(policy.problems))[:2000]
    return {
        "schema": RECORD_SCHEMA,
        "id": run_id,
        "name": name or _default_name(options.command),
        "kind": "command",
        "parent_id": options.parent_id,
        "status": status,
        "exit_code": returncode if returncode >= 0 else 128 - returncode,
        "error": error,
        "command": redact_argv(options.command),
        "cwd": relative_path(cwd, root),
        "started_at": utc_now(started),
        "ended_at": utc_now(ended),
        "duration_ms": int((ended - started) * 1000),
        "host": current_host(),
        "user": current_user(),
        "pid": os.getpid(),
        "state": state.to_dict(),
        "inputs": [e.to_dict() for e in inputs.values()],
        "outputs": [e.to_dict() for e in outputs.values()],
        "config_files": [e.to_dict() for e in config_entries],
        "metrics": metrics,
        "steps": steps,
        "stderr_tail": None if stderr_tail is None else scrub_text(stderr_tail),
    }
