"""``runstate replay RUN``: rerun a recorded run under its recorded state and grade it."""

from __future__ import annotations

import sys
from typing import Any

import click

from runstate.cli.output import console, emit_json, env_option, json_option, short, tolerance_option

_STYLE = {
    "identical": "green",
    "equivalent": "green",
    "diverged": "red",
    "failed": "red",
    "not_replayable": "yellow",
}


@click.command("replay")
@click.argument("run_ref", metavar="RUN")
@env_option(
    "current: this interpreter, differences listed; exact: a uv-built venv with the "
    "recorded package versions (cached under .runstate/envs/)."
)
@tolerance_option("Relative tolerance for numeric cells and metrics (equal within it: equivalent).")
@click.option("--keep", is_flag=True, help="Keep the sandbox folder and print where it is.")
@click.option(
    "--twice",
    "--check-determinism",
    "twice",
    is_flag=True,
    help="Replay two times and compare the replays: a difference means the run is "
    "nondeterministic, and the likely sources are named.",
)
@json_option
def replay_cmd(
    run_ref: str, env_mode: str, tolerance: float, keep: bool, twice: bool, as_json: bool
) -> None:
    """Rerun RUN with its recorded code, inputs, params, seeds and environment; grade it.

    The code is restored in a fresh sandbox (git commit + the recorded uncommitted diff, or
    the stored sources), inputs are served from their recorded snapshots, and the replay is
    recorded as a run whose parent is RUN. Verdict: identical, equivalent (within
    --tolerance), diverged, failed or not_replayable. Exit 0 for identical/equivalent, 1
    otherwise, 2 when the state cannot be materialised (nothing is run then).

    RUN is a run id (or a unique prefix), NAME@vN, an alias, or latest / latest~K.

    \b
    Examples:
      runstate replay latest
      runstate replay scoring@v1 --tolerance 1e-9
      runstate replay 01a2b3c4 --env exact --json
      runstate replay latest --twice
    """
    from runstate.replay.runner import ReplayOptions, replay, stderr_progress
    from runstate.store.store import Store

    store = Store.open()
    options = ReplayOptions(
        env=env_mode, tolerance=tolerance, keep=keep, twice=twice, progress=stderr_progress
    )
    verdict = replay(store, run_ref, options)
    document = verdict.to_dict()
    if as_json:
        emit_json(document)
    else:
        _render(document)
    sys.exit(verdict.exit_status)


def _render(doc: dict[str, Any]) -> None:
    out = console()
    style = _STYLE.get(doc["verdict"], "")
    out.print(
        f"replay of {short(doc['run_id'], 13)}: [bold {style}]{doc['verdict']}[/]"
        + (f"  (replay run {short(doc['replay_run_id'], 13)})" if doc["replay_run_id"] else "")
    )
    if doc.get("reason"):
        out.print(f"  {doc['reason']}", markup=False)
    unreplayable = doc.get("unreplayable") or []
    for item in unreplayable if len(unreplayable) > 1 else []:
        out.print(f"  input {item['input']}: {item['reason']}", markup=False)
    if doc["verdict"] == "failed":
        out.print(f"  exit code {doc.get('exit_code')}")
        for line in (doc.get("stderr_tail") or "").strip().splitlines()[-10:]:
            out.print(f"    {line}", markup=False)
    for output in doc.get("outputs") or []:
        if output["status"] == "identical":
            continue
        line = f"  output {output['name']}: {output['status']}"
        rows = (output.get("diff") or {}).get("rows")
        if rows:
            line += (
                f" (rows +{rows['added']} -{rows['removed']} ~{rows['changed']}; "
                f"cells {output['diff'].get('changed_columns') or {}})"
            )
        if output.get("max_rel_diff"):
            line += f" max rel diff {output['max_rel_diff']}"
        out.print(line, markup=False)
    for metric in doc.get("metrics") or []:
        if metric["status"] != "identical":
            out.print(
                f"  metric {metric['key']}: {metric['status']} "
                f"{metric['recorded']} -> {metric['replayed']}",
                markup=False,
            )
    diffs = doc.get("env_differences") or []
    if diffs:
        out.print(f"  environment: {len(diffs)} difference(s) from the recorded one")
        for diff in diffs[:15]:
            out.print(
                f"    {diff['path']}: {diff['recorded']!r} -> {diff['current']!r}", markup=False
            )
        if len(diffs) > 15:
            out.print(f"    … {len(diffs) - 15} more (--json lists all)")
    determinism = doc.get("determinism")
    if determinism:
        if determinism["deterministic"]:
            out.print("  deterministic: two replays gave the same outputs and metrics")
        else:
            out.print(
                "  [bold red]nondeterministic[/]: two replays differ in "
                + ", ".join(determinism["differences"][:10])
            )
            for source in determinism["likely_sources"]:
                out.print(f"    likely: {source}", markup=False)
    for note in doc.get("notes") or []:
        out.print(f"  note: {note}", markup=False)
    if doc.get("sandbox"):
        out.print(f"  sandbox kept at {doc['sandbox']}", markup=False)
