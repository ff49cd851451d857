"""Helpers of the replay tests: record real runs, replay them through the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from conftest import runstate_cli
from runstate.store.store import Store
from schemas import validate


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNSTATE_")}
    env.update(extra)
    return env


def run_script(project: Path, *argv: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``python ARGV`` in the project (an API run records itself)."""
    result = subprocess.run(
        [sys.executable, *argv],
        cwd=project,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if ok:
        assert result.returncode == 0, result.stderr
    return result


def run_cli(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return runstate_cli(*args, cwd=project, timeout=600)


def records(project: Path) -> list[dict[str, Any]]:
    """Every run record, newest first."""
    store = Store.open(project)
    try:
        rows = store.metadata.list_runs(limit=1000)
        return [store.load_record(row["record_id"]) for row in rows]
    finally:
        store.close()


def latest_id(project: Path) -> str:
    return str(records(project)[0]["id"])


def component(project: Path, record: dict[str, Any], name: str) -> dict[str, Any]:
    store = Store.open(project)
    body: dict[str, Any] = store.load_json(record["state"]["components"][name])["body"]
    return body


def replay(project: Path, run_id: str, *options: str, code: int | None = None) -> dict[str, Any]:
    """``runstate replay RUN --json``: the validated verdict document."""
    result = run_cli(project, "replay", run_id, "--json", *options)
    assert result.returncode in (0, 1), result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    validate(document)
    expected = 0 if document["verdict"] in ("identical", "equivalent") else 1
    assert result.returncode == expected, (document, result.stderr)
    if code is not None:
        assert result.returncode == code
    return document
