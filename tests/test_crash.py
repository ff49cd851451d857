"""Crash safety: SIGKILL real capture processes at random moments, many times.

Whatever moment the kill lands on — while the child runs, while inputs are hashed and
stored, while components or the record are written, while the journal entry is renamed into
place, or while another process ingests the journal into the database — the store must show
no half-run and must verify clean, before and after ``gc``.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import runstate_cli
from runstate.store.store import Store

ITERATIONS = int(os.environ.get("RUNSTATE_KILL_ITERATIONS", "30"))

JOB = """
import runstate
with runstate.run("victim", params={"n": 1}) as run:
    run.input("blob", "data/blob.bin")
    with run.step("work"):
        data = open("data/blob.bin", "rb").read()
    open("out/result.bin", "wb").write(data[::-1])
    run.output("result", "out/result.bin")
    run.metric("size", len(data))
"""


def _spawn(project: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNSTATE_")}
    return subprocess.Popen(
        [sys.executable, "-m", "runstate.cli.main", *args],
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


@pytest.mark.slow
def test_sigkill_at_random_moments_leaves_no_half_run(project: Path) -> None:
    rng = random.Random(20261126)
    (project / "data").mkdir()
    (project / "out").mkdir()
    (project / "job.py").write_text(JOB)
    # Measure one whole capture so kills spread over its entire duration.
    started = time.monotonic()
    (project / "data" / "blob.bin").write_bytes(rng.randbytes(4 << 20))
    full = runstate_cli("run", "--", sys.executable, "job.py", cwd=project)
    assert full.returncode == 0, full.stderr
    duration = time.monotonic() - started
    completed = 1
    for iteration in range(ITERATIONS):
        # A new input each time, so every capture has fresh bytes to hash and store.
        (project / "data" / "blob.bin").write_bytes(rng.randbytes(4 << 20))
        victim = _spawn(project, "run", "--", sys.executable, "job.py")
        # Every third capture races a reader that ingests the journal meanwhile.
        reader = _spawn(project, "runs", "--json") if iteration % 3 == 2 else None
        time.sleep(rng.uniform(0, duration * 1.2))
        for proc in (victim, reader):
            if proc is None:
                continue
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=60)
        if victim.returncode == 0:
            completed += 1

    runs = runstate_cli("runs", "--json", "--limit", "1000", cwd=project)
    assert runs.returncode == 0, runs.stderr
    listed = json.loads(runs.stdout)["runs"]
    assert len(listed) >= completed  # every capture that finished is there
    assert len(listed) <= ITERATIONS + 1
    store = Store.open(project)
    for row in listed:  # and every run that is visible is whole
        record = store.load_record(store.metadata.run(row["id"])["record_id"])
        assert record["status"] == "succeeded"
        assert {"code", "config", "env", "seeds", "data:blob"} <= set(record["state"]["components"])
        for component_id in record["state"]["components"].values():
            assert store.objects.has(component_id)
    store.close()
    verify = runstate_cli("verify", "--json", cwd=project)
    assert verify.returncode == 0, verify.stdout
    gc = runstate_cli("gc", "--grace", "0", "--json", cwd=project)
    assert gc.returncode == 0, gc.stderr
    verify = runstate_cli("verify", "--json", cwd=project)
    assert verify.returncode == 0, verify.stdout
    assert json.loads(verify.stdout)["runs_checked"] == len(listed)
    leftovers = [
        p.name for p in (project / ".runstate" / "cache").iterdir() if p.name.startswith("run-")
    ]
    assert leftovers == [] and list((project / ".runstate" / "leases").iterdir()) == []
    print(f"{ITERATIONS} kills: {len(listed) - 1} captures finished before the kill")
