"""``runstate diff A [B]``: everything that differs between two runs or releases."""

from __future__ import annotations

import sys

import click

from runstate.cli.output import console, emit_json, json_option


def _limit(ctx: click.Context, param: click.Parameter, value: str) -> int | None:
    if value.strip().lower() == "all":
        return None
    try:
        number = int(value)
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected a number or 'all'") from None
    if number < 1:
        raise click.BadParameter(f"{value!r}: must be at least 1 (or 'all')")
    return number


@click.command("diff")
@click.argument("a", metavar="A")
@click.argument("b", metavar="[B]", required=False)
@click.option("--name", help="With latest / latest~K: runs of this job name.")
@click.option("--all", "show_all", is_flag=True, help="Also list the components that are equal.")
@click.option(
    "--limit",
    "limit",
    default="20",
    callback=_limit,
    show_default=True,
    metavar="K|all",
    help="Sampled rows, cells, files and lines per list.",
)
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, writable=True),
    help="Also write a self-contained HTML report to this file.",
)
@json_option
def diff_cmd(
    a: str,
    b: str | None,
    name: str | None,
    show_all: bool,
    limit: int | None,
    html_path: str | None,
    as_json: bool,
) -> None:
    """Show what differs between runs A and B: data, code, config, env, seeds, outputs.

    A and B are run ids (or unique prefixes), releases NAME@vN, aliases or latest /
    latest~K. With B left out, A is compared with the 'production' alias's run, else with
    the previous run of the same name. Exit status: 0 identical, 1 differs, 2 error.

    \b
    Examples:
      runstate diff latest~1 latest
      runstate diff scoring@v3 latest --html diff.html
      runstate diff 01a2b3c4 --json
    """
    from runstate.compare.state import diff_runs
    from runstate.store.store import Store

    store = Store.open()
    result = diff_runs(store, a, b, name=name, limit=limit)
    document = result.to_dict()
    if html_path is not None:
        _write_html(document, html_path, quiet=as_json)
    if as_json:
        emit_json(document)
    else:
        from runstate.cli.diff_text import render_diff

        render_diff(document, console(), show_all=show_all, cap=limit or 10**9)
    if not result.identical:
        sys.exit(1)


def _write_html(document: dict[str, object], path: str, quiet: bool) -> None:
    import importlib

    from runstate.errors import UsageError
    from runstate.store.atomic import atomic_write_bytes

    try:
        module = importlib.import_module("runstate.report.html")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("runstate.report"):
            raise UsageError(
                "--html: this build has no HTML renderer (runstate.report.html); "
                "use --json and render it elsewhere"
            ) from None
        raise
    render = getattr(module, "render_diff", None)
    if render is None:
        raise UsageError("--html: runstate.report.html has no render_diff()")
    html = render(document)
    atomic_write_bytes(path, html.encode("utf-8"))
    click.echo(f"wrote the HTML report to {path}", err=quiet)
