"""``verify`` and ``gc``: prove the store is whole, and remove what nothing reaches.

**References.** Rows name run records and release manifests; those documents name
components and stored inputs/outputs; components and folder manifests name blobs. The
graph is walked by explicit rules (:func:`references`), the same rules for both verbs:
``verify`` reports every missing or corrupt node, ``gc`` keeps every reachable one.

**verify** re-hashes every object, checks that each run's record, state and components
agree with its rows (the state id is recomputed as a Merkle root), that every release's
manifest matches its row, that each release links to its predecessor's manifest (the hash
chain) and that each signature verifies against the key pinned in the store config.

**gc** deletes unreachable objects that are older than a grace period *and* older than
every capture in flight (leases). Each deletion first renames the object aside and checks
its mtime again, so a concurrent capture that has just reused ("freshened") the object
either keeps it or finds it gone and writes it again — never a dangling reference.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from runstate.errors import ObjectMissing, StoreCorrupt
from runstate.state.model import COMPONENT_SCHEMA, ExecutionState
from runstate.store.atomic import TMP_PREFIX
from runstate.store.journal import Lease
from runstate.store.objects import LocalObjectStore
from runstate.store.releases import MANIFEST_SCHEMA, list_releases
from runstate.store.store import Store

__all__ = ["GcReport", "Problem", "VerifyReport", "collect_garbage", "references", "verify_store"]

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Problem:
    # corrupt-object, missing-object, bad-record, bad-state, bad-release, broken-chain,
    # bad-signature
    kind: str
    subject: str
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "subject": self.subject, "detail": self.detail}


@dataclass
class VerifyReport:
    objects_checked: int = 0
    runs_checked: int = 0
    releases_checked: int = 0
    problems: list[Problem] = field(default_factory=list)

    def __bool__(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": "runstate.verify/v1",
            "ok": not self.problems,
            "objects_checked": self.objects_checked,
            "runs_checked": self.runs_checked,
            "releases_checked": self.releases_checked,
            "problems": [p.to_dict() for p in self.problems],
        }


@dataclass
class GcReport:
    objects_total: int = 0
    reachable: int = 0
    deleted: int = 0
    bytes_freed: int = 0
    spared_recent: int = 0
    temp_files_removed: int = 0
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"schema": "runstate.gc/v1", **self.__dict__}


def _folder_blobs(store: Store, manifest_id: str) -> Iterator[str]:
    data = json.loads(store.objects.get_bytes(manifest_id))
    for _path, _size, digest in data.get("files", []):
        yield digest


def _io_refs(store: Store, item: dict[str, Any]) -> Iterator[tuple[str, str, bool]]:
    """``(object id, its kind, required)`` for one input/output/config entry of a record.

    A table's ``snapshot_id`` names a ``runstate.snapshot/v1`` manifest (JSON: walked as
    kind ``snapshot``, down to its index nodes and leaves), or, for snapshots stored
    before that format, one Parquet object (a blob).
    """
    if item.get("kind") == "table":
        for field_name in ("fingerprints_id", "profile_id", "sample_id"):
            if item.get(field_name):
                yield item[field_name], "blob", True
        snapshot_id = item.get("snapshot_id")
        if snapshot_id:
            kind = "blob"  # legacy Parquet snapshot, or missing (the walk reports it)
            try:
                with store.objects.open(snapshot_id) as handle:
                    if handle.read(1) == b"{":
                        kind = "snapshot"
            except (ObjectMissing, OSError):
                pass
            yield snapshot_id, kind, True
        return
    object_id = item.get("object_id")
    if not object_id:
        return
    yield object_id, "blob", True
    if (
        item.get("kind") == "folder"
        and item.get("retention") == "full"
        and store.objects.has(object_id)
    ):
        for digest in _folder_blobs(store, object_id):
            yield digest, "blob", True


def references(
    store: Store, kind: str, document: dict[str, Any]
) -> Iterator[tuple[str, str, bool]]:
    """``(object id, its kind, required)`` that ``document`` (of ``kind``) names."""
    if kind == "record":
        for component_id in document["state"]["components"].values():
            yield component_id, "component", True
        for key in ("inputs", "outputs", "config_files"):
            for item in document.get(key, []):
                yield from _io_refs(store, item)
    elif kind == "manifest":
        yield document["run_record"], "record", True
        for component_id in document["state"]["components"].values():
            yield component_id, "component", True
        if document.get("checks"):  # the check settings stored with the release
            yield document["checks"], "blob", True
    elif kind == "component":
        body = document.get("body", {})
        if document.get("kind") == "code":
            for object_id in body.get("files", {}).values():
                if object_id:
                    yield object_id, "blob", True
            git = body.get("git") or {}
            if git.get("diff"):
                yield git["diff"], "blob", True
            for object_id in (git.get("untracked") or {}).values():
                if object_id:
                    yield object_id, "blob", True
        elif document.get("kind") in ("data", "model"):
            yield from _io_refs(store, body)
        elif document.get("kind") == "config":
            for object_id in body.get("files", {}).values():
                yield object_id, "blob", True
        elif document.get("kind") == "policy":
            # runstate.policy-effect/v1 (runstate.policy.effect): the policy document and
            # version it names, and the excluded-row fingerprints stored as objects.
            policy = body.get("policy") or {}
            if policy.get("document_id"):
                yield policy["document_id"], "blob", True
            if policy.get("version_id"):
                yield policy["version_id"], "policy-version", True
            for dataset in (body.get("datasets") or {}).values():
                excluded = dataset.get("excluded") or {}
                if excluded.get("fingerprints_id"):
                    yield excluded["fingerprints_id"], "blob", True
    elif kind == "policy-version":
        # runstate.policy-version/v1 (runstate.policy.versions): a hash chain of versions.
        if document.get("previous"):
            yield document["previous"], "policy-version", True
        for field_name in ("document_id", "text_id"):
            if document.get(field_name):
                yield document[field_name], "blob", True
    elif kind == "snapshot":
        # runstate.data.snapshot's documents (store/ does not import data/): a manifest
        # lists its top entries [id, bytes, rows] (index nodes when its height is above 0,
        # else leaves) and its dictionaries [column, id, bytes]; an index node of level L
        # packs its children's 32-byte ids (base64), nodes of level L-1 or, at 1, leaves.
        import base64

        schema = document.get("schema")
        if schema == "runstate.snapshot/v1":
            child = "snapshot" if int(document["height"]) > 0 else "blob"
            for entry in document["chunks"]:
                yield entry[0], child, True
            for entry in document.get("dictionaries", []):
                yield entry[1], "blob", True
        elif schema == "runstate.snapshot-node/v1":
            child = "snapshot" if int(document["level"]) > 1 else "blob"
            packed = base64.b64decode(document["ids"], validate=True)
            if len(packed) % 32:
                raise ValueError("snapshot node ids are not 32-byte digests")
            for start in range(0, len(packed), 32):
                yield packed[start : start + 32].hex(), child, True
        else:
            raise ValueError(f"not a snapshot manifest or node (schema {schema!r})")


def _roots(store: Store) -> list[tuple[str, str, str]]:
    metadata = store.metadata
    roots = [(row["record_id"], "record", f"run {row['id']}") for row in metadata.iter_runs()]
    roots += [(r.manifest_id, "manifest", f"release {r.ref}") for r in list_releases(store)]
    roots += [(e.record_id, "record", f"journal {e.run_id}") for e in store.journal.pending()]
    checks = store.root / "checks"  # runstate.monitor.attached: results of run --against
    if checks.is_dir():
        for link in sorted(checks.glob("*.json")):
            try:
                check_id = json.loads(link.read_bytes())["check_id"]
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise StoreCorrupt(f"{link}: unreadable check link ({exc})") from None
            roots.append((str(check_id), "blob", f"check of run {link.stem}"))
    policy_head = store.root / "policy" / "HEAD.json"  # runstate.policy.versions
    if policy_head.is_file():
        try:
            head_id = json.loads(policy_head.read_bytes())["id"]
            roots.append((str(head_id), "policy-version", "policy head"))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            # Never walk without it: gc would delete every policy version.
            raise StoreCorrupt(f"{policy_head}: unreadable policy head ({exc})") from None
    return roots


def _walk(store: Store, problems: list[Problem] | None) -> set[str]:
    """Every reachable object id; missing or unreadable nodes become problems."""
    seen: set[str] = set()
    stack = [(oid, kind, who) for oid, kind, who in _roots(store)]
    while stack:
        object_id, kind, who = stack.pop()
        if object_id in seen:
            continue
        seen.add(object_id)
        if not store.objects.has(object_id):
            if problems is not None:
                problems.append(Problem("missing-object", object_id, f"named by {who} ({kind})"))
            continue
        if kind == "blob":
            continue
        try:
            document = json.loads(store.objects.get_bytes(object_id))
        except (ValueError, ObjectMissing) as exc:
            if problems is not None:
                problems.append(
                    Problem("bad-record", object_id, f"{kind} named by {who} is unreadable: {exc}")
                )
            continue
        try:
            for child, child_kind, _required in references(store, kind, document):
                stack.append((child, child_kind, f"{kind} {object_id[:12]}"))
        except (KeyError, TypeError, ValueError, ObjectMissing) as exc:
            if problems is not None:
                problems.append(
                    Problem("bad-record", object_id, f"{kind} named by {who} is malformed: {exc}")
                )
    return seen


def verify_store(store: Store, progress: Progress | None = None) -> VerifyReport:
    report = VerifyReport()
    problems = report.problems
    ids = list(store.objects.iter_ids())
    for index, object_id in enumerate(ids, 1):
        if not store.objects.verify(object_id):
            problems.append(
                Problem("corrupt-object", object_id, "bytes no longer match the object id")
            )
        if progress is not None:
            progress("objects", index, len(ids))
    report.objects_checked = len(ids)
    _walk(store, problems)
    _verify_runs(store, report)
    _verify_releases(store, report)
    return report


def _verify_runs(store: Store, report: VerifyReport) -> None:
    states = dict(store.metadata.iter_states())
    for state_id, components in states.items():
        try:
            recomputed = ExecutionState(components).id
        except ValueError as exc:
            report.problems.append(Problem("bad-state", state_id, str(exc)))
            continue
        if recomputed != state_id:
            report.problems.append(
                Problem("bad-state", state_id, f"Merkle root recomputes to {recomputed}")
            )
    for row in store.metadata.iter_runs():
        report.runs_checked += 1
        subject = f"run {row['id']}"
        try:
            record = store.load_record(row["record_id"])
        except (ObjectMissing, ValueError):
            continue  # already reported by the walk
        if record.get("id") != row["id"] or record.get("state", {}).get("id") != row["state_id"]:
            report.problems.append(
                Problem("bad-record", subject, "record does not match its row (id or state)")
            )
        if states.get(row["state_id"]) != record.get("state", {}).get("components"):
            report.problems.append(
                Problem("bad-state", subject, "state components differ from the record")
            )
        for name, component_id in record.get("state", {}).get("components", {}).items():
            try:
                document = store.load_json(component_id)
            except (ObjectMissing, ValueError):
                continue
            if (
                document.get("schema") != COMPONENT_SCHEMA
                or document.get("kind") != name.split(":")[0]
            ):
                report.problems.append(
                    Problem("bad-record", subject, f"component {name} is not a {name} component")
                )


def _verify_releases(store: Store, report: VerifyReport) -> None:
    from runstate.store.signing import verify_signature

    trusted = store.config.get("trusted_keys", {})
    previous: dict[str, str] = {}
    for release in list_releases(store):
        report.releases_checked += 1
        subject = f"release {release.ref}"
        try:
            raw = store.objects.get_bytes(release.manifest_id)
            manifest = json.loads(raw)
        except (ObjectMissing, ValueError):
            continue  # reported by the walk
        expected = {
            "schema": MANIFEST_SCHEMA,
            "name": release.name,
            "version": release.version,
            "run_id": release.run_id,
            "previous": release.previous_id,
        }
        for key, value in expected.items():
            if manifest.get(key) != value:
                report.problems.append(
                    Problem(
                        "bad-release",
                        subject,
                        f"manifest {key} is {manifest.get(key)!r}, row says {value!r}",
                    )
                )
        if manifest.get("state", {}).get("id") != release.state_id:
            report.problems.append(
                Problem("bad-release", subject, "manifest state differs from the row")
            )
        link = previous.get(release.name)
        if release.previous_id != link:
            report.problems.append(
                Problem(
                    "broken-chain",
                    subject,
                    f"links to {release.previous_id}, predecessor is {link}",
                )
            )
        previous[release.name] = release.manifest_id
        if release.signature:
            public = trusted.get(release.key_id or "")
            if public is None:
                report.problems.append(
                    Problem(
                        "bad-signature",
                        subject,
                        f"signed by key {release.key_id}, which is not pinned",
                    )
                )
            elif not verify_signature(public, release.signature, raw):
                report.problems.append(
                    Problem("bad-signature", subject, "signature does not verify")
                )


def collect_garbage(
    store: Store,
    grace_seconds: float = 3600.0,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> GcReport:
    report = GcReport(dry_run=dry_run)
    now = time.time()
    cutoff = now - grace_seconds
    live_runs = set()
    for path, started, alive in Lease.live(store.leases_dir):
        run_id = os.path.basename(path)[: -len(".json")]
        if alive:
            cutoff = min(cutoff, started - 1.0)
            live_runs.add(run_id)
        elif not dry_run:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
    if not dry_run:
        _remove_stale_report_dirs(store, live_runs, cutoff)
        _remove_stale_temp_files(store, cutoff)
    reachable = _walk(store, None)
    report.reachable = len(reachable)
    ids = list(store.objects.iter_ids())
    report.objects_total = len(ids)
    for index, object_id in enumerate(ids, 1):
        if progress is not None:
            progress("objects", index, len(ids))
        if object_id in reachable:
            continue
        try:
            if store.objects.mtime(object_id) >= cutoff:
                report.spared_recent += 1
                continue
        except FileNotFoundError:
            continue
        if dry_run:
            report.deleted += 1
            report.bytes_freed += store.objects.size(object_id)
            continue
        freed = _delete_if_still_old(store, object_id, cutoff)
        if freed is not None:
            report.deleted += 1
            report.bytes_freed += freed
        else:
            report.spared_recent += 1
    for name, mtime in list(store.objects.iter_temp_files()):
        if mtime < cutoff and not dry_run:
            store.objects.remove_temp_file(name)
            report.temp_files_removed += 1
    return report


def _remove_stale_report_dirs(store: Store, live_runs: set[str], cutoff: float) -> None:
    """Report folders of launcher captures that were killed (their lease is gone)."""
    import shutil

    try:
        names = os.listdir(store.cache_dir)
    except FileNotFoundError:
        return
    for name in names:
        folder = store.cache_dir / name
        if not name.startswith("run-") or name[4:] in live_runs:
            continue
        try:
            if folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
        except FileNotFoundError:
            continue


def _remove_stale_temp_files(store: Store, cutoff: float) -> None:
    """Temp files of journal entries and leases whose writers were killed mid-write."""
    for folder in (store.journal.folder, store.leases_dir):
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            continue
        for name in names:
            path = os.path.join(folder, name)
            try:
                if name.startswith(TMP_PREFIX) and os.stat(path).st_mtime < cutoff:
                    os.unlink(path)
            except FileNotFoundError:
                continue


def _delete_if_still_old(store: Store, object_id: str, cutoff: float) -> int | None:
    objects = store.objects
    if not isinstance(objects, LocalObjectStore):
        size = objects.size(object_id)
        objects.delete(object_id)
        return size
    final = objects.path(object_id)
    aside = os.path.join(os.path.dirname(final), f".tmp-gc-{os.getpid()}-{object_id[2:14]}")
    try:
        os.rename(final, aside)
    except FileNotFoundError:
        return None
    st = os.stat(aside)
    if st.st_mtime >= cutoff:  # freshened by a capture between our check and the rename
        os.replace(aside, final)
        return None
    os.unlink(aside)
    return st.st_size
