"""``runstate runs`` and ``runstate show RUN``."""

from __future__ import annotations

from typing import Any

import click

from runstate.cli.output import console, emit_json, human_bytes, json_option, short
from runstate.store.refs import resolve_run
from runstate.store.store import Store

_STATUS_STYLE = {"succeeded": "green", "failed": "red", "interrupted": "yellow", "killed": "red"}


@click.command("runs")
@click.option("--name", help="Only runs of this job name.")
@click.option(
    "--limit", default=20, show_default=True, type=click.IntRange(1, 100000), help="How many runs."
)
@json_option
def runs_cmd(name: str | None, limit: int, as_json: bool) -> None:
    """List recent runs, newest first.

    \b
    Examples:
      runstate runs
      runstate runs --name score-daily --limit 5 --json
    """
    store = Store.open()
    rows = store.reader.list_runs(name=name, limit=limit)
    if as_json:
        emit_json({"schema": "runstate.runs/v1", "runs": [_run_summary(r) for r in rows]})
        return
    if not rows:
        click.echo("no runs yet: try `runstate run -- python your_job.py`")
        return
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for column in ("run", "name", "status", "started (UTC)", "duration", "state"):
        table.add_column(column)
    for row in rows:
        style = _STATUS_STYLE.get(row["status"], "")
        table.add_row(
            short(row["id"], 13),
            row["name"],
            f"[{style}]{row['status']}[/]" if style else row["status"],
            row["started_at"][:19].replace("T", " "),
            f"{row['duration_ms'] / 1000:.2f}s",
            short(row["state_id"]),
        )
    console().print(table)


def _run_summary(row: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "id",
        "name",
        "kind",
        "status",
        "exit_code",
        "started_at",
        "ended_at",
        "duration_ms",
        "state_id",
        "parent_id",
        "host",
        "user",
        "command",
    )
    return {key: row[key] for key in keys}


def _component_summary(name: str, body: dict[str, Any]) -> str:
    kind = name.split(":")[0]
    if kind == "env":
        python = body.get("python", {})
        packages = len(body.get("packages", {}))
        system = body.get("platform", {}).get("system")
        return f"Python {python.get('version')} · {packages} packages · {system}"
    if kind == "code":
        git = body.get("git") or {}
        where = (
            f"git {short(git.get('commit'), 10)}{' (dirty)' if git.get('dirty') else ''}"
            if git
            else "no git"
        )
        return f"{where} · {len(body.get('files', {}))} project files"
    if kind == "config":
        params = body.get("params", {})
        shown = ", ".join(f"{k}={v!r}" for k, v in list(params.items())[:4])
        return f"{len(params)} params ({shown}) · {len(body.get('files', {}))} files"
    if kind == "seeds":
        applied = ", ".join(body.get("applied", [])) or "nothing"
        hashseed = body.get("pythonhashseed")
        return f"seed={body.get('seed')} applied to {applied}; PYTHONHASHSEED={hashseed}"
    if kind in ("data", "model"):
        size, fingerprint = human_bytes(body.get("size")), short(body.get("fingerprint"))
        return f"{body.get('path')} · {body.get('kind')} · {size} · {fingerprint}"
    return ""


@click.command("show")
@click.argument("run_ref", metavar="RUN")
@click.option("--name", help="With RUN=latest: the latest run of this job.")
@json_option
def show_cmd(run_ref: str, name: str | None, as_json: bool) -> None:
    """Show one run: status, state components, inputs, outputs, metrics and steps.

    RUN is a run id (or a unique prefix), NAME@vN, an alias, or latest / latest~K.

    \b
    Examples:
      runstate show latest
      runstate show 01a2b3c4 --json
      runstate show scoring@v1
    """
    store = Store.open()
    run_id = resolve_run(store, run_ref, name=name)
    row = store.reader.run(run_id)
    assert row is not None
    record = store.load_record(row["record_id"])
    components = {
        comp_name: {"id": comp_id, "body": store.load_json(comp_id)["body"]}
        for comp_name, comp_id in record["state"]["components"].items()
    }
    from runstate.monitor.attached import attached_checks

    check = attached_checks(store, run_id)
    if as_json:
        document = {
            "schema": "runstate.run/v1",
            "record_id": row["record_id"],
            "record": record,
            "components": components,
        }
        if check is not None:
            document["check"] = check
        emit_json(document)
        return
    out = console()
    style = _STATUS_STYLE.get(record["status"], "")
    out.print(f"[bold]run {record['id']}[/]  {record['name']}  [{style}]{record['status']}[/]")
    out.print(
        f"  started {record['started_at']}  took {record['duration_ms'] / 1000:.2f}s  "
        f"by {record['user']}@{record['host']}"
    )
    if record.get("command"):
        out.print(f"  command: {' '.join(record['command'])}", markup=False)
    if record.get("exit_code") not in (None, 0):
        out.print(f"  exit code {record['exit_code']}")
    out.print(f"  state {record['state']['id']}")
    for comp_name, comp in components.items():
        out.print(
            f"    {comp_name:<16} {short(comp['id'])}  "
            f"{_component_summary(comp_name, comp['body'])}",
            markup=False,
        )
    for label in ("inputs", "outputs"):
        if record.get(label):
            out.print(f"  {label}:")
            for item in record[label]:
                out.print(
                    f"    {item['name']:<24} {item['kind']:<6} "
                    f"{human_bytes(item.get('size')):>10}  {short(item['fingerprint'])}",
                    markup=False,
                )
    if record.get("metrics"):
        out.print("  metrics:")
        for metric in record["metrics"]:
            out.print(f"    {metric['key']:<24} {metric['value']}", markup=False)
    if record.get("steps"):
        out.print("  steps:")
        for step in record["steps"]:
            out.print(
                f"    {step['name']:<24} {step['status']:<10} {step['duration_ms']} ms  "
                f"code {short(step.get('code_hash'))}",
                markup=False,
            )
    if check is not None:
        verdict = "[green]passed[/]" if check["passed"] else "[red]failed[/]"
        out.print(f"  checked against {check['against']}: {verdict} (runstate check)")
    if record.get("stderr_tail") and record["status"] != "succeeded":
        tail = record["stderr_tail"].strip().splitlines()[-10:]
        out.print("  stderr (last lines):")
        for line in tail:
            out.print(f"    {line}", markup=False)
