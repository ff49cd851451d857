"""The store holds only what the policy let through: plant unique secrets in dropped, hashed
and redacted columns and in rows the filter excludes, capture for real with full retention,
then scan every byte under .runstate/ — raw, and decoded (zstd snapshot leaves, Parquet,
Arrow IPC) — for them. Control values the policy allows must be found by the same scan, so
the scan is known to see the snapshots' contents."""

from __future__ import annotations

import struct
import sys
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from conftest import runstate_cli
from runstate.data.snapshot import read_snapshot
from runstate.store.store import Store

POLICY = """\
version: 1
default: deny
datasets:
  customers:
    readers:
      - principals: [svc-scoring]
        purposes: [scoring]
    row_filter: "consent OR region <> 'EU'"
    columns: {ssn: drop, email: hash, name: redact}
  "data/*.csv":
    readers:
      - principals: [svc-scoring]
    row_filter: "region = 'US'"
    columns: {phone: drop, address: redact}
"""

JOB = """\
import pyarrow.csv as pacsv
import runstate

with runstate.run("scoring") as run:
    customers = run.read_table("customers", "customers.parquet", key="customer_id", as_="arrow")
    run.output("scores", customers.select(["customer_id", "note", "email"]), key="customer_id")
    with open("data/contacts.csv") as handle:  # read by the command itself (zero-code)
        handle.read()
"""

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def _decoded(data: bytes) -> bytes:
    """Text renderings of what ``data`` holds when it is a compressed or columnar object."""
    out = []
    if data[4:8] == ZSTD_MAGIC:  # a snapshot leaf: le32(raw length) + zstd frame
        (size,) = struct.unpack("<I", data[:4])
        out.append(pa.Codec("zstd").decompress(data[4:], decompressed_size=size).to_pybytes())
    if data[:4] == b"PAR1":
        out.append(repr(pq.read_table(pa.py_buffer(data)).to_pylist()).encode())
    if data[:6] == b"ARROW1":
        out.append(repr(pa.ipc.open_file(pa.py_buffer(data)).read_all().to_pylist()).encode())
    elif data[:4] == b"\xff\xff\xff\xff":
        try:
            out.append(repr(pa.ipc.open_stream(pa.py_buffer(data)).read_all().to_pylist()).encode())
        except pa.ArrowInvalid:
            pass
    return b"\n".join(out)


def _scan(folder: Path) -> bytes:
    chunks = []
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            chunks += [data, _decoded(data)]
    return b"\n".join(chunks)


def test_secrets_withheld_by_the_policy_never_reach_the_store(project: Path) -> None:
    tag = uuid.uuid4().hex
    n = 200
    kept = [i % 4 != 1 for i in range(n)]  # rows 1, 5, 9, … : EU without consent
    region = ["EU" if i % 2 else "US" for i in range(n)]
    consent = [i % 4 == 3 for i in range(n)]
    customers = pa.table(
        {
            "customer_id": list(range(n)),
            "region": region,
            "consent": consent,
            "ssn": [f"ssn-{tag}-{i}" for i in range(n)],  # dropped
            "email": [f"email-{tag}-{i}" for i in range(n)],  # hashed
            "name": [f"name-{tag}-{i}" for i in range(n)],  # redacted
            "note": [(f"ctl-{tag}-{i}" if kept[i] else f"gone-{tag}-{i}") for i in range(n)],
        }
    )
    pq.write_table(customers, project / "customers.parquet")
    (project / "data").mkdir()
    contacts = pa.table(
        {
            "region": region,
            "phone": [f"phone-{tag}-{i}" for i in range(n)],  # dropped
            "address": [f"addr-{tag}-{i}" for i in range(n)],  # redacted
            "memo": [
                (f"cmemo-{tag}-{i}" if region[i] == "US" else f"cgone-{tag}-{i}") for i in range(n)
            ],
        }
    )  # fmt: skip
    pacsv.write_csv(contacts, project / "data" / "contacts.csv")
    (project / "runstate-policy.yaml").write_text(POLICY)
    (project / "job.py").write_text(JOB)
    mask_key = f"mk-{tag}"
    result = runstate_cli(
        "run", "--principal", "svc-scoring", "--purpose", "scoring", "--retention", "full",
        "--", sys.executable, "job.py", cwd=project, env={"RUNSTATE_MASK_KEY": mask_key},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert runstate_cli("runs", "--json", cwd=project).returncode == 0  # ingest into the DB

    store = Store.open(project)
    record = store.load_record(store.metadata.list_runs(limit=1)[0]["record_id"])
    by_name = {item["name"]: item for item in record["inputs"]}
    assert by_name["customers"]["retention"] == "full"
    assert by_name["data/contacts.csv"]["retention"] == "full"
    snapshots = b"\n".join(
        repr(read_snapshot(store.objects, item["snapshot_id"]).to_pylist()).encode()
        for item in (*record["inputs"], *record["outputs"])
        if item.get("snapshot_id")
    )
    data = _scan(project / ".runstate") + snapshots

    # Control: what the policy lets through is in the store, and the scan sees it.
    kept_rows = [i for i in range(n) if kept[i]]
    for i in kept_rows:
        assert f"ctl-{tag}-{i}".encode() in data
    for i in (i for i in range(n) if region[i] == "US"):
        assert f"cmemo-{tag}-{i}".encode() in data

    secrets = [mask_key]
    secrets += [f"{column}-{tag}-{i}" for column in ("ssn", "email", "name") for i in range(n)]
    secrets += [f"gone-{tag}-{i}" for i in range(n) if not kept[i]]
    secrets += [f"{column}-{tag}-{i}" for column in ("phone", "addr") for i in range(n)]
    secrets += [f"cgone-{tag}-{i}" for i in range(n) if region[i] != "US"]
    leaked = [s for s in secrets if s.encode() in data]
    assert not leaked, f"{len(leaked)} withheld values reached the store, e.g. {leaked[:3]}"
    store.close()
