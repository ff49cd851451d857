"""Secrets never enter the store: plant unique secrets everywhere a run can see them, then
scan every byte under .runstate/ (database, WAL, objects, journal, caches)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

from conftest import runstate_cli


def _all_bytes(folder: Path) -> bytes:
    chunks = []
    for path in folder.rglob("*"):
        if path.is_file():
            chunks.append(path.read_bytes())
    return b"\n".join(chunks)


def test_planted_secrets_never_reach_the_store(project: Path) -> None:
    tag = uuid.uuid4().hex  # unique, so a hit can only come from this test
    token = f"ghp_{tag}{tag[:4]}"  # GitHub token format
    password = f"pw{tag}"
    aws = "AKIA" + tag[:16].upper()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q"], cwd=project, check=True)
    subprocess.run(
        [*git, "remote", "add", "origin", f"https://bot:{password}@example.invalid/r.git"],
        cwd=project,
        check=True,
    )
    (project / "job.py").write_text(
        "import sys, runstate\n"
        "with runstate.run('job', params={'api_key': sys.argv[2], 'region': 'eu'}) as run:\n"
        "    print('connecting to', sys.argv[4], file=sys.stderr)\n"
        "    raise SystemExit(2)\n"
    )
    subprocess.run([*git, "add", "job.py"], cwd=project, check=True)
    subprocess.run([*git, "commit", "-qm", "job"], cwd=project, check=True)
    env = {
        "MY_SERVICE_TOKEN": token,  # a secret name
        "OMP_NUM_THREADS": "2",
        "CUDA_CACHE_PATH": f"https://user:{password}@cache.invalid/x",  # a secret value
        "AWS_ACCESS_KEY_ID": aws,
        "PYTHONWARNINGS": aws,  # recorded pattern, secret-looking value
    }
    result = runstate_cli(
        "run", "--", sys.executable, "job.py", "--api-key", token,
        "--db", f"postgresql://svc:{password}@db.invalid/prod", cwd=project, env=env,
    )  # fmt: skip
    assert result.returncode == 2
    assert password in result.stderr  # the user still sees their own output
    runs = runstate_cli("runs", "--json", cwd=project)  # ingest into the database too
    assert runs.returncode == 0
    data = _all_bytes(project / ".runstate")
    for secret in (token, password, aws, tag):
        assert secret.encode() not in data, f"{secret[:8]}… leaked into the store"
    shown = runstate_cli("show", "latest", "--json", cwd=project)
    assert "<redacted>" in shown.stdout
    assert '"OMP_NUM_THREADS": "2"' in shown.stdout  # ordinary values are still recorded
    assert os.environ.get("MY_SERVICE_TOKEN") is None
