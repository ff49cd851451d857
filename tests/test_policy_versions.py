"""Store-managed policy versions: apply, history, show, the hash chain, diffs, gc."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from conftest import runstate_cli
from runstate.errors import IntegrityError, NotFound, PolicyError
from runstate.policy.diff import diff_documents
from runstate.policy.document import parse_policy
from runstate.policy.versions import apply_policy, get_version, head, history, version_text
from runstate.state.canonical import canonical_bytes
from runstate.store.integrity import collect_garbage, verify_store
from runstate.store.store import Store
from schemas import validate

V1 = """\
version: 1
default: deny
datasets:
  customers:
    readers:
      - principals: [svc-scoring]
        purposes: [scoring]
    row_filter: "consent OR region <> 'EU'"
    columns: {ssn: drop, email: hash}
"""
V2 = V1.replace("region <> 'EU'", "region = 'US'").replace("email: hash", "email: redact")
V3 = V2 + "  orders:\n    readers: []\n"


def test_apply_creates_a_hash_chain(store: Store) -> None:
    one, created = apply_policy(store, V1, "p.yaml")
    assert created and one.version == 1 and one.previous is None
    same, created = apply_policy(store, V1, "p.yaml")
    assert not created and same.id == one.id  # identical document: no new version
    two, _ = apply_policy(store, V2, "p.yaml")
    three, _ = apply_policy(store, V3)
    assert (two.previous, three.previous) == (one.id, two.id)
    assert [v.version for v in history(store)] == [3, 2, 1]
    assert head(store) == (3, three.id)
    assert get_version(store).id == three.id and get_version(store, "v2").id == two.id
    assert version_text(store, one) == V1
    # The id is the BLAKE3 of the canonical manifest, which includes the previous id.
    assert store.objects.get_bytes(two.id) == canonical_bytes(two.manifest())
    with pytest.raises(NotFound, match="no policy v9"):
        get_version(store, "v9")


def test_apply_refuses_an_invalid_document(store: Store) -> None:
    with pytest.raises(PolicyError, match=r"p\.yaml:2: default"):
        apply_policy(store, "version: 1\ndefault: perhaps\ndatasets: {}\n", "p.yaml")
    assert head(store) is None


def _tamper(store: Store, object_id: str, old: bytes, new: bytes) -> None:
    path = Path(store.objects.path(object_id))  # type: ignore[attr-defined]
    path.chmod(0o644)
    data = path.read_bytes()
    assert old in data
    path.write_bytes(data.replace(old, new))


def test_tampering_with_an_old_version_is_detected(store: Store) -> None:
    one, _ = apply_policy(store, V1)
    apply_policy(store, V2)
    _tamper(store, one.id, b"svc-scoring", b"svc-sc0ring")
    with pytest.raises(IntegrityError, match=r"v1|altered"):
        history(store)
    assert any(p.kind == "corrupt-object" for p in verify_store(store).problems)


def test_a_forged_head_is_detected(store: Store) -> None:
    apply_policy(store, V1)
    two, _ = apply_policy(store, V2)
    head_file = store.root / "policy" / "HEAD.json"
    head_file.write_text(
        json.dumps({"schema": "runstate.policy-head/v1", "version": 5, "id": two.id})
    )
    with pytest.raises(IntegrityError, match="chain expects v5"):
        history(store)


def test_gc_keeps_every_version(store: Store) -> None:
    versions = [apply_policy(store, text)[0] for text in (V1, V2, V3)]
    stray = store.objects.put_bytes(b"nobody names me")
    time.sleep(0.01)
    collect_garbage(store, grace_seconds=0)
    assert not store.objects.has(stray)  # gc did collect
    assert [v.id for v in history(store)] == [v.id for v in reversed(versions)]


def test_rule_level_diff() -> None:
    a, b, c = parse_policy(V1), parse_policy(V2), parse_policy(V3)
    assert not diff_documents(a, a)
    changed = diff_documents(a, b, "v1", "v2")
    assert changed and len(changed.rules) == 1
    rule = changed.rules[0]
    assert rule.change == "changed" and rule.readers is None
    assert rule.row_filter == ("consent OR region <> 'EU'", "consent OR region = 'US'")
    assert rule.columns == {"email": ("hash", "redact")}
    added = diff_documents(b, c)
    assert [(r.pattern, r.change) for r in added.rules] == [("orders", "added")]
    removed = diff_documents(c, a)
    assert {(r.pattern, r.change) for r in removed.rules} == {
        ("orders", "removed"),
        ("customers", "changed"),
    }
    validate(changed.to_dict())


def test_cli_apply_history_show_diff(project: Path) -> None:
    (project / "p1.yaml").write_text(V1)
    (project / "p2.yaml").write_text(V2)
    applied = runstate_cli("policy", "apply", "p1.yaml", "--json", cwd=project)
    assert applied.returncode == 0, applied.stderr
    document = json.loads(applied.stdout)
    validate(document)
    assert document["created"] and document["ref"] == "v1"
    assert runstate_cli("policy", "apply", "p2.yaml", cwd=project).returncode == 0
    again = runstate_cli("policy", "apply", "p2.yaml", cwd=project)
    assert "unchanged" in again.stdout
    listed = json.loads(runstate_cli("policy", "history", "--json", cwd=project).stdout)
    validate(listed)
    assert [v["ref"] for v in listed["versions"]] == ["v2", "v1"]
    shown = json.loads(runstate_cli("policy", "show", "v1", "--json", cwd=project).stdout)
    validate(shown)
    assert shown["text"] == V1 and shown["id"] == document["id"]
    text = runstate_cli("policy", "show", cwd=project).stdout
    assert "policy v2" in text and "region = 'US'" in text
    same = runstate_cli("policy", "diff", "v1", "v1", "--json", cwd=project)
    assert same.returncode == 0 and json.loads(same.stdout)["identical"]
    differs = runstate_cli("policy", "diff", "v1", "v2", "--json", cwd=project)
    assert differs.returncode == 1
    diff = json.loads(differs.stdout)
    validate(diff)
    assert diff["rules"][0]["columns"] == {"email": {"a": "hash", "b": "redact"}}
    human = runstate_cli("policy", "diff", "v2", "p1.yaml", cwd=project)  # a version vs a file
    assert human.returncode == 1 and "changed rule 'customers'" in human.stdout
    missing = runstate_cli("policy", "show", "v7", cwd=project)
    assert missing.returncode == 2 and "no policy v7" in missing.stderr
    (project / "bad.yaml").write_text(
        "version: 1\ndefault: deny\ndatasets:\n  c: {columns: {a: mask}}\n"
    )
    bad = runstate_cli("policy", "apply", "bad.yaml", cwd=project)
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        "runstate: error: bad.yaml:4: datasets.c.columns.a: 'mask' is not one of drop, "
        "redact, hash, allow"
    )
    help_text = runstate_cli("policy", "apply", "--help", cwd=project).stdout
    assert "runstate policy apply runstate-policy.yaml" in help_text
    for sub in (None, "apply", "history", "show", "diff", "test"):
        args = ["policy", sub, "--help"] if sub else ["policy", "--help"]
        shown = runstate_cli(*args, cwd=project)
        assert shown.returncode == 0 and "Example" in shown.stdout and "--json" in shown.stdout
