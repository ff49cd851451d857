"""``runstate init``, ``runstate verify`` and ``runstate gc``."""

from __future__ import annotations

import sys
from typing import Any

import click

from runstate.cli.output import console, emit_json, human_bytes, json_option
from runstate.state.redact import strip_url_credentials
from runstate.store.store import Store


@click.command("init")
@click.argument("project", default=".", type=click.Path(file_okay=False))
@click.option("--metadata-url", help="Database URL for metadata (default: SQLite in .runstate/).")
@click.option("--objects-url", help="fsspec URL for objects (default: .runstate/objects).")
@json_option
def init_cmd(
    project: str, metadata_url: str | None, objects_url: str | None, as_json: bool
) -> None:
    """Create a store (.runstate/) in PROJECT (default: the current folder).

    \b
    Examples:
      runstate init
      runstate init --metadata-url postgresql://runstate@db/runstate
    """
    store = Store.init(project, metadata_url=metadata_url, objects_url=objects_url)
    if as_json:
        emit_json(
            {
                "schema": "runstate.init/v1",
                "store": str(store.root),
                "metadata_url": strip_url_credentials(store.metadata_url),
                "objects_url": store.objects.url,
            }
        )
    else:
        click.echo(f"Initialised runstate store in {store.root}")


def _progress(label: str) -> Any:
    """A rich progress bar on stderr (only when stderr is a terminal)."""
    if not sys.stderr.isatty():
        return None
    from rich.progress import Progress

    bar = Progress(console=console(stderr=True), transient=True)
    task = bar.add_task(label, total=None)
    bar.start()

    def update(_what: str, done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)
        if done >= total:
            bar.stop()

    return update


@click.command("verify")
@json_option
def verify_cmd(as_json: bool) -> None:
    """Re-hash every object and check every reference, release chain and signature.

    Exit 0 when the store is whole, 1 when problems were found (each is listed).

    \b
    Example:
      runstate verify --json
    """
    from runstate.store.integrity import verify_store

    store = Store.open()
    report = verify_store(store, progress=None if as_json else _progress("verifying objects"))
    if as_json:
        emit_json(report.to_dict())
    else:
        out = console()
        status = "[green]OK[/]" if report else f"[red]{len(report.problems)} problem(s)[/]"
        out.print(
            f"{status}: {report.objects_checked} objects, {report.runs_checked} runs, "
            f"{report.releases_checked} releases checked"
        )
        for problem in report.problems:
            out.print(f"  [red]{problem.kind}[/] {problem.subject}: {problem.detail}", markup=True)
    sys.exit(0 if report else 1)


@click.command("gc")
@click.option(
    "--grace",
    default=3600.0,
    show_default=True,
    help="Spare objects younger than this many seconds.",
)
@click.option("--dry-run", is_flag=True, help="Count what would be removed, remove nothing.")
@json_option
def gc_cmd(grace: float, dry_run: bool, as_json: bool) -> None:
    """Remove objects that no run, release or pending capture reaches.

    Objects written by captures still in flight are never touched.

    \b
    Examples:
      runstate gc --dry-run
      runstate gc --grace 0
    """
    from runstate.store.integrity import collect_garbage

    if grace < 0:
        raise click.BadParameter("must be >= 0", param_hint="--grace")
    store = Store.open()
    report = collect_garbage(store, grace_seconds=grace, dry_run=dry_run)
    if as_json:
        emit_json(report.to_dict())
        return
    verb = "would remove" if dry_run else "removed"
    click.echo(
        f"{verb} {report.deleted} of {report.objects_total} objects "
        f"({human_bytes(report.bytes_freed)}); "
        f"{report.reachable} reachable, {report.spared_recent} unreachable but recent"
    )
