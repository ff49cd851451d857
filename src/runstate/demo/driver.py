"""The demo driver: build the template project, run it under capture, release, change, rerun.

Every job runs as a real ``runstate run`` subprocess (``python -m runstate.cli.main run``,
so the console script need not be on PATH), exactly as a user would type it, in a folder
that is its own git repository (when git is available) and its own runstate store. The
driver then reads back what the store recorded; it never builds a record itself.

The story, in :func:`run_demo`:

1. copy ``project-template/`` to the folder, ``git init`` and commit it;
2. ``runstate init``; ``python generate.py`` (not captured: it only makes the data);
3. train; apply access policy v1 (``runstate policy apply policy-v1.yaml``); score under
   capture; freeze the scoring run as release ``scoring@v1``;
4. change one line of ``preprocess.py`` (left uncommitted, as people do) and the
   ``threshold`` param, apply policy v2 (it excludes the customers of the west region),
   and score again: the two scoring states differ in ``code``, ``config`` and ``policy``
   (and the ``customers`` rows the policy let through);
5. diff ``scoring@v1`` with the last run (:func:`runstate.compare.state.diff_runs`, the
   ``runstate diff`` document) and write its HTML report to ``runstate-diff.html`` in the
   folder.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from runstate.errors import RunstateError, UsageError

__all__ = [
    "DEMO_SCHEMA",
    "RELEASE_NAME",
    "DemoResult",
    "DemoRun",
    "DemoStepFailed",
    "check_requirements",
    "prepare_folder",
    "run_demo",
]

DEMO_SCHEMA = "runstate.demo/v1"
RELEASE_NAME = "scoring"
SEED = 7
THRESHOLD_BEFORE, THRESHOLD_AFTER = 0.5, 0.6
EDITED_FILE = "preprocess.py"
LINE_BEFORE = "AGE_MIN, AGE_MAX = 18, 75  # ages outside this range are clipped"
LINE_AFTER = "AGE_MIN, AGE_MAX = 18, 65  # ages outside this range are clipped"
REPORT_FILE = "runstate-diff.html"
#: The template's folder name is not a Python identifier on purpose: mypy then checks its
#: files as the top-level scripts they are (``from preprocess import …`` resolves).
TEMPLATE_DIR = "project-template"
_REQUIRED = {"numpy": "numpy", "sklearn": "scikit-learn", "duckdb": "duckdb"}
#: The access policy versions: the second scoring run reads under v2, which excludes a
#: segment of customers (the row filter needs DuckDB).
POLICY_V1, POLICY_V2 = "policy-v1.yaml", "policy-v2.yaml"
POLICY_SEGMENT = "region <> 'west'"
_RENAMED = {"gitignore": ".gitignore"}  # dot files are awkward as package data
_OUTPUT_TAIL_LINES = 20
_GIT_LOCATION_VARS = frozenset({"GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR"})

Progress = Callable[[str], None]


class DemoStepFailed(RunstateError):
    """A step of the demo (a job, git, the store) failed; its output is in ``output``."""

    exit_code = 1

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(message)
        self.output = output


@dataclass(frozen=True)
class DemoRun:
    """One run the demo recorded, as read back from the store."""

    id: str
    name: str
    status: str
    state_id: str
    components: dict[str, str]
    metrics: dict[str, float | str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "state_id": self.state_id,
            "components": dict(self.components),
            "metrics": dict(self.metrics),
        }


@dataclass
class DemoResult:
    """What the demo did and where: the input of both the text and the JSON renderings."""

    project: Path
    store: Path
    git_commit: str | None
    runs: list[DemoRun] = field(default_factory=list)
    release: str | None = None
    changed_components: list[str] = field(default_factory=list)
    #: For each changed component, what changed inside it (``params.threshold: 0.5 → 0.6``).
    changes: dict[str, list[str]] = field(default_factory=dict)
    edits: list[str] = field(default_factory=list)
    #: Row-level diff of the ``predictions`` output, scoring@v1 → the last run.
    output_diff: dict[str, Any] = field(default_factory=dict)
    #: ``runstate diff scoring@v1 <last run> --json``: the demo's final screen.
    diff: dict[str, Any] = field(default_factory=dict)
    #: The HTML report of :attr:`diff`, in the project folder.
    report: Path | None = None
    #: ``runstate explain scoring@v1 <last run> --json``: which change caused what.
    explain: dict[str, Any] = field(default_factory=dict)
    #: ``runstate replay scoring@v1 --json``: does the release reproduce?
    replay: dict[str, Any] = field(default_factory=dict)

    @property
    def baseline(self) -> DemoRun:
        """The released scoring run."""
        return self.runs[1]

    @property
    def changed(self) -> DemoRun:
        """The scoring run after the change."""
        return self.runs[2]

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": DEMO_SCHEMA,
            "project": str(self.project),
            "store": str(self.store),
            "git_commit": self.git_commit,
            "runs": [run.to_dict() for run in self.runs],
            "release": self.release,
            "changed_components": list(self.changed_components),
            "changes": {name: list(lines) for name, lines in self.changes.items()},
            "edits": list(self.edits),
            "output_diff": dict(self.output_diff),
            "report": str(self.report) if self.report is not None else None,
            "explain": {
                "status": self.explain.get("status"),
                "statement": self.explain.get("statement"),
                "causes": [
                    {"name": c["name"], "share": c["share"], "rows": c["rows_explained"]}
                    for c in self.explain.get("causes") or []
                ],
                "harmless": [h["name"] for h in self.explain.get("harmless") or []],
            }
            if self.explain
            else None,
            "replay": {
                "verdict": self.replay.get("verdict"),
                "replay_run_id": self.replay.get("replay_run_id"),
                "reason": self.replay.get("reason"),
            }
            if self.replay
            else None,
            "metrics": {
                "before": dict(self.baseline.metrics),
                "after": dict(self.changed.metrics),
            },
        }


# -- checks and the folder --------------------------------------------------------------------


def check_requirements() -> None:
    """The demo trains with scikit-learn on NumPy arrays and filters rows by policy with
    DuckDB: refuse early without them."""
    missing = [pip for module, pip in _REQUIRED.items() if importlib.util.find_spec(module) is None]
    if missing:
        raise UsageError(f"the demo needs {' and '.join(missing)}: pip install 'runstate[demo]'")


def prepare_folder(directory: str | os.PathLike[str] | None) -> Path:
    """A new temporary folder, or ``directory`` if it does not exist or is empty."""
    if directory is None:
        return Path(tempfile.mkdtemp(prefix="runstate-demo-")).resolve()
    path = Path(directory).expanduser().absolute()
    if path.exists() and not path.is_dir():
        raise UsageError(f"--dir {path}: is a file; give a new or empty folder")
    if path.is_dir() and any(path.iterdir()):
        raise UsageError(f"--dir {path}: folder is not empty; give a new or empty folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--dir {path}: cannot create it ({exc.strerror or exc})") from None
    return path.resolve()


def copy_template(target: Path) -> list[str]:
    """Copy the template project into ``target``; returns the names written."""
    written = []
    template = resources.files(__package__ or "runstate.demo").joinpath(TEMPLATE_DIR)
    for item in sorted(template.iterdir(), key=lambda entry: entry.name):
        if not item.is_file() or item.name.startswith(".") or item.name.endswith(".pyc"):
            continue
        name = _RENAMED.get(item.name, item.name)
        (target / name).write_bytes(item.read_bytes())
        written.append(name)
    return written


# -- running things ---------------------------------------------------------------------------


def _child_env() -> dict[str, str]:
    """Our environment without RUNSTATE_* settings (so the jobs use the demo's own store)
    and without git location overrides (so git works on the demo's own repository)."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("RUNSTATE_") and key not in _GIT_LOCATION_VARS
    }


def _tail(text: str) -> str:
    lines = text.strip().splitlines()
    return "\n".join(lines[-_OUTPUT_TAIL_LINES:])


def _execute(what: str, argv: Sequence[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(
            list(argv),
            cwd=cwd,
            env=_child_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as exc:
        raise DemoStepFailed(f"{what}: cannot start {argv[0]} ({exc.strerror or exc})") from None
    if done.returncode != 0:
        output = _tail((done.stdout or "") + (done.stderr or ""))
        raise DemoStepFailed(
            f"{what} failed (exit {done.returncode}); the project is kept in {cwd}", output
        )
    return done


def _git(project: Path, *args: str) -> subprocess.CompletedProcess[str] | None:
    """Run git without touching the user's configuration; None when git is missing or fails."""
    settings = (
        "-c", "init.defaultBranch=main", "-c", "user.name=runstate demo",
        "-c", "user.email=demo@runstate.invalid", "-c", "commit.gpgsign=false",
        "-c", "core.hooksPath=/dev/null",
    )  # fmt: skip
    try:
        done = subprocess.run(
            ["git", *settings, *args],
            cwd=project,
            env={**_child_env(), "GIT_TERMINAL_PROMPT": "0"},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done if done.returncode == 0 else None


def init_git(project: Path) -> str | None:
    """``git init`` and commit the template; the commit id, or None without git."""
    if shutil.which("git") is None:
        return None
    if _git(project, "init", "-q") is None:
        return None
    if _git(project, "add", "-A") is None:
        return None
    if _git(project, "commit", "-q", "--no-verify", "-m", "Credit-scoring demo project") is None:
        return None
    head = _git(project, "rev-parse", "HEAD")
    return head.stdout.strip() if head is not None else None


def capture_args(name: str, params: Mapping[str, Any]) -> list[str]:
    """The ``runstate run`` arguments, up to and including ``--``."""
    args = ["run", "--name", name]
    for key, value in params.items():
        args += ["--param", f"{key}={value}"]
    return [*args, "--seed", str(SEED), "--"]


def _read_latest_run(project: Path, command: str) -> DemoRun:
    """The newest run in the demo's store (the demo is its only writer)."""
    from runstate.store.store import Store

    store = Store.open(project)
    try:
        rows = store.metadata.list_runs(limit=1)
        if not rows:
            raise DemoStepFailed(f"{command}: no run was recorded in {store.root}")
        record = store.load_record(rows[0]["record_id"])
    finally:
        store.close()
    metrics: dict[str, float | str] = {}
    for metric in record.get("metrics", []):
        metrics[str(metric["key"])] = metric["value"]
    return DemoRun(
        id=str(record["id"]),
        name=str(record["name"]),
        status=str(record["status"]),
        state_id=str(record["state"]["id"]),
        components=dict(record["state"]["components"]),
        metrics=metrics,
    )


def shown_command(name: str, script: str, params: Mapping[str, Any]) -> str:
    """The command a user would type for a captured job."""
    return " ".join(["runstate", *capture_args(name, params), "python", script])


def captured(project: Path, name: str, script: str, params: Mapping[str, Any]) -> DemoRun:
    """Run ``python script`` under ``runstate run`` and read back the run it recorded."""
    argv = [
        sys.executable, "-m", "runstate.cli.main", *capture_args(name, params),
        sys.executable, script,
    ]  # fmt: skip
    shown = shown_command(name, script, params)
    _execute(shown, argv, project)
    return _read_latest_run(project, shown)


def edit_line(path: Path, before: str, after: str) -> None:
    """Replace the one line ``before`` of ``path`` with ``after``."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    matches = [i for i, line in enumerate(lines) if line.rstrip("\r\n") == before]
    if len(matches) != 1:
        raise DemoStepFailed(
            f"{path}: expected the line {before!r} once, found it {len(matches)} times"
        )
    index = matches[0]
    lines[index] = after + lines[index][len(before) :]
    path.write_text("".join(lines), encoding="utf-8")


# -- comparing the two scoring runs -----------------------------------------------------------


def _leaf_changes(before: Any, after: Any, prefix: str = "") -> list[tuple[str, Any, Any]]:
    """(path, before, after) of every leaf that differs between two JSON values."""
    if isinstance(before, dict) and isinstance(after, dict):
        found: list[tuple[str, Any, Any]] = []
        for key in sorted(set(before) | set(after)):
            path = f"{prefix}.{key}" if prefix else str(key)
            found += _leaf_changes(before.get(key), after.get(key), path)
        return found
    return [] if before == after else [(prefix or "(value)", before, after)]


def _is_digest(value: Any) -> bool:
    return (
        isinstance(value, str) and len(value) >= 32 and all(c in "0123456789abcdef" for c in value)
    )


def describe_change(path: str, before: Any, after: Any) -> str:
    """``params.threshold: 0.5 → 0.6``, or ``files.preprocess.py changed`` for content ids."""
    if before is None and after is not None:
        return f"{path} added"
    if after is None and before is not None:
        return f"{path} removed"
    shown = [repr(v) if isinstance(v, str) else str(v) for v in (before, after)]
    if _is_digest(before) or _is_digest(after) or max(len(s) for s in shown) > 40:
        return f"{path} changed"
    return f"{path}: {shown[0]} → {shown[1]}"


def compare_components(
    project: Path, a: DemoRun, b: DemoRun
) -> tuple[list[str], dict[str, list[str]]]:
    """The components whose ids differ between two runs, and what differs inside each."""
    from runstate.store.store import Store

    names = sorted(set(a.components) | set(b.components))
    changed = [n for n in names if a.components.get(n) != b.components.get(n)]
    details: dict[str, list[str]] = {}
    store = Store.open(project)
    try:
        for name in changed:
            ids = (a.components.get(name), b.components.get(name))
            before, after = (store.load_json(i)["body"] if i else None for i in ids)
            details[name] = [describe_change(*change) for change in _leaf_changes(before, after)]
    finally:
        store.close()
    return changed, details


# -- the story ---------------------------------------------------------------------------------


def run_demo(
    directory: str | os.PathLike[str] | None, progress: Progress | None = None
) -> DemoResult:
    """Build, capture, release, change and re-capture the demo project; see the module doc."""
    say = progress or (lambda _message: None)
    check_requirements()
    project = prepare_folder(directory)
    say(f"building the demo project in {project}")

    files = copy_template(project)
    commit = init_git(project)
    where = f"committed it to git ({commit[:10]})" if commit else "git unavailable: not versioned"
    say(f"copied the project template ({len(files)} files); {where}")

    from runstate.store.releases import create_release
    from runstate.store.store import Store

    store = Store.init(project)
    store.close()
    result = DemoResult(project=project, store=store.root, git_commit=commit)
    say("runstate init: created .runstate/")

    say("generating data/customers.csv (5,000 customers)…")
    _execute("python generate.py", [sys.executable, "generate.py"], project)

    def job(label: str, name: str, script: str, params: Mapping[str, Any]) -> None:
        say(f"{label}, under capture:\n    {shown_command(name, script, params)}")
        result.runs.append(captured(project, name, script, params))

    def apply_policy(file: str) -> None:
        argv = [sys.executable, "-m", "runstate.cli.main", "policy", "apply", file]
        _execute(f"runstate policy apply {file}", argv, project)
        say(f"applied the access policy in {file}: runstate policy apply {file}")

    job("training", "train", "train.py", {})
    apply_policy(POLICY_V1)
    job("scoring", "score", "score.py", {"threshold": THRESHOLD_BEFORE})

    store = Store.open(project)
    try:
        release = create_release(store, RELEASE_NAME, result.baseline.id)
    finally:
        store.close()
    result.release = release.ref
    say(f"released scoring run {release.run_id[:13]} as {release.ref}")
    say(f"replaying {release.ref} under its recorded state (runstate replay)")
    result.replay = replay_document(project, release.ref)

    edit_line(project / EDITED_FILE, LINE_BEFORE, LINE_AFTER)
    result.edits = [
        f"{EDITED_FILE}: {LINE_BEFORE.split('#')[0].strip()} → {LINE_AFTER.split('#')[0].strip()}",
        f"param threshold: {THRESHOLD_BEFORE} → {THRESHOLD_AFTER}",
        f"access policy v1 → v2: customers also filtered by {POLICY_SEGMENT}",
    ]
    uncommitted = " (uncommitted)" if commit else ""
    say(f"changed one line of {EDITED_FILE}{uncommitted} and the threshold param")
    apply_policy(POLICY_V2)

    job("scoring again", "score", "score.py", {"threshold": THRESHOLD_AFTER})

    result.changed_components, result.changes = compare_components(
        project, result.baseline, result.changed
    )
    result.output_diff = diff_output(project, result.baseline.id, result.changed.id, "predictions")
    say(f"comparing {result.release} with the last run (runstate diff)")
    result.diff = diff_document(project, result.release, result.changed.id)
    result.report = write_report(project / REPORT_FILE, result.diff)
    say(f"explaining the change: runstate explain {result.release} (replays hybrid states)")
    result.explain = explain_document(project, result.release, result.changed.id)
    return result


def diff_document(project: Path, a: str, b: str) -> dict[str, Any]:
    """The ``runstate.diff/v1`` document of ``runstate diff A B`` in the demo's store."""
    from runstate.compare.state import diff_runs
    from runstate.store.store import Store

    store = Store.open(project)
    try:
        document: dict[str, Any] = diff_runs(store, a, b).to_dict()
        return document
    finally:
        store.close()


def replay_document(project: Path, ref: str) -> dict[str, Any]:
    """The ``runstate.replay/v1`` verdict of ``runstate replay REF`` (empty if it errs)."""
    from runstate.errors import RunstateError
    from runstate.replay import replay
    from runstate.store.store import Store

    store = Store.open(project)
    try:
        document: dict[str, Any] = replay(store, ref).to_dict()
        return document
    except RunstateError:
        return {}
    finally:
        store.close()


def explain_document(project: Path, a: str, b: str) -> dict[str, Any]:
    """The ``runstate.explain/v1`` document of ``runstate explain A B`` (empty if it fails)."""
    from runstate.errors import RunstateError
    from runstate.explain import explain
    from runstate.store.store import Store

    store = Store.open(project)
    try:
        return explain(store, a, b)
    except RunstateError:
        return {}
    finally:
        store.close()


def write_report(path: Path, document: Mapping[str, Any]) -> Path:
    """Write the self-contained HTML report of a diff document."""
    from runstate.report.html import write_diff

    return write_diff(document, path)


def diff_output(project: Path, run_a: str, run_b: str, output: str) -> dict[str, Any]:
    """Row-level diff of one table output of two runs (keys and cells that changed)."""
    from runstate.data.tablecapture import TableEntry
    from runstate.data.tablediff import diff_recorded
    from runstate.store.store import Store

    store = Store.open(project)
    try:
        entries = []
        for run_id in (run_a, run_b):
            row = store.metadata.run(run_id)
            record = store.load_record(row["record_id"]) if row else {}
            found = [o for o in record.get("outputs", []) if o.get("name") == output]
            if not found or found[0].get("kind") != "table":
                return {}
            entries.append(TableEntry.from_dict(found[0]))
        return diff_recorded(store.objects, entries[0], entries[1], sample=5).to_dict()
    finally:
        store.close()
