"""``runstate run -- CMD``: zero-code capture through real subprocesses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import blake3

from conftest import runstate_cli
from runstate.store.store import Store


def _latest(project: Path) -> dict:
    store = Store.open(project)
    try:
        row = store.metadata.list_runs(limit=1)[0]
        record = store.load_record(row["record_id"])
        record["_components"] = {
            name: store.load_json(cid)["body"]
            for name, cid in record["state"]["components"].items()
        }
        return record
    finally:
        store.close()


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_audit_hooks_record_reads_writes_and_modules(project: Path) -> None:
    _write(project / "data" / "in.csv", "a,b\n1,2\n")
    _write(project / "helpers" / "__init__.py", "")
    _write(project / "helpers" / "prep.py", "def clean(text):\n    return text.upper()\n")
    _write(
        project / "job.py",
        "import sys\nfrom helpers.prep import clean\n"
        "data = open('data/in.csv').read()\n"
        "open('out.csv', 'w').write(clean(data))\n"
        "print('args', sys.argv[1:])\n",
    )
    result = runstate_cli(
        "run", "--param", "threshold=0.5", "--", sys.executable, "job.py", "--day", "1", cwd=project
    )
    assert result.returncode == 0, result.stderr
    assert "args ['--day', '1']" in result.stdout
    record = _latest(project)
    assert (
        record["kind"] == "command" and record["status"] == "succeeded" and record["name"] == "job"
    )
    assert record["command"][1:] == ["job.py", "--day", "1"]
    inputs = {i["name"]: i for i in record["inputs"]}
    outputs = {o["name"]: o for o in record["outputs"]}
    assert list(inputs) == ["data/in.csv"]
    # CSV files are recognised and recorded as tables, down to their rows.
    import pyarrow as pa

    from runstate.data.tables import table_fingerprint

    expected_in = table_fingerprint(pa.table({"a": [1], "b": [2]})).fingerprint
    assert inputs["data/in.csv"]["kind"] == "table" and inputs["data/in.csv"]["rows"] == 1
    assert inputs["data/in.csv"]["fingerprint"] == expected_in
    assert list(outputs) == ["out.csv"]
    assert outputs["out.csv"]["kind"] == "table"
    assert outputs["out.csv"]["columns"] == [["A", "int"], ["B", "int"]]
    code = record["_components"]["code"]
    assert {"job.py", "helpers/prep.py", "helpers/__init__.py"} <= set(code["files"])
    assert code["entry"] == "job.py"
    assert record["_components"]["config"]["params"] == {"threshold": 0.5}
    assert "data:data/in.csv" in record["state"]["components"]
    assert record["_components"]["env"]["python"]["executable"]


def test_unparseable_table_files_fall_back_to_file_fingerprints(project: Path) -> None:
    _write(project / "broken.csv", 'a,b\n1,2,3\n"unterminated\n')
    _write(project / "job.py", "open('broken.csv').read()\n")
    result = runstate_cli("run", "--", sys.executable, "job.py", cwd=project)
    assert result.returncode == 0, result.stderr
    entry = _latest(project)["inputs"][0]
    assert entry["kind"] == "file"
    assert entry["fingerprint"] == blake3.blake3((project / "broken.csv").read_bytes()).hexdigest()


def test_exit_code_status_and_stderr_tail_of_a_failed_run(project: Path) -> None:
    _write(
        project / "fail.py", "import sys\nprint('about to fail', file=sys.stderr)\nsys.exit(3)\n"
    )
    result = runstate_cli("run", "--", sys.executable, "fail.py", cwd=project)
    assert result.returncode == 3
    assert "about to fail" in result.stderr  # the child's stderr still reaches the user
    record = _latest(project)
    assert record["status"] == "failed" and record["exit_code"] == 3
    assert "about to fail" in record["stderr_tail"]


def test_an_exception_is_recorded_with_its_traceback_tail(project: Path) -> None:
    _write(project / "crash.py", "raise RuntimeError('bad input row 17')\n")
    result = runstate_cli("run", "--", sys.executable, "crash.py", cwd=project)
    assert result.returncode == 1
    record = _latest(project)
    assert record["status"] == "failed" and "bad input row 17" in record["stderr_tail"]


def test_ctrl_c_is_recorded_as_interrupted(project: Path) -> None:
    _write(project / "slow.py", "import time\nprint('started', flush=True)\ntime.sleep(30)\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNSTATE_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "runstate.cli.main", "run", "--", sys.executable, "slow.py"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "started"
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole group
    proc.wait(timeout=30)
    record = _latest(project)
    assert record["status"] == "interrupted"
    assert proc.returncode == record["exit_code"] != 0  # the command's own exit code


def test_killed_child_is_recorded_as_killed(project: Path) -> None:
    _write(project / "die.py", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
    result = runstate_cli("run", "--", sys.executable, "die.py", cwd=project)
    assert result.returncode == 128 + signal.SIGKILL
    record = _latest(project)
    assert record["status"] == "killed" and record["error"] == "command was killed by SIGKILL"


def test_declared_inputs_and_outputs_for_non_python_commands(project: Path) -> None:
    _write(project / "raw" / "a.txt", "alpha\n")
    _write(project / "raw" / "b.txt", "beta\n")
    result = runstate_cli(
        "run",
        "--name",
        "concat",
        "--input",
        "raw",
        "--output",
        "report.txt",
        "--",
        "sh",
        "-c",
        "cat raw/a.txt raw/b.txt > report.txt",
        cwd=project,
    )
    assert result.returncode == 0, result.stderr
    record = _latest(project)
    assert record["name"] == "concat"
    inputs = {i["name"]: i for i in record["inputs"]}
    assert inputs["raw"]["kind"] == "folder" and inputs["raw"]["files"] == 2
    assert record["outputs"][0]["fingerprint"] == blake3.blake3(b"alpha\nbeta\n").hexdigest()
    assert record["_components"]["env"]["python"]  # the launcher's own interpreter as fallback


def test_files_inside_a_recorded_folder_are_not_recorded_again(project: Path) -> None:
    _write(
        project / "job.py",
        "import os\nos.makedirs('outdir/sub', exist_ok=True)\n"
        "open('outdir/a.txt', 'w').write('a')\nopen('outdir/sub/b.txt', 'w').write('b')\n",
    )
    result = runstate_cli("run", "--output", "outdir", "--", sys.executable, "job.py", cwd=project)
    assert result.returncode == 0, result.stderr
    outputs = _latest(project)["outputs"]
    assert [(o["name"], o["kind"], o["files"]) for o in outputs] == [("outdir", "folder", 2)]


def test_api_inside_the_launcher_records_one_merged_run(project: Path) -> None:
    _write(project / "in.txt", "x")
    _write(
        project / "job.py",
        "import random, runstate\n"
        "with runstate.run('scoring', params={'threshold': 0.5, 'depth': 3}) as run:\n"
        "    run.input('source', 'in.txt')\n"
        "    with run.step('work'):\n"
        "        value = random.random()\n"
        "    run.metric('value', value)\n"
        "    print(run.params['threshold'], run.seed, value)\n",
    )
    outs = []
    for _ in range(2):
        result = runstate_cli(
            "run",
            "--param",
            "threshold=0.7",
            "--seed",
            "11",
            "--",
            sys.executable,
            "job.py",
            cwd=project,
        )
        assert result.returncode == 0, result.stderr
        outs.append(result.stdout.split())
    assert outs[0][:2] == ["0.7", "11"]
    assert outs[0][2] == outs[1][2]  # the seed reached random in the child
    store = Store.open(project)
    assert store.metadata.count_runs() == 2  # one run per launch, not two
    store.close()
    record = _latest(project)
    assert record["name"] == "scoring"
    assert record["_components"]["config"]["params"] == {"threshold": 0.7, "depth": 3}
    assert record["_components"]["seeds"]["seed"] == 11
    assert record["_components"]["seeds"]["pythonhashseed"] == "11"
    assert [s["name"] for s in record["steps"]] == ["work"]
    assert record["metrics"][0]["key"] == "value"
    assert "data:source" in record["state"]["components"]


def test_user_sitecustomize_still_runs(project: Path, tmp_path: Path) -> None:
    site = tmp_path / "usersite"
    _write(site / "sitecustomize.py", "import builtins\nbuiltins.USER_SITE_RAN = True\n")
    _write(
        project / "check.py", "import builtins\nprint(getattr(builtins, 'USER_SITE_RAN', False))\n"
    )
    result = runstate_cli(
        "run", "--", sys.executable, "check.py", cwd=project, env={"PYTHONPATH": str(site)}
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_bad_invocations_exit_2_with_one_line(project: Path, tmp_path: Path) -> None:
    for args, needle in [
        (["run", "--", "definitely-not-a-command-xyz"], "command not found"),
        (["run", "--input", "nope.csv", "--", "true"], "nope.csv"),
        (["run", "--param", "novalue", "--", "true"], "KEY=VALUE"),
        (["run", "--seed", "-5", "--", "true"], "seed"),
    ]:
        result = runstate_cli(*args, cwd=project)
        assert result.returncode == 2, (args, result.stderr)
        assert needle in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    store = Store.open(project)
    assert store.metadata.count_runs() == 0  # nothing half-written
    store.close()
    outside = tmp_path / "no-store"
    outside.mkdir()
    result = runstate_cli("run", "--", "true", cwd=outside)
    assert result.returncode == 2 and "runstate init" in result.stderr


def test_concurrent_captures_into_one_store_all_succeed(project: Path) -> None:
    _write(
        project / "job.py", "import sys\nopen(f'out{sys.argv[1]}.txt', 'w').write(sys.argv[1])\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNSTATE_")}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "runstate.cli.main",
                "run",
                "--",
                sys.executable,
                "job.py",
                str(i),
            ],
            cwd=project,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for i in range(6)
    ]
    for proc in procs:
        proc.wait(timeout=120)
        assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    runs = runstate_cli("runs", "--json", cwd=project)
    assert runs.returncode == 0, runs.stderr
    assert len(json.loads(runs.stdout)["runs"]) == 6
    verify = runstate_cli("verify", "--json", cwd=project)
    assert verify.returncode == 0 and json.loads(verify.stdout)["ok"] is True
