"""Run the recorded command in the sandbox, captured like ``runstate run``.

The replay is itself a run: :func:`execute` starts the command through the launcher
(:func:`runstate.capture.launcher.launch`) with the sandbox as the project root, so the
replay's record has the same shape as any run (inputs, outputs, metrics, env, code), with
``parent_id`` = the original run. The child gets the replay manifest through
``RUNSTATE_REPLAY_MANIFEST`` and ``PYTHONHASHSEED`` as recorded, set before its interpreter
starts. The command's standard output goes to our standard error, so ``--json`` stays clean.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from runstate.capture.launcher import LaunchOptions, LaunchResult, launch
from runstate.replay.manifest import MANIFEST_ENV, ReplayManifest
from runstate.store.store import Store

__all__ = ["command_problem", "execute", "replay_command"]

_PYTHON = re.compile(r"^python(\d+(\.\d+)?)?$")


def command_problem(manifest: ReplayManifest) -> str | None:
    """Why the recorded command cannot be run again, or None."""
    command = manifest.command
    if not command:
        return "the run recorded no command"
    if manifest.kind == "api" and command[0] in ("-c", ""):
        return "the run's code was given inline (python -c / interactive): it was not recorded"
    redacted = [a for a in command if "<redacted>" in a]
    if redacted:
        return f"the command line had secrets redacted ({redacted[0]}): they were never stored"
    return None


def replay_command(manifest: ReplayManifest, original_root: Path, python: str | None) -> list[str]:
    """The command to run in the sandbox: paths into the project moved into the sandbox,
    a Python interpreter replaced by ``python`` (the current or the exact environment's)."""
    sandbox = manifest.project_root
    root = str(original_root)

    def moved(arg: str) -> str:
        if arg == root or arg.startswith(root + os.sep):
            return sandbox + arg[len(root) :]
        return arg

    argv = [moved(a) for a in manifest.command]
    interpreter = python or sys.executable
    if manifest.kind == "api":  # sys.argv of a script: run it with the interpreter
        return [interpreter, *argv]
    if _PYTHON.match(os.path.basename(argv[0])):
        argv[0] = interpreter
    return argv


@contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


@contextmanager
def _environ(set_: dict[str, str], unset: Sequence[str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in (*set_, *unset)}
    try:
        for key in unset:
            os.environ.pop(key, None)
        os.environ.update(set_)
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def execute(
    store: Store,
    manifest: ReplayManifest,
    manifest_path: Path,
    command: list[str],
    venv: Path | None = None,  # kept for callers; the interpreter in ``command`` is the venv's
) -> LaunchResult:
    """Run ``command`` under capture in the sandbox; returns the launcher's result."""
    sandbox_store = Store(store.root)
    sandbox_store.project_root = Path(manifest.project_root)
    cwd = manifest.cwd if not os.path.isabs(manifest.cwd) else "."
    extra = {MANIFEST_ENV: str(manifest_path)}
    unset: list[str] = []
    # A command run got its seed from `runstate run --seed` (which also seeds at interpreter
    # start); an API run seeds itself in runstate.run(), from the manifest (capture.replayed).
    launcher_seed = manifest.seed if manifest.kind == "command" else None
    if manifest.pythonhashseed is not None:
        extra["PYTHONHASHSEED"] = str(manifest.pythonhashseed)
    elif launcher_seed is None:
        unset.append("PYTHONHASHSEED")  # hash randomisation was on, as recorded
    # With an exact environment only the interpreter changes (``command`` names it): PATH and
    # VIRTUAL_ENV stay as they are, as the recorded run had them.
    options = LaunchOptions(
        command=command,
        name=manifest.name,
        params=manifest.params,
        seed=launcher_seed,
        parent_id=manifest.replay_of,
        principal=(manifest.policy or {}).get("principal"),
        purpose=(manifest.policy or {}).get("purpose"),
        cwd=str(Path(manifest.project_root) / cwd),
    )
    with _environ(extra, unset), _stdout_to_stderr():
        return launch(options, store=sandbox_store)
