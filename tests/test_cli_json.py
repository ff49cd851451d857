"""Every ``--json`` document of the CLI, from real subprocesses, against docs/schemas/.

One project is built per module (``cli_project``): a failed run, a Python-API run with
steps, metrics and a folder output, the same command run twice (``--param a=1 --seed 3``),
a key, two releases (the second signed) and two alias moves. The tests only read it, so
they share it; tests that change a store make their own.

Besides the schemas, each test checks content that would break if the feature did:
fingerprints are the BLAKE3 of the files, component ids the BLAKE3 of their canonical
documents, the release chain links, alias history order, and so on.
"""

from __future__ import annotations

import copy
import json
import os
import stat
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import blake3
import pytest
from jsonschema import Draft202012Validator

from runstate.state.canonical import canonical_bytes
from runstate.state.model import merkle_root
from schemas import SCHEMA_DIR, load_schemas, registry, validate

BASE = "https://runstate.dev/schemas"
KINDS = {
    "alias", "aliases", "component", "demo", "folder", "gc", "init", "key", "keys", "release",
    "release-manifest", "releases", "run", "run-record", "run-result", "runs", "verify",
    "profile", "snapshot", "snapshot-node", "diff", "replay",
    "policy-document", "policy-effect", "policy-version", "policy-history", "policy-diff",
    "policy-test", "explain", "check", "checks",
}  # fmt: skip

JOB = """\
from pathlib import Path

text = Path("data.txt").read_text()
Path("out.txt").write_text(text.upper())
"""

API_JOB = """\
from pathlib import Path

import runstate

with runstate.run("api-job", params={"threshold": 0.5}) as run:
    with run.step("features"):
        path = run.input("customers", "data.txt")
        rows = Path(path).read_text().split()
    Path("outdir/sub").mkdir(parents=True, exist_ok=True)
    Path("outdir/a.txt").write_text("a")
    Path("outdir/sub/b.txt").write_text("bb")
    run.output("scores", "outdir")
    run.output("raw", b"raw-bytes")
    run.metric("rows", len(rows))
    run.metric("accuracy", 0.75, step=1)
    run.metric("loss", float("nan"))
"""


def cli(*args: str, cwd: Path, expect: int | None = 0) -> subprocess.CompletedProcess[str]:
    """Run ``python -m runstate.cli.main ARGS`` in ``cwd`` (without inherited RUNSTATE_* vars)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNSTATE_")}
    result = subprocess.run(
        [sys.executable, "-m", "runstate.cli.main", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if expect is not None:
        assert result.returncode == expect, (
            f"runstate {' '.join(args)} exited {result.returncode}, expected {expect}\n"
            f"stdout: {result.stdout}\nstderr: {result.stderr}"
        )
    return result


def cli_json(*args: str, cwd: Path, expect: int | None = 0) -> dict[str, Any]:
    """Run a ``--json`` command, parse its stdout as one document and validate it."""
    result = cli(*args, cwd=cwd, expect=expect)
    try:
        document = json.loads(result.stdout)
    except ValueError as exc:
        raise AssertionError(
            f"runstate {' '.join(args)}: stdout is not one JSON document ({exc})\n"
            f"stdout: {result.stdout!r}\nstderr: {result.stderr}"
        ) from None
    validate(document)
    return document


def file_id(path: Path) -> str:
    return blake3.blake3(path.read_bytes()).hexdigest()


def object_files(project: Path) -> dict[str, Path]:
    """Every object in the project's local store, by id (temp files skipped)."""
    found: dict[str, Path] = {}
    for path in (project / ".runstate" / "objects").glob("??/*"):
        object_id = path.parent.name + path.name
        if path.is_file() and len(object_id) == 64 and not path.name.startswith("."):
            found[object_id] = path
    return found


@dataclass
class CliProject:
    root: Path
    docs: dict[str, dict[str, Any]] = field(default_factory=dict)
    reads: dict[tuple[str, ...], dict[str, Any]] = field(default_factory=dict)

    def json(self, *args: str, expect: int | None = 0) -> dict[str, Any]:
        return cli_json(*args, cwd=self.root, expect=expect)

    def read(self, *args: str) -> dict[str, Any]:
        """A read-only command's document, run once per module (each run costs a process)."""
        if args not in self.reads:
            self.reads[args] = self.json(*args)
        return copy.deepcopy(self.reads[args])


@pytest.fixture(scope="module")
def cli_project(tmp_path_factory: pytest.TempPathFactory) -> CliProject:
    root = tmp_path_factory.mktemp("cli-json")
    project = CliProject(root)
    (root / "job.py").write_text(JOB)
    (root / "api_job.py").write_text(API_JOB)
    (root / "fail.py").write_text("import sys\nsys.exit(3)\n")
    (root / "data.txt").write_text("alpha beta gamma\n")
    docs = project.docs
    docs["init"] = project.json("init", "--json")
    docs["failed"] = project.json("run", "--json", "--", sys.executable, "fail.py", expect=3)
    docs["api"] = project.json("run", "--json", "--", sys.executable, "api_job.py")
    run_args = ("--param", "a=1", "--seed", "3", "--", sys.executable, "job.py")
    docs["first"] = project.json("run", "--json", *run_args)
    cli("run", *run_args, cwd=root)  # the same run again, plain: this is `latest`
    docs["key_generate"] = project.json("key", "generate", "k.pem", "--json")
    docs["key_add"] = project.json("key", "add", "k.pem.pub", "--json")
    docs["release_v1"] = project.json("release", "create", "scoring", "--run", "latest", "--json")
    first_id = docs["first"]["run_id"]
    docs["release_v2"] = project.json(
        "release", "create", "scoring", "--run", first_id, "--sign", "k.pem", "--json"
    )
    docs["alias_v1"] = project.json("alias", "set", "production", "scoring@v1", "--json")
    docs["alias_v2"] = project.json("alias", "set", "production", "scoring@v2", "--json")
    return project


# -- the schemas themselves ------------------------------------------------------------------


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def test_every_schema_file_is_a_valid_2020_12_schema() -> None:
    files = sorted(SCHEMA_DIR.glob("*"))
    assert files, f"no schemas in {SCHEMA_DIR}"
    for path in files:
        assert path.name.endswith(".schema.json"), f"{path.name}: not a *.schema.json file"
        schema = json.loads(path.read_text("utf-8"))
        Draft202012Validator.check_schema(schema)
        kind = path.name.removesuffix(".schema.json")
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema", path.name
        assert schema["$id"] == f"{BASE}/{kind}/v1", path.name
        assert schema["properties"]["schema"] == {"const": f"runstate.{kind}/v1"}, path.name
        assert "schema" in schema["required"], path.name
    assert set(load_schemas()) == KINDS


def test_every_ref_resolves_locally() -> None:
    resolver = registry().resolver()
    for kind, schema in load_schemas().items():
        for ref in _refs(schema):
            assert ref.startswith(("#", f"{BASE}/")), f"{kind}: $ref {ref} leaves runstate.dev"
            target = ref if not ref.startswith("#") else schema["$id"] + ref
            resolver.lookup(target)  # raises Unresolvable when it names nothing


def test_validate_names_the_schema_and_the_path() -> None:
    with pytest.raises(AssertionError, match="no 'schema' field"):
        validate({"ok": True})
    with pytest.raises(AssertionError, match=r"no schema .* for 'runstate\.nope/v1'"):
        validate({"schema": "runstate.nope/v1"})
    with pytest.raises(AssertionError, match=r"describes 'runstate\.gc/v1'.*'runstate\.gc/v2'"):
        validate({"schema": "runstate.gc/v2"})
    gc = {
        "schema": "runstate.gc/v1", "objects_total": 3, "reachable": 3, "deleted": 0,
        "bytes_freed": 0, "spared_recent": 0, "temp_files_removed": 0, "dry_run": False,
    }  # fmt: skip
    validate(gc)
    with pytest.raises(AssertionError, match=r"at \$\.deleted: 0\.5 is not of type 'integer'"):
        validate({**gc, "deleted": 0.5})
    with pytest.raises(AssertionError, match="'surprise' was unexpected"):
        validate({**gc, "surprise": 1})


# -- init, run, runs, show --------------------------------------------------------------------


def test_init_json(cli_project: CliProject, tmp_path: Path) -> None:
    doc = cli_project.docs["init"]
    store = cli_project.root / ".runstate"
    assert Path(doc["store"]) == store.resolve()
    assert doc["metadata_url"] == f"sqlite:///{store.resolve() / 'runstate.db'}"
    assert Path(doc["objects_url"]) == store.resolve() / "objects"
    again = cli("init", "--json", cwd=cli_project.root, expect=2)
    assert again.stdout == "", "an error must leave stdout empty for --json consumers"
    assert "already holds a runstate store" in again.stderr
    elsewhere = cli_json("init", str(tmp_path / "other"), "--json", cwd=tmp_path)
    assert Path(elsewhere["store"]) == (tmp_path / "other" / ".runstate").resolve()


def test_run_json(cli_project: CliProject) -> None:
    root, doc = cli_project.root, cli_project.docs["first"]
    assert doc["status"] == "succeeded" and doc["exit_code"] == 0
    assert doc["name"] == "job"
    assert doc["inputs"] == {"data.txt": file_id(root / "data.txt")}
    assert doc["outputs"] == {"out.txt": file_id(root / "out.txt")}
    record = object_files(root)[doc["record_id"]]
    assert json.loads(record.read_bytes())["id"] == doc["run_id"]


def test_run_json_of_a_failed_command(cli_project: CliProject) -> None:
    doc = cli_project.docs["failed"]
    assert doc["status"] == "failed"
    assert doc["exit_code"] == 3
    assert doc["name"] == "fail"


def _differences(a: Any, b: Any, path: str) -> list[str]:
    """Dotted paths at which two JSON values differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [
            p
            for key in sorted({*a, *b})
            for p in _differences(a.get(key), b.get(key), f"{path}.{key}")
        ]
    return [] if a == b else [path]


def test_same_command_same_state_id(cli_project: CliProject) -> None:
    """Two runs of the same code, data, params, seed and environment share one state id."""
    first = cli_project.docs["first"]
    again = cli_project.read("show", "latest", "--json")
    before = cli_project.read("show", first["run_id"], "--json")
    assert again["record"]["id"] != first["run_id"]
    differing = [
        path
        for name, component in again["components"].items()
        for path in _differences(component["body"], before["components"][name]["body"], name)
    ]
    assert again["record"]["state"]["id"] == first["state_id"], f"differing: {differing}"


def test_runs_json(cli_project: CliProject) -> None:
    doc = cli_project.read("runs", "--json")
    runs = doc["runs"]
    assert len(runs) == 4
    assert [r["started_at"] for r in runs] == sorted((r["started_at"] for r in runs), reverse=True)
    assert [r["name"] for r in runs] == ["job", "job", "api-job", "fail"]
    assert [r["status"] for r in runs] == ["succeeded", "succeeded", "succeeded", "failed"]
    assert runs[1]["id"] == cli_project.docs["first"]["run_id"]
    assert runs[3]["exit_code"] == 3
    assert runs[0]["command"] == [sys.executable, "job.py"]
    assert runs[2]["kind"] == "command"
    limited = cli_project.read("runs", "--limit", "1", "--json")["runs"]
    assert [r["id"] for r in limited] == [runs[0]["id"]]
    named = cli_project.read("runs", "--name", "job", "--json")["runs"]
    assert [r["id"] for r in named] == [runs[0]["id"], runs[1]["id"]]


def test_show_latest_json(cli_project: CliProject) -> None:
    root = cli_project.root
    doc = cli_project.read("show", "latest", "--json")
    record, components = doc["record"], doc["components"]
    assert record["status"] == "succeeded" and record["kind"] == "command"
    assert record["command"] == [sys.executable, "job.py"]
    assert components["config"]["body"]["params"] == {"a": 1}
    seeds = components["seeds"]["body"]
    assert seeds["seed"] == 3 and seeds["pythonhashseed"] == "3" and "random" in seeds["applied"]
    assert components["code"]["body"]["entry"] == "job.py"
    assert components["code"]["body"]["files"]["job.py"] == file_id(root / "job.py")
    (output,) = record["outputs"]
    assert output["name"] == output["path"] == "out.txt"
    assert output["fingerprint"] == blake3.blake3((root / "out.txt").read_bytes()).hexdigest()
    assert output["object_id"] == output["fingerprint"] and output["retention"] == "full"
    assert output["size"] == (root / "out.txt").stat().st_size
    (data,) = record["inputs"]
    assert data["path"] == "data.txt" and data["fingerprint"] == file_id(root / "data.txt")
    assert components["data:data.txt"]["body"]["fingerprint"] == data["fingerprint"]
    # ids are content hashes: the record's object, each component's document, the state root
    assert file_id(object_files(root)[doc["record_id"]]) == doc["record_id"]
    assert {name: c["id"] for name, c in components.items()} == record["state"]["components"]
    for name, component in components.items():
        document = {
            "schema": "runstate.component/v1",
            "kind": name.split(":")[0],
            "body": component["body"],
        }
        assert blake3.blake3(canonical_bytes(document)).hexdigest() == component["id"], name
    assert merkle_root(record["state"]["components"]) == record["state"]["id"]


def test_show_json_of_an_api_run(cli_project: CliProject) -> None:
    root, run = cli_project.root, cli_project.docs["api"]
    assert run["name"] == "api-job" and run["status"] == "succeeded"
    doc = cli_project.read("show", run["run_id"][:13], "--json")
    record = doc["record"]
    assert record["id"] == run["run_id"]
    assert doc["components"]["config"]["body"]["params"] == {"threshold": 0.5}
    assert record["metrics"] == [
        {"key": "rows", "value": 3.0, "step": None},
        {"key": "accuracy", "value": 0.75, "step": 1},
        {"key": "loss", "value": "NaN", "step": None},
    ]
    (step,) = record["steps"]
    assert step["name"] == "features" and step["status"] == "succeeded"
    assert step["inputs"] == {"customers": file_id(root / "data.txt")}
    outputs = {o["name"]: o for o in record["outputs"]}
    folder, raw = outputs["scores"], outputs["raw"]
    assert (folder["kind"], folder["path"]) == ("folder", "outdir")
    assert (folder["files"], folder["size"]) == (2, 3)
    assert (raw["kind"], raw["size"]) == ("bytes", 9)
    assert raw["fingerprint"] == blake3.blake3(b"raw-bytes").hexdigest()
    manifest = json.loads(object_files(root)[folder["object_id"]].read_bytes())
    validate(manifest)
    assert manifest["files"] == [
        ["a.txt", 1, file_id(root / "outdir" / "a.txt")],
        ["sub/b.txt", 2, file_id(root / "outdir" / "sub" / "b.txt")],
    ]
    assert blake3.blake3(canonical_bytes(manifest)).hexdigest() == folder["fingerprint"]
    assert doc["components"]["data:customers"]["body"]["path"] == "data.txt"


# -- keys, releases, aliases ------------------------------------------------------------------


def test_key_json(cli_project: CliProject) -> None:
    root, docs = cli_project.root, cli_project.docs
    generated, added = docs["key_generate"], docs["key_add"]
    assert generated["private_key"] == "k.pem" and generated["public_key"] == "k.pem.pub"
    assert stat.S_IMODE((root / "k.pem").stat().st_mode) == 0o600
    assert added["key_id"] == generated["key_id"]
    (key,) = cli_project.read("key", "list", "--json")["keys"]
    assert key["key_id"] == generated["key_id"]
    assert blake3.blake3(bytes.fromhex(key["public_key_hex"])).hexdigest()[:32] == key["key_id"]


def test_release_create_json_chains_versions(cli_project: CliProject) -> None:
    docs = cli_project.docs
    v1, v2 = docs["release_v1"], docs["release_v2"]
    latest = cli_project.read("runs", "--limit", "1", "--json")["runs"][0]
    assert (v1["ref"], v1["version"], v1["previous_id"]) == ("scoring@v1", 1, None)
    assert v1["run_id"] == latest["id"] and v1["state_id"] == latest["state_id"]
    assert v1["signature"] is None and v1["key_id"] is None
    assert (v2["ref"], v2["version"]) == ("scoring@v2", 2)
    assert v2["previous_id"] == v1["manifest_id"]
    assert v2["run_id"] == docs["first"]["run_id"]
    assert v2["key_id"] == docs["key_generate"]["key_id"] and v2["signature"]


def test_release_list_json(cli_project: CliProject) -> None:
    docs = cli_project.docs
    listed = cli_project.read("release", "list", "--json")["releases"]
    created = (docs["release_v1"], docs["release_v2"])
    expected = [{k: v for k, v in doc.items() if k != "schema"} for doc in created]
    assert listed == expected
    assert cli_project.read("release", "list", "--name", "other", "--json")["releases"] == []


def test_release_show_json(cli_project: CliProject) -> None:
    root, docs = cli_project.root, cli_project.docs
    for name in ("release_v1", "release_v2"):
        created = docs[name]
        shown = cli_project.read("release", "show", created["ref"], "--json")
        manifest = shown.pop("manifest")
        assert shown == created
        payload = canonical_bytes(manifest)
        assert blake3.blake3(payload).hexdigest() == created["manifest_id"]
        assert object_files(root)[created["manifest_id"]].read_bytes() == payload
        assert (manifest["name"], manifest["version"]) == ("scoring", created["version"])
        assert manifest["run_id"] == created["run_id"]
        assert manifest["state"]["id"] == created["state_id"]
        assert manifest["outputs"] == {"out.txt": file_id(root / "out.txt")}
        assert manifest["created_at"] == created["created_at"]
        assert manifest["created_by"] == created["created_by"]
        run = cli_project.read("show", created["run_id"], "--json")
        assert manifest["run_record"] == run["record_id"]
        assert manifest["state"] == run["record"]["state"]
    v2 = cli_project.read("release", "show", "scoring@v2", "--json")
    assert v2["manifest"]["previous"] == docs["release_v1"]["manifest_id"]
    assert v2["manifest"]["previous"] == v2["previous_id"]
    missing = cli("release", "show", "scoring@v9", "--json", cwd=root, expect=None)
    assert missing.returncode != 0 and missing.stdout == ""


def test_alias_json(cli_project: CliProject) -> None:
    docs = cli_project.docs
    first, second = docs["alias_v1"], docs["alias_v2"]
    assert (first["alias"], first["target"]) == ("production", "scoring@v1")
    assert first["previous"] is None
    assert (second["target"], second["previous"]) == ("scoring@v2", "scoring@v1")
    assert first["run_id"] == docs["release_v1"]["run_id"]
    assert second["run_id"] == docs["release_v2"]["run_id"]
    plain = cli_project.read("alias", "list", "--json")
    assert "history" not in plain
    (alias,) = plain["aliases"]
    assert (alias["alias"], alias["target"]) == ("production", "scoring@v2")
    moves = cli_project.read("alias", "list", "--history", "--json")["history"]
    assert [(m["alias"], m["previous"], m["target"]) for m in moves] == [
        ("production", None, "scoring@v1"),
        ("production", "scoring@v1", "scoring@v2"),
    ]
    assert moves[0]["at"] <= moves[1]["at"] == alias["updated_at"]
    assert moves[0]["by"] == moves[1]["by"] == docs["release_v1"]["created_by"]


# -- the store: stored documents, verify, gc --------------------------------------------------


def test_stored_documents_validate(cli_project: CliProject) -> None:
    """Every JSON object in the store that names a schema validates against it."""
    kinds: dict[str, int] = {}
    for object_id, path in object_files(cli_project.root).items():
        try:
            document = json.loads(path.read_bytes())
        except ValueError:
            continue  # data, code and output blobs
        if not isinstance(document, dict) or "schema" not in document:
            continue
        try:
            validate(document)
        except AssertionError as exc:
            raise AssertionError(f"object {object_id}: {exc}") from None
        assert blake3.blake3(canonical_bytes(document)).hexdigest() == object_id, "not canonical"
        kinds[document["schema"]] = kinds.get(document["schema"], 0) + 1
    assert kinds.get("runstate.run-record/v1") == 4
    assert kinds.get("runstate.release-manifest/v1") == 2
    assert kinds.get("runstate.folder/v1") == 1
    assert kinds.get("runstate.component/v1", 0) >= 5


def test_verify_json(cli_project: CliProject) -> None:
    doc = cli_project.json("verify", "--json", expect=0)
    assert doc["ok"] is True and doc["problems"] == []
    assert doc["runs_checked"] == 4
    assert doc["releases_checked"] == 2
    assert doc["objects_checked"] == len(object_files(cli_project.root))


def test_gc_json(cli_project: CliProject) -> None:
    total = len(object_files(cli_project.root))
    dry = cli_project.json("gc", "--json", "--dry-run", "--grace", "0")
    assert dry["dry_run"] is True and dry["objects_total"] == total
    assert dry["deleted"] == total - dry["reachable"]
    kept = cli_project.json("gc", "--json")
    assert kept["dry_run"] is False and kept["deleted"] == 0 and kept["bytes_freed"] == 0
    assert kept["reachable"] == dry["reachable"]
    assert len(object_files(cli_project.root)) == total


def test_verify_json_reports_a_corrupt_object(tmp_path: Path) -> None:
    (tmp_path / "job.py").write_text(JOB)
    (tmp_path / "data.txt").write_text("alpha\n")
    cli_json("init", "--json", cwd=tmp_path)
    run = cli_json("run", "--json", "--", sys.executable, "job.py", cwd=tmp_path)
    output_id = run["outputs"]["out.txt"]
    path = object_files(tmp_path)[output_id]
    path.chmod(0o644)
    path.write_bytes(b"tampered")
    doc = cli_json("verify", "--json", cwd=tmp_path, expect=1)
    assert doc["ok"] is False
    assert {"kind": "corrupt-object", "subject": output_id} in [
        {"kind": p["kind"], "subject": p["subject"]} for p in doc["problems"]
    ]


# -- demo ---------------------------------------------------------------------------------------


def test_demo_schema_accepts_the_documented_shape() -> None:
    run_id, state = "01a216de-87d5-7e94-9953-968882bf7e06", "a" * 64
    document = {
        "schema": "runstate.demo/v1",
        "project": "/tmp/demo",
        "store": "/tmp/demo/.runstate",
        "runs": [
            {"id": run_id, "name": "score", "status": "succeeded", "state_id": state, "more": 1}
        ],
        "release": "scoring@v1",
        "changed_components": ["code", "config"],
        "metrics": {"before": {"approval_rate": 0.79}, "after": {"approval_rate": 0.89}},
        "edits": ["preprocess.py: …"],
    }
    validate(document)
    with pytest.raises(AssertionError, match="state_id"):
        validate({**document, "runs": [{"id": run_id, "name": "score", "status": "succeeded"}]})


@pytest.mark.slow
def test_demo_json(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    pytest.importorskip("runstate.demo.driver")
    doc = cli_json("demo", "--dir", str(tmp_path / "demo"), "--json", cwd=tmp_path)
    assert Path(doc["project"]) == (tmp_path / "demo").resolve()
    assert all(run["status"] == "succeeded" for run in doc["runs"])
    assert doc["release"] == "scoring@v1"
    assert "config" in doc["changed_components"]
    shown = cli_json("release", "show", doc["release"], "--json", cwd=tmp_path / "demo")
    assert shown["run_id"] in {run["id"] for run in doc["runs"]}
