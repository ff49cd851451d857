"""``runstate check RUN --against RELEASE``: schema, quality, drift and state checks."""

from __future__ import annotations

import sys
from typing import Any

import click

from runstate.cli.output import console, emit_json, json_option

_STYLE = {"fail": "bold red", "warn": "yellow", "info": "cyan", "skip": "dim", "pass": "green"}


def render_check_text(document: dict[str, Any], out: Any, *, show_passed: bool = False) -> None:
    """The terminal summary: pass/fail counts first, then failures, warnings and notes."""
    summary = document["summary"]
    verdict = "[bold green]PASSED[/]" if document["passed"] else "[bold red]FAILED[/]"
    out.print(
        f"{verdict} check of run {document['run']['id'][:13]} against {document['release']['ref']}"
        f" (settings: {document['settings_source']})"
    )
    out.print(
        f"  [green]{summary['pass']} passed[/], [red]{summary['fail']} failed[/], "
        f"[yellow]{summary['warn']} warnings[/], {summary['info']} info, "
        f"{summary['skip']} skipped"
    )
    shown = ("fail", "warn", "info", "skip", "pass") if show_passed else ("fail", "warn", "info")
    for status in shown:
        rows = [c for c in document["checks"] if c["status"] == status]
        if not rows:
            continue
        out.print(f"[{_STYLE[status]}]{status.upper()}[/]")
        for c in rows:
            out.print(
                f"  {c['kind']}.{c['check']:<14} {c['subject']}: {c['message']}", markup=False
            )
    for note in document.get("notes", []):
        out.print(f"  note: {note}", markup=False)


@click.command("check")
@click.argument("run_ref", metavar="RUN")
@click.option(
    "--against",
    "against",
    required=True,
    metavar="RELEASE",
    help="Release NAME@vN, an alias (production) or a release name (its latest version).",
)
@click.option(
    "--checks",
    "checks_path",
    type=click.Path(dir_okay=False),
    help="Settings file (checks.yaml) to use instead of the release's own.",
)
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, writable=True),
    help="Also write a self-contained HTML report (and the diff it links to, FILE.diff.html).",
)
@click.option("--all", "show_all", is_flag=True, help="Also list the checks that passed.")
@json_option
def check_cmd(
    run_ref: str,
    against: str,
    checks_path: str | None,
    html_path: str | None,
    show_all: bool,
    as_json: bool,
) -> None:
    """Check RUN against a release: schema, quality, drift and state.

    Thresholds and severities come from the release (release create --checks), else
    from --checks, else the defaults (docs/checks.md). Exit status: 0 passed (warnings
    allowed), 1 a check failed, 2 error.

    \b
    Examples:
      runstate check latest --against production
      runstate check 01a2b3c4 --against scoring@v3 --html check.html
      runstate check latest --against scoring --json
    """
    from runstate.monitor.engine import check_run
    from runstate.monitor.settings import load_settings
    from runstate.store.store import Store

    settings = load_settings(checks_path) if checks_path else None
    store = Store.open()
    result = check_run(store, run_ref, against, settings=settings)
    document = result.to_dict()
    if html_path is not None:
        from runstate.report.check_html import write_check

        write_check(result, html_path)
        click.echo(f"wrote the HTML report to {html_path}", err=as_json)
    if as_json:
        emit_json(document)
    else:
        render_check_text(document, console(), show_passed=show_all)
    if not result.passed:
        sys.exit(1)
