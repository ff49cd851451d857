"""``runstate demo``: build a small project, capture it, release it, change it, capture again."""

from __future__ import annotations

from typing import Any

import click

from runstate.cli.output import console, emit_json, json_option, short

_STATUS_STYLE = {"succeeded": "green", "failed": "red", "interrupted": "yellow", "killed": "red"}


@click.command("demo")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False),
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

    Needs numpy and scikit-learn: pip install 'runstate[demo]'.

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


def _render(result: Any) -> None:
    """The human summary of a :class:`~runstate.demo.driver.DemoResult`."""
    from rich.markup import escape
    from rich.table import Table

    out = console()
    baseline, changed = result.baseline, result.changed
    project = escape(str(result.project))

    out.print()
    out.print("[bold]runstate demo[/]: a credit-scoring model, trained and scored under capture")

    out.print("\n[bold]Runs[/] (newest last)")
    runs = Table(box=None, header_style="bold", pad_edge=False, padding=(0, 2, 0, 2))
    for column in ("run", "job", "status", "state", "metrics", ""):
        runs.add_column(column)
    for run in result.runs:
        style = _STATUS_STYLE.get(run.status, "")
        metrics = " · ".join(f"{k} {_number(v)}" for k, v in run.metrics.items())
        note = f"[cyan]= {result.release}[/]" if run.id == baseline.id else ""
        runs.add_row(
            short(run.id, 13), run.name, f"[{style}]{run.status}[/]", short(run.state_id),
            escape(metrics), note,
        )  # fmt: skip
    out.print(runs)

    out.print("\n[bold]What the demo changed[/] before the last run")
    for edit in result.edits:
        out.print(f"  {escape(edit)}")

    out.print(f"\n[bold]State[/] of {result.release} and of the last run, component by component")
    table = Table(box=None, header_style="bold", pad_edge=False, padding=(0, 2, 0, 2))
    for column in ("component", result.release, "last run", ""):
        table.add_column(column, overflow="fold")
    names = sorted(set(baseline.components) | set(changed.components))
    for name in names:
        a, b = baseline.components.get(name), changed.components.get(name)
        if a == b:
            verdict = "[dim]same[/]"
        else:
            details = result.changes.get(name, [])
            shown = "; ".join(details[:3]) + (f"; +{len(details) - 3} more" if len(details) > 3 else "")
            verdict = f"[yellow]changed[/]: {escape(shown)}" if shown else "[yellow]changed[/]"
        table.add_row(escape(name), short(a), short(b), verdict)
    out.print(table)
    states = "same state" if baseline.state_id == changed.state_id else "different states"
    out.print(
        f"  state {short(baseline.state_id)} → {short(changed.state_id)} ({states}); "
        f"changed components: {escape(', '.join(result.changed_components) or 'none')}"
    )

    out.print(f"\n[bold]Metrics[/] of {result.release} → the last run")
    for key in sorted(set(baseline.metrics) | set(changed.metrics)):
        before, after = baseline.metrics.get(key), changed.metrics.get(key)
        delta = ""
        if isinstance(before, float) and isinstance(after, float):
            delta = f"  ({after - before:+.4f})"
        out.print(f"  {escape(key):<16} {_number(before)} → {_number(after)}{delta}")

    out.print("\n[bold]Where everything is[/]")
    out.print(f"  project  {project}  [dim](kept; delete it when you are done)[/]")
    out.print(f"  store    {escape(str(result.store))}")
    git = f"commit {result.git_commit[:10]} + the uncommitted edit" if result.git_commit else "not used"
    out.print(f"  git      {git}")
    out.print(f"  release  {result.release} → run {short(baseline.id, 13)}")

    out.print("\n[bold]Next steps[/]")
    for command in (
        f"cd {project} && runstate runs",
        "runstate show latest",
        "runstate release list",
        f"runstate show {result.release}",
    ):
        out.print(f"  {command}")
