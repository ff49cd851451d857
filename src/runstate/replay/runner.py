"""``replay``: materialise a recorded state in a sandbox, re-execute, grade.

Order (nothing runs until everything is in place; the original run is never touched):

1. the replay manifest from the chosen sources (:mod:`.manifest`); a run that cannot be
   replayed (an input kept as fingerprints only, secrets redacted from its command or
   params, no command) gets a ``not_replayable`` verdict without a sandbox;
2. a fresh sandbox folder; the code restored there exactly (:mod:`.code`), else an error;
3. the recorded inputs laid out / served (:mod:`.data`), config files copied;
4. the environment: the current interpreter, or the cached exact one (:mod:`.env`);
5. the command run under capture, recorded as a run whose parent is the original
   (:mod:`.execute`);
6. the verdict (:mod:`.verdict`); the sandbox removed unless ``keep``.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runstate.errors import ReplayError, UsageError
from runstate.replay.manifest import ReplayManifest, Sources, build_manifest, redacted_params
from runstate.replay.verdict import Verdict, grade_metrics, grade_outputs, overall
from runstate.store.store import Store

__all__ = ["ReplayOptions", "replay", "replay_sources"]

ENV_MODES = ("current", "exact")


@dataclass(frozen=True)
class ReplayOptions:
    env: str = "current"
    tolerance: float = 0.0
    keep: bool = False
    twice: bool = False  # replay twice and compare the replays: is the run deterministic?
    sandbox_dir: str | None = None  # where sandboxes are made (default: the system temp dir)
    envs_dir: str | None = None  # where exact environments are cached (default: .runstate/envs)
    progress: Callable[[str], None] | None = field(default=None, compare=False)

    def check(self) -> None:
        if self.env not in ENV_MODES:
            raise UsageError(f"--env {self.env!r}: expected one of {', '.join(ENV_MODES)}")
        if not (self.tolerance >= 0.0) or self.tolerance != self.tolerance:
            raise UsageError(f"--tolerance {self.tolerance}: must be a number >= 0")


def _load(store: Store, run_id: str) -> dict[str, Any]:
    from runstate.errors import RunNotFound

    row = store.metadata.run(run_id)
    if row is None and store.ingest_pending():  # a replay committed since the store opened
        row = store.metadata.run(run_id)
    if row is None:
        raise RunNotFound(f"{run_id}: no such run")
    return store.load_record(row["record_id"])


def _copy_config_files(store: Store, record: Mapping[str, Any], root: Path) -> list[str]:
    """Config files (retention full) back at their recorded relative paths."""
    from runstate.replay.data import _copy_object

    notes = []
    for entry in record.get("config_files") or []:
        path = str(entry.get("path", ""))
        if not entry.get("object_id") or entry.get("kind") != "file":
            notes.append(f"config file {path} was not stored and is not restored")
            continue
        if path.startswith("/"):
            notes.append(f"config file {path} is outside the project: read from its live path")
            continue
        _copy_object(store.objects, str(entry["object_id"]), root / path, path)
    return notes


def _raise_served_problem(sandbox: Path, replayed: Mapping[str, Any]) -> None:
    """A recorded input the child could not be served (a lost or corrupt snapshot object)
    is an error of the recorded state, not a failure of the program: exit 2, naming it."""
    import json

    from runstate.capture.replayed import PROBLEM_FILE
    from runstate.errors import ObjectMissing

    path = sandbox / PROBLEM_FILE
    if replayed.get("status") == "succeeded" or not path.is_file():
        return
    problem = json.loads(path.read_text("utf-8"))
    raise ObjectMissing(
        f"input {problem['input']!r}: {problem['problem']} "
        f"(the replay run {replayed['id']} is recorded as failed)"
    )


def _make_output_folders(record: Mapping[str, Any], root: Path) -> None:
    """The folders the run wrote its outputs into (a program may expect them to exist)."""
    for entry in record.get("outputs") or []:
        path = str(entry.get("path", ""))
        if not path or path.startswith(("/", "<")):
            continue
        folder = (root / path) if entry.get("kind") == "folder" else (root / path).parent
        folder = Path(os.path.normpath(folder))
        if folder == root or root in folder.parents:
            folder.mkdir(parents=True, exist_ok=True)


def replay_sources(store: Store, sources: Sources, options: ReplayOptions) -> Verdict:
    """Replay the state ``sources`` describe (twice with ``options.twice``); see the module
    docstring."""
    first = _replay_once(store, sources, options)
    if not options.twice or first.verdict in ("not_replayable", "failed"):
        return first
    from dataclasses import replace

    from runstate.replay.determinism import differences, likely_sources

    second = _replay_once(store, sources, replace(options, keep=False))
    if second.verdict == "failed":
        found = [f"the second replay failed: {second.reason}"]
    else:
        one, two = (_load(store, str(v.replay_run_id)) for v in (first, second))
        found = differences(
            grade_outputs(store.objects, one.get("outputs") or [], two.get("outputs") or [], 0.0),
            grade_metrics(one.get("metrics") or [], two.get("metrics") or [], 0.0),
        )
    body = {
        name: store.load_json(sources.record_for(name)["state"]["components"][name])["body"]
        for name in ("seeds", "env", "code")
    }
    determinism = {
        "replays": [first.replay_run_id, second.replay_run_id],
        "deterministic": not found,
        "differences": found,
        "likely_sources": likely_sources(store.objects, body["seeds"], body["env"], body["code"])
        if found
        else [],
    }
    if found:
        return replace(
            first,
            verdict="diverged",
            reason=f"nondeterministic: two replays differ in {', '.join(found[:10])}",
            determinism=determinism,
        )
    return replace(first, determinism=determinism)


def _replay_once(store: Store, sources: Sources, options: ReplayOptions) -> Verdict:
    from runstate.replay.code import materialise_code, remove_code
    from runstate.replay.data import lay_out_inputs, unreplayable_inputs
    from runstate.replay.execute import command_problem, execute, replay_command

    options.check()
    timings: dict[str, int] = {}
    started = time.perf_counter()
    original = sources.base
    run_id = str(original["id"])
    base: dict[str, Any] = {
        "run_id": run_id,
        "env_mode": options.env,
        "tolerance": options.tolerance,
    }
    manifest = build_manifest(store, sources, project_root="")
    problems = unreplayable_inputs({k: v.entry for k, v in manifest.inputs.items()})
    reason = command_problem(manifest)
    secret_params = redacted_params(manifest)
    if secret_params and reason is None:
        reason = (
            f"param(s) {', '.join(secret_params)} looked like secrets and were never stored: "
            "the replay cannot restore them"
        )
    if problems and reason is None:
        reason = (
            problems[0]["reason"]
            if len(problems) == 1
            else f"{len(problems)} inputs cannot be served: "
            + ", ".join(p["input"] for p in problems)
        )
    if reason is not None:
        return Verdict(verdict="not_replayable", reason=reason, unreplayable=problems, **base)

    try:
        sandbox = Path(tempfile.mkdtemp(prefix="runstate-replay-", dir=options.sandbox_dir))
    except OSError as exc:
        raise ReplayError(
            f"cannot create the sandbox folder in {options.sandbox_dir or tempfile.gettempdir()}: "
            f"{exc.strerror or exc}"
        ) from None
    code = None
    try:
        code_record = sources.record_for("code")
        code_body = store.load_json(code_record["state"]["components"]["code"])["body"]
        code = materialise_code(store.objects, code_body, store.project_root, sandbox / "src")
        notes = list(code.notes)
        if sources.code_files:  # a code hybrid (explain): other versions of some files
            from runstate.replay.code import overlay_files

            notes += overlay_files(store.objects, sources.code_files, code.project_root)
        manifest = ReplayManifest.from_dict(
            {**manifest.to_dict(), "project_root": str(code.project_root)}
        )
        served, data_notes = lay_out_inputs(
            store.objects, manifest.inputs, code.project_root, store.project_root
        )
        notes += data_notes
        notes += _copy_config_files(store, sources.record_for("config"), code.project_root)
        _make_output_folders(original, code.project_root)
        manifest = manifest.with_inputs(served)
        # A recorded policy component: the replay reads under that policy (its document,
        # principal and purpose), not the store's current one (runstate.capture.replayed).
        manifest_path = sandbox / "replay-manifest.json"
        manifest.write(manifest_path)
        timings["materialise"] = int((time.perf_counter() - started) * 1000)

        env_started = time.perf_counter()
        recorded_env = store.load_json(sources.record_for("env")["state"]["components"]["env"])[
            "body"
        ]
        python, venv, env_info = None, None, None
        if options.env == "exact":
            from runstate.replay.env import build_exact_env

            envs_dir = Path(options.envs_dir) if options.envs_dir else store.root / "envs"
            exact = build_exact_env(envs_dir, recorded_env, options.progress)
            python, venv, env_info = exact.python, exact.path, exact.to_dict()
            notes += [f"package {n} not reinstalled: {why}" for n, why in exact.skipped.items()]
        timings["env"] = int((time.perf_counter() - env_started) * 1000)

        run_started = time.perf_counter()
        command = replay_command(manifest, store.project_root, python)
        result = execute(store, manifest, manifest_path, command, venv)
        timings["run"] = int((time.perf_counter() - run_started) * 1000)
        replayed = result.record
        _raise_served_problem(sandbox, replayed)

        grade_started = time.perf_counter()
        from runstate.replay.env import env_differences

        replay_env = store.load_json(replayed["state"]["components"]["env"])["body"]
        env_diffs = env_differences(recorded_env, replay_env)
        common: dict[str, Any] = {
            **base,
            "replay_run_id": str(replayed["id"]),
            "exit_code": replayed.get("exit_code"),
            "env_differences": env_diffs,
            "code": code.to_dict(),
            "env": env_info,
            "notes": notes,
            "sandbox": str(sandbox) if options.keep else None,
        }
        if replayed["status"] != "succeeded":
            tail = replayed.get("stderr_tail") or ""
            verdict = Verdict(
                verdict="failed",
                reason=replayed.get("error") or f"the replay ended {replayed['status']}",
                stderr_tail=tail[-2000:] or None,
                timings_ms=timings,
                **common,
            )
        else:
            outputs = grade_outputs(
                store.objects,
                original.get("outputs") or [],
                replayed.get("outputs") or [],
                options.tolerance,
            )
            metrics = grade_metrics(
                original.get("metrics") or [], replayed.get("metrics") or [], options.tolerance
            )
            outcome = overall(outputs, metrics)
            differing = [o["name"] for o in outputs if o["status"] not in ("identical",)]
            differing += [f"metric {m['key']}" for m in metrics if m["status"] != "identical"]
            reason = None if outcome == "identical" else ", ".join(differing[:10])
            timings["grade"] = int((time.perf_counter() - grade_started) * 1000)
            verdict = Verdict(
                verdict=outcome,
                reason=reason,
                outputs=outputs,
                metrics=metrics,
                timings_ms=timings,
                **common,
            )
        return verdict
    finally:
        if not options.keep:
            if code is not None:
                remove_code(code)
            shutil.rmtree(sandbox, ignore_errors=True)


def replay(store: Store, run_ref: str, options: ReplayOptions | None = None) -> Verdict:
    """Replay run ``run_ref`` (id, prefix, NAME@vN, alias, latest) under its recorded state."""
    from runstate.store.refs import resolve_run

    run_id = resolve_run(store, run_ref)
    return replay_sources(store, Sources(_load(store, run_id)), options or ReplayOptions())


def stderr_progress(message: str) -> None:
    sys.stderr.write(f"runstate: {message}\n")
    sys.stderr.flush()
