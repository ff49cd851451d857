"""``runstate demo``: build a small project, capture it, release it, change it, capture again."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any

import click

from runstate.cli.output import console, emit_json, json_option, short

if TYPE_CHECKING:
    from runstate.demo.driver import DemoResult

_DETAILS_SHOWN = 3
_DIFF_CAP = 5  # items per list on the demo's diff screen
_STATUS_STYLE = {"succeeded": "green", "failed": "red", "interrupted": "yellow", "killed": "red"}


@click.command("demo")
@click.option(
    "--dir",
    "directory",
    type=click.Path(),
    help="Build the project here (a new or empty folder) instead of a temporary folder.",
)
@json_option
def demo_cmd(directory: str | None, as_json: bool) -> None:
    """Build a small credit-scoring project and capture it end to end.

    In a new folder (temporary unless --dir), the demo writes a tabular project that
    generates its data and trains and scores a scikit-learn model; it runs training and
    scoring under `runstate run`, freezes the scoring run as release scoring@v1, changes
    one line of preprocessing and the threshold param, scores again, and shows what was
    recorded, what changed and where it is. The folder is kept for you to explore.

    Needs numpy, scikit-learn and duckdb: pip install 'runstate[demo]'.

    \b
    Examples:
      runstate demo
      runstate demo --dir ./credit-demo --json
    """
    from rich.markup import escape

    from runstate.demo.driver import DemoStepFailed, run_demo

    err = console(stderr=True)

    def progress(message: str) -> None:
        err.print(f"[dim]·[/] {escape(message)}")

    try:
        result = run_demo(directory, progress=progress)
    except DemoStepFailed as exc:
        for line in exc.output.splitlines():
            err.print(f"  [dim]|[/] {escape(line)}")
        raise
    if as_json:
        emit_json(result.to_dict())
    else:
        _render(result)


def _number(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _render_output_diff(out: Any, diff: dict[str, Any], release: str) -> None:
    """Which output rows changed: the row-level view of the same change."""
    from rich.markup import escape

    if not diff:
        return
    rows = diff["rows"]
    out.print(f"\n[bold]Output rows[/]: predictions of {release} → the last run")
    out.print(
        f"  {rows['changed']:,} of {rows['rows_a']:,} customers' predictions changed"
        f" ({rows['added']:,} added, {rows['removed']:,} removed)"
    )
    for column, count in sorted(diff.get("changed_columns", {}).items()):
        out.print(f"  {escape(column):<16}changed in {count:,} rows")
    for cell in diff.get("cells", [])[:5]:
        key = ", ".join(f"{k}={v}" for k, v in cell["key"].items())
        changes = "; ".join(f"{c}: {old} → {new}" for c, (old, new) in cell["changes"].items())
        out.print(f"  [dim]{escape(key)}[/]  {escape(_clip(changes, 70))}")


def _render(result: DemoResult) -> None:
    """The human summary of what the demo did."""
    from rich.markup import escape
    from rich.padding import Padding
    from rich.table import Table

    out = console()
    baseline, changed = result.baseline, result.changed
    release = result.release or "the release"

    out.print()
    out.print("[bold]runstate demo[/]: a credit-scoring model, trained and scored under capture")

    out.print("\n[bold]Runs[/] (oldest first)")
    runs = Table(box=None, header_style="bold", padding=(0, 1), pad_edge=False)
    for column in ("run", "job", "status", "state", ""):
        runs.add_column(column, no_wrap=True)
    for run in result.runs:
        style = _STATUS_STYLE.get(run.status, "")
        if run.id == baseline.id:
            note = f"[cyan]released as {release}[/]"
        elif run.id == changed.id:
            note = "after the change"
        else:
            note = escape(" · ".join(f"{k} {_number(v)}" for k, v in run.metrics.items()))
        status = f"[{style}]{run.status}[/]" if style else run.status
        runs.add_row(short(run.id, 13), escape(run.name), status, short(run.state_id), note)
    out.print(Padding(runs, (0, 0, 0, 2), expand=False))

    if result.replay:
        verdict = str(result.replay.get("verdict", "?"))
        reproduced = verdict in ("identical", "equivalent")
        detail = (
            "the release reproduces under its recorded state"
            if reproduced
            else str(result.replay.get("reason") or "")
        )
        out.print(
            f"\n[bold]runstate replay {escape(release)}[/]: "
            f"[{'green' if reproduced else 'red'}]{escape(verdict)}[/] — {escape(detail)}"
        )

    out.print("\n[bold]What the demo changed[/] before the last run")
    for edit in result.edits:
        out.print(f"  {escape(edit)}")

    if result.diff:
        _render_where(out, result)
        _render_diff_screen(out, result)
        return

    out.print(f"\n[bold]State components[/] of {release} and of the last run")
    table = Table(box=None, header_style="bold", padding=(0, 1), pad_edge=False)
    for column in ("component", release, "last run", ""):
        table.add_column(column, no_wrap=True)
    for name in sorted(set(baseline.components) | set(changed.components)):
        a, b = baseline.components.get(name), changed.components.get(name)
        verdict = "[dim]same[/]" if a == b else "[yellow]changed[/]"
        table.add_row(escape(name), short(a), short(b), verdict)
    out.print(Padding(table, (0, 0, 0, 2), expand=False))
    for name in result.changed_components:
        details = result.changes.get(name, [])
        shown = details[:_DETAILS_SHOWN] + (
            [f"… and {len(details) - _DETAILS_SHOWN} more"] if len(details) > _DETAILS_SHOWN else []
        )
        for index, line in enumerate(shown or ["(content differs)"]):
            label = f"{name}:" if index == 0 else ""
            out.print(f"  {escape(label):<16}{escape(_clip(line, 60))}")
    states = "the same state" if baseline.state_id == changed.state_id else "different states"
    out.print(f"  → {short(baseline.state_id)} and {short(changed.state_id)} are {states}")

    out.print(f"\n[bold]Metrics[/] of {release} → the last run")
    for key in sorted(set(baseline.metrics) | set(changed.metrics)):
        before, after = baseline.metrics.get(key), changed.metrics.get(key)
        delta = ""
        if isinstance(before, float) and isinstance(after, float):
            delta = f"  ({after - before:+.4f})"
        out.print(f"  {escape(key):<16}{_number(before)} → {_number(after)}{delta}")

    _render_output_diff(out, result.output_diff, release)
    _render_where(out, result)


def _render_where(out: Any, result: DemoResult) -> None:
    """Where the project, store and report are, and what to type next."""
    from rich.markup import escape

    release = result.release or "the release"
    project = escape(str(result.project))
    out.print("\n[bold]Where everything is[/]")
    out.print(f"  project  {project}  [dim](kept: delete it when you are done)[/]")
    out.print(f"  store    {escape(str(result.store))}")
    git = (
        f"commit {result.git_commit[:10]}, plus the uncommitted edit"
        if result.git_commit
        else "not available: code was captured from the files the jobs ran"
    )
    out.print(f"  git      {git}")

    out.print("\n[bold]Next steps[/]")
    for command in (
        f"cd {escape(shlex.quote(str(result.project)))} && runstate runs",
        "runstate show latest",
        "runstate release list",
        f"runstate show {release}",
        *([f"runstate diff {release} latest --html diff.html"] if result.diff else []),
    ):
        out.print(f"  {command}")


def _render_diff_screen(out: Any, result: DemoResult) -> None:
    """The final screen: ``runstate diff RELEASE latest``, then the HTML report's path."""
    from rich.markup import escape
    from rich.rule import Rule

    from runstate.cli.diff_text import render_diff

    out.print()
    out.print(Rule(f"runstate diff {escape(result.release or '')} latest", align="left"))
    render_diff(result.diff, out, show_all=False, cap=_DIFF_CAP)
    if result.report is not None:
        out.print(f"\n[bold]HTML report[/]: {escape(str(result.report))}")
        out.print("  [dim]open it in a browser: self-contained, works offline[/]")
    if result.explain:
        from runstate.cli.cmd_explain import render_explain

        out.print()
        out.print(Rule(f"runstate explain {escape(result.release or '')} latest", align="left"))
        render_explain(result.explain)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
