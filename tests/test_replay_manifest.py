"""The replay manifest: each component's source is selectable, so explain can replay HYBRID
states (one run's state with one component switched to another run's)."""

from __future__ import annotations

from pathlib import Path

from replayhelp import component, records, run_script, write
from runstate.replay import ReplayManifest, ReplayOptions, Sources, replay_sources
from runstate.replay.manifest import ServedInput, build_manifest
from runstate.store.store import Store

JOB = """\
import runstate

with runstate.run("score", params={"factor": FACTOR}, seed=SEED) as run:
    df = run.read_table("customers", "data/customers.csv", key="id")
    df["score"] = df["x"] * run.params["factor"]
    run.output("scores", df, key="id")
"""


def _two_runs(project: Path) -> tuple[dict[str, object], dict[str, object]]:
    write(project / "data" / "customers.csv", "id,x\n1,1.0\n2,2.0\n")
    write(project / "job.py", JOB.replace("FACTOR", "2").replace("SEED", "1"))
    run_script(project, "job.py")
    write(project / "data" / "customers.csv", "id,x\n1,1.0\n2,3.0\n3,4.0\n")
    write(project / "job.py", JOB.replace("FACTOR", "5").replace("SEED", "9"))
    run_script(project, "job.py")
    newest, older = records(project)[:2]
    return older, newest


def test_manifest_takes_each_component_from_its_selected_run(project: Path) -> None:
    a, b = _two_runs(project)
    store = Store.open(project)
    plain = build_manifest(store, Sources(a), project_root="/sandbox")
    assert plain.params == {"factor": 2} and plain.seed == 1
    assert set(plain.sources.values()) == {a["id"]}

    hybrid = build_manifest(
        store, Sources(a, {"data:customers": b, "seeds": b}), project_root="/sandbox"
    )
    assert hybrid.params == {"factor": 2}  # config still from a
    assert hybrid.seed == 9  # seeds from b
    assert hybrid.sources["data:customers"] == b["id"] and hybrid.sources["code"] == a["id"]
    served = hybrid.inputs["customers"]
    assert served.source_run == b["id"]
    assert served.entry["fingerprint"] == b["inputs"][0]["fingerprint"]  # type: ignore[index]
    # The manifest survives its JSON round trip (it is handed to the child as a file).
    path = project / "manifest.json"
    hybrid.write(path)
    assert ReplayManifest.read(path) == hybrid
    assert ServedInput.from_dict(served.to_dict()) == served


def test_a_hybrid_state_replays_with_the_other_runs_data(project: Path) -> None:
    a, b = _two_runs(project)
    store = Store.open(project)

    verdict = replay_sources(store, Sources(a, {"data:customers": b}), ReplayOptions())

    # a's code and params over b's data: neither a's nor b's outputs.
    assert verdict.verdict == "diverged"
    scores = verdict.outputs[0]
    assert scores["diff"]["rows"]["added"] == 1 and scores["diff"]["rows"]["changed"] == 1
    replayed = records(project)[0]
    assert replayed["id"] == verdict.replay_run_id and replayed["parent_id"] == a["id"]
    assert replayed["inputs"][0]["fingerprint"] == b["inputs"][0]["fingerprint"]  # type: ignore[index]
    assert component(project, replayed, "config")["params"] == {"factor": 2}


def test_verdict_round_trips_and_is_falsy_unless_reproduced() -> None:
    from runstate.replay import Verdict

    run_id = "01a2177d-1500-709f-a62b-f536e8377591"
    identical = Verdict(run_id=run_id, verdict="identical")
    diverged = Verdict(run_id=run_id, verdict="diverged", reason="scores")
    assert identical and not diverged
    assert (identical.exit_status, diverged.exit_status) == (0, 1)
    assert Verdict.from_dict(diverged.to_dict()) == diverged
